/**
 * 32-bit hashing over 32-bit words: MurmurHash3 (x86_32) applied to the words' little-endian
 * bytes, so `hashWords` equals the reference murmur3_32 of that byte string and can be
 * checked against published vectors. Everything uses Math.imul and allocates nothing.
 *
 * The same mixing serves two jobs: bucket selection inside the typed-array maps, and a
 * direction-independent flow hash (`flowHashSymmetric`) for ECMP-like choices where a
 * connection's two directions must land on the same bucket.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixWord(h: number, w: number): number {
  let k = Math.imul(w, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's finaliser: a full-avalanche bijection on 32 bits. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3_32 over `count` words of `words` starting at `off` (bytes taken little-endian). */
export function hashWords(words: Uint32Array, off: number, count: number, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < count; i++) h = mixWord(h, words[off + i]);
  return fmix32(h ^ (count << 2));
}

/**
 * murmur3_32 of the first `count` (1..4) of the given words; equals
 * `hashWords([w0, w1, w2, w3], 0, count, seed)` without building an array.
 */
export function hashWords4(
  count: number,
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  seed: number,
): number {
  let h = mixWord(seed | 0, w0);
  if (count > 1) h = mixWord(h, w1);
  if (count > 2) h = mixWord(h, w2);
  if (count > 3) h = mixWord(h, w3);
  return fmix32(h ^ (count << 2));
}

/** Default seed for flow hashing (any fixed value; kept stable so traces are reproducible). */
export const FLOW_HASH_SEED = 0x5eed1e55;

/**
 * A hash of a 5-tuple that is the same for both directions of a flow: the two
 * (address, port) endpoints are put in a canonical order before hashing, so
 * `flowHashSymmetric(a, b, p, q, proto) === flowHashSymmetric(b, a, q, p, proto)`.
 */
export function flowHashSymmetric(
  saddr: number,
  daddr: number,
  sport: number,
  dport: number,
  proto: number,
  seed: number = FLOW_HASH_SEED,
): number {
  const s = saddr >>> 0;
  const d = daddr >>> 0;
  const sourceFirst = s < d || (s === d && sport <= dport);
  const loAddr = sourceFirst ? s : d;
  const hiAddr = sourceFirst ? d : s;
  const loPort = sourceFirst ? sport : dport;
  const hiPort = sourceFirst ? dport : sport;
  return hashWords4(4, loAddr, hiAddr, ((loPort & 0xffff) << 16) | (hiPort & 0xffff), proto & 0xff, seed);
}

/** The usual 3rd key word of a 5-tuple key: source port in the high half, destination port low. */
export function packPorts(sport: number, dport: number): number {
  return (((sport & 0xffff) << 16) | (dport & 0xffff)) >>> 0;
}

/**
 * A cheaper 32-bit hash of four key words for the inline flow table's bucket choice. The four
 * multiplications are independent (they run in parallel), and one xorshift–multiply–xorshift
 * round mixes them, so both the high bits (bucket, via multiply-shift range reduction) and the
 * low bits (the slot tag) depend on every key bit. Not murmur3: it trades a published
 * reference for about a third of the dependent multiplies, which matters when every packet
 * hashes its 5-tuple. Returns a signed 32-bit integer.
 */
export function fastHash4(w0: number, w1: number, w2: number, w3: number, seed: number): number {
  let h =
    (Math.imul(w0 ^ seed, 0x9e3779b1) +
      Math.imul(w1, 0x85ebca77) +
      Math.imul(w2 ^ (w2 >>> 16), 0xc2b2ae3d) +
      Math.imul(w3, 0x27d4eb2f)) |
    0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 13;
  return h;
}
