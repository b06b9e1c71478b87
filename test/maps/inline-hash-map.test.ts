import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BPF_ANY,
  BPF_EXIST,
  BPF_NOEXIST,
  BpfInlineHashMap,
  E2BIG,
  EEXIST,
  ENOENT,
  LOOKUP_SKIP,
  MapConfigError,
} from '../../src/maps/index.js';

/**
 * Reference model: a plain Map from "w0,w1" to the value. For the LRU map the model does not
 * predict which entry the CLOCK sweep evicts; it learns the victim from the real map and checks
 * what the kernel's reference-bit LRU promises: exactly one other entry goes, it is counted, and
 * an entry looked up since the previous eviction is not chosen while some entry has never been
 * looked up since it was inserted (such an entry's reference bit is certainly clear).
 */
interface MapModel {
  readonly capacity: number;
  readonly lru: boolean;
  entries: Map<string, number>;
  /** Keys looked up (or updated) since the previous eviction. */
  usedSinceEviction: Set<string>;
  /** Keys never looked up since their insertion. */
  neverUsed: Set<string>;
  evictions: number;
}

type Real = BpfInlineHashMap;

const keyText = (w0: number, w1: number): string => `${w0},${w1}`;

function contents(r: Real): Map<string, number> {
  const seen = new Map<string, number>();
  r.forEach((_h, keyOff, valueOff) => {
    seen.set(keyText(r.keys[keyOff], r.keys[keyOff + 1]), r.values[valueOff]);
  });
  return seen;
}

function markUsed(m: MapModel, k: string): void {
  m.usedSinceEviction.add(k);
  m.neverUsed.delete(k);
}

/**
 * Applies bpf(2) update semantics to the model for a key whose real outcome is `got`; returns
 * the expected errno (0 or negative) and, for an LRU insert into a full map, removes the victim
 * the real map chose after checking it was a legal choice.
 */
function modelUpdate(m: MapModel, r: Real, k: string, value: number, flags: number, got: number): number {
  const present = m.entries.has(k);
  if (present && flags === BPF_NOEXIST) return -EEXIST;
  if (!present && flags === BPF_EXIST) return -ENOENT;
  if (!present && m.entries.size === m.capacity) {
    if (!m.lru) return -E2BIG;
    expect(got).toBeGreaterThanOrEqual(0);
    const now = contents(r);
    const gone = [...m.entries.keys()].filter((x) => !now.has(x));
    expect(gone).toHaveLength(1);
    const victim = gone[0];
    if (m.neverUsed.size > 0) expect(m.usedSinceEviction.has(victim)).toBe(false);
    m.entries.delete(victim);
    m.neverUsed.delete(victim);
    m.usedSinceEviction.clear();
    m.evictions++;
  }
  if (present) markUsed(m, k);
  else m.neverUsed.add(k);
  m.entries.set(k, value);
  return 0;
}

function checkContents(m: MapModel, r: Real): void {
  expect(r.count).toBe(m.entries.size);
  expect(contents(r)).toEqual(m.entries);
  expect(r.evictions).toBe(m.evictions);
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
    const got = r.update(Uint32Array.of(9, this.w0, this.w1), 1, Uint32Array.of(this.value), 0, this.flags);
    expect(got).toBe(modelUpdate(m, r, keyText(this.w0, this.w1), this.value, this.flags, got));
    checkContents(m, r);
  }
  toString(): string {
    return `update(${this.w0},${this.w1} = ${this.value}, flags ${this.flags})`;
  }
}

/** insertWords + writing the value in place through the handle. */
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
    const e = r.insertWords(this.flags, this.w0, this.w1);
    const expected = modelUpdate(m, r, keyText(this.w0, this.w1), this.value, this.flags, e);
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

