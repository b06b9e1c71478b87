/**
 * The kernel hash functions IPVS uses, on 32-bit numbers with Math.imul (no BigInt, no
 * allocation), so scheduler choices match the kernel bit for bit:
 *
 * - `hash32` — include/linux/hash.h `hash_32(val, bits)`: multiply by GOLDEN_RATIO_32
 *   (0x61C88647) and keep the top `bits` bits (ip_vs_sh.c, ip_vs_dh.c).
 * - `hsiphash32` — lib/siphash.c `hsiphash()` of one u32 on a 64-bit kernel, which is
 *   SipHash-1-3 with 64-bit words (the "HalfSipHash" name is only real on 32-bit kernels);
 *   ip_vs_mh.c hashes `offset + ntohs(port) + ntohl(addr)` with two fixed keys.
 *
 * - `ipv6AddrFold` — the `addr_fold` of ip_vs_sh.c / ip_vs_dh.c / ip_vs_mh.c for AF_INET6:
 *   the four 32-bit words of the address XORed, taken through ntohl like an IPv4 address.
 *
 * The connection table's bucket hash, `jhash_3words`, is the shared one in src/maps/jhash.ts.
 */

const GOLDEN_RATIO_32 = 0x61c88647;

/** hash_32(val, bits): the top `bits` bits of val * GOLDEN_RATIO_32 (mod 2^32). */
export function hash32(val: number, bits: number): number {
  return Math.imul(val, GOLDEN_RATIO_32) >>> (32 - bits);
}

// SipHash state as hi/lo u32 halves: v0h v0l v1h v1l v2h v2l v3h v3l. One scratch array
// per module keeps hashing allocation-free (JS is single-threaded, calls never nest).
const S = new Uint32Array(8);

function add64(dst: number, src: number): void {
  const lo = S[dst + 1] + S[src + 1];
  S[dst] = S[dst] + S[src] + (lo > 0xffffffff ? 1 : 0);
  S[dst + 1] = lo;
}

function rotl64(i: number, r: number): void {
  const hi = S[i];
  const lo = S[i + 1];
  if (r === 32) {
    S[i] = lo;
    S[i + 1] = hi;
  } else if (r < 32) {
    S[i] = (hi << r) | (lo >>> (32 - r));
    S[i + 1] = (lo << r) | (hi >>> (32 - r));
  } else {
    const q = r - 32;
    S[i] = (lo << q) | (hi >>> (32 - q));
    S[i + 1] = (hi << q) | (lo >>> (32 - q));
  }
}

function xor64(dst: number, src: number): void {
  S[dst] ^= S[src];
  S[dst + 1] ^= S[src + 1];
}

const V0 = 0;
const V1 = 2;
const V2 = 4;
const V3 = 6;

/** SIPHASH_PERMUTATION (include/linux/siphash.h). */
function sipRound(): void {
  add64(V0, V1);
  rotl64(V1, 13);
  xor64(V1, V0);
  rotl64(V0, 32);
  add64(V2, V3);
  rotl64(V3, 16);
  xor64(V3, V2);
  add64(V0, V3);
  rotl64(V3, 21);
  xor64(V3, V0);
  add64(V2, V1);
  rotl64(V1, 17);
  xor64(V1, V2);
  rotl64(V2, 32);
}

/** Loads the SipHash preamble: constants "somepseudorandomlygeneratedbytes" xor the key. */
function preamble(k0h: number, k0l: number, k1h: number, k1l: number): void {
  S[0] = 0x736f6d65 ^ k0h;
  S[1] = 0x70736575 ^ k0l;
  S[2] = 0x646f7261 ^ k1h;
  S[3] = 0x6e646f6d ^ k1l;
  S[4] = 0x6c796765 ^ k0h;
  S[5] = 0x6e657261 ^ k0l;
  S[6] = 0x74656462 ^ k1h;
  S[7] = 0x79746573 ^ k1l;
}

