import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ciliumBackendKey,
  MAGLEV_TABLE_SIZES,
  MaglevError,
  maglevLookupTable,
  maglevOffsetSkip,
  parseMaglevSeed,
  populateMaglev,
} from '../../../src/proxy/ebpf/maglev.js';
import { Rng } from '../../../src/util/rng.js';

function counts(table: Int32Array, n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const b of table) c[b]++;
  return c;
}

describe('Maglev population (paper §3.4)', () => {
  // NSDI 2016 Table/Figure: M = 7, B0 (offset 3, skip 4), B1 (0, 2), B2 (3, 1).
  const b0 = { offset: 3, skip: 4 };
  const b1 = { offset: 0, skip: 2 };
  const b2 = { offset: 3, skip: 1 };

  it('reproduces the paper table B1 B0 B1 B0 B2 B2 B0', () => {
    expect(Array.from(populateMaglev([b0, b1, b2], 7))).toEqual([1, 0, 1, 0, 2, 2, 0]);
  });

  it('after removing B1 gives B0 B0 B0 B0 B2 B2 B2: B1 slots move plus exactly one other (slot 6)', () => {
    const names = ['B0', 'B2'];
    const after = Array.from(populateMaglev([b0, b2], 7)).map((i) => names[i]);
    expect(after).toEqual(['B0', 'B0', 'B0', 'B0', 'B2', 'B2', 'B2']);
  });

  it('rejects offsets and skips outside [0, M) and [1, M)', () => {
    expect(() => populateMaglev([{ offset: 7, skip: 1 }], 7)).toThrow(MaglevError);
    expect(() => populateMaglev([{ offset: 0, skip: 0 }], 7)).toThrow(MaglevError);
  });

  it('every backend owns floor(M/N) or ceil(M/N) slots for any N and table size', () => {
    const sizes = MAGLEV_TABLE_SIZES.filter((m) => m <= 4093);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.constantFrom(...sizes), fc.nat(), (n, m, salt) => {
        const backends = Array.from({ length: n }, (_, i) => ({ key: `b-${salt}-${i}` }));
        const table = maglevLookupTable(backends, { tableSize: m });
        const c = counts(table, n);
        const lo = Math.floor(m / n);
        const hi = Math.ceil(m / n);
        return c.every((x) => x === lo || x === hi);
      }),
      { numRuns: 40 },
    );
  });
});

