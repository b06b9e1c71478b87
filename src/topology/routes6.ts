/**
 * A host's IPv6 routing table (`ip -6 route`): longest prefix wins, then the lower metric.
 * Destinations and gateways are indices of the network's Ipv6AddressTable (see
 * ipv6-address-table.ts); a route's network is kept as 16 bytes for the prefix compare. As
 * for IPv4, a handful of routes per host makes a scan over sorted entries the right shape.
 */
import { formatIPv6Bytes } from '../util/ipv6.js';
import type { Ipv6AddressTable } from './ipv6-address-table.js';
import { BLACKHOLE, NO_GATEWAY } from './routes.js';

export { BLACKHOLE, NO_GATEWAY };

interface Route6 {
  network: Uint8Array;
  prefixLength: number;
  /** Gateway address index, or NO_GATEWAY for on-link routes. */
  gateway: number;
  iface: number;
  metric: number;
}

export class RouteTable6 {
  private routes: Route6[] = [];

  constructor(private readonly addresses: Ipv6AddressTable) {}

  get size(): number {
    return this.routes.length;
  }

  /** Adds `network/prefixLength via gateway dev iface metric m`; `network` is 16 bytes, host bits clear. */
  add(network: Uint8Array, prefixLength: number, gateway: number, ifaceIndex: number, metric = 0): void {
    const route: Route6 = { network: network.slice(0, 16), prefixLength, gateway, iface: ifaceIndex, metric };
    let i = this.routes.length;
    while (
      i > 0 &&
      (this.routes[i - 1].prefixLength < prefixLength ||
        (this.routes[i - 1].prefixLength === prefixLength && this.routes[i - 1].metric > metric))
    )
      i--;
    this.routes.splice(i, 0, route);
  }

  /** Removes every route to exactly `network/prefixLength`. */
  remove(network: Uint8Array, prefixLength: number): void {
    this.routes = this.routes.filter(
      (r) => !(r.prefixLength === prefixLength && r.network.every((b, i) => b === network[i])),
    );
  }

  /** Index of the best route for the address `dst` (an address-table index), or -1. */
  lookup(dst: number): number {
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i];
      if (this.addresses.inPrefix(dst, r.network, 0, r.prefixLength)) return i;
    }
    return -1;
  }

  /** Next hop of a route found by lookup: its gateway, or the destination itself on-link. */
  nextHop(route: number, dst: number): number {
    const gw = this.routes[route].gateway;
    return gw === NO_GATEWAY ? dst : gw;
  }

  iface(route: number): number {
    return this.routes[route].iface;
  }

  /** `ip -6 route`-style listing. */
  format(ifaceName: (index: number) => string): string[] {
    return this.routes.map((r) => {
      const dst = r.prefixLength === 0 ? 'default' : `${formatIPv6Bytes(r.network)}/${r.prefixLength}`;
      const via = r.gateway === NO_GATEWAY ? '' : ` via ${this.addresses.text(r.gateway)}`;
      const dev = r.iface === BLACKHOLE ? '' : ` dev ${ifaceName(r.iface)}`;
      const kind = r.iface === BLACKHOLE ? 'blackhole ' : '';
      const metric = r.metric ? ` metric ${r.metric}` : '';
      return `${kind}${dst}${via}${dev}${metric}`;
    });
  }
}
