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

/**
 * The first `chars` base32 characters of sha256(UTF-8 of `text`); `chars` a multiple of 8
 * (5 digest bytes → 8 characters, so no padding or partial group is involved).
 */
export function sha256Base32Prefix(text: string, chars: 8 | 16): string {
  const hex = hash('sha256', text, 'hex');
  let out = '';
  // Each 8-character group is 40 bits = 10 hex digits: read it as two 20-bit halves.
  for (let g = 0; g < chars / 8; g++) {
    for (let half = 0; half < 2; half++) {
      const at = g * 10 + half * 5;
      let v = 0;
      for (let k = 0; k < 5; k++) v = (v << 4) | hexDigit(hex.charCodeAt(at + k));
      out +=
        BASE32_ALPHABET[(v >>> 15) & 31] +
        BASE32_ALPHABET[(v >>> 10) & 31] +
        BASE32_ALPHABET[(v >>> 5) & 31] +
        BASE32_ALPHABET[v & 31];
    }
  }
  return out;
}
