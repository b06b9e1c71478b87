/**
 * A BPF hash map (HASH, or LRU_HASH with the kernel's approximate LRU) laid out for the
 * per-packet flow lookup: key and value live together in one slot, so a hit costs one random
 * cache line (a 4-word key + 4-word value slot is 32 bytes, two per line).
 *
 * Layout (all preallocated at creation):
 * - slots: open addressing with linear probing over `slotCount` slots of `keyWords +
 *   valueWords` words (key first, then value). A key's home is the first slot of a bucket of
 *   64 bytes' worth of slots (two 32-byte slots), so a key at its home or one slot on costs one
 *   cache line. The bucket count need not be a power of two (default ≈ 1.25 slots per entry,
 *   load ≤ 0.8): multiply-shift range reduction of the hash picks the bucket, so memory stays
 *   ~1.25 slots per entry instead of rounding up to the next power of two. Deletion uses
 *   backward shift (no tombstones).
 * - ctrl: one byte per slot, 0 = empty, else 0x80 | ref<<6 | tag (6 low hash bits). A probe
 *   compares keys only where the tag matches, and the array (1 B per slot) mostly stays in
 *   cache while the slots do not.
 *
 * LRU mode models the kernel's BPF LRU (kernel/bpf/bpf_lru_list.c) the way it behaves on a
 * lookup: a hit only sets the entry's reference bit, and only when it is clear (the kernel's
 * inlined `htab_lru_map_gen_lookup` does the same test-then-set, so a hot entry does not dirty
 * its cache line). Eviction, when an insert finds the map full, is a second-chance CLOCK sweep
 * over the slots: referenced entries lose their bit and survive, the first unreferenced entry
 * is evicted. New entries start unreferenced (the kernel clears `ref` when it takes a node off
 * the free list). This is approximate LRU, as the kernel's is; the exact-LRU model remains
 * `BpfLruHashMap`.
 *
 * Handles: operations return a slot index ("handle", ≥ 0) or a negative errno. Read or write
 * the value in place at `values[valueOffset(handle)]`. A handle stays valid until the next
 * deletion or eviction in this map (backward shift moves entries); `moves` counts those, so a
 * caller holding handles across inserts can tell whether they went stale. Nothing allocates.
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
import { fastHash4 } from './flow-hash.js';

export interface InlineHashMapOptions {
  /** Key width in 32-bit words, 1..4. */
  keyWords: number;
  /** Value width in 32-bit words (may be 0 for a set). */
  valueWords: number;
  /** Capacity, fixed at creation (`max_entries`). */
  maxEntries: number;
  /** BPF_MAP_TYPE_LRU_HASH behaviour (evict instead of −E2BIG when full). Default false. */
  lru?: boolean;
  /** Hash seed. */
  seed?: number;
  /** Slots per entry (default 1.25: load factor ≤ 0.8), 1.05..16. */
  slotsPerEntry?: number;
}

const MAX_ENTRIES_LIMIT = 1 << 24;
const MAX_VALUE_WORDS = 1024;
const OCCUPIED = 0x80;
const REF = 0x40;
const TAG_MASK = 0x3f;
/** Clears the reference bit of a ctrl byte. */
const NOT_REF = 0xbf;
/** Keys resolved per pass of `lookupBatch` (bounds its scratch arrays). */
const LOOKUP_CHUNK = 256;
/** 2^−32, for multiply-shift range reduction in floating point (exact for our operands). */
const TWO_POW_M32 = 1 / 4294967296;

interface PageAlignedMemory {
  readonly buffer: ArrayBuffer;
}
const wasmMemory = (
  globalThis as {
    WebAssembly?: { Memory: new (d: { initial: number; maximum: number }) => PageAlignedMemory };
  }
).WebAssembly?.Memory;
const WASM_PAGE = 65536;

/**
 * A zeroed buffer of at least `bytes` whose first byte starts a cache line. An ArrayBuffer's
 * storage comes from malloc (16-byte aligned: a large one starts 16 bytes into a page), so a
 * 32-byte slot would straddle two cache lines every other slot and a hit would cost two lines.
 * A WebAssembly.Memory's buffer starts on a page boundary. (V8 reserves address space, not
 * memory, beyond it.)
 */
