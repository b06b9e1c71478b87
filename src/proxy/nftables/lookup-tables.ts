/**
 * Typed-array hash tables for the nftables datapath: verdict maps and static sets keyed by
 * (u32, u32) pairs, and dynamic address sets with per-element timeouts (affinity sets).
 * Open addressing with linear probing; lookups are O(1) and allocate nothing, so the cost
 * of a new connection does not grow with the number of Services.
 */

export const NOT_FOUND = -1;
/** int32 words per PairMap slot. */
const SLOT = 4;

function hashPair(k1: number, k2: number): number {
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

  private grow(): void {
    const old = this.slots;
    this.slots = PairMap.emptySlots((old.length >> 2) * 2);
    this.count = 0;
    for (let at = 0; at < old.length; at += SLOT)
      if (old[at + 2] !== NOT_FOUND) this.set(old[at], old[at + 1], old[at + 2]);
  }
}

/**
 * A `flags dynamic,timeout` set of IPv4 addresses on the simulated clock: `update` inserts or
 * refreshes an element to expire `timeoutNs` from now; expired elements are absent.
 * Like the kernel set, it holds at most `maxSize` live elements; an update that does not fit
 * fails (the rule then stops, as nft_dynset breaks).
 */
export class TimeoutAddrSet {
  private keys = new Uint32Array(16);
  /** Absolute expiry in ns; 0 marks an empty slot (times are > 0 once inserted). */
  private expiry = new Float64Array(16);
  private used = 0;

  constructor(
    readonly timeoutNs: number,
    readonly maxSize = 65535,
  ) {
    if (!(timeoutNs > 0))
      throw new RangeError(`TimeoutAddrSet timeout must be positive, got ${timeoutNs} ns`);
  }

  has(addr: number, nowNs: number): boolean {
    const i = this.find(addr);
    return i >= 0 && this.expiry[i] > nowNs;
  }

  /** Inserts or refreshes `addr`; false when the set is full of live elements. */
  update(addr: number, nowNs: number): boolean {
    const expires = nowNs + this.timeoutNs;
    const i = this.find(addr);
    if (i >= 0) {
      this.expiry[i] = expires;
      return true;
    }
    if ((this.used + 1) * 2 > this.keys.length) {
      this.rebuild(nowNs);
      if (this.used >= this.maxSize) return false;
    }
    this.insertNew(addr, expires);
    return true;
  }

  /** Live elements with their remaining time, for listings (control plane). */
  entries(nowNs: number): { addr: number; expiresInNs: number }[] {
    const out: { addr: number; expiresInNs: number }[] = [];
    for (let i = 0; i < this.keys.length; i++) {
      if (this.expiry[i] > nowNs) out.push({ addr: this.keys[i], expiresInNs: this.expiry[i] - nowNs });
    }
    return out.sort((a, b) => a.addr - b.addr);
  }

  clear(): void {
    this.expiry.fill(0);
    this.used = 0;
  }

  private find(addr: number): number {
    const mask = this.keys.length - 1;
    let i = hashPair(addr, 0) & mask;
    while (this.expiry[i] !== 0) {
      if (this.keys[i] === addr >>> 0) return i;
      i = (i + 1) & mask;
    }
    return -1;
  }

  private insertNew(addr: number, expires: number): void {
    const mask = this.keys.length - 1;
    let i = hashPair(addr, 0) & mask;
    while (this.expiry[i] !== 0) i = (i + 1) & mask;
    this.keys[i] = addr;
    this.expiry[i] = expires;
    this.used++;
  }

  /** Drops expired elements and grows when still more than half full (amortised, rare). */
  private rebuild(nowNs: number): void {
    const { keys, expiry } = this;
    let live = 0;
    for (let i = 0; i < expiry.length; i++) if (expiry[i] > nowNs) live++;
    let cap = keys.length;
    while ((live + 1) * 2 > cap) cap *= 2;
    this.keys = new Uint32Array(cap);
    this.expiry = new Float64Array(cap);
    this.used = 0;
    for (let i = 0; i < expiry.length; i++) if (expiry[i] > nowNs) this.insertNew(keys[i], expiry[i]);
  }
}
