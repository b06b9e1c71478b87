/**
 * BPF_MAP_TYPE_HASH and BPF_MAP_TYPE_LRU_HASH over typed arrays.
 *
 * Layout (all preallocated at creation, like a preallocated kernel htab):
 * - entries: `maxEntries` fixed-width records. An entry's key lives at
 *   `keys[index * keyWords]`, its value at `values[index * valueWords]`. An entry keeps its
 *   index for its whole life, so callers may hold an index (conntrack does) and read or
 *   write the value in place.
 * - slots: an open-addressing index with linear probing over a power-of-two slot count
 *   (at least 1.25 × maxEntries by default, load ≤ 0.8). Each slot is [hash, entryIndex, key words…]
 *   (entryIndex −1 = empty); keys of up to 4 words are copied into the slot so a hit
 *   costs one random memory access instead of two (slot, then key), which is what
 *   dominates a 100k-flow table. Wider keys are compared in `keys`. Deletion uses
 *   backward-shift, so there are no tombstones and lookups stay short after any number
 *   of deletions.
 * - LRU mode: an exact least-recently-used list (prev/next Int32Arrays). Lookups and
 *   updates move an entry to the front; inserting into a full map evicts the back.
 *   The kernel's LRU is approximate (per-CPU lists, reference bits); exact LRU is the
 *   documented modelling choice and is what the tests check.
 *
 * Operations return entry indices (≥ 0) or negative errno codes; nothing allocates.
 */
import {
  BPF_EXIST,
  BPF_NOEXIST,
  E2BIG,
  EEXIST,
  ENOENT,
  MapConfigError,
  requirePositiveInt,
} from './errno.js';
import { hashWords, hashWords4 } from './flow-hash.js';

export interface HashMapOptions {
  /** Key width in 32-bit words (the `*Words` fast paths need ≤ 4). */
  keyWords: number;
  /** Value width in 32-bit words (may be 0 for a set). */
  valueWords: number;
  /** Capacity, fixed at creation (`max_entries`). */
  maxEntries: number;
  /** Hash seed (maps with different seeds order their slots differently). */
  seed?: number;
  /**
   * Minimum probe slots per entry (default 1.25: load factor ≤ 0.8). The slot count is the
   * next power of two ≥ maxEntries × slotsPerEntry. A smaller index measured faster than a
   * sparser one for 100k flows (fewer cache and TLB misses outweigh longer, contiguous
   * probe runs); raise it for tables that see mostly misses.
   */
  slotsPerEntry?: number;
}

const MAX_ENTRIES_LIMIT = 1 << 24;
const MAX_WORDS = 1024;
const EMPTY = -1;
/**
 * A probe slot's entry word holds entry index + 1, so a free slot is 0: a new map's slot
 * array is usable as allocated (zeroed, its pages untouched until used) instead of being
 * written through once — at 512k entries that pass cost more than the rest of a sync.
 */
const FREE_SLOT = 0;

export class BpfHashMap {
  readonly keyWords: number;
  readonly valueWords: number;
  readonly maxEntries: number;
  readonly isLru: boolean;
  /** Keys of all entries, `keyWords` per entry; read a live entry's key at `keyOffset(i)`. */
  readonly keys: Uint32Array;
  /** Values of all entries, `valueWords` per entry; read/write in place at `valueOffset(i)`. */
  readonly values: Uint32Array;
  /** Number of slots in the probe index (a power of two). */
  readonly slotCount: number;
  /** Live entries. */
  count = 0;
  /** Entries evicted to make room (LRU mode only). */
  evictions = 0;

  private readonly seed: number;
  private readonly mask: number;
  /** [hash, entryIndex + 1 (FREE_SLOT when free), inline key words…] per slot. */
  private readonly slots: Int32Array;
  /** Int32 words per slot: 2, plus keyWords when keys are inline. */
  private readonly stride: number;
  private readonly inlineKeys: boolean;
  private readonly entryHash: Int32Array;
  private readonly live: Uint8Array;
  /** Indices freed by deletes (reused last-freed first); empty on a fresh map. */
  private readonly freeStack: Int32Array;
  private freeTop: number;
  /** Entries [fresh, maxEntries) were never used: a fresh map hands them out in order, low first. */
  private fresh = 0;
  // Exact LRU list; head = most recent, tail = least recent.
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private head = EMPTY;
  private tail = EMPTY;
  /** Slot chosen by the most recent insertion. */
  private lastSlot = 0;

