/**
 * The API server's ClusterIP and NodePort allocators (pkg/registry/core/service/ipallocator,
 * portallocator, allocator/bitmap.go). Both are a bitmap over the usable values with a low
 * "static" band reserved for user-chosen values (KEP-3070, KEP-3668): automatic allocation picks
 * a random index in the upper band and scans forward with wrap-around; only when the upper band
 * is full does it do the same inside the static band.
 */
import { type Cidr, cidrContains, cidrSize, formatCidr, formatIPv4, parseCidr } from '../util/ipv4.js';
import type { Rng } from '../util/rng.js';

export const ERR_FULL = 'range is full';
export const ERR_IP_ALLOCATED = 'provided IP is already allocated';
export const ERR_PORT_ALLOCATED = 'provided port is already allocated';

/** Outcome of one allocation: the value, or the allocator's error text. */
export type AllocResult =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly error: string };

/** A bitmap of `max` slots with the random-scan-with-offset strategy. */
export class BitmapAllocator {
  private readonly bits: Uint8Array;
  private used = 0;

  constructor(
    readonly max: number,
    /** Size of the static band [0, offset). */
    readonly offset: number,
    private readonly rng: Rng,
  ) {
    this.bits = new Uint8Array(max);
  }

  get count(): number {
    return this.used;
  }

  has(index: number): boolean {
    return this.bits[index] === 1;
  }

  /** Marks `index` used; false when it already was. */
  allocate(index: number): boolean {
    if (this.bits[index] === 1) return false;
    this.bits[index] = 1;
    this.used++;
    return true;
  }

  release(index: number): void {
    if (this.bits[index] === 1) {
      this.bits[index] = 0;
      this.used--;
    }
  }

  /** A free index (upper band first), or -1 when full. */
  allocateNext(): number {
    if (this.used >= this.max) return -1;
    const upper = this.max - this.offset;
    if (upper > 0) {
      const start = this.rng.nextInt(upper);
      for (let i = 0; i < upper; i++) {
        const at = this.offset + ((start + i) % upper);
        if (this.bits[at] === 0) return this.take(at);
      }
    }
    if (this.offset > 0) {
      const start = this.rng.nextInt(this.offset);
      for (let i = 0; i < this.offset; i++) {
        const at = (start + i) % this.offset;
        if (this.bits[at] === 0) return this.take(at);
      }
    }
    return -1;
  }

  private take(at: number): number {
    this.bits[at] = 1;
    this.used++;
    return at;
  }
}

/** ipallocator's calculateRangeOffset: min(max(16, size/16), 256), 0 when size ≤ 16. */
export function clusterIPStaticBand(cidrAddresses: number): number {
  if (cidrAddresses <= 16) return 0;
  return Math.min(Math.max(16, Math.floor(cidrAddresses / 16)), 256);
}

/** portallocator's calculateRangeOffset: min(max(16, size/32), 128), 0 when size ≤ 16. */
export function nodePortStaticBand(rangeSize: number): number {
  if (rangeSize <= 16) return 0;
  return Math.min(Math.max(16, Math.floor(rangeSize / 32)), 128);
}

/** ClusterIPs from `--service-cluster-ip-range`; network and broadcast addresses are never handed out. */
export class ClusterIPAllocator {
  readonly cidr: Cidr;
  readonly cidrText: string;
  private readonly bitmap: BitmapAllocator;
  /** First usable address (network + 1): bitmap index 0. */
  private readonly base: number;

  constructor(cidrText: string, rng: Rng) {
    this.cidr = parseCidr(cidrText);
    this.cidrText = formatCidr(this.cidr);
    const size = cidrSize(this.cidr);
    const usable = Math.max(0, size - 2);
    this.base = (this.cidr.network + 1) >>> 0;
    this.bitmap = new BitmapAllocator(usable, Math.min(clusterIPStaticBand(size), usable), rng);
  }

  get used(): number {
    return this.bitmap.count;
  }

  get capacity(): number {
    return this.bitmap.max;
  }

  /** Lowest address of the dynamic (upper) band, for documentation and tests. */
  get dynamicBandStart(): number {
    return (this.base + this.bitmap.offset) >>> 0;
  }

  private indexOf(ip: number): number {
    if (!cidrContains(this.cidr, ip)) return -1;
    const index = ip - this.base;
    return index >= 0 && index < this.bitmap.max ? index : -1;
  }

  notInRangeError(): string {
    return `provided IP is not in the valid range. The range of valid IPs is ${this.cidrText}`;
  }

  allocate(ip: number): AllocResult {
    const index = this.indexOf(ip);
    if (index < 0) return { ok: false, error: this.notInRangeError() };
    if (!this.bitmap.allocate(index)) return { ok: false, error: ERR_IP_ALLOCATED };
    return { ok: true, value: ip };
  }

