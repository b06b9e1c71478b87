import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base32Std } from '../../src/proxy/iptables/index.js';
import { sha256Base32Prefix } from '../../src/util/sha256-base32.js';

/** The reference: the whole digest through a Hash object, base32 of it, cut. */
function reference(text: string, chars: number): string {
  return base32Std(createHash('sha256').update(text, 'utf8').digest()).slice(0, chars);
}

describe('sha256Base32Prefix', () => {
  it('equals base32(sha256(UTF-8 text)) cut to 8 or 16 characters, for any string (ASCII, Unicode, empty, long)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme', maxLength: 300 })), (text) => {
        expect(sha256Base32Prefix(text, 16)).toBe(reference(text, 16));
        expect(sha256Base32Prefix(text, 8)).toBe(reference(text, 8));
      }),
      { numRuns: 500 },
    );
  });

  it('gives kube-proxy’s known KUBE-SVC hash of ns1/svc1:p80 tcp', () => {
    // pkg/proxy/iptables/proxier_test.go: KUBE-SVC-XPGD46QRK7WJZT7O is ns1/svc1:p80 over TCP.
    expect(`KUBE-SVC-${sha256Base32Prefix('ns1/svc1:p80tcp', 16)}`).toBe('KUBE-SVC-XPGD46QRK7WJZT7O');
  });
});