function lineAlignedBuffer(bytes: number): ArrayBuffer {
  if (wasmMemory !== undefined && bytes >= WASM_PAGE) {
    const pages = Math.ceil(bytes / WASM_PAGE);
    try {
      return new wasmMemory({ initial: pages, maximum: pages }).buffer;
    } catch {
      // Address space for wasm memories exhausted: fall back to a plain (unaligned) buffer.
    }
  }
  return new ArrayBuffer(bytes);
}

/** Preset `out[i]` to this before `lookupBatch` to skip key `i` (it stays LOOKUP_SKIP). */
export const LOOKUP_SKIP = -2;

export class BpfInlineHashMap {
  readonly keyWords: number;
  readonly valueWords: number;
  readonly maxEntries: number;
  readonly isLru: boolean;
  /** Number of probe slots (≈ slotsPerEntry × maxEntries). */
  readonly slotCount: number;
  /** Words per slot: keyWords + valueWords. */
  readonly stride: number;
  /** All slots as unsigned words; a live entry's key is at `keyOffset(h)`. Same memory as `values`. */
  readonly keys: Uint32Array;
  /** All slots as unsigned words; read/write a live entry's value in place at `valueOffset(h)`. */
  readonly values: Uint32Array;
  /** Live entries. */
  count = 0;
  /** Entries evicted to make room (LRU mode only). */
  evictions = 0;
  /** Deletions and evictions so far: any change means earlier handles may have moved. */
  moves = 0;

  private readonly slots: Int32Array;
  private readonly ctrl: Uint8Array;
  /** Slots per home bucket (a power of two; slotCount = bucketCount × bucketSlots). */
  private readonly bucketSlots: number;
  private readonly bucketCount: number;
  private readonly seed: number;
  /** CLOCK hand: the slot the next eviction sweep starts at. */
  private hand = 0;
  private readonly homeScratch = new Int32Array(LOOKUP_CHUNK);
  private readonly tagScratch = new Int32Array(LOOKUP_CHUNK);
  /**
   * Sum of the words `lookupBatch` loaded ahead of time (its "prefetches"). Stored where it is
   * observable so the compiler cannot drop those loads; means nothing otherwise.
   */
  touchedSum = 0;

  constructor(options: InlineHashMapOptions) {
    this.keyWords = requirePositiveInt('keyWords', options.keyWords, 4);
    this.valueWords =
      options.valueWords === 0 ? 0 : requirePositiveInt('valueWords', options.valueWords, MAX_VALUE_WORDS);
    this.maxEntries = requirePositiveInt('maxEntries', options.maxEntries, MAX_ENTRIES_LIMIT);
    this.isLru = options.lru ?? false;
    this.seed = (options.seed ?? 0x2f6b1d35) | 0;
    const slotsPerEntry = options.slotsPerEntry ?? 1.25;
    if (!(slotsPerEntry >= 1.05 && slotsPerEntry <= 16)) {
      throw new MapConfigError(`slotsPerEntry must be in 1.05..16, got ${slotsPerEntry}`);
    }
    this.stride = this.keyWords + this.valueWords;
    // Homes are the first slot of a 64-byte line's worth of slots (2 for a 32-byte slot), so
    // a key found at its home or the next slot costs one line.
    // (`| 0` keeps these fields small integers: a division or Math.ceil result would make
    // V8 store them as boxed doubles and convert them on every use in the lookup loops.)
    const slotBytes = this.stride * 4;
    this.bucketSlots = (64 % slotBytes === 0 ? 64 / slotBytes : 1) | 0;
    // At least one slot more than entries, so a probe for an absent key always ends.
    const minSlots = Math.max(this.maxEntries + 1, Math.ceil(this.maxEntries * slotsPerEntry));
    this.bucketCount = Math.ceil(minSlots / this.bucketSlots) | 0;
    this.slotCount = (this.bucketCount * this.bucketSlots) | 0;
    const words = this.slotCount * this.stride;
    this.slots = new Int32Array(lineAlignedBuffer(words * 4), 0, words);
    this.keys = new Uint32Array(this.slots.buffer, 0, words);
    this.values = this.keys;
    this.ctrl = new Uint8Array(this.slotCount);
  }

