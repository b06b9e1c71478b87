/**
 * One contract for both hash-map implementations — the index-based `BpfHashMap` /
 * `BpfLruHashMap` (maps/hash-map.ts) and the open-addressing `BpfInlineHashMap`
 * (maps/inline-hash-map.ts): the bpf_map_*_elem semantics every caller relies on, run
 * against a plain `Map` model for arbitrary operation sequences. What the two may do
 * differently (handle stability across deletes, exact-LRU vs CLOCK eviction order) is
 * left out; their own test files cover it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BPF_ANY,
  BPF_EXIST,
  BPF_NOEXIST,
  BpfHashMap,
  BpfInlineHashMap,
  BpfLruHashMap,
  E2BIG,
  EEXIST,
  ENOENT,
} from '../../src/maps/index.js';

/** What the contract needs of a map; both implementations have exactly this surface. */
interface ContractMap {
  readonly keyWords: number;
  readonly valueWords: number;
  readonly maxEntries: number;
  readonly count: number;
  readonly keys: Uint32Array;
  readonly values: Uint32Array;
  insertWords(flags: number, w0: number, w1?: number, w2?: number, w3?: number): number;
  insert(key: Uint32Array, keyOff: number, flags: number): number;
  update(key: Uint32Array, keyOff: number, value: Uint32Array, valueOff: number, flags: number): number;
  lookupWords(w0: number, w1?: number, w2?: number, w3?: number): number;
  lookup(key: Uint32Array, keyOff?: number): number;
  peekWords(w0: number, w1?: number, w2?: number, w3?: number): number;
  deleteWords(w0: number, w1?: number, w2?: number, w3?: number): number;
  delete(key: Uint32Array, keyOff?: number): number;
  deleteEntry(handle: number): number;
  isLive(handle: number): boolean;
  keyOffset(handle: number): number;
  valueOffset(handle: number): number;
  clear(): void;
  forEach(fn: (handle: number, keyOff: number, valueOff: number) => void): void;
}

interface Shape {
  readonly keyWords: number;
  readonly valueWords: number;
  readonly maxEntries: number;
  readonly lru: boolean;
}

const IMPLEMENTATIONS: readonly (readonly [string, (s: Shape) => ContractMap])[] = [
  [
    'BpfHashMap / BpfLruHashMap (maps/hash-map.ts)',
    (s) => (s.lru ? new BpfLruHashMap({ ...s }) : new BpfHashMap({ ...s })),
  ],
  ['BpfInlineHashMap (maps/inline-hash-map.ts)', (s) => new BpfInlineHashMap({ ...s, lru: s.lru })],
];

type Op =
  | { kind: 'update'; key: number; value: number; flags: number }
  | { kind: 'delete'; key: number }
  | { kind: 'lookup'; key: number }
  | { kind: 'clear' };

/** Keys from a small space so that updates, hits and deletes of present keys are frequent. */
const op = (keySpace: number): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('update' as const),
        key: fc.nat(keySpace),
        value: fc.nat(),
        flags: fc.constantFrom(BPF_ANY, BPF_NOEXIST, BPF_EXIST),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.nat(keySpace) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('lookup' as const), key: fc.nat(keySpace) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
  );

/** A key of `keyWords` words derived from a small number (every word matters). */
function keyOf(n: number, keyWords: number): Uint32Array {
  const k = new Uint32Array(keyWords);
  for (let i = 0; i < keyWords; i++) k[i] = (Math.imul(n + 1, 0x9e3779b1 + i) ^ (i << 28)) >>> 0;
  return k;
}

function valueWordsOf(v: number, valueWords: number): Uint32Array {
  return Uint32Array.from({ length: valueWords }, (_, i) => (v + i * 7919) >>> 0);
}

const wordsOf = (k: Uint32Array) => [k[0], k[1] ?? 0, k[2] ?? 0, k[3] ?? 0] as const;

/** Every live entry as "key words → value words", from forEach. */
function contents(m: ContractMap): Map<string, string> {
  const out = new Map<string, string>();
  m.forEach((handle, keyOff, valueOff) => {
    expect(m.isLive(handle)).toBe(true);
    expect([m.keyOffset(handle), m.valueOffset(handle)]).toEqual([keyOff, valueOff]);
    const key = [...m.keys.subarray(keyOff, keyOff + m.keyWords)].join(',');
    expect(out.has(key), `key ${key} enumerated twice`).toBe(false);
    out.set(key, [...m.values.subarray(valueOff, valueOff + m.valueWords)].join(','));
  });
  return out;
}

const shapeArb: fc.Arbitrary<Shape> = fc.record({
  keyWords: fc.integer({ min: 1, max: 4 }),
  valueWords: fc.integer({ min: 0, max: 3 }),
  maxEntries: fc.integer({ min: 1, max: 24 }),
  lru: fc.constant(false),
});

