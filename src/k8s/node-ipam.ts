/**
 * Pod IPs from a node's podCIDR, as the CNI host-local IPAM plugin hands them out: the network
 * address, the gateway (.1, the node's bridge/gateway address) and the broadcast address are
 * never used, and allocation continues after the last address handed out (wrapping), so a
 * freed IP is not immediately reused. The first pod on 10.233.64.0/24 therefore gets 10.233.64.2.
 */
import { cidrSize, parseCidr } from '../util/ipv4.js';

export class NodePodIPAM {
  private readonly first: number;
  private readonly last: number;
  private readonly used = new Set<number>();
  private lastAllocated: number;

  constructor(podCIDR: string) {
    const c = parseCidr(podCIDR);
    const size = cidrSize(c);
    if (size < 4) throw new RangeError(`podCIDR ${podCIDR} is too small for pods`);
    this.first = (c.network + 2) >>> 0;
    this.last = (c.network + size - 2) >>> 0;
    this.lastAllocated = (this.first - 1) >>> 0;
  }

  get capacity(): number {
    return this.last - this.first + 1;
  }

  get inUse(): number {
    return this.used.size;
  }

  /** Next free IP after the last one handed out, or -1 when the range is exhausted. */
  allocate(): number {
    const n = this.capacity;
    for (let i = 1; i <= n; i++) {
      let candidate = this.lastAllocated + i;
      if (candidate > this.last) candidate = this.first + ((candidate - this.first) % n);
      candidate >>>= 0;
      if (!this.used.has(candidate)) {
        this.used.add(candidate);
        this.lastAllocated = candidate;
        return candidate;
      }
    }
    return -1;
  }

  release(ip: number): void {
    this.used.delete(ip);
  }
}