  /** Bytes of typed-array storage this map holds (slots + ctrl bytes). */
  get byteLength(): number {
    return this.slots.byteLength + this.ctrl.byteLength;
  }

  keyOffset(handle: number): number {
    return Math.imul(handle, this.stride);
  }

  valueOffset(handle: number): number {
    return Math.imul(handle, this.stride) + this.keyWords;
  }

  isLive(handle: number): boolean {
    return Number.isInteger(handle) && handle >= 0 && handle < this.slotCount && this.ctrl[handle] !== 0;
  }

  /** LRU mode: whether a live entry's reference bit is set (it would survive the next sweep). */
  isReferenced(handle: number): boolean {
    return this.isLive(handle) && (this.ctrl[handle] & REF) !== 0;
  }

  // ---------------------------------------------------------------- lookup

  /**
   * Handle of the key given as up to 4 numbers (words past keyWords are ignored), or −1.
   * Sets the entry's reference bit in LRU mode.
   */
  lookupWords(w0: number, w1 = 0, w2 = 0, w3 = 0): number {
    const kw = this.keyWords;
    const k1 = kw > 1 ? w1 | 0 : 0;
    const k2 = kw > 2 ? w2 | 0 : 0;
    const k3 = kw > 3 ? w3 | 0 : 0;
    const s = this.find(fastHash4(w0, k1, k2, k3, this.seed), w0 | 0, k1, k2, k3);
    if (s >= 0 && this.isLru) this.setRef(s);
    return s;
  }

  /**
   * The hash `lookupWords` computes for a key of four words (pass 0 past keyWords), for
   * callers that split a lookup in two: hash now (and `touchHome`), `lookupHashed` later.
   */
  hashWords(w0: number, w1: number, w2: number, w3: number): number {
    return fastHash4(w0, w1, w2, w3, this.seed);
  }

  /**
   * Loads the home slot's first word and control byte of each of the first `n` hashes and
   * returns their sum: a software prefetch. A caller touching the homes of many keys before
   * looking any of them up lets the CPU wait for all their cache misses at once (this loop is
   * kept tiny so the reorder window holds many of them); it must use the result (e.g. store
   * it in a field) so the loads are not optimised away.
   */
  touchHomes(hashes: Int32Array, n: number): number {
    const slots = this.slots;
    const ctrl = this.ctrl;
    const stride = this.stride;
    let sink = 0;
    for (let j = 0; j < n; j++) {
      const s = this.home(hashes[j]);
      sink = (sink + slots[Math.imul(s, stride)] + ctrl[s]) | 0;
    }
    return sink;
  }

  /**
   * `lookupWords` with the key's hash given (from `hashWords` on the same words, each as a
   * signed 32-bit integer, 0 past keyWords): the handle or −1; sets the reference bit in LRU mode.
   */
  lookupHashed(h: number, k0: number, k1: number, k2: number, k3: number): number {
    const s = this.find(h, k0, k1, k2, k3);
    if (s >= 0 && this.isLru) this.setRef(s);
    return s;
  }

  /** Like `lookupWords` but never changes the reference bit (dumps, tests). */
  peekWords(w0: number, w1 = 0, w2 = 0, w3 = 0): number {
    const kw = this.keyWords;
    const k1 = kw > 1 ? w1 | 0 : 0;
    const k2 = kw > 2 ? w2 | 0 : 0;
    const k3 = kw > 3 ? w3 | 0 : 0;
    return this.find(fastHash4(w0, k1, k2, k3, this.seed), w0 | 0, k1, k2, k3);
  }

  /** Handle of the key of keyWords words at `key[keyOff]`, or −1 (sets the reference bit). */
  lookup(key: Uint32Array, keyOff = 0): number {
    const kw = this.keyWords;
    return this.lookupWords(
      key[keyOff],
      kw > 1 ? key[keyOff + 1] : 0,
      kw > 2 ? key[keyOff + 2] : 0,
      kw > 3 ? key[keyOff + 3] : 0,
    );
  }

  /** Like `lookup` but never changes the reference bit. */
  peek(key: Uint32Array, keyOff = 0): number {
    const kw = this.keyWords;
    return this.peekWords(
      key[keyOff],
      kw > 1 ? key[keyOff + 1] : 0,
      kw > 2 ? key[keyOff + 2] : 0,
      kw > 3 ? key[keyOff + 3] : 0,
    );
  }

