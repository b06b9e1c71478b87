/**
 * ClusterIPs from the IPv6 Service range (the secondary range of a dual-stack
 * `--service-cluster-ip-range`), as the apiserver's ipallocator does for IPv6: the network
 * address is never handed out, there is no broadcast address to skip, and the bitmap is
 * capped at 65536 slots however wide the range. Same static band and random scan as IPv4
 * (allocators.ts); addresses are canonical text at this boundary, bigint inside.
 */
import {
  type Cidr6,
  cidr6Contains,
  cidr6Size,
  formatCidr6,
  formatIPv6,
  parseCidr6,
  parseIPv6,
} from '../util/ipv6.js';
import type { Rng } from '../util/rng.js';
import { BitmapAllocator, clusterIPStaticBand, ERR_FULL, ERR_IP_ALLOCATED } from './allocators.js';

export type AllocResult6 =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly error: string };

const MAX_SLOTS = 65536n;

export class ClusterIP6Allocator {
  readonly cidr: Cidr6;
  readonly cidrText: string;
  private readonly bitmap: BitmapAllocator;
  private readonly base: bigint;

  constructor(cidrText: string, rng: Rng) {
    this.cidr = parseCidr6(cidrText);
    this.cidrText = formatCidr6(this.cidr);
    const size = cidr6Size(this.cidr);
    const slots = Number(size < MAX_SLOTS ? size : MAX_SLOTS) - 1;
    this.base = this.cidr.network + 1n;
    const band = clusterIPStaticBand(Number(size < 1n << 52n ? size : 1n << 52n));
    this.bitmap = new BitmapAllocator(slots, Math.min(band, slots), rng);
  }

  get used(): number {
    return this.bitmap.count;
  }

  private indexOf(ip: string): number {
    const v = parseIPv6(ip);
    if (!cidr6Contains(this.cidr, v)) return -1;
    const index = v - this.base;
    return index >= 0n && index < BigInt(this.bitmap.max) ? Number(index) : -1;
  }

  notInRangeError(): string {
    return `provided IP is not in the valid range. The range of valid IPs is ${this.cidrText}`;
  }

  allocate(ip: string): AllocResult6 {
    const index = this.indexOf(ip);
    if (index < 0) return { ok: false, error: this.notInRangeError() };
    if (!this.bitmap.allocate(index)) return { ok: false, error: ERR_IP_ALLOCATED };
    return { ok: true, value: formatIPv6(parseIPv6(ip)) };
  }

  allocateNext(): AllocResult6 {
    const index = this.bitmap.allocateNext();
    if (index < 0) return { ok: false, error: ERR_FULL };
    return { ok: true, value: formatIPv6(this.base + BigInt(index)) };
  }

  release(ip: string): void {
    const index = this.indexOf(ip);
    if (index >= 0) this.bitmap.release(index);
  }

  isAllocated(ip: string): boolean {
    const index = this.indexOf(ip);
    return index >= 0 && this.bitmap.has(index);
  }
}
