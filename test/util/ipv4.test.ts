import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressError, formatIPv4, isIPv4, parseIPv4 } from '../../src/util/ipv4.js';

/** The definition: four octets 0..255 in decimal, no leading zeros, dots between, nothing else. */
const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
function reference(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return null;
  return ((+parts[0] << 24) | (+parts[1] << 16) | (+parts[2] << 8) | +parts[3]) >>> 0;
}

// Strings close to addresses: octet-ish pieces (leading zeros, 256, 1000, empty, signs, spaces) joined by dots.
const piece = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map(String),
  fc.constantFrom(
    '',
    '0',
    '00',
    '01',
    '255',
    '256',
    '999',
    '1000',
    '-1',
    '+1',
    ' 1',
    '1 ',
    'a',
    '1e1',
    '0x1',
  ),
);
const nearAddress = fc.array(piece, { minLength: 1, maxLength: 6 }).map((p) => p.join('.'));

describe('parseIPv4 and isIPv4', () => {
  it('accept exactly the canonical dotted quads, with the value the octets give, for any string', () => {
    fc.assert(
      fc.property(
        fc.oneof(nearAddress, fc.string(), fc.string({ unit: fc.constantFrom('1', '2', '5', '0', '.') })),
        (text) => {
          const want = reference(text);
          expect(isIPv4(text)).toBe(want !== null);
          if (want === null) expect(() => parseIPv4(text)).toThrow(AddressError);
          else expect(parseIPv4(text)).toBe(want);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('round-trips every u32 through formatIPv4', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (a) => {
        expect(parseIPv4(formatIPv4(a))).toBe(a);
      }),
    );
  });

  it('names the bad text in its error', () => {
    expect(() => parseIPv4('10.0.0.01')).toThrow('invalid IPv4 address "10.0.0.01"');
  });
});