  /**
   * Looks up `count` keys at once, each 4 words at `keys[4 i]` (words past keyWords must be 0),
   * writing each handle or −1 to `out[i]`; keys whose `out[i]` is LOOKUP_SKIP on entry are
   * skipped. Same results and reference bits as `lookupWords` on each key in order.
   *
   * Why a batch: a lookup that misses the CPU caches waits ~100+ ns for its slot; one at a time,
   * a packet's lookup cannot start before the previous packet's finished. Here a first loop
   * hashes every key and loads its home ctrl byte and home slot (loads whose addresses do not
   * depend on each other, so the CPU keeps many in flight), and a second loop resolves the
   * probes against lines that are by then in cache.
   */
  lookupBatch(keys: Int32Array, count: number, out: Int32Array): void {
    for (let start = 0; start < count; start += LOOKUP_CHUNK) {
      this.lookupChunk(keys, start, Math.min(LOOKUP_CHUNK, count - start), out);
    }
  }

  private lookupChunk(keys: Int32Array, start: number, n: number, out: Int32Array): void {
    const slots = this.slots;
    const ctrl = this.ctrl;
    const homes = this.homeScratch;
    const tags = this.tagScratch;
    const seed = this.seed;
    const nBuckets = this.bucketCount;
    const bucketSlots = this.bucketSlots;
    const stride = this.stride;
    // Hash every key first: keeping the touching loop below tiny lets the CPU's reorder
    // window hold many more of its independent cache misses at once.
    for (let j = 0; j < n; j++) {
      const i = start + j;
      const k = i << 2;
      const h = fastHash4(keys[k], keys[k + 1], keys[k + 2], keys[k + 3], seed);
      homes[j] = Math.imul(((h >>> 0) * nBuckets * TWO_POW_M32) | 0, bucketSlots);
      tags[j] = out[i] === LOOKUP_SKIP ? 0 : OCCUPIED | (h & TAG_MASK);
    }
    // Touch each home line (the ctrl bytes are 1/32 of the slots' size and mostly cached).
    let sink = 0;
    for (let j = 0; j < n; j++) sink = (sink + slots[Math.imul(homes[j], stride)]) | 0;
    this.touchedSum = sink;
    const lru = this.isLru;
    const kw = this.keyWords;
    const nSlots = this.slotCount;
    for (let j = 0; j < n; j++) {
      const tag = tags[j];
      if (tag === 0) continue;
      const i = start + j;
      const k = i << 2;
      const k0 = keys[k];
      const k1 = keys[k + 1];
      const k2 = keys[k + 2];
      const k3 = keys[k + 3];
      let s = homes[j];
      let found = -1;
      for (;;) {
        const c = ctrl[s];
        if (c === 0) break;
        if ((c & NOT_REF) === tag) {
          const b = Math.imul(s, stride);
          if (
            slots[b] === k0 &&
            (kw < 2 || slots[b + 1] === k1) &&
            (kw < 3 || slots[b + 2] === k2) &&
            (kw < 4 || slots[b + 3] === k3)
          ) {
            if (lru && (c & REF) === 0) ctrl[s] = c | REF;
            found = s;
            break;
          }
        }
        s = s + 1 === nSlots ? 0 : s + 1;
      }
      out[i] = found;
    }
  }

  // ---------------------------------------------------------------- insert / update

