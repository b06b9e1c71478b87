/**
 * One `-m recent` list, as xt_recent keeps it (net/netfilter/xt_recent.c): entries keyed
 * by the masked address, each with a ring of the last `stampsPerEntry` hit times
 * (ip_pkt_list_tot, default 20), the table capped at `capacity` entries (ip_list_tot,
 * default 200) with the least recently updated entry evicted first. Times are simulated
 * nanoseconds. kube-proxy's ClientIP affinity lives here: one list per KUBE-SEP chain,
 * so more than 200 concurrent clients of one endpoint start losing affinity, as on a
 * real node.
 */

export const RECENT_DEFAULT_CAPACITY = 200;
export const RECENT_DEFAULT_STAMPS = 20;

export class RecentEntry {
  readonly stamps: Float64Array;
  /** Next slot to write (1-based after the first write, as the kernel keeps it). */
  index = 0;
  nstamps = 0;

  constructor(
    readonly addr: number,
    stampsPerEntry: number,
  ) {
    this.stamps = new Float64Array(stampsPerEntry);
  }

  /** The most recent time stamp. */
  last(): number {
    return this.stamps[this.index - 1];
  }
}

export class RecentTable {
  /** Map iteration order is the LRU order: first = least recently updated. */
  private readonly entries = new Map<number, RecentEntry>();

  constructor(
    readonly name: string,
    readonly capacity = RECENT_DEFAULT_CAPACITY,
    readonly stampsPerEntry = RECENT_DEFAULT_STAMPS,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  lookup(addr: number): RecentEntry | undefined {
    return this.entries.get(addr);
  }

  /** recent_entry_init: evicts the oldest entry when full; the new entry has one stamp. */
  insert(addr: number, nowNs: number): RecentEntry {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    const e = new RecentEntry(addr, this.stampsPerEntry);
    e.stamps[0] = nowNs;
    e.nstamps = 1;
    e.index = 1;
    this.entries.set(addr, e);
    return e;
  }

  /** recent_entry_update: one more stamp, and the entry becomes the most recent. */
  update(e: RecentEntry, nowNs: number): void {
    e.index %= this.stampsPerEntry;
    e.stamps[e.index++] = nowNs;
    if (e.index > e.nstamps) e.nstamps = e.index;
    this.entries.delete(e.addr);
    this.entries.set(e.addr, e);
  }

  remove(e: RecentEntry): void {
    this.entries.delete(e.addr);
  }

  /** recent_entry_reap: drops the least recently updated entry (not `working`) if older than `limitNs`. */
  reapOldest(limitNs: number, working: RecentEntry): void {
    const first = this.entries.values().next();
    if (first.done || first.value === working) return;
    if (limitNs > first.value.last()) this.entries.delete(first.value.addr);
  }

  /** Addresses in LRU order, for inspection (like /proc/net/xt_recent/<name>). */
  addresses(): number[] {
    return [...this.entries.keys()];
  }

  clear(): void {
    this.entries.clear();
  }
}