/** One key through `lookupWords`, `lookup` or `lookupBatch` (which must agree). */
class LookupCommand implements fc.Command<MapModel, Real> {
  constructor(
    readonly w0: number,
    readonly w1: number,
    readonly via: 'words' | 'array' | 'batch',
  ) {}
  check(): boolean {
    return true;
  }
  run(m: MapModel, r: Real): void {
    const k = keyText(this.w0, this.w1);
    let e: number;
    if (this.via === 'words') e = r.lookupWords(this.w0, this.w1);
    else if (this.via === 'array') e = r.lookup(Uint32Array.of(this.w0, this.w1));
    else {
      const out = Int32Array.of(0);
      r.lookupBatch(Int32Array.of(this.w0, this.w1, 0, 0), 1, out);
      e = out[0];
    }
    if (m.entries.has(k)) {
      expect(e).toBeGreaterThanOrEqual(0);
      expect(r.values[r.valueOffset(e)]).toBe(m.entries.get(k));
      if (m.lru) expect(r.isReferenced(e)).toBe(true);
      markUsed(m, k);
    } else {
      expect(e).toBe(-1);
    }
    checkContents(m, r);
  }
  toString(): string {
    return `lookup-${this.via}(${this.w0},${this.w1})`;
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
    m.usedSinceEviction.delete(k);
    m.neverUsed.delete(k);
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
  fc
    .tuple(w0Arb, w1Arb, fc.constantFrom('words' as const, 'array' as const, 'batch' as const))
    .map(([a, b, via]) => new LookupCommand(a, b, via)),
  fc.tuple(w0Arb, w1Arb, fc.boolean()).map(([a, b, w]) => new DeleteCommand(a, b, w)),
];

function runModel(lru: boolean): void {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 9 }),
      fc.commands(commandArbs, { maxCommands: 80 }),
      (capacity, cmds) => {
        const options = { keyWords: 2, valueWords: 1, maxEntries: capacity, lru };
        fc.modelRun(
          () => ({
            model: {
              capacity,
              lru,
              entries: new Map(),
              usedSinceEviction: new Set<string>(),
              neverUsed: new Set<string>(),
              evictions: 0,
            },
            real: new BpfInlineHashMap(options),
          }),
          cmds,
        );
      },
    ),
    { numRuns: 300 },
  );
}

/** CT-like 4-word keys: VIP, client address, client port << 16 | service port, proto | flags << 8. */
function flowKeys(n: number): Int32Array {
  const keys = new Int32Array(n * 4);
  for (let i = 0; i < n; i++) {
    keys[i * 4] = 0x0a60000a;
    keys[i * 4 + 1] = 0x0af40000 | (i >>> 6);
    keys[i * 4 + 2] = ((1024 + (i & 63) * 997) << 16) | 80;
    keys[i * 4 + 3] = 6 | (4 << 8);
  }
  return keys;
}

