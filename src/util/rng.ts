/**
 * A small, seedable PRNG (xoshiro128**) so every random choice in dpsim — allocators,
 * pod-name suffixes, `statistic --mode random`, numgen, source ports — is reproducible
 * under `--seed`. State lives in a Uint32Array: drawing a number allocates nothing.
 */
export class Rng {
  private readonly s = new Uint32Array(4);

  constructor(seed: number) {
    // splitmix32 expands one 32-bit seed into four non-zero state words.
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Uniform u32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n) without modulo bias (n ≤ 2^32). */
  nextInt(n: number): number {
    if (n <= 0) throw new RangeError(`nextInt: n must be positive, got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** A child generator with an independent stream, for one subsystem. */
  fork(): Rng {
    return new Rng(this.forkSeed());
  }

  /**
   * The seed `fork()` would give its child, advancing this stream the same way: whoever holds it
   * can make the identical child later with `new Rng(seed)`, when (if ever) it is needed.
   */
  forkSeed(): number {
    return this.nextU32();
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
