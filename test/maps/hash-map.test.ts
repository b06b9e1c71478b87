import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BPF_ANY,
  BPF_EXIST,
  BPF_NOEXIST,
  BpfHashMap,
  BpfLruHashMap,
  E2BIG,
  EEXIST,
  ENOENT,
  MapConfigError,
} from '../../src/maps/index.js';

/**
 * Reference model: a plain Map from "w0,w1" to the value, plus (for LRU) the keys from
 * most to least recently used and an eviction count.
 */
interface MapModel {
  readonly capacity: number;
  readonly lru: boolean;
  entries: Map<string, number>;
  recency: string[];
  evictions: number;
}

type Real = BpfHashMap;

const keyText = (w0: number, w1: number): string => `${w0},${w1}`;

function touch(m: MapModel, k: string): void {
  if (!m.lru) return;
  m.recency = [k, ...m.recency.filter((x) => x !== k)];
}

/** Applies bpf(2) update semantics to the model; returns the expected errno (0 or negative). */
function modelUpdate(m: MapModel, k: string, value: number, flags: number): number {
  const present = m.entries.has(k);
  if (present && flags === BPF_NOEXIST) return -EEXIST;
  if (!present && flags === BPF_EXIST) return -ENOENT;
  if (!present && m.entries.size === m.capacity) {
    if (!m.lru) return -E2BIG;
    const victim = m.recency[m.recency.length - 1];
    m.entries.delete(victim);
    m.recency.pop();
    m.evictions++;
  }
  m.entries.set(k, value);
  touch(m, k);
  return 0;
}

function checkContents(m: MapModel, r: Real): void {
  expect(r.count).toBe(m.entries.size);
  const seen = new Map<string, number>();
  r.forEach((_i, keyOff, valueOff) => {
    seen.set(keyText(r.keys[keyOff], r.keys[keyOff + 1]), r.values[valueOff]);
  });
  expect(seen).toEqual(m.entries);
  if (m.lru) {
    const order = r.recencyOrder().map((e) => keyText(r.keys[r.keyOffset(e)], r.keys[r.keyOffset(e) + 1]));
    expect(order).toEqual(m.recency);
    expect(r.evictions).toBe(m.evictions);
  }
}

class UpdateCommand implements fc.Command<MapModel, Real> {
  constructor(
    readonly w0: number,
    readonly w1: number,
    readonly value: number,
    readonly flags: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: MapModel, r: Real): void {
    const expected = modelUpdate(m, keyText(this.w0, this.w1), this.value, this.flags);
    const got = r.update(Uint32Array.of(9, this.w0, this.w1), 1, Uint32Array.of(this.value), 0, this.flags);
    expect(got).toBe(expected);
    checkContents(m, r);
  }
  toString(): string {
    return `update(${this.w0},${this.w1} = ${this.value}, flags ${this.flags})`;
  }
}

/** insertWords + writing the value in place, the zero-copy path. */
class InsertWordsCommand implements fc.Command<MapModel, Real> {
  constructor(
    readonly w0: number,
    readonly w1: number,
    readonly value: number,
    readonly flags: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: MapModel, r: Real): void {
    const expected = modelUpdate(m, keyText(this.w0, this.w1), this.value, this.flags);
    const e = r.insertWords(this.flags, this.w0, this.w1);
    if (expected < 0) {
      expect(e).toBe(expected);
    } else {
      expect(e).toBeGreaterThanOrEqual(0);
      r.values[r.valueOffset(e)] = this.value;
    }
    checkContents(m, r);
  }
  toString(): string {
    return `insertWords(${this.w0},${this.w1} = ${this.value}, flags ${this.flags})`;
  }
}

