/**
 * A hash table from (u32, u32) pairs to non-negative int32s over one typed array: open
 * addressing with linear probing, lookups O(1) that allocate nothing. Verdict maps and sets
 * of the nftables datapath and IPVS' virtual-service table use it, so a new connection's
 * lookup costs the same at 100 and 30k Services.
 */

export const NOT_FOUND = -1;
/** int32 words per PairMap slot. */
const SLOT = 4;

export function hashPair(k1: number, k2: number): number {
  let h = Math.imul(k1 ^ 0x27d4eb2f, 0x85ebca6b) ^ Math.imul(k2 ^ 0x165667b1, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 13)) >>> 0;
}

/**
 * (u32, u32) → non-negative int32. Inserts happen on the control plane; `get` is the hot path.
 * One slot is four int32s (k1, k2, value, unused) in a single array, so a lookup touches one
 * cache line, not one line in each of three arrays.
 */
export class PairMap {
  private slots = PairMap.emptySlots(16);
  private count = 0;

  private static emptySlots(capacity: number): Int32Array {
    const slots = new Int32Array(capacity * SLOT);
    for (let i = 2; i < slots.length; i += SLOT) slots[i] = NOT_FOUND;
    return slots;
  }

  get size(): number {
    return this.count;
  }

  /** The value for (k1, k2), or NOT_FOUND. */
  get(k1: number, k2: number): number {
    const slots = this.slots;
    const mask = (slots.length >> 2) - 1;
    const a = k1 | 0;
    const b = k2 | 0;
    let i = hashPair(k1, k2) & mask;
    for (;;) {
      const at = i << 2;
      const v = slots[at + 2];
      if (v === NOT_FOUND) return NOT_FOUND;
      if (slots[at] === a && slots[at + 1] === b) return v;
      i = (i + 1) & mask;
    }
  }

  /** Adds or replaces; `value` must be ≥ 0. */
  set(k1: number, k2: number, value: number): void {
    if (value < 0 || !Number.isInteger(value) || value > 0x7fffffff)
      throw new RangeError(`PairMap value must be a non-negative integer, got ${value}`);
    if ((this.count + 1) * 2 > this.slots.length >> 2) this.grow();
    const slots = this.slots;
    const mask = (slots.length >> 2) - 1;
    const a = k1 | 0;
    const b = k2 | 0;
    let i = hashPair(k1, k2) & mask;
    for (;;) {
      const at = i << 2;
      if (slots[at + 2] === NOT_FOUND) {
        slots[at] = a;
        slots[at + 1] = b;
        slots[at + 2] = value;
        this.count++;
        return;
      }
      if (slots[at] === a && slots[at + 1] === b) {
        slots[at + 2] = value;
        return;
      }
      i = (i + 1) & mask;
    }
  }

  /** Removes (k1, k2); false when absent. Backward-shift deletion, so no tombstones pile up. */
  delete(k1: number, k2: number): boolean {
    const slots = this.slots;
    const mask = (slots.length >> 2) - 1;
    const a = k1 | 0;
    const b = k2 | 0;
    let i = hashPair(k1, k2) & mask;
    for (;;) {
      const at = i << 2;
      if (slots[at + 2] === NOT_FOUND) return false;
      if (slots[at] === a && slots[at + 1] === b) break;
      i = (i + 1) & mask;
    }
    // Shift later entries of the probe run back into the hole when their home allows it.
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const at = j << 2;
      if (slots[at + 2] === NOT_FOUND) break;
      const home = hashPair(slots[at], slots[at + 1]) & mask;
      // Entry j may move to the hole unless its home lies cyclically in (hole, j].
      const homeAfterHole = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (homeAfterHole) continue;
      const h = hole << 2;
      slots[h] = slots[at];
      slots[h + 1] = slots[at + 1];
      slots[h + 2] = slots[at + 2];
      hole = j;
    }
    slots[(hole << 2) + 2] = NOT_FOUND;
    this.count--;
    return true;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = PairMap.emptySlots((old.length >> 2) * 2);
    this.count = 0;
    for (let at = 0; at < old.length; at += SLOT)
      if (old[at + 2] !== NOT_FOUND) this.set(old[at], old[at + 1], old[at + 2]);
  }
}
