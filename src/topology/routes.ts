/**
 * A host's IPv4 routing table: longest prefix wins, then the lower metric, as `ip route`
 * resolves. Entries live in parallel typed arrays kept sorted by prefix length
 * (longest first), so a lookup is one linear scan of numbers and allocates nothing.
 * Tables here hold a handful of routes per node (local pods, peer nodes' pod CIDRs,
 * the segment, a default), so a scan is cheaper than a trie.
 */
import { formatIPv4, prefixMask } from '../util/ipv4.js';

/** `scope link` routes have no gateway: the destination itself is the next hop. */
export const NO_GATEWAY = 0;

/** Interface index of a `blackhole` route: matching packets are discarded. */
export const BLACKHOLE = -1;

/**
 * Starting capacity: a pod's table holds two routes (its gateway and the default), and a large
 * cluster has one table per pod, so tables start small and double as nodes add routes.
 */
const INITIAL_ROUTES = 2;

export class RouteTable {
  private networks = new Uint32Array(INITIAL_ROUTES);
  private masks = new Uint32Array(INITIAL_ROUTES);
  private prefixLens = new Uint8Array(INITIAL_ROUTES);
  private gateways = new Uint32Array(INITIAL_ROUTES);
  private ifaces = new Int32Array(INITIAL_ROUTES);
  private metrics = new Uint32Array(INITIAL_ROUTES);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds `network/prefixLen via gateway dev iface metric m` (gateway NO_GATEWAY for on-link). */
  add(network: number, prefixLen: number, gateway: number, ifaceIndex: number, metric = 0): void {
    if (this.count === this.networks.length) this.grow();
    const mask = prefixMask(prefixLen);
    if ((network & mask) >>> 0 !== network >>> 0) {
      throw new RangeError(`route ${formatIPv4(network)}/${prefixLen} has host bits set`);
    }
    // Insertion keeps (prefix desc, metric asc) order.
    let i = this.count;
    while (
      i > 0 &&
      (this.prefixLens[i - 1] < prefixLen ||
        (this.prefixLens[i - 1] === prefixLen && this.metrics[i - 1] > metric))
    ) {
      this.copy(i - 1, i);
      i--;
    }
    this.networks[i] = network;
    this.masks[i] = mask;
    this.prefixLens[i] = prefixLen;
    this.gateways[i] = gateway;
    this.ifaces[i] = ifaceIndex;
    this.metrics[i] = metric;
    this.count++;
  }

  /** Removes every route to exactly `network/prefixLen`. */
  remove(network: number, prefixLen: number): void {
    let w = 0;
    for (let r = 0; r < this.count; r++) {
      if (this.networks[r] === network >>> 0 && this.prefixLens[r] === prefixLen) continue;
      if (w !== r) this.copy(r, w);
      w++;
    }
    this.count = w;
  }

  /** Index of the best route for `dst`, or -1 (no route: the kernel answers ENETUNREACH). */
  lookup(dst: number): number {
    const d = dst >>> 0;
    for (let i = 0; i < this.count; i++) {
      if ((d & this.masks[i]) >>> 0 === this.networks[i]) return i;
    }
    return -1;
  }

  /** Next-hop address for a route found by lookup (the destination itself for on-link routes). */
  nextHop(route: number, dst: number): number {
    const gw = this.gateways[route];
    return gw === NO_GATEWAY ? dst >>> 0 : gw;
  }

  iface(route: number): number {
    return this.ifaces[route];
  }

  /** `ip route`-style listing, given a way to name interfaces. */
  format(ifaceName: (index: number) => string): string[] {
    const lines: string[] = [];
    for (let i = 0; i < this.count; i++) {
      const dst =
        this.prefixLens[i] === 0 ? 'default' : `${formatIPv4(this.networks[i])}/${this.prefixLens[i]}`;
      const via = this.gateways[i] === NO_GATEWAY ? '' : ` via ${formatIPv4(this.gateways[i])}`;
      const scope = this.gateways[i] === NO_GATEWAY ? ' scope link' : '';
      const metric = this.metrics[i] ? ` metric ${this.metrics[i]}` : '';
      lines.push(`${dst}${via} dev ${ifaceName(this.ifaces[i])}${scope}${metric}`);
    }
    return lines;
  }

  private copy(from: number, to: number): void {
    this.networks[to] = this.networks[from];
    this.masks[to] = this.masks[from];
    this.prefixLens[to] = this.prefixLens[from];
    this.gateways[to] = this.gateways[from];
    this.ifaces[to] = this.ifaces[from];
    this.metrics[to] = this.metrics[from];
  }

  private grow(): void {
    const n = this.networks.length * 2;
    const grow32 = (a: Uint32Array) => {
      const b = new Uint32Array(n);
      b.set(a);
      return b;
    };
    this.networks = grow32(this.networks);
    this.masks = grow32(this.masks);
    this.gateways = grow32(this.gateways);
    this.metrics = grow32(this.metrics);
    const p = new Uint8Array(n);
    p.set(this.prefixLens);
    this.prefixLens = p;
    const f = new Int32Array(n);
    f.set(this.ifaces);
    this.ifaces = f;
  }
}