  constructor(options: HashMapOptions, lru = false) {
    this.keyWords = requirePositiveInt('keyWords', options.keyWords, MAX_WORDS);
    this.valueWords =
      options.valueWords === 0 ? 0 : requirePositiveInt('valueWords', options.valueWords, MAX_WORDS);
    this.maxEntries = requirePositiveInt('maxEntries', options.maxEntries, MAX_ENTRIES_LIMIT);
    this.isLru = lru;
    this.seed = (options.seed ?? 0x9747b28c) | 0;
    const slotsPerEntry = options.slotsPerEntry ?? 1.25;
    if (!(slotsPerEntry >= 1.25 && slotsPerEntry <= 16)) {
      throw new MapConfigError(`slotsPerEntry must be in 1.25..16, got ${slotsPerEntry}`);
    }
    let slotCount = 8;
    while (slotCount < this.maxEntries * slotsPerEntry) slotCount *= 2;
    this.slotCount = slotCount;
    this.mask = slotCount - 1;
    this.inlineKeys = this.keyWords <= 4;
    this.stride = 2 + (this.inlineKeys ? this.keyWords : 0);
    this.slots = new Int32Array(slotCount * this.stride);
    this.keys = new Uint32Array(this.maxEntries * this.keyWords);
    this.values = new Uint32Array(this.maxEntries * this.valueWords);
    this.entryHash = new Int32Array(this.maxEntries);
    this.live = new Uint8Array(this.maxEntries);
    // Low indices go first so dumps list entries in insertion order on a fresh map; counting
    // them out (`fresh`) instead of pre-filling a stack of every index keeps a 500k-entry map's
    // construction to its allocation.
    this.freeStack = new Int32Array(this.maxEntries);
    this.freeTop = 0;
    const listLen = lru ? this.maxEntries : 0;
    this.prev = new Int32Array(listLen).fill(EMPTY);
    this.next = new Int32Array(listLen).fill(EMPTY);
  }

  /** Bytes of typed-array storage this map holds. */
  get byteLength(): number {
    return (
      this.keys.byteLength +
      this.values.byteLength +
      this.slots.byteLength +
      this.entryHash.byteLength +
      this.live.byteLength +
      this.freeStack.byteLength +
      this.prev.byteLength +
      this.next.byteLength
    );
  }

  keyOffset(index: number): number {
    return index * this.keyWords;
  }

  valueOffset(index: number): number {
    return index * this.valueWords;
  }

  isLive(index: number): boolean {
    return index >= 0 && index < this.maxEntries && this.live[index] === 1;
  }

  // ---------------------------------------------------------------- lookup

  /** Entry index of `key` (keyWords words at `keyOff`), or −1. Refreshes recency in LRU mode. */
  lookup(key: Uint32Array, keyOff = 0): number {
    const h = hashWords(key, keyOff, this.keyWords, this.seed) | 0;
    const e = this.findByArray(key, keyOff, h);
    if (e >= 0 && this.isLru) this.touch(e);
    return e;
  }

  /**
   * Entry index for a key of up to 4 words passed as numbers (extra arguments ignored), or −1.
   * The 5-tuple fast path: `lookupWords(saddr, daddr, packPorts(sport, dport), proto)`.
   */
  lookupWords(w0: number, w1 = 0, w2 = 0, w3 = 0): number {
    if (this.keyWords > 4) throw this.wideKeyError();
    const h = hashWords4(this.keyWords, w0, w1, w2, w3, this.seed) | 0;
    const e = this.findByWords(w0, w1, w2, w3, h);
    if (e >= 0 && this.isLru) this.touch(e);
    return e;
  }

  /** Like `lookupWords` but never changes LRU recency (for dumps and tests). */
  peekWords(w0: number, w1 = 0, w2 = 0, w3 = 0): number {
    if (this.keyWords > 4) throw this.wideKeyError();
    return this.findByWords(w0, w1, w2, w3, hashWords4(this.keyWords, w0, w1, w2, w3, this.seed) | 0);
  }

  /** Like `lookup` but never changes LRU recency. */
  peek(key: Uint32Array, keyOff = 0): number {
    return this.findByArray(key, keyOff, hashWords(key, keyOff, this.keyWords, this.seed) | 0);
  }

  // ---------------------------------------------------------------- insert / update

  /**
   * Finds or creates the entry for `key` and returns its index (the caller writes the value
   * at `valueOffset(index)`), or a negative errno: −EEXIST (BPF_NOEXIST and present),
   * −ENOENT (BPF_EXIST and absent), −E2BIG (HASH map full). A new entry's value is zeroed.
   */
  insert(key: Uint32Array, keyOff: number, flags: number): number {
    const h = hashWords(key, keyOff, this.keyWords, this.seed) | 0;
    const found = this.findByArray(key, keyOff, h);
    const e = this.insertAfterMiss(found, h, flags);
    if (e >= 0 && found < 0) {
      const k = e * this.keyWords;
      for (let i = 0; i < this.keyWords; i++) this.keys[k + i] = key[keyOff + i];
      this.syncSlotKey(e);
    }
    return e;
  }

