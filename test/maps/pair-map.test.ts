import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NOT_FOUND, PairMap } from '../../src/maps/pair-map.js';

const u32 = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff),
  // A few small keys, so sets, replacements and deletions collide often.
  fc.integer({ min: 0, max: 7 }),
);
const op = fc.oneof(
  fc.tuple(fc.constant('set' as const), u32, u32, fc.integer({ min: 0, max: 0x7fffffff })),
  fc.tuple(fc.constant('delete' as const), u32, u32, fc.constant(0)),
);

describe('PairMap', () => {
  it('answers every lookup and size as a Map keyed by the (u32, u32) pair does, after any sequence of sets and deletes', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 400 }),
        fc.array(fc.tuple(u32, u32), { maxLength: 50 }),
        (ops, probes) => {
          const m = new PairMap();
          const ref = new Map<string, number>();
          const key = (a: number, b: number) => `${a >>> 0}/${b >>> 0}`;
          for (const [kind, a, b, v] of ops) {
            if (kind === 'set') {
              m.set(a, b, v);
              ref.set(key(a, b), v);
            } else {
              expect(m.delete(a, b)).toBe(ref.delete(key(a, b)));
            }
          }
          expect(m.size).toBe(ref.size);
          for (const [a, b] of [...ops.map(([, a, b]) => [a, b] as const), ...probes])
            expect(m.get(a, b)).toBe(ref.get(key(a, b)) ?? NOT_FOUND);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a negative value, which would read as an empty slot', () => {
    expect(() => new PairMap().set(1, 2, -1)).toThrow(RangeError);
  });
});
