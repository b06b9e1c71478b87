/**
 * Typed-array hash tables for the nftables datapath: verdict maps and static sets are
 * PairMaps (src/maps/pair-map.ts); dynamic address sets with per-element timeouts (affinity
 * sets) are here. Open addressing with linear probing; lookups are O(1) and allocate
 * nothing, so the cost of a new connection does not grow with the number of Services.
 */
import { hashPair } from '../../maps/pair-map.js';

export { NOT_FOUND, PairMap } from '../../maps/pair-map.js';

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