describe('BpfInlineHashMap as BPF_MAP_TYPE_HASH', () => {
  it('behaves like a capacity-bounded Map for any sequence of update/insert/lookup/delete, reporting -E2BIG when full', () => {
    runModel(false);
  });

  it('finds every remaining key after heavy churn in a nearly full table (backward-shift deletion)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 400 }),
        (ops) => {
          const map = new BpfInlineHashMap({
            keyWords: 1,
            valueWords: 1,
            maxEntries: 32,
            slotsPerEntry: 1.05,
          });
          const present = new Set<number>();
          for (const [add, k] of ops) {
            if (add && present.size < 32) {
              map.values[map.valueOffset(map.insertWords(BPF_ANY, k))] = k + 1000;
              present.add(k);
            } else if (!add) {
              map.deleteWords(k);
              present.delete(k);
            }
          }
          for (let k = 0; k <= 40; k++) {
            const e = map.peekWords(k);
            expect(e >= 0).toBe(present.has(k));
            if (e >= 0) expect(map.values[map.valueOffset(e)]).toBe(k + 1000);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('answers a batch lookup exactly as one lookupWords per key, skipping keys marked LOOKUP_SKIP', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }),
        fc.array(fc.integer({ min: 0, max: 1199 }), { minLength: 1, maxLength: 700 }),
        fc.integer({ min: 0, max: 0x7fffffff }),
        (stored, probes, skipMask) => {
          const all = flowKeys(1200);
          const map = new BpfInlineHashMap({ keyWords: 4, valueWords: 4, maxEntries: 600 });
          for (let i = 0; i < stored; i++) {
            const k = i * 4;
            map.insertWords(BPF_NOEXIST, all[k], all[k + 1], all[k + 2], all[k + 3]);
          }
          const keys = new Int32Array(probes.length * 4);
          const out = new Int32Array(probes.length);
          probes.forEach((p, j) => {
            keys.set(all.subarray(p * 4, p * 4 + 4), j * 4);
            out[j] = (skipMask >>> (j % 31)) & 1 ? LOOKUP_SKIP : 0;
          });
          const skipped = out.map((x) => (x === LOOKUP_SKIP ? 1 : 0));
          map.lookupBatch(keys, probes.length, out);
          probes.forEach((p, j) => {
            const k = p * 4;
            const one = map.peekWords(all[k], all[k + 1], all[k + 2], all[k + 3]);
            expect(out[j]).toBe(skipped[j] ? LOOKUP_SKIP : one);
            expect(one >= 0).toBe(p < stored);
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('answers lookupHashed(hashWords(key), key) exactly as lookupWords(key), reference bit included, for any stored set and probes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.integer({ min: 0, max: 599 }), { minLength: 1, maxLength: 300 }),
        (stored, probes) => {
          const all = flowKeys(600);
          const split = new BpfInlineHashMap({ keyWords: 4, valueWords: 4, maxEntries: 300, lru: true });
          const whole = new BpfInlineHashMap({ keyWords: 4, valueWords: 4, maxEntries: 300, lru: true });
          for (let i = 0; i < stored; i++) {
            const k = i * 4;
            split.insertWords(BPF_NOEXIST, all[k], all[k + 1], all[k + 2], all[k + 3]);
            whole.insertWords(BPF_NOEXIST, all[k], all[k + 1], all[k + 2], all[k + 3]);
          }
          const hashes = new Int32Array(probes.length);
          probes.forEach((p, j) => {
            const k = p * 4;
            hashes[j] = split.hashWords(all[k], all[k + 1], all[k + 2], all[k + 3]);
          });
          // The prefetch touches memory only: it must not change what any lookup answers.
          expect(Number.isInteger(split.touchHomes(hashes, probes.length))).toBe(true);
          probes.forEach((p, j) => {
            const k = p * 4;
            const h = split.lookupHashed(hashes[j], all[k], all[k + 1], all[k + 2], all[k + 3]);
            expect(h).toBe(whole.lookupWords(all[k], all[k + 1], all[k + 2], all[k + 3]));
            expect(h >= 0).toBe(p < stored);
            if (h >= 0) expect(split.isReferenced(h)).toBe(true);
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps handles valid across inserts and counts deletions in `moves`', () => {
    const map = new BpfInlineHashMap({ keyWords: 4, valueWords: 2, maxEntries: 64 });
    const handles: number[] = [];
    for (let i = 0; i < 40; i++) handles.push(map.insertWords(BPF_NOEXIST, i, i * 7, i << 16, 6));
    for (let i = 40; i < 64; i++) map.insertWords(BPF_NOEXIST, i, i * 7, i << 16, 6);
    for (let i = 0; i < 40; i++) expect(map.peekWords(i, i * 7, i << 16, 6)).toBe(handles[i]);
    expect(map.moves).toBe(0);
    expect(map.deleteEntry(handles[3])).toBe(0);
    expect(map.deleteEntry(handles[3] + map.slotCount)).toBe(-ENOENT);
    expect(map.moves).toBe(1);
    expect(map.count).toBe(63);
  });

  it('costs under 64 bytes of table memory per entry and rejects impossible shapes', () => {
    const ct = new BpfInlineHashMap({ keyWords: 4, valueWords: 4, maxEntries: 131072, lru: true });
    // 1.25 slots of 32 B (key + value) and 1.25 ctrl bytes per entry.
    expect(ct.byteLength / ct.maxEntries).toBeGreaterThanOrEqual(41);
    expect(ct.byteLength / ct.maxEntries).toBeLessThan(42);
    expect(ct.slotCount % 2).toBe(0);
    expect(() => new BpfInlineHashMap({ keyWords: 5, valueWords: 1, maxEntries: 4 })).toThrow(MapConfigError);
    expect(() => new BpfInlineHashMap({ keyWords: 1, valueWords: 1, maxEntries: 0 })).toThrow(/maxEntries/);
    expect(
      () => new BpfInlineHashMap({ keyWords: 1, valueWords: 1, maxEntries: 4, slotsPerEntry: 1 }),
    ).toThrow(/slotsPerEntry/);
  });
});

describe('BpfInlineHashMap as BPF_MAP_TYPE_LRU_HASH (reference bits, CLOCK eviction)', () => {
  it('behaves like a bounded Map for any operation sequence, evicting one entry not used since the last eviction while never-used entries exist', () => {
    runModel(true);
  });

  it('evicts the cold entry and keeps the ones looked up since they were inserted', () => {
    const map = new BpfInlineHashMap({ keyWords: 1, valueWords: 1, maxEntries: 3, lru: true });
    map.insertWords(BPF_ANY, 1);
    map.insertWords(BPF_ANY, 2);
    map.insertWords(BPF_ANY, 3);
    map.lookupWords(1);
    map.lookupWords(3);
    expect(map.insertWords(BPF_ANY, 4)).toBeGreaterThanOrEqual(0);
    expect(map.peekWords(2)).toBe(-1);
    expect(map.peekWords(1)).toBeGreaterThanOrEqual(0);
    expect(map.peekWords(3)).toBeGreaterThanOrEqual(0);
    expect(map.evictions).toBe(1);
    expect(map.count).toBe(3);
  });

  it('never evicts a working set that is looked up between inserts, whatever stream of one-off keys passes through', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 200 }), (hot, stream) => {
        const map = new BpfInlineHashMap({ keyWords: 1, valueWords: 0, maxEntries: hot + 4, lru: true });
        for (let k = 0; k < hot; k++) map.insertWords(BPF_ANY, k);
        for (let s = 0; s < stream; s++) {
          for (let k = 0; k < hot; k++) expect(map.lookupWords(k)).toBeGreaterThanOrEqual(0);
          expect(map.insertWords(BPF_NOEXIST, 1000 + s)).toBeGreaterThanOrEqual(0);
        }
        expect(map.count).toBe(Math.min(hot + stream, hot + 4));
        expect(map.evictions).toBe(Math.max(0, stream - 4));
      }),
      { numRuns: 100 },
    );
  });

  it('sets the reference bit on lookup only (peek leaves it), and new entries start unreferenced', () => {
    const map = new BpfInlineHashMap({ keyWords: 2, valueWords: 1, maxEntries: 8, lru: true });
    const e = map.insertWords(BPF_NOEXIST, 5, 6);
    expect(map.isReferenced(e)).toBe(false);
    expect(map.peekWords(5, 6)).toBe(e);
    expect(map.isReferenced(e)).toBe(false);
    expect(map.lookupWords(5, 6)).toBe(e);
    expect(map.isReferenced(e)).toBe(true);
  });
});

describe('BpfInlineHashMap LRU under sustained eviction', () => {
  it('keeps probe clusters short however many new keys stream through a full map (evictions land where inserts do)', () => {
    const max = 4096;
    const map = new BpfInlineHashMap({ keyWords: 4, valueWords: 4, maxEntries: max, lru: true });
    // Conntrack-like keys: one VIP, 64 clients, sequential source ports.
    for (let i = 0; i < max * 6; i++) {
      expect(
        map.insertWords(BPF_ANY, 0x0ae90001, 0x0a900000 + (i % 64), ((32768 + (i >>> 6)) << 16) | 8080, 6),
      ).toBeGreaterThanOrEqual(0);
    }
    expect(map.count).toBe(max);
    const live = new Uint8Array(map.slotCount);
    map.forEach((handle) => {
      live[handle] = 1;
    });
    let run = 0;
    let longest = 0;
    for (let s = 0; s < 2 * map.slotCount; s++) {
      run = live[s % map.slotCount] ? run + 1 : 0;
      longest = Math.max(longest, Math.min(run, map.slotCount));
    }
    // Linear probing at 80 % load keeps clusters in the tens; a CLOCK hand alone let them
    // grow to thousands of slots (the whole table ahead of the hand).
    expect(longest).toBeLessThan(200);
  });
});
