import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flowHashSymmetric, hashWords, hashWords4 } from '../../src/maps/index.js';

describe('hashWords (murmur3_32 over little-endian words)', () => {
  it('matches the published MurmurHash3 x86_32 test vectors', () => {
    // Bytes 21 43 65 87 are the little-endian word 0x87654321.
    expect(hashWords(Uint32Array.of(0x87654321), 0, 1, 0)).toBe(0xf55b516b);
    expect(hashWords(Uint32Array.of(0x87654321), 0, 1, 0x5082edee)).toBe(0x2362f9de);
    expect(hashWords(new Uint32Array(0), 0, 0, 0)).toBe(0);
    expect(hashWords(new Uint32Array(0), 0, 0, 1)).toBe(0x514e28b7);
    expect(hashWords(new Uint32Array(0), 0, 0, 0xffffffff)).toBe(0x81f16f39);
    expect(hashWords(Uint32Array.of(0), 0, 1, 0)).toBe(0x2362f9de);
  });

  it('gives the same hash from numeric arguments as from a word array, for any 1–4 words', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat({ max: 0xffffffff }), { minLength: 4, maxLength: 4 }),
        fc.nat({ max: 0xffffffff }),
        (count, w, seed) => {
          expect(hashWords4(count, w[0], w[1], w[2], w[3], seed)).toBe(
            hashWords(Uint32Array.from(w), 0, count, seed),
          );
        },
      ),
    );
  });
});

describe('flowHashSymmetric', () => {
  const addr = fc.nat({ max: 0xffffffff });
  const port = fc.nat({ max: 0xffff });

  it('hashes both directions of any flow to the same value', () => {
    fc.assert(
      fc.property(addr, addr, port, port, fc.constantFrom(1, 6, 17), (a, b, p, q, proto) => {
        expect(flowHashSymmetric(a, b, p, q, proto)).toBe(flowHashSymmetric(b, a, q, p, proto));
      }),
    );
  });

  it('spreads distinct flows: 10k sequential client ports give (almost) no collisions', () => {
    const seen = new Set<number>();
    for (let p = 20000; p < 30000; p++) seen.add(flowHashSymmetric(0x0a000001, 0x0a000002, p, 80, 6));
    expect(seen.size).toBeGreaterThan(9980);
    expect(flowHashSymmetric(1, 2, 3, 4, 6)).not.toBe(flowHashSymmetric(1, 2, 3, 4, 17));
  });
});
