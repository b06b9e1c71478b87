/**
 * IPVS schedulers with the kernel's exact selection rules (net/netfilter/ipvs/ip_vs_*.c),
 * restated over dpsim's destination list (`IpvsService.dests`, kernel list order).
 *
 * Common kernel rules kept here:
 * - weight 0 means quiesced: never chosen for a new connection (rr/wrr/lc/wlc/sed/nq skip
 *   it; sh/dh/mh return "no destination" when their bucket points at it).
 * - OVERLOADed destinations are skipped the same way.
 * - load comparisons cross-multiply (`loh * w_dest > doh * w_least`), never divide, and a
 *   tie keeps the destination found first in list order.
 *
 * `schedule()` runs once per new connection: it reads numbers and existing objects only.
 */
import { hash32, hsiphash32 } from './hash.js';
import { SVC_F_SCHED1, SVC_F_SCHED2 } from './ip-vs.js';
import type { IpvsDest, IpvsService } from './service-table.js';

export const SCHEDULER_NAMES = ['rr', 'wrr', 'lc', 'wlc', 'sed', 'nq', 'sh', 'dh', 'mh'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

export class UnknownSchedulerError extends Error {
  override name = 'UnknownSchedulerError';
}

export function isSchedulerName(name: string): name is SchedulerName {
  return (SCHEDULER_NAMES as readonly string[]).includes(name);
}

export interface Scheduler {
  readonly name: SchedulerName;
  /** init_service. */
  init(svc: IpvsService): void;
  /** add_dest hook: a destination was just inserted at list position 0. */
  onAdd(svc: IpvsService): void;
  /** del_dest hook: the destination that was at `removedIndex` has been unlinked. */
  onRemove(svc: IpvsService, removedIndex: number): void;
  /** upd_dest hook: a destination's weight changed. */
  onUpdate(svc: IpvsService): void;
  /**
   * Picks the destination for a new connection from (saddr, sport) to (daddr, dport);
   * null = "no destination available" (the kernel then answers ICMP port unreachable).
   */
  schedule(svc: IpvsService, saddr: number, sport: number, daddr: number): IpvsDest | null;
}

function unavailable(d: IpvsDest): boolean {
  return d.weight <= 0 || d.overloaded;
}

/** ip_vs_dest_conn_overhead(): activeconns * 256 + inactconns. */
export function connOverhead(d: IpvsDest): number {
  return d.activeConns * 256 + d.inactConns;
}

/**
 * rr: continue after the last chosen destination (wrapping through the list head) and take
 * the first one with weight > 0. `cur` is the last chosen list position, -1 = list head.
 */
class RoundRobin implements Scheduler {
  readonly name = 'rr' as const;
  private cur = -1;

  init(): void {
    this.cur = -1;
  }

  onAdd(): void {
    // rr has no add_dest hook: its pointer stays on the same list node, which moved one
    // position down because the new node went in at the head.
    if (this.cur >= 0) this.cur++;
  }

  onRemove(_svc: IpvsService, removedIndex: number): void {
    // ip_vs_rr_del_dest: a pointer on the removed node steps back to the previous node.
    if (this.cur === removedIndex) this.cur = removedIndex - 1;
    else if (this.cur > removedIndex) this.cur--;
  }

  onUpdate(): void {}

  schedule(svc: IpvsService): IpvsDest | null {
    const dests = svc.dests;
    const n = dests.length;
    // Visits cur+1 … n-1, then 0 … cur: the starting node is checked last.
    for (let k = 0; k < n; k++) {
      const i = (this.cur + 1 + k) % n;
      const d = dests[i];
      if (!d.overloaded && d.weight > 0) {
        this.cur = i;
        return d;
      }
    }
    return null;
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/**
 * wrr: ip_vs_wrr.c's passes over the list with a current weight `cw` that starts at
 * mw = max_weight - (gcd - 1) and drops by di = gcd after each full pass; a destination is
 * taken when weight >= cw. Weights 4,3,2 give A A B A B C A B C, repeating.
 */
class WeightedRoundRobin implements Scheduler {
  readonly name = 'wrr' as const;
  /** mark->cl as a list position, -1 = head. */
  private cl = -1;
  private cw = 0;
  private mw = 0;
  private di = 1;

  private recompute(svc: IpvsService): void {
    let g = 0;
    let max = 0;
    for (const d of svc.dests) {
      if (d.weight > 0) g = g > 0 ? gcd(d.weight, g) : d.weight;
      if (d.weight > max) max = d.weight;
    }
    this.di = g > 0 ? g : 1;
    this.mw = max - (this.di - 1);
  }

  init(svc: IpvsService): void {
    this.cl = -1;
    this.recompute(svc);
    this.cw = this.mw;
  }

  private changed(svc: IpvsService): void {
    // ip_vs_wrr_dest_changed: restart from the head, keep cw when still meaningful.
    this.cl = -1;
    this.recompute(svc);
    if (this.cw > this.mw || this.cw === 0) this.cw = this.mw;
    else if (this.di > 1) this.cw = Math.trunc(this.cw / this.di) * this.di + 1;
  }

  onAdd(svc: IpvsService): void {
    this.changed(svc);
  }

  onRemove(svc: IpvsService): void {
    this.changed(svc);
  }

  onUpdate(svc: IpvsService): void {
    this.changed(svc);
  }

  schedule(svc: IpvsService): IpvsDest | null {
    const dests = svc.dests;
    const n = dests.length;
    let pos = this.cl;
    if (this.mw === 0) return null;
    const last = pos;
    let stop = -2; // no stop node yet
    let lastPass = false;
    let restarted = false;
    for (;;) {
      for (let i = pos + 1; i < n; i++) {
        const d = dests[i];
        if (!d.overloaded && d.weight >= this.cw) {
          this.cl = i;
          return d;
        }
        if (i === stop) {
          this.cl = i;
          return null;
        }
      }
      pos = -1; // the walk ended on the list head
      this.cw -= this.di;
      if (this.cw <= 0) {
        this.cw = this.mw;
        // Stop when the last pass (all weights >= 1) already covered every destination.
        if (lastPass || last === -1) {
          this.cl = -1;
          return null;
        }
        restarted = true;
      }
      lastPass = this.cw <= this.di;
      if (lastPass && restarted && last !== -1) stop = last;
    }
  }
}

/** lc: minimum overhead (activeconns*256 + inactconns) among weight > 0; first wins ties. */
class LeastConnection implements Scheduler {
  readonly name = 'lc' as const;
  init(): void {}
  onAdd(): void {}
  onRemove(): void {}
  onUpdate(): void {}

  schedule(svc: IpvsService): IpvsDest | null {
    let least: IpvsDest | null = null;
    let loh = 0;
    for (const d of svc.dests) {
      if (d.overloaded || d.weight === 0) continue;
      const doh = connOverhead(d);
      if (least === null || doh < loh) {
        least = d;
        loh = doh;
      }
    }
    return least;
  }
}

/**
 * wlc and sed share one loop (ip_vs_wlc.c / ip_vs_sed.c): start at the first available
 * destination, then replace `least` whenever loh * w_dest > doh * w_least. wlc's overhead
 * is activeconns*256 + inactconns; sed's is activeconns + 1. (A weight-0 destination after
 * the first can never win: loh * 0 > doh * w is false.)
 */
class WeightedLeast implements Scheduler {
  constructor(readonly name: 'wlc' | 'sed') {}
  init(): void {}
  onAdd(): void {}
  onRemove(): void {}
  onUpdate(): void {}

  private overhead(d: IpvsDest): number {
    return this.name === 'wlc' ? connOverhead(d) : d.activeConns + 1;
  }

  schedule(svc: IpvsService): IpvsDest | null {
    const dests = svc.dests;
    let i = 0;
    while (i < dests.length && (dests[i].overloaded || dests[i].weight <= 0)) i++;
    if (i === dests.length) return null;
    let least = dests[i];
    let loh = this.overhead(least);
    for (i++; i < dests.length; i++) {
      const d = dests[i];
      if (d.overloaded) continue;
      const doh = this.overhead(d);
      if (loh * d.weight > doh * least.weight) {
        least = d;
        loh = doh;
      }
    }
    return least;
  }
}

/** nq: the first idle (activeconns == 0) available destination wins; otherwise as sed. */
class NeverQueue implements Scheduler {
  readonly name = 'nq' as const;
  init(): void {}
  onAdd(): void {}
  onRemove(): void {}
  onUpdate(): void {}

  schedule(svc: IpvsService): IpvsDest | null {
    let least: IpvsDest | null = null;
    let loh = 0;
    for (const d of svc.dests) {
      if (d.overloaded || d.weight === 0) continue;
      const doh = d.activeConns + 1;
      if (d.activeConns === 0) return d;
      if (least === null || loh * d.weight > doh * least.weight) {
        least = d;
        loh = doh;
      }
    }
    return least;
  }
}

/** CONFIG_IP_VS_SH_TAB_BITS / CONFIG_IP_VS_DH_TAB_BITS default. */
export const HASH_TAB_BITS = 8;
export const HASH_TAB_SIZE = 1 << HASH_TAB_BITS;

/**
 * sh: a 256-bucket table filled by walking the list, each destination repeated `weight`
 * times (a weight-0 destination still takes one bucket); bucket = hash_32(port + ntohl(src), 8),
 * port only with the sh-port flag. A bucket whose destination is unavailable gives "no
 * destination" unless sh-fallback walks on (ip_vs_sh_get_fallback).
 */
class SourceHash implements Scheduler {
  readonly name = 'sh' as const;
  readonly buckets: (IpvsDest | null)[] = new Array<IpvsDest | null>(HASH_TAB_SIZE).fill(null);

  init(svc: IpvsService): void {
    this.reassign(svc);
  }
  onAdd(svc: IpvsService): void {
    this.reassign(svc);
  }
  onRemove(svc: IpvsService): void {
    this.reassign(svc);
  }
  onUpdate(svc: IpvsService): void {
    this.reassign(svc);
  }

  private reassign(svc: IpvsService): void {
    const dests = svc.dests;
    let p = 0;
    let count = 0;
    for (let i = 0; i < HASH_TAB_SIZE; i++) {
      if (dests.length === 0) {
        this.buckets[i] = null;
        continue;
      }
      if (p === dests.length) p = 0;
      const d = dests[p];
      this.buckets[i] = d;
      if (++count >= d.weight) {
        p++;
        count = 0;
      }
    }
  }

  schedule(svc: IpvsService, saddr: number, sport: number): IpvsDest | null {
    const port = svc.flags & SVC_F_SCHED2 ? sport : 0;
    const key = (port + svc.addressFold(saddr)) >>> 0;
    const ihash = hash32(key, HASH_TAB_BITS);
    const d = this.buckets[ihash];
    if (d === null) return null;
    if (!unavailable(d)) return d;
    if (!(svc.flags & SVC_F_SCHED1)) return null;
    for (let offset = 0; offset < HASH_TAB_SIZE; offset++) {
      const roffset = (offset + ihash) % HASH_TAB_SIZE;
      const h = (roffset + hash32(key, HASH_TAB_BITS)) & (HASH_TAB_SIZE - 1);
      const c = this.buckets[h];
      if (c === null) return null;
      if (!unavailable(c)) return c;
    }
    return null;
  }
}

/**
 * dh: like sh but keyed by the destination (virtual) address, and the table gives each
 * destination one bucket in turn regardless of weight (ip_vs_dh_reassign).
 */
class DestinationHash implements Scheduler {
  readonly name = 'dh' as const;
  readonly buckets: (IpvsDest | null)[] = new Array<IpvsDest | null>(HASH_TAB_SIZE).fill(null);

  init(svc: IpvsService): void {
    this.reassign(svc);
  }
  onAdd(svc: IpvsService): void {
    this.reassign(svc);
  }
  onRemove(svc: IpvsService): void {
    this.reassign(svc);
  }
  // dh has no upd_dest hook: weights do not shape its table.
  onUpdate(): void {}

  private reassign(svc: IpvsService): void {
    const dests = svc.dests;
    for (let i = 0; i < HASH_TAB_SIZE; i++) {
      this.buckets[i] = dests.length === 0 ? null : dests[i % dests.length];
    }
  }

  schedule(svc: IpvsService, _saddr: number, _sport: number, daddr: number): IpvsDest | null {
    const d = this.buckets[hash32(svc.addressFold(daddr), HASH_TAB_BITS)];
    if (d === null || !d.available || d.weight <= 0 || d.overloaded) return null;
    return d;
  }
}

/** ip_vs_mh.c primes; CONFIG_IP_VS_MH_TAB_INDEX 12 selects primes[12 - 8] = 4093. */
export const MH_PRIMES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071] as const;
export const MH_TAB_INDEX = 12;
export const MH_TAB_SIZE = MH_PRIMES[MH_TAB_INDEX - 8];
/** IP_VS_MH_TAB_BITS = CONFIG_IP_VS_MH_TAB_INDEX / 2: turns are kept within 6 bits. */
const MH_TAB_BITS = MH_TAB_INDEX >> 1;

// generate_hash_secret(): fixed keys (not random), so the kernel's table is reproducible.
// hsiphash_key_t is two unsigned longs: on 64-bit each value sits in the low half.
const MH_KEY1 = 2654435761;
const MH_KEY2 = 2654446892;

/** ip_vs_mh_hashkey(addr, port, key, offset) = hsiphash(offset + ntohs(port) + ntohl(addr)). */
export function mhHashKey(addr: number, port: number, key: 1 | 2, offset: number): number {
  const k = key === 1 ? MH_KEY1 : MH_KEY2;
  return hsiphash32((offset + port + addr) >>> 0, 0, k, 0, k);
}

function fls(x: number): number {
  return x === 0 ? 0 : 32 - Math.clz32(x);
}

/**
 * mh: Maglev hashing. Each destination gets offset = h1(addr,port) % M and
 * skip = h2(addr,port) % (M-1) + 1 and claims its next free preferred slot `turns` times per
 * round (turns = (last_weight / gcd) >> rshift, at least 1 for a non-zero weight); lookup is
 * h1(source addr [+ source port with mh-port]) % M. kube-proxy sets mh-port.
 */
class MaglevHash implements Scheduler {
  readonly name = 'mh' as const;
  readonly lookup: (IpvsDest | null)[] = new Array<IpvsDest | null>(MH_TAB_SIZE).fill(null);

  init(svc: IpvsService): void {
    this.reassign(svc);
  }
  onAdd(svc: IpvsService): void {
    this.reassign(svc);
  }
  onRemove(svc: IpvsService): void {
    this.reassign(svc);
  }
  onUpdate(svc: IpvsService): void {
    this.reassign(svc);
  }

  private reassign(svc: IpvsService): void {
    const dests = svc.dests;
    let g = 0;
    let maxW = 0;
    for (const d of dests) {
      if (d.lastWeight > 0) g = g > 0 ? gcd(d.lastWeight, g) : d.lastWeight;
      if (d.lastWeight > maxW) maxW = d.lastWeight;
    }
    if (g < 1) {
      // No destination (or all last weights zero): the table is emptied.
      this.lookup.fill(null);
      return;
    }
    const shift = fls(Math.trunc(maxW / g)) - MH_TAB_BITS;
    const rshift = Math.max(shift, 0);
    const n = dests.length;
    const perm = new Uint32Array(n);
    const skip = new Uint32Array(n);
    const turns = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const d = dests[i];
      const fold = svc.addressFold(d.addr);
      perm[i] = mhHashKey(fold, d.port, 1, 0) % MH_TAB_SIZE;
      skip[i] = (mhHashKey(fold, d.port, 2, 0) % (MH_TAB_SIZE - 1)) + 1;
      const t = Math.trunc(d.lastWeight / g) >> rshift;
      turns[i] = t !== 0 ? t : d.lastWeight !== 0 ? 1 : 0;
    }
    // ip_vs_mh_populate: slots not claimed in this round keep their old destination, but a
    // full round always claims all M slots, so every slot is rewritten.
    const taken = new Uint8Array(MH_TAB_SIZE);
    let filled = 0;
    let p = 0;
    let dtCount = 0;
    while (filled < MH_TAB_SIZE) {
      if (p === n) p = 0;
      while (p < n) {
        if (turns[p] < 1) {
          p++;
          continue;
        }
        let c = perm[p];
        while (taken[c]) {
          perm[p] += skip[p];
          if (perm[p] >= MH_TAB_SIZE) perm[p] -= MH_TAB_SIZE;
          c = perm[p];
        }
        taken[c] = 1;
        this.lookup[c] = dests[p];
        if (++filled === MH_TAB_SIZE) return;
        if (++dtCount >= turns[p]) {
          dtCount = 0;
          p++;
        }
      }
    }
  }

  schedule(svc: IpvsService, saddr: number, sport: number): IpvsDest | null {
    const port = svc.flags & SVC_F_SCHED2 ? sport : 0;
    const fold = svc.addressFold(saddr);
    const ihash = mhHashKey(fold, port, 1, 0) % MH_TAB_SIZE;
    const d = this.lookup[ihash];
    if (d === null) return null;
    if (!unavailable(d)) return d;
    if (!(svc.flags & SVC_F_SCHED1)) return null;
    for (let offset = 0; offset < MH_TAB_SIZE; offset++) {
      const roffset = (offset + ihash) % MH_TAB_SIZE;
      const c = this.lookup[mhHashKey(fold, port, 1, roffset) % MH_TAB_SIZE];
      if (c === null) return null;
      if (!unavailable(c)) return c;
    }
    return null;
  }
}

export function createScheduler(name: SchedulerName): Scheduler {
  switch (name) {
    case 'rr':
      return new RoundRobin();
    case 'wrr':
      return new WeightedRoundRobin();
    case 'lc':
      return new LeastConnection();
    case 'wlc':
      return new WeightedLeast('wlc');
    case 'sed':
      return new WeightedLeast('sed');
    case 'nq':
      return new NeverQueue();
    case 'sh':
      return new SourceHash();
    case 'dh':
      return new DestinationHash();
    case 'mh':
      return new MaglevHash();
    default:
      throw new UnknownSchedulerError(
        `unknown IPVS scheduler "${String(name)}" (supported: ${SCHEDULER_NAMES.join(', ')})`,
      );
  }
}