  /** `insert` for a key of up to 4 words passed as numbers. */
  insertWords(flags: number, w0: number, w1 = 0, w2 = 0, w3 = 0): number {
    if (this.keyWords > 4) throw this.wideKeyError();
    const h = hashWords4(this.keyWords, w0, w1, w2, w3, this.seed) | 0;
    const found = this.findByWords(w0, w1, w2, w3, h);
    const e = this.insertAfterMiss(found, h, flags);
    if (e >= 0 && found < 0) {
      const k = e * this.keyWords;
      const kw = this.keyWords;
      this.keys[k] = w0;
      if (kw > 1) this.keys[k + 1] = w1;
      if (kw > 2) this.keys[k + 2] = w2;
      if (kw > 3) this.keys[k + 3] = w3;
      this.syncSlotKey(e);
    }
    return e;
  }

  /**
   * bpf_map_update_elem: copies `valueWords` words from `value` at `valueOff`.
   * Returns 0 or a negative errno (see `insert`).
   */
  update(key: Uint32Array, keyOff: number, value: Uint32Array, valueOff: number, flags: number): number {
    const e = this.insert(key, keyOff, flags);
    if (e < 0) return e;
    const v = e * this.valueWords;
    for (let i = 0; i < this.valueWords; i++) this.values[v + i] = value[valueOff + i];
    return 0;
  }

  // ---------------------------------------------------------------- delete

  /** bpf_map_delete_elem: 0, or −ENOENT when absent. */
  delete(key: Uint32Array, keyOff = 0): number {
    const h = hashWords(key, keyOff, this.keyWords, this.seed) | 0;
    const e = this.findByArray(key, keyOff, h);
    if (e < 0) return -ENOENT;
    this.deleteEntry(e);
    return 0;
  }

  /** Delete for a key of up to 4 words passed as numbers: 0 or −ENOENT. */
  deleteWords(w0: number, w1 = 0, w2 = 0, w3 = 0): number {
    if (this.keyWords > 4) throw this.wideKeyError();
    const h = hashWords4(this.keyWords, w0, w1, w2, w3, this.seed) | 0;
    const e = this.findByWords(w0, w1, w2, w3, h);
    if (e < 0) return -ENOENT;
    this.deleteEntry(e);
    return 0;
  }

  /** Deletes a live entry by index: 0, or −ENOENT when the index is not live. */
  deleteEntry(index: number): number {
    if (!this.isLive(index)) return -ENOENT;
    const h = this.entryHash[index];
    let s = h & this.mask;
    while (this.slots[s * this.stride + 1] !== index + 1) s = (s + 1) & this.mask;
    this.removeSlot(s);
    this.live[index] = 0;
    this.freeStack[this.freeTop++] = index;
    this.count--;
    if (this.isLru) this.unlink(index);
    return 0;
  }

  clear(): void {
    this.slots.fill(FREE_SLOT);
    this.live.fill(0);
    this.freeTop = 0;
    this.fresh = 0;
    this.count = 0;
    this.prev.fill(EMPTY);
    this.next.fill(EMPTY);
    this.head = EMPTY;
    this.tail = EMPTY;
  }

  // ---------------------------------------------------------------- iteration

  /** Calls `fn(index, keyOff, valueOff)` for every live entry, in index order. */
  forEach(fn: (index: number, keyOff: number, valueOff: number) => void): void {
    for (let i = 0; i < this.maxEntries; i++) {
      if (this.live[i] === 1) fn(i, i * this.keyWords, i * this.valueWords);
    }
  }

  /** LRU mode: entry indices from most to least recently used (control plane / tests). */
  recencyOrder(): number[] {
    const out: number[] = [];
    for (let e = this.head; e !== EMPTY; e = this.next[e]) out.push(e);
    return out;
  }

  /** The slot a key of up to 4 words hashes to (its probe chain starts there). */
  homeSlotWords(w0: number, w1 = 0, w2 = 0, w3 = 0): number {
    if (this.keyWords > 4) throw this.wideKeyError();
    return hashWords4(this.keyWords, w0, w1, w2, w3, this.seed) & this.mask;
  }

  /** Entry index stored in a probe slot, or −1 when the slot is empty. */
  entryAtSlot(slot: number): number {
    return this.slots[(slot & this.mask) * this.stride + 1] - 1;
  }

  // ---------------------------------------------------------------- internals

  private wideKeyError(): MapConfigError {
    return new MapConfigError(
      `the *Words entry points take keys of at most 4 words; this map has ${this.keyWords}`,
    );
  }