  /**
   * Finds or creates the entry for the key given as up to 4 numbers and returns its handle
   * (write the value at `valueOffset(handle)`), or −EEXIST (BPF_NOEXIST and present), −ENOENT
   * (BPF_EXIST and absent), −E2BIG (HASH map full). A new entry's value is zeroed; in LRU mode
   * inserting into a full map first evicts one entry (CLOCK), and an existing entry found by
   * an insert gets its reference bit set.
   */
  insertWords(flags: number, w0: number, w1 = 0, w2 = 0, w3 = 0): number {
    const kw = this.keyWords;
    const k0 = w0 | 0;
    const k1 = kw > 1 ? w1 | 0 : 0;
    const k2 = kw > 2 ? w2 | 0 : 0;
    const k3 = kw > 3 ? w3 | 0 : 0;
    const h = fastHash4(k0, k1, k2, k3, this.seed);
    const found = this.find(h, k0, k1, k2, k3);
    if (found >= 0) {
      if (flags === BPF_NOEXIST) return -EEXIST;
      if (this.isLru) this.setRef(found);
      return found;
    }
    if (flags === BPF_EXIST) return -ENOENT;
    if (this.count === this.maxEntries) {
      if (!this.isLru) return -E2BIG;
      if (!this.evictInCluster(h)) this.evictOne();
    }
    const ctrl = this.ctrl;
    let s = this.home(h);
    while (ctrl[s] !== 0) s = s + 1 === this.slotCount ? 0 : s + 1;
    ctrl[s] = OCCUPIED | (h & TAG_MASK);
    const b = s * this.stride;
    const slots = this.slots;
    slots[b] = k0;
    if (kw > 1) slots[b + 1] = k1;
    if (kw > 2) slots[b + 2] = k2;
    if (kw > 3) slots[b + 3] = k3;
    for (let v = b + kw; v < b + this.stride; v++) slots[v] = 0;
    this.count++;
    return s;
  }

  /** `insertWords` for a key of keyWords words at `key[keyOff]`. */
  insert(key: Uint32Array, keyOff: number, flags: number): number {
    const kw = this.keyWords;
    return this.insertWords(
      flags,
      key[keyOff],
      kw > 1 ? key[keyOff + 1] : 0,
      kw > 2 ? key[keyOff + 2] : 0,
      kw > 3 ? key[keyOff + 3] : 0,
    );
  }

  /** bpf_map_update_elem: copies valueWords words from `value[valueOff]`; 0 or a negative errno. */
  update(key: Uint32Array, keyOff: number, value: Uint32Array, valueOff: number, flags: number): number {
    const e = this.insert(key, keyOff, flags);
    if (e < 0) return e;
    const v = this.valueOffset(e);
    for (let i = 0; i < this.valueWords; i++) this.values[v + i] = value[valueOff + i];
    return 0;
  }

  // ---------------------------------------------------------------- delete

  /** bpf_map_delete_elem for a key given as up to 4 numbers: 0, or −ENOENT when absent. */
  deleteWords(w0: number, w1 = 0, w2 = 0, w3 = 0): number {
    const s = this.peekWords(w0, w1, w2, w3);
    if (s < 0) return -ENOENT;
    this.removeSlot(s);
    return 0;
  }

  /** bpf_map_delete_elem for a key of keyWords words at `key[keyOff]`. */
  delete(key: Uint32Array, keyOff = 0): number {
    const s = this.peek(key, keyOff);
    if (s < 0) return -ENOENT;
    this.removeSlot(s);
    return 0;
  }

  /** Deletes a live entry by handle: 0, or −ENOENT when the handle is not live. */
  deleteEntry(handle: number): number {
    if (!this.isLive(handle)) return -ENOENT;
    this.removeSlot(handle);
    return 0;
  }

  clear(): void {
    this.ctrl.fill(0);
    this.slots.fill(0);
    this.count = 0;
    this.hand = 0;
    this.moves++;
  }

  // ---------------------------------------------------------------- iteration

  /**
   * Calls `fn(handle, keyOff, valueOff)` for every live entry in slot order (hash order, as
   * `bpftool map dump` walks a kernel hash table). `fn` must not insert or delete.
   */
  forEach(fn: (handle: number, keyOff: number, valueOff: number) => void): void {
    const stride = this.stride;
    for (let s = 0; s < this.slotCount; s++) {
      if (this.ctrl[s] !== 0) fn(s, s * stride, s * stride + this.keyWords);
    }
  }

  /** The home slot of a key given as up to 4 numbers (its probe sequence starts there). */
  homeSlotWords(w0: number, w1 = 0, w2 = 0, w3 = 0): number {
    const kw = this.keyWords;
    return this.home(
      fastHash4(w0 | 0, kw > 1 ? w1 | 0 : 0, kw > 2 ? w2 | 0 : 0, kw > 3 ? w3 | 0 : 0, this.seed),
    );
  }

  // ---------------------------------------------------------------- internals

  /** Multiply-shift range reduction: the hash's high bits pick a bucket; its first slot is home. */
  private home(h: number): number {
    return Math.imul(((h >>> 0) * this.bucketCount * TWO_POW_M32) | 0, this.bucketSlots);
  }