class LookupCommand implements fc.Command<MapModel, Real> {
  constructor(
    readonly w0: number,
    readonly w1: number,
    readonly viaWords: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: MapModel, r: Real): void {
    const k = keyText(this.w0, this.w1);
    const e = this.viaWords ? r.lookupWords(this.w0, this.w1) : r.lookup(Uint32Array.of(this.w0, this.w1));
    if (m.entries.has(k)) {
      expect(e).toBeGreaterThanOrEqual(0);
      expect(r.values[r.valueOffset(e)]).toBe(m.entries.get(k));
      touch(m, k);
    } else {
      expect(e).toBe(-1);
    }
    checkContents(m, r);
  }
  toString(): string {
    return `lookup${this.viaWords ? 'Words' : ''}(${this.w0},${this.w1})`;
  }
}

class DeleteCommand implements fc.Command<MapModel, Real> {
  constructor(
    readonly w0: number,
    readonly w1: number,
    readonly viaWords: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: MapModel, r: Real): void {
    const k = keyText(this.w0, this.w1);
    const expected = m.entries.has(k) ? 0 : -ENOENT;
    m.entries.delete(k);
    m.recency = m.recency.filter((x) => x !== k);
    const got = this.viaWords ? r.deleteWords(this.w0, this.w1) : r.delete(Uint32Array.of(this.w0, this.w1));
    expect(got).toBe(expected);
    checkContents(m, r);
  }
  toString(): string {
    return `delete${this.viaWords ? 'Words' : ''}(${this.w0},${this.w1})`;
  }
}

// A small key space over a small table: probe chains collide and the table fills often.
const w0Arb = fc.integer({ min: 0, max: 11 }).map((x) => (x * 0x9e3779b9) >>> 0);
const w1Arb = fc.integer({ min: 0, max: 2 });
const flagsArb = fc.constantFrom(BPF_ANY, BPF_ANY, BPF_NOEXIST, BPF_EXIST);
const commandArbs = [
  fc.tuple(w0Arb, w1Arb, fc.nat(), flagsArb).map(([a, b, v, f]) => new UpdateCommand(a, b, v, f)),
  fc.tuple(w0Arb, w1Arb, fc.nat(), flagsArb).map(([a, b, v, f]) => new InsertWordsCommand(a, b, v, f)),
  fc.tuple(w0Arb, w1Arb, fc.boolean()).map(([a, b, w]) => new LookupCommand(a, b, w)),
  fc.tuple(w0Arb, w1Arb, fc.boolean()).map(([a, b, w]) => new DeleteCommand(a, b, w)),
];

function runModel(lru: boolean): void {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 9 }),
      fc.commands(commandArbs, { maxCommands: 80 }),
      (capacity, cmds) => {
        const options = { keyWords: 2, valueWords: 1, maxEntries: capacity };
        fc.modelRun(
          () => ({
            model: { capacity, lru, entries: new Map(), recency: [], evictions: 0 },
            real: lru ? new BpfLruHashMap(options) : new BpfHashMap(options),
          }),
          cmds,
        );
      },
    ),
    { numRuns: 300 },
  );
}

