/**
 * The Linux kernel's jhash (Bob Jenkins' lookup3, include/linux/jhash.h): what BPF
 * programs (Cilium's Maglev and service hashing) and IPVS's connection table hash with.
 * One implementation, shared by the eBPF and IPVS modes.
 */

/** lookup3's JHASH_INITVAL. */
export const JHASH_INITVAL = 0xdeadbeef;

function rol32(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

// jhash state lives in module-level registers so the per-packet forms allocate nothing.
let ja = 0;
let jb = 0;
let jc = 0;

function jhashMix(): void {
  ja = (ja - jc) | 0;
  ja ^= rol32(jc, 4);
  jc = (jc + jb) | 0;
  jb = (jb - ja) | 0;
  jb ^= rol32(ja, 6);
  ja = (ja + jc) | 0;
  jc = (jc - jb) | 0;
  jc ^= rol32(jb, 8);
  jb = (jb + ja) | 0;
  ja = (ja - jc) | 0;
  ja ^= rol32(jc, 16);
  jc = (jc + jb) | 0;
  jb = (jb - ja) | 0;
  jb ^= rol32(ja, 19);
  ja = (ja + jc) | 0;
  jc = (jc - jb) | 0;
  jc ^= rol32(jb, 4);
  jb = (jb + ja) | 0;
}

function jhashFinal(): void {
  jc ^= jb;
  jc = (jc - rol32(jb, 14)) | 0;
  ja ^= jc;
  ja = (ja - rol32(jc, 11)) | 0;
  jb ^= ja;
  jb = (jb - rol32(ja, 25)) | 0;
  jc ^= jb;
  jc = (jc - rol32(jb, 16)) | 0;
  ja ^= jc;
  ja = (ja - rol32(jc, 4)) | 0;
  jb ^= ja;
  jb = (jb - rol32(ja, 14)) | 0;
  jc ^= jb;
  jc = (jc - rol32(jb, 24)) | 0;
}

/** Linux `jhash(key, length, initval)` over bytes (little-endian word reads, as on x86). */
export function jhashBytes(key: Uint8Array, initval: number): number {
  let length = key.length;
  ja = jb = jc = (JHASH_INITVAL + length + initval) | 0;
  let k = 0;
  while (length > 12) {
    ja = (ja + (key[k] | (key[k + 1] << 8) | (key[k + 2] << 16) | (key[k + 3] << 24))) | 0;
    jb = (jb + (key[k + 4] | (key[k + 5] << 8) | (key[k + 6] << 16) | (key[k + 7] << 24))) | 0;
    jc = (jc + (key[k + 8] | (key[k + 9] << 8) | (key[k + 10] << 16) | (key[k + 11] << 24))) | 0;
    jhashMix();
    length -= 12;
    k += 12;
  }
  if (length === 0) return jc >>> 0;
  // Tail bytes: byte i of the remaining ≤12 goes to word i>>2 at bit position 8·(i&3).
  let ta = 0;
  let tb = 0;
  let tc = 0;
  for (let i = 0; i < length; i++) {
    const v = key[k + i] << (8 * (i & 3));
    if (i < 4) ta |= v;
    else if (i < 8) tb |= v;
    else tc |= v;
  }
  ja = (ja + ta) | 0;
  jb = (jb + tb) | 0;
  jc = (jc + tc) | 0;
  jhashFinal();
  return jc >>> 0;
}

/** Linux `jhash_3words(a, b, c, initval)`. */
export function jhash3words(a: number, b: number, c: number, initval: number): number {
  const s = (initval + JHASH_INITVAL + (3 << 2)) | 0;
  ja = (a + s) | 0;
  jb = (b + s) | 0;
  jc = (c + s) | 0;
  jhashFinal();
  return jc >>> 0;
}

/** Linux `jhash_2words(a, b, initval)`. */
export function jhash2words(a: number, b: number, initval: number): number {
  const s = (initval + JHASH_INITVAL + (2 << 2)) | 0;
  ja = (a + s) | 0;
  jb = (b + s) | 0;
  jc = s;
  jhashFinal();
  return jc >>> 0;
}

/**
 * The open-coded lookup3 round sequence of Cilium's `hash_from_tuple_v6`: the three words are
 * mixed as they are (no JHASH_INITVAL, no length), the next three are added and mixed, the seed
 * is added to `a` before the final avalanche; returns `c`.
 */
export function jhashMixMixFinal(
  a: number,
  b: number,
  c: number,
  a2: number,
  b2: number,
  c2: number,
  seed: number,
): number {
  ja = a | 0;
  jb = b | 0;
  jc = c | 0;
  jhashMix();
  ja = (ja + a2) | 0;
  jb = (jb + b2) | 0;
  jc = (jc + c2) | 0;
  jhashMix();
  ja = (ja + seed) | 0;
  jhashFinal();
  return jc >>> 0;
}