/**
 * hsiphash(&v, 4, key) on a 64-bit little-endian kernel: SipHash-1-3, message = the four
 * bytes of `value` (host order), key words given as 64-bit hi/lo halves. Returns the low
 * 32 bits of v0^v1^v2^v3 as the kernel's u32 return does.
 */
export function hsiphash32(value: number, k0h: number, k0l: number, k1h: number, k1l: number): number {
  preamble(k0h, k0l, k1h, k1l);
  // b = (len << 56) | le32(data); with no full 8-byte block only the tail word is mixed.
  const bh = 0x04000000;
  const bl = value >>> 0;
  S[V3] ^= bh;
  S[V3 + 1] ^= bl;
  sipRound();
  S[V0] ^= bh;
  S[V0 + 1] ^= bl;
  S[V2 + 1] ^= 0xff;
  sipRound();
  sipRound();
  sipRound();
  return (S[1] ^ S[3] ^ S[5] ^ S[7]) >>> 0;
}

/**
 * Generic SipHash-c-d of a byte string with a 128-bit little-endian key, returning the
 * 64-bit result as [hi, lo]. Control-plane/test use only (it allocates the result): it
 * shares `sipRound` with `hsiphash32`, so checking it against the published SipHash-2-4
 * vectors checks the permutation the mh scheduler relies on.
 */
export function siphash(
  cRounds: number,
  dRounds: number,
  key: Uint8Array,
  msg: Uint8Array,
): [number, number] {
  if (key.length !== 16) throw new RangeError(`siphash: key must be 16 bytes, got ${key.length}`);
  const le32 = (b: Uint8Array, o: number): number =>
    (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
  preamble(le32(key, 4), le32(key, 0), le32(key, 12), le32(key, 8));
  const full = msg.length - (msg.length % 8);
  for (let o = 0; o < full; o += 8) {
    const mh = le32(msg, o + 4);
    const ml = le32(msg, o);
    S[V3] ^= mh;
    S[V3 + 1] ^= ml;
    for (let r = 0; r < cRounds; r++) sipRound();
    S[V0] ^= mh;
    S[V0 + 1] ^= ml;
  }
  let bh = ((msg.length & 0xff) << 24) >>> 0;
  let bl = 0;
  for (let i = full; i < msg.length; i++) {
    const shift = (i - full) * 8;
    if (shift < 32) bl = (bl | (msg[i] << shift)) >>> 0;
    else bh = (bh | (msg[i] << (shift - 32))) >>> 0;
  }
  S[V3] ^= bh;
  S[V3 + 1] ^= bl;
  for (let r = 0; r < cRounds; r++) sipRound();
  S[V0] ^= bh;
  S[V0 + 1] ^= bl;
  S[V2 + 1] ^= 0xff;
  for (let r = 0; r < dRounds; r++) sipRound();
  return [(S[0] ^ S[2] ^ S[4] ^ S[6]) >>> 0, (S[1] ^ S[3] ^ S[5] ^ S[7]) >>> 0];
}

/** Byte-swaps a u32 (a __be32 field read as a little-endian host u32). */
export function bswap32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/** Byte-swaps a u16 (a __be16 field read as a little-endian host u16). */
export function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

/**
 * The scheduler hash input of an IPv6 address (ip_vs_{sh,dh,mh}_hashkey with AF_INET6):
 * ntohl(ip6[0] ^ ip6[1] ^ ip6[2] ^ ip6[3]), i.e. the XOR of the four big-endian words of
 * `bytes[at..at+16)`, as a host-order u32 (what an IPv4 address is hashed as).
 */
export function ipv6AddrFold(bytes: Uint8Array, at: number): number {
  let fold = 0;
  for (let w = at; w < at + 16; w += 4) {
    fold ^= (bytes[w] << 24) | (bytes[w + 1] << 16) | (bytes[w + 2] << 8) | bytes[w + 3];
  }
  return fold >>> 0;
}
