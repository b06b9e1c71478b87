/**
 * The first characters of RFC 4648 standard base32 (Go's base32.StdEncoding) of a SHA-256
 * digest: what kube-proxy's chain names are made of (iptables: 16 characters, nftables: 8).
 *
 * A full sync at 10k Services × 10 endpoints names ~110k chains, so this runs that often:
 * Node's one-shot `crypto.hash` (no Hash object per call) with hex output, the cheapest of
 * its forms for short strings, and only the hex digits the base32 prefix needs are read.
 */
import { hash } from 'node:crypto';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The value of one lowercase hex digit (the form `crypto.hash` prints). */
function hexDigit(code: number): number {
  return code <= 57 ? code - 48 : code - 87;
}

/** Scratch bytes a name is assembled in before it becomes one string. */
const scratch = Buffer.alloc(64);
const BASE32_CODES = Uint8Array.from(BASE32_ALPHABET, (c) => c.charCodeAt(0));

/**
 * `prefix` followed by the first `chars` base32 characters of sha256(UTF-8 of `text`); `chars`
 * a multiple of 8 (5 digest bytes → 8 characters, so no padding or partial group is
 * involved), `prefix` ASCII. The result is made as one flat string, not concatenated: chain
 * names are Map keys, and V8 flattens a concatenated key (a copy) the first time it hashes it.
 */
export function sha256Base32Prefix(text: string, chars: 8 | 16, prefix = ''): string {
  const hex = hash('sha256', text, 'hex');
  let at = scratch.write(prefix, 0, 'latin1');
  // Each 8-character group is 40 bits = 10 hex digits: read it as two 20-bit halves.
  for (let g = 0; g < chars / 8; g++) {
    for (let half = 0; half < 2; half++) {
      const from = g * 10 + half * 5;
      let v = 0;
      for (let k = 0; k < 5; k++) v = (v << 4) | hexDigit(hex.charCodeAt(from + k));
      scratch[at++] = BASE32_CODES[(v >>> 15) & 31];
      scratch[at++] = BASE32_CODES[(v >>> 10) & 31];
      scratch[at++] = BASE32_CODES[(v >>> 5) & 31];
      scratch[at++] = BASE32_CODES[v & 31];
    }
  }
  return scratch.toString('latin1', 0, at);
}

/**
 * `text` (ASCII, at most 64 characters) as one flat string: what a concatenation such as
 * `KUBE-SVC-` + hash is not until V8 first hashes it (then it copies it).
 */
export function flatAscii(text: string): string {
  const n = scratch.write(text, 0, 'latin1');
  return scratch.toString('latin1', 0, n);
}