  private find(h: number, k0: number, k1: number, k2: number, k3: number): number {
    const slots = this.slots;
    const ctrl = this.ctrl;
    const kw = this.keyWords;
    const stride = this.stride;
    const n = this.slotCount;
    const tag = OCCUPIED | (h & TAG_MASK);
    let s = this.home(h);
    for (;;) {
      const c = ctrl[s];
      if (c === 0) return -1;
      if ((c & NOT_REF) === tag) {
        const b = Math.imul(s, stride);
        if (
          slots[b] === k0 &&
          (kw < 2 || slots[b + 1] === k1) &&
          (kw < 3 || slots[b + 2] === k2) &&
          (kw < 4 || slots[b + 3] === k3)
        ) {
          return s;
        }
      }
      s = s + 1 === n ? 0 : s + 1;
    }
  }

  private setRef(s: number): void {
    const c = this.ctrl[s];
    if ((c & REF) === 0) this.ctrl[s] = c | REF;
  }

  /** Home slot of the live entry in slot `s`, from its stored key. */
  private homeOfSlot(s: number): number {
    const b = s * this.stride;
    const kw = this.keyWords;
    const slots = this.slots;
    return this.home(
      fastHash4(
        slots[b],
        kw > 1 ? slots[b + 1] : 0,
        kw > 2 ? slots[b + 2] : 0,
        kw > 3 ? slots[b + 3] : 0,
        this.seed,
      ),
    );
  }

  /**
   * Evicts an unreferenced entry from the probe cluster the new key is about to join, if it
   * holds one; false otherwise. Evicting where the insert lands keeps the table's density
   * even: a CLOCK hand alone empties the region it sweeps while inserts keep filling the
   * rest, and at 80 % load the region ahead of the hand saturates into clusters thousands
   * of slots long (inserts into a full 64k map slowed from 1 µs to 0.5 ms). No reference
   * bit is cleared here, so a victim was never looked up since the last sweep.
   */
  private evictInCluster(h: number): boolean {
    const ctrl = this.ctrl;
    const n = this.slotCount;
    let s = this.home(h);
    for (let c = ctrl[s]; c !== 0; c = ctrl[s]) {
      if ((c & REF) === 0) {
        this.evictions++;
        this.removeSlot(s);
        return true;
      }
      s = s + 1 === n ? 0 : s + 1;
    }
    return false;
  }

  /**
   * Second-chance CLOCK: from the hand, referenced entries lose their bit, the first
   * unreferenced one is deleted. Ends within one sweep plus one slot (every bit is cleared
   * on the way round), since the map is full when this runs.
   */
  private evictOne(): void {
    const ctrl = this.ctrl;
    const n = this.slotCount;
    let s = this.hand;
    for (;;) {
      const c = ctrl[s];
      if (c !== 0) {
        if ((c & REF) === 0) break;
        ctrl[s] = c & NOT_REF;
      }
      s = s + 1 === n ? 0 : s + 1;
    }
    // Backward shift may move the next entry into `s`; the hand stays to look at it next.
    this.hand = s;
    this.evictions++;
    this.removeSlot(s);
  }

  /**
   * Backward-shift deletion: empties slot `s`, then walks the cluster after it and moves back
   * every entry whose home does not lie cyclically in (hole, position], so every remaining key
   * stays reachable from its home without tombstones.
   */
  private removeSlot(s: number): void {
    const ctrl = this.ctrl;
    const slots = this.slots;
    const n = this.slotCount;
    const stride = this.stride;
    let hole = s;
    let j = s + 1 === n ? 0 : s + 1;
    while (ctrl[j] !== 0) {
      const home = this.homeOfSlot(j);
      let fromHome = j - home;
      if (fromHome < 0) fromHome += n;
      let fromHole = j - hole;
      if (fromHole < 0) fromHole += n;
      if (fromHome >= fromHole) {
        slots.copyWithin(hole * stride, j * stride, (j + 1) * stride);
        ctrl[hole] = ctrl[j];
        hole = j;
      }
      j = j + 1 === n ? 0 : j + 1;
    }
    ctrl[hole] = 0;
    this.count--;
    this.moves++;
  }
}