  allocateNext(): AllocResult {
    const index = this.bitmap.allocateNext();
    if (index < 0) return { ok: false, error: ERR_FULL };
    return { ok: true, value: (this.base + index) >>> 0 };
  }

  release(ip: number): void {
    const index = this.indexOf(ip);
    if (index >= 0) this.bitmap.release(index);
  }

  isAllocated(ip: number): boolean {
    const index = this.indexOf(ip);
    return index >= 0 && this.bitmap.has(index);
  }

  describe(ip: number): string {
    return formatIPv4(ip);
  }
}

export interface PortRange {
  readonly base: number;
  readonly size: number;
}

/** Parses `--service-node-port-range` text: "30000-32767", "30000+2767" or a single port. */
export function parsePortRange(text: string): PortRange {
  const t = text.trim();
  let m = /^(\d+)-(\d+)$/.exec(t);
  if (m) {
    const lo = +m[1];
    const hi = +m[2];
    if (lo >= 1 && hi <= 65535 && lo <= hi) return { base: lo, size: hi - lo + 1 };
  }
  m = /^(\d+)\+(\d+)$/.exec(t);
  if (m) {
    const lo = +m[1];
    const hi = lo + +m[2];
    if (lo >= 1 && hi <= 65535) return { base: lo, size: hi - lo + 1 };
  }
  if (/^\d+$/.test(t) && +t >= 1 && +t <= 65535) return { base: +t, size: 1 };
  throw new RangeError(`invalid port range "${text}": expected <low>-<high> within 1-65535`);
}

export function formatPortRange(r: PortRange): string {
  return `${r.base}-${r.base + r.size - 1}`;
}

/** NodePorts (and health-check nodePorts) from `--service-node-port-range`. */
export class NodePortAllocator {
  readonly range: PortRange;
  readonly rangeText: string;
  private readonly bitmap: BitmapAllocator;

  constructor(rangeText: string, rng: Rng) {
    this.range = parsePortRange(rangeText);
    this.rangeText = formatPortRange(this.range);
    this.bitmap = new BitmapAllocator(this.range.size, nodePortStaticBand(this.range.size), rng);
  }

  get used(): number {
    return this.bitmap.count;
  }

  get capacity(): number {
    return this.bitmap.max;
  }

  get dynamicBandStart(): number {
    return this.range.base + this.bitmap.offset;
  }

  notInRangeError(): string {
    return `provided port is not in the valid range. The range of valid ports is ${this.rangeText}`;
  }

  allocate(port: number): AllocResult {
    const index = port - this.range.base;
    if (!Number.isInteger(port) || index < 0 || index >= this.range.size) {
      return { ok: false, error: this.notInRangeError() };
    }
    if (!this.bitmap.allocate(index)) return { ok: false, error: ERR_PORT_ALLOCATED };
    return { ok: true, value: port };
  }

  allocateNext(): AllocResult {
    const index = this.bitmap.allocateNext();
    if (index < 0) return { ok: false, error: ERR_FULL };
    return { ok: true, value: this.range.base + index };
  }

  release(port: number): void {
    const index = port - this.range.base;
    if (index >= 0 && index < this.range.size) this.bitmap.release(index);
  }

  isAllocated(port: number): boolean {
    const index = port - this.range.base;
    return index >= 0 && index < this.range.size && this.bitmap.has(index);
  }
}

/**
 * LoadBalancer VIPs from the Cluster document's pool, lowest free address first
 * (as MetalLB's allocator does for a single pool). Not an apiserver allocator: it plays the
 * cloud / bare-metal load-balancer controller that fills status.loadBalancer.ingress.
 */
export class LoadBalancerIPPool {
  private readonly addresses: number[] = [];
  private readonly taken = new Set<number>();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const dash = entry.indexOf('-');
      if (dash > 0) {
        const lo = parseCidr(entry.slice(0, dash).trim()).network;
        const hi = parseCidr(entry.slice(dash + 1).trim()).network;
        if (hi < lo) throw new RangeError(`invalid address range "${entry}"`);
        for (let a = lo; a <= hi; a++) this.addresses.push(a >>> 0);
      } else {
        const c = parseCidr(entry.trim());
        const n = cidrSize(c);
        for (let i = 0; i < n; i++) this.addresses.push((c.network + i) >>> 0);
      }
    }
  }

  get size(): number {
    return this.addresses.length;
  }

  /** A requested address if it is in the pool and free, else the lowest free one; -1 when exhausted. */
  allocate(requested?: number): number {
    if (requested !== undefined && this.addresses.includes(requested) && !this.taken.has(requested)) {
      this.taken.add(requested);
      return requested;
    }
    for (const a of this.addresses) {
      if (!this.taken.has(a)) {
        this.taken.add(a);
        return a;
      }
    }
    return -1;
  }

  release(ip: number): void {
    this.taken.delete(ip);
  }
}
