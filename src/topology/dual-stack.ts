/**
 * The IPv6 half of a dual-stack cluster's network, laid over the IPv4 topology (build.ts):
 * the same hosts, interfaces and links, each given its IPv6 address, routes and static
 * neighbour entries — what Calico's IPv6 side and NDP would set up:
 *
 *   client  eth0 fd00:a:b:c::1/64       default via <first node's IPv6>
 *   node    eth0 fd00:a:b:c::x/64       default via the client    forwarding=1
 *           <pod>/128 dev cali…          ← per local pod
 *           <remote node's IPv6 pod CIDR> via <remote node's IPv6> dev eth0
 *           blackhole <own IPv6 pod CIDR>
 *   pod     eth0 <pod IPv6>/128          default via fe80::ecee:eeff:feee:eeee dev eth0
 *
 * fe80::ecee:eeff:feee:eeee is the link-local address of Calico's host-side veth MAC
 * (ee:ee:ee:ee:ee:ee, EUI-64), the IPv6 gateway Calico gives pods. Neighbour entries are
 * static, standing in for NDP as the IPv4 side's static entries stand in for ARP, so
 * captures carry no neighbour solicitations. IPv6 pod traffic between nodes is routed
 * directly (no overlay), also when the IPv4 side uses `--overlay`.
 */
import { ipv6Bytes, parseCidr6, parseIPv6, prefixMask6 } from '../util/ipv6.js';
import type { ClusterTopology } from './build.js';
import { CALICO_VETH_MAC, podKey } from './build.js';
import type { Host } from './host.js';
import { Ipv6Stack } from './host6.js';
import { Ipv6AddressTable } from './ipv6-address-table.js';
import { BLACKHOLE, NO_GATEWAY } from './routes6.js';

/** Calico's IPv6 gateway for pods: the link-local address of the ee:ee:ee:ee:ee:ee veth. */
export const CALICO_GATEWAY6 = 'fe80::ecee:eeff:feee:eeee';

export interface Ipv6TopologySpec {
  readonly clientIP: string;
  /** Per node name: its IPv6 address and IPv6 pod CIDR. */
  readonly nodes: ReadonlyMap<string, { readonly ip: string; readonly podCIDR: string }>;
  /** Per pod (`namespace/name`): its IPv6 address (status.podIPs[1]). */
  readonly pods: ReadonlyMap<string, string>;
}

/** The IPv6 side of a topology: the network's address table and the hosts' IPv6 layers. */
export class Ipv6Topology {
  readonly addresses = new Ipv6AddressTable();
  private readonly lanPrefix: Uint8Array;
  private readonly gateway: number;

  constructor(
    private readonly topology: ClusterTopology,
    readonly spec: Ipv6TopologySpec,
  ) {
    const clientAddr = parseIPv6(spec.clientIP);
    this.lanPrefix = ipv6Bytes(clientAddr & prefixMask6(64));
    this.gateway = this.addresses.internText(CALICO_GATEWAY6);
    const client = topology.client;
    const clientEth = client.interfaces[0];
    const c6 = this.stackOf(client);
    c6.addAddress(clientEth, this.addresses.internText(spec.clientIP));
    c6.routes.add(this.lanPrefix, 64, NO_GATEWAY, clientEth.index);
    for (const [name, node] of topology.nodes) this.addNode(name, node, false);
    const first = topology.nodes.keys().next().value;
    if (first !== undefined) {
      const firstIp = spec.nodes.get(first)?.ip;
      if (firstIp !== undefined)
        c6.routes.add(new Uint8Array(16), 0, this.addresses.internText(firstIp), clientEth.index);
    }
    this.fillSegmentNeighbours();
    for (const [key, pod] of topology.pods) this.attachPod(key, pod, spec.pods.get(key));
  }

  /** The host's IPv6 layer, created on first use. */
  stackOf(host: Host): Ipv6Stack {
    if (host.v6 === null) host.v6 = new Ipv6Stack(host, this.addresses);
    return host.v6;
  }

