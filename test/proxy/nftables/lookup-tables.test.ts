import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NOT_FOUND, PairMap } from '../../../src/proxy/nftables/lookup-tables.js';

describe('PairMap', () => {
  it('answers every lookup as a Map keyed by the (u32, u32) pair does, after any sequence of sets', () => {
    const u32 = fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(u32, u32, fc.integer({ min: 0, max: 0x7fffffff })), { maxLength: 300 }),
        fc.array(fc.tuple(u32, u32), { maxLength: 50 }),
        (sets, probes) => {
          const m = new PairMap();
          const ref = new Map<string, number>();
          for (const [a, b, v] of sets) {
            m.set(a, b, v);
            ref.set(`${a >>> 0}/${b >>> 0}`, v);
          }
          expect(m.size).toBe(ref.size);
          for (const [a, b] of [...sets.map(([a, b]) => [a, b] as const), ...probes])
            expect(m.get(a, b)).toBe(ref.get(`${a >>> 0}/${b >>> 0}`) ?? NOT_FOUND);
        },
      ),
    );
  });

  it('refuses a negative value, which would read as an empty slot', () => {
    expect(() => new PairMap().set(1, 2, -1)).toThrow(RangeError);
  });
});