describe('BpfHashMap (BPF_MAP_TYPE_HASH)', () => {
  it('behaves like a capacity-bounded Map for any sequence of update/insert/lookup/delete, reporting -E2BIG when full', () => {
    runModel(false);
  });

  it('reports -E2BIG for a new key in a full map but still updates an existing key', () => {
    const map = new BpfHashMap({ keyWords: 1, valueWords: 1, maxEntries: 2 });
    expect(map.update(Uint32Array.of(1), 0, Uint32Array.of(10), 0, BPF_ANY)).toBe(0);
    expect(map.update(Uint32Array.of(2), 0, Uint32Array.of(20), 0, BPF_ANY)).toBe(0);
    expect(map.update(Uint32Array.of(3), 0, Uint32Array.of(30), 0, BPF_ANY)).toBe(-E2BIG);
    expect(map.update(Uint32Array.of(1), 0, Uint32Array.of(11), 0, BPF_EXIST)).toBe(0);
    expect(map.values[map.valueOffset(map.lookupWords(1))]).toBe(11);
    expect(map.lookupWords(3)).toBe(-1);
  });

  it('keeps an entry index stable while other entries are deleted around it', () => {
    const map = new BpfHashMap({ keyWords: 4, valueWords: 2, maxEntries: 64 });
    const indices: number[] = [];
    for (let i = 0; i < 64; i++) indices.push(map.insertWords(BPF_NOEXIST, i, i * 7, i << 16, 6));
    for (let i = 0; i < 64; i += 2) expect(map.deleteWords(i, i * 7, i << 16, 6)).toBe(0);
    for (let i = 1; i < 64; i += 2) expect(map.lookupWords(i, i * 7, i << 16, 6)).toBe(indices[i]);
    expect(map.count).toBe(32);
  });

  it('finds every remaining key after heavy churn in a nearly full table (backward-shift deletion)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 400 }),
        (ops) => {
          const map = new BpfHashMap({ keyWords: 1, valueWords: 0, maxEntries: 32 });
          const present = new Set<number>();
          for (const [add, k] of ops) {
            if (add && present.size < 32) {
              map.insertWords(BPF_ANY, k);
              present.add(k);
            } else if (!add) {
              map.deleteWords(k);
              present.delete(k);
            }
          }
          for (let k = 0; k <= 40; k++) expect(map.peekWords(k) >= 0).toBe(present.has(k));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reports its typed-array memory and rejects impossible shapes', () => {
    const small = new BpfHashMap({ keyWords: 4, valueWords: 1, maxEntries: 100 });
    const big = new BpfHashMap({ keyWords: 4, valueWords: 1, maxEntries: 1000 });
    // Per entry: key 16 B + value 4 B; per slot: hash + entry + inline 4-word key = 24 B.
    expect(small.slotCount).toBe(128); // next power of two ≥ 1.25 × 100
    expect(small.byteLength).toBeGreaterThanOrEqual(100 * (16 + 4) + 128 * 24);
    expect(small.byteLength).toBeLessThan(100 * (16 + 4) + 128 * 24 + 100 * 32);
    expect(new BpfHashMap({ keyWords: 4, valueWords: 1, maxEntries: 100, slotsPerEntry: 4 }).slotCount).toBe(
      512,
    );
    expect(() => new BpfHashMap({ keyWords: 1, valueWords: 1, maxEntries: 4, slotsPerEntry: 1 })).toThrow(
      /slotsPerEntry/,
    );
    expect(big.byteLength).toBeGreaterThan(small.byteLength * 7);
    expect(() => new BpfHashMap({ keyWords: 0, valueWords: 1, maxEntries: 1 })).toThrow(MapConfigError);
    expect(() => new BpfHashMap({ keyWords: 1, valueWords: 1, maxEntries: 1.5 })).toThrow(/maxEntries/);
    expect(() => new BpfHashMap({ keyWords: 5, valueWords: 1, maxEntries: 4 }).lookupWords(1)).toThrow(
      MapConfigError,
    );
  });
});

describe('BpfLruHashMap (BPF_MAP_TYPE_LRU_HASH)', () => {
  it('behaves like an exact-LRU bounded Map for any operation sequence, evicting the least recently used key', () => {
    runModel(true);
  });

  it('evicts the entry not looked up for the longest time and counts the eviction', () => {
    const map = new BpfLruHashMap({ keyWords: 1, valueWords: 1, maxEntries: 3 });
    map.insertWords(BPF_ANY, 1);
    map.insertWords(BPF_ANY, 2);
    map.insertWords(BPF_ANY, 3);
    map.lookupWords(1); // 2 is now the least recently used
    expect(map.insertWords(BPF_ANY, 4)).toBeGreaterThanOrEqual(0);
    expect(map.peekWords(2)).toBe(-1);
    expect(map.peekWords(1)).toBeGreaterThanOrEqual(0);
    expect(map.evictions).toBe(1);
    expect(map.count).toBe(3);
  });
});