describe.each(IMPLEMENTATIONS)('hash-map contract: %s', (_name, make) => {
  it('behaves as a bounded Map for any sequence of update (BPF_ANY / NOEXIST / EXIST), delete, lookup and clear: the same errnos (−EEXIST, −ENOENT, −E2BIG when full), values, count, and forEach visits each live key once', () => {
    fc.assert(
      fc.property(shapeArb, fc.array(op(40), { maxLength: 120 }), (shape, ops) => {
        const m = make(shape);
        const model = new Map<string, string>();
        for (const o of ops) {
          if (o.kind === 'clear') {
            m.clear();
            model.clear();
            continue;
          }
          const key = keyOf(o.key, shape.keyWords);
          const name = [...key].join(',');
          if (o.kind === 'update') {
            const value = valueWordsOf(o.value, shape.valueWords);
            const present = model.has(name);
            const want =
              o.flags === BPF_NOEXIST && present
                ? -EEXIST
                : o.flags === BPF_EXIST && !present
                  ? -ENOENT
                  : !present && model.size === shape.maxEntries
                    ? -E2BIG
                    : 0;
            expect(m.update(key, 0, value, 0, o.flags)).toBe(want);
            if (want === 0) model.set(name, [...value].join(','));
          } else if (o.kind === 'delete') {
            const present = model.delete(name);
            // Both spellings of delete: by array and by words.
            const got = o.key % 2 === 0 ? m.delete(key, 0) : m.deleteWords(...wordsOf(key));
            expect(got).toBe(present ? 0 : -ENOENT);
          } else {
            const h = o.key % 2 === 0 ? m.lookup(key, 0) : m.lookupWords(...wordsOf(key));
            if (!model.has(name)) expect(h).toBeLessThan(0);
            else {
              expect(h).toBeGreaterThanOrEqual(0);
              const v = m.valueOffset(h);
              expect([...m.values.subarray(v, v + shape.valueWords)].join(',')).toBe(model.get(name));
            }
          }
          expect(m.count).toBe(model.size);
        }
        expect(contents(m)).toEqual(model);
      }),
      { numRuns: 150 },
    );
  });

  it('zeroes a new entry’s value, keeps an existing one on insert, and frees a slot on deleteEntry', () => {
    const m = make({ keyWords: 2, valueWords: 2, maxEntries: 2, lru: false });
    const a = m.insertWords(BPF_ANY, 1, 2);
    expect(a).toBeGreaterThanOrEqual(0);
    expect([...m.values.subarray(m.valueOffset(a), m.valueOffset(a) + 2)]).toEqual([0, 0]);
    m.values[m.valueOffset(a)] = 42;
    expect(m.insertWords(BPF_ANY, 1, 2)).toBe(a);
    expect(m.values[m.valueOffset(m.peekWords(1, 2))]).toBe(42);
    expect(m.insertWords(BPF_NOEXIST, 1, 2)).toBe(-EEXIST);
    expect(m.insertWords(BPF_ANY, 3, 4)).toBeGreaterThanOrEqual(0);
    expect(m.insertWords(BPF_ANY, 5, 6)).toBe(-E2BIG);
    expect(m.deleteEntry(m.peekWords(1, 2))).toBe(0);
    expect(m.peekWords(1, 2)).toBeLessThan(0);
    const c = m.insertWords(BPF_ANY, 5, 6);
    expect(c).toBeGreaterThanOrEqual(0);
    expect([...m.values.subarray(m.valueOffset(c), m.valueOffset(c) + 2)]).toEqual([0, 0]);
    expect(m.count).toBe(2);
  });

  it('in LRU mode never refuses an insert for lack of room: a full map evicts one entry, keeps maxEntries live and holds the key just inserted', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.nat(60), { maxLength: 100 }),
        (maxEntries, keys) => {
          const m = make({ keyWords: 2, valueWords: 1, maxEntries, lru: true });
          const distinct = new Set<number>();
          for (const k of keys) {
            distinct.add(k);
            const h = m.insertWords(BPF_ANY, k, ~k >>> 0);
            expect(h).toBeGreaterThanOrEqual(0);
            m.values[m.valueOffset(h)] = k;
            expect(m.count).toBe(Math.min(distinct.size, maxEntries));
            const again = m.lookupWords(k, ~k >>> 0);
            expect(m.values[m.valueOffset(again)]).toBe(k);
          }
          // Every live entry is one of the keys inserted, with its own value.
          for (const [key, value] of contents(m)) {
            const [w0, w1] = key.split(',').map(Number);
            expect(w1).toBe(~w0 >>> 0);
            expect(Number(value)).toBe(w0);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