  private findByArray(key: Uint32Array, keyOff: number, h: number): number {
    const slots = this.slots;
    const keys = this.keys;
    const kw = this.keyWords;
    const stride = this.stride;
    const inline = this.inlineKeys;
    let s = h & this.mask;
    for (;;) {
      const b = s * stride;
      const e = slots[b + 1] - 1;
      if (e === EMPTY) return -1;
      if (slots[b] === h) {
        let i = 0;
        if (inline) {
          while (i < kw && slots[b + 2 + i] === (key[keyOff + i] | 0)) i++;
        } else {
          const k = e * kw;
          while (i < kw && keys[k + i] === key[keyOff + i]) i++;
        }
        if (i === kw) return e;
      }
      s = (s + 1) & this.mask;
    }
  }

  /** Only for inline keys (keyWords ≤ 4, checked by the callers). */
  private findByWords(w0: number, w1: number, w2: number, w3: number, h: number): number {
    const slots = this.slots;
    const kw = this.keyWords;
    const stride = this.stride;
    const k0 = w0 | 0;
    const k1 = w1 | 0;
    const k2 = w2 | 0;
    const k3 = w3 | 0;
    let s = h & this.mask;
    for (;;) {
      const b = s * stride;
      const e = slots[b + 1] - 1;
      if (e === EMPTY) return -1;
      if (
        slots[b] === h &&
        slots[b + 2] === k0 &&
        (kw < 2 || slots[b + 3] === k1) &&
        (kw < 3 || slots[b + 4] === k2) &&
        (kw < 4 || slots[b + 5] === k3)
      ) {
        return e;
      }
      s = (s + 1) & this.mask;
    }
  }

  /** Shared tail of insert/insertWords once the key's presence (`found`) is known. */
  private insertAfterMiss(found: number, h: number, flags: number): number {
    if (found >= 0) {
      if (flags === BPF_NOEXIST) return -EEXIST;
      if (this.isLru) this.touch(found);
      return found;
    }
    if (flags === BPF_EXIST) return -ENOENT;
    if (this.count === this.maxEntries) {
      if (!this.isLru) return -E2BIG;
      this.evictions++;
      this.deleteEntry(this.tail);
    }
    const e = this.freeTop > 0 ? this.freeStack[--this.freeTop] : this.fresh++;
    let s = h & this.mask;
    while (this.slots[s * this.stride + 1] !== FREE_SLOT) s = (s + 1) & this.mask;
    this.slots[s * this.stride] = h;
    this.slots[s * this.stride + 1] = e + 1;
    this.lastSlot = s;
    this.entryHash[e] = h;
    this.live[e] = 1;
    this.count++;
    this.values.fill(0, e * this.valueWords, (e + 1) * this.valueWords);
    if (this.isLru) this.pushFront(e);
    return e;
  }

  /**
   * Backward-shift deletion: empties slot `s`, then walks the probe chain after it and
   * moves back every entry whose home slot does not lie cyclically in (hole, position],
   * so every remaining key stays reachable from its home slot without tombstones.
   */
  private removeSlot(s: number): void {
    const slots = this.slots;
    const mask = this.mask;
    const stride = this.stride;
    let hole = s;
    let j = (s + 1) & mask;
    for (;;) {
      if (slots[j * stride + 1] === FREE_SLOT) break;
      const home = slots[j * stride] & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots.copyWithin(hole * stride, j * stride, (j + 1) * stride);
        hole = j;
      }
      j = (j + 1) & mask;
    }
    slots[hole * stride + 1] = FREE_SLOT;
  }

  /** Copies a just-inserted entry's key into its slot (inline-key layout). */
  private syncSlotKey(e: number): void {
    if (!this.inlineKeys) return;
    const b = this.lastSlot * this.stride + 2;
    const k = e * this.keyWords;
    for (let i = 0; i < this.keyWords; i++) this.slots[b + i] = this.keys[k + i];
  }

  private touch(e: number): void {
    if (this.head === e) return;
    this.unlink(e);
    this.pushFront(e);
  }

  private pushFront(e: number): void {
    this.prev[e] = EMPTY;
    this.next[e] = this.head;
    if (this.head !== EMPTY) this.prev[this.head] = e;
    this.head = e;
    if (this.tail === EMPTY) this.tail = e;
  }

  private unlink(e: number): void {
    const p = this.prev[e];
    const n = this.next[e];
    if (p !== EMPTY) this.next[p] = n;
    else this.head = n;
    if (n !== EMPTY) this.prev[n] = p;
    else this.tail = p;
    this.prev[e] = EMPTY;
    this.next[e] = EMPTY;
  }
}

/** BPF_MAP_TYPE_LRU_HASH: a hash map that evicts its least recently used entry when full. */
export class BpfLruHashMap extends BpfHashMap {
  constructor(options: HashMapOptions) {
    super(options, true);
  }
}
