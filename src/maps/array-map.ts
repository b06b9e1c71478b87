/**
 * BPF_MAP_TYPE_ARRAY: `maxEntries` preallocated, zero-initialised values addressed by a u32
 * index. As in the kernel, elements cannot be deleted, BPF_NOEXIST always fails (every
 * index exists) and an index ≥ maxEntries is rejected.
 */
import { BPF_NOEXIST, E2BIG, EEXIST, EINVAL, requirePositiveInt } from './errno.js';

const MAX_ENTRIES_LIMIT = 1 << 26;

export class BpfArrayMap {
  readonly valueWords: number;
  readonly maxEntries: number;
  /** All values, `valueWords` per index; read/write in place at `valueOffset(i)`. */
  readonly values: Uint32Array;

  constructor(options: { valueWords: number; maxEntries: number }) {
    this.valueWords = requirePositiveInt('valueWords', options.valueWords, 1 << 20);
    this.maxEntries = requirePositiveInt('maxEntries', options.maxEntries, MAX_ENTRIES_LIMIT);
    this.values = new Uint32Array(this.valueWords * this.maxEntries);
  }

  get byteLength(): number {
    return this.values.byteLength;
  }

  /** The index itself when in range (the value is at `valueOffset(index)`), else −1. */
  lookup(index: number): number {
    return index >>> 0 < this.maxEntries && Number.isInteger(index) && index >= 0 ? index : -1;
  }

  valueOffset(index: number): number {
    return index * this.valueWords;
  }

  /** bpf_map_update_elem: 0, −E2BIG (index out of range) or −EEXIST (BPF_NOEXIST). */
  update(index: number, value: Uint32Array, valueOff: number, flags: number): number {
    if (this.lookup(index) < 0) return -E2BIG;
    if (flags === BPF_NOEXIST) return -EEXIST;
    const v = index * this.valueWords;
    for (let i = 0; i < this.valueWords; i++) this.values[v + i] = value[valueOff + i];
    return 0;
  }

  /** Array elements cannot be deleted: always −EINVAL, as bpf(2) answers. */
  delete(_index: number): number {
    return -EINVAL;
  }
}