  /**
   * A node's eth0 address, LAN and default routes, its pod CIDR's blackhole and routes to the
   * others' pod CIDRs; `joined` (a node registered later): the others get a route to its CIDR.
   */
  addNode(name: string, node: Host, joined: boolean): void {
    const info = this.spec.nodes.get(name);
    if (info === undefined) return;
    const eth = node.interfaceByName('eth0')!;
    const s = this.stackOf(node);
    s.forwarding = true;
    s.addAddress(eth, this.addresses.internText(info.ip));
    s.routes.add(this.lanPrefix, 64, NO_GATEWAY, eth.index);
    s.routes.add(new Uint8Array(16), 0, this.addresses.internText(this.spec.clientIP), eth.index);
    const own = parseCidr6(info.podCIDR);
    s.routes.add(ipv6Bytes(own.network), own.prefixLength, NO_GATEWAY, BLACKHOLE);
    for (const [otherName, other] of this.topology.nodes) {
      if (otherName === name) continue;
      const o = this.spec.nodes.get(otherName);
      if (o === undefined) continue;
      const oc = parseCidr6(o.podCIDR);
      s.routes.add(ipv6Bytes(oc.network), oc.prefixLength, this.addresses.internText(o.ip), eth.index);
      const os = other.v6;
      if (joined && os !== null) {
        const otherEth = other.interfaceByName('eth0')!;
        os.routes.add(
          ipv6Bytes(own.network),
          own.prefixLength,
          this.addresses.internText(info.ip),
          otherEth.index,
        );
      }
    }
  }

  /** Every host on the nodes' segment knows every other's MAC for its IPv6 address (NDP's result). */
  fillSegmentNeighbours(): void {
    const members = this.topology.segment.members;
    for (const a of members) {
      const as = a.host.v6;
      if (as === null) continue;
      for (const b of members) {
        const addr = b.host.v6?.interfaceAddresses.get(b.index);
        if (a !== b && addr !== undefined) as.neighbours.set(addr, b.mac);
      }
    }
  }

  /**
   * Plugs a pod's IPv6 side in (its address from status.podIPs): the pod's address and default
   * route via Calico's link-local gateway, the node's /128 route over the pod's veth and its
   * neighbour entry. A pod without an IPv6 address is left IPv4-only.
   */
  attachPod(key: string, pod: Host, ip6: string | undefined): void {
    const address = ip6;
    if (address === undefined) return;
    const veth = this.topology.podVeths.get(key);
    if (veth === undefined) return;
    const node = veth.host;
    const podEth = pod.interfaces[0];
    const idx = this.addresses.internText(address);
    const ps = this.stackOf(pod);
    ps.addAddress(podEth, idx);
    ps.routes.add(new Uint8Array(16), 0, this.gateway, podEth.index);
    ps.neighbours.set(this.gateway, CALICO_VETH_MAC);
    const ns = this.stackOf(node);
    ns.routes.add(ipv6Bytes(parseIPv6(address)), 128, NO_GATEWAY, veth.index);
    ns.neighbours.set(idx, podEth.mac);
    this.podAddresses.set(key, address);
  }

  /** Unplugs a deleted pod's IPv6 side from its node (call before detachPod forgets the veth). */
  detachPod(key: string): void {
    const address = this.podAddresses.get(key);
    const veth = this.topology.podVeths.get(key);
    if (address === undefined || veth === undefined) return;
    const ns = veth.host.v6;
    if (ns !== null) {
      ns.routes.remove(ipv6Bytes(parseIPv6(address)), 128);
      ns.neighbours.delete(this.addresses.internText(address));
    }
    this.podAddresses.delete(key);
  }

  /** Each attached pod's IPv6 address, by `namespace/name`. */
  readonly podAddresses = new Map<string, string>();
}

export { podKey };