describe("Cilium's pkg/maglev", () => {
  it('derives the three seeds from the default 12-byte seed', () => {
    const s = parseMaglevSeed('JLfvgnHc2kaSUFaI');
    expect([s.murmur, s.jhash0, s.jhash1]).toEqual([0x24b7ef82, 0x71dcda46, 0x92505688]);
  });

  it('rejects seeds that are not base64 of exactly 12 bytes', () => {
    expect(() => parseMaglevSeed('not base64!')).toThrow(/Cannot decode/);
    expect(() => parseMaglevSeed('AAAA')).toThrow(/3 bytes \(not 12 bytes\)/);
  });

  it('rejects table sizes Cilium does not accept', () => {
    expect(() => maglevLookupTable([{ key: 'a' }], { tableSize: 1000 })).toThrow(
      /invalid Maglev table size 1000/,
    );
  });

  it('names backends as Cilium does', () => {
    expect(ciliumBackendKey('10.0.0.1', 80, 'TCP')).toBe('[10.0.0.1:80/TCP,State:active]');
    expect(ciliumBackendKey('10.0.0.1', 80, 'UDP', true)).toBe('[10.0.0.1:80/UDP/i,State:active]');
    expect(ciliumBackendKey('fd00::1', 80, 'TCP')).toBe('[[fd00::1]:80/TCP,State:active]');
  });

  it('offset and skip stay in range', () => {
    const { offset, skip } = maglevOffsetSkip('[10.0.0.1:80/TCP,State:active]', 16381, 0x24b7ef82);
    expect(offset).toBeGreaterThanOrEqual(0);
    expect(offset).toBeLessThan(16381);
    expect(skip).toBeGreaterThanOrEqual(1);
    expect(skip).toBeLessThan(16381);
  });

  // Upstream TestBackendRemoval: three equal backends at M=1021.
  it('three equal backends at M=1021 get 341/340/340 and removing "two" moves under 1 % of slots of the survivors', () => {
    const before = maglevLookupTable([{ key: 'two' }, { key: 'one' }, { key: 'three' }], { tableSize: 1021 });
    const byName = (t: Int32Array, names: string[]) => Array.from(t, (i) => names[i]);
    const b = byName(before, ['two', 'one', 'three']);
    expect(counts(before, 3)).toEqual([340, 341, 340]);
    const a = byName(maglevLookupTable([{ key: 'one' }, { key: 'three' }], { tableSize: 1021 }), [
      'one',
      'three',
    ]);
    let survivorMoves = 0;
    for (let s = 0; s < 1021; s++) if (b[s] !== 'two' && a[s] !== b[s]) survivorMoves++;
    expect(survivorMoves / 1021).toBeLessThan(0.01);
  });

  // Upstream TestWeightedBackendWithRemoval.
  it('weights 2/13/111/10 at M=1021 give 16/98/832/75 slots; dropping the weight-2 backend moves under 1 % of survivor slots', () => {
    const all = [
      { key: 'one', weight: 2 },
      { key: 'three', weight: 13 },
      { key: 'two', weight: 111 },
      { key: 'tzwe', weight: 10 },
    ];
    const before = maglevLookupTable(all, { tableSize: 1021 });
    expect(counts(before, 4)).toEqual([16, 98, 832, 75]);
    const after = maglevLookupTable(all.slice(1), { tableSize: 1021 });
    let survivorMoves = 0;
    for (let s = 0; s < 1021; s++) if (before[s] !== 0 && after[s] + 1 !== before[s]) survivorMoves++;
    expect(survivorMoves / 1021).toBeLessThan(0.01);
  });

  it('does not depend on the order backends are given in', () => {
    const keys = Array.from({ length: 20 }, (_, i) => ciliumBackendKey(`10.1.0.${i + 1}`, 8080, 'TCP'));
    const t1 = maglevLookupTable(
      keys.map((key) => ({ key })),
      { tableSize: 2039 },
    );
    const reversed = [...keys].reverse();
    const t2 = maglevLookupTable(
      reversed.map((key) => ({ key })),
      { tableSize: 2039 },
    );
    expect(Array.from(t2, (i) => reversed[i])).toEqual(Array.from(t1, (i) => keys[i]));
  });

  it('rejects duplicate backend keys', () => {
    expect(() => maglevLookupTable([{ key: 'a' }, { key: 'a' }], { tableSize: 251 })).toThrow(/duplicate/);
  });

  // Reference §2.5 (computed with the paper's algorithm): N=10 → 10.5 % changed, N=100 → 2.33 %.
  for (const [n, bound] of [
    [10, 0.01],
    [100, 0.025],
  ] as const) {
    it(`removing one of ${n} backends at M=16381 moves its flows plus at most ${bound * 100} % of the others`, () => {
      const keys = Array.from({ length: n }, (_, i) =>
        ciliumBackendKey(`10.2.${i >> 8}.${i & 255}`, 80, 'TCP'),
      );
      const before = maglevLookupTable(keys.map((key) => ({ key })));
      const survivors = keys.slice(1);
      const after = maglevLookupTable(survivors.map((key) => ({ key })));
      const rng = new Rng(7);
      const flows = 200_000;
      let moved = 0;
      let ofRemoved = 0;
      for (let f = 0; f < flows; f++) {
        const slot = rng.nextU32() % 16381;
        const was = keys[before[slot]];
        if (was === keys[0]) ofRemoved++;
        if (survivors[after[slot]] !== was) moved++;
      }
      const collateral = (moved - ofRemoved) / flows;
      expect(moved).toBeGreaterThanOrEqual(ofRemoved);
      expect(ofRemoved / flows).toBeCloseTo(1 / n, 2);
      expect(collateral).toBeLessThanOrEqual(bound);
    });
  }
});
