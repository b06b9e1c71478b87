/**
 * Lays out the simulated cluster network, mode-agnostic: the external client and the
 * nodes' `eth0`s on one L2 segment, and per pod a veth pair with Calico-style routed
 * addressing (kubespray's default CNI):
 *
 *   client  eth0 192.168.100.1/24     default via <first node>   (reaches ClusterIPs/LB IPs through it)
 *   node    eth0 192.168.100.10x/24   default via the client     ip_forward=1
 *           cali<11 hex> (unnumbered, MAC ee:ee:ee:ee:ee:ee)  ← /32 route per local pod
 *           <remote pod CIDR> via <remote node IP> dev eth0
 *   pod     eth0 <pod IP>/32           default via 169.254.1.1 dev eth0 (proxy-ARP'd by the node)
 *
 * Neighbour tables are filled statically (what ARP would learn), so runs stay
 * deterministic and captures hold only IPv4.
 */
import { hash } from 'node:crypto';
import { type Cidr, formatIPv4, parseCidr, parseIPv4, prefixMask } from '../util/ipv4.js';
import type { Rng } from '../util/rng.js';
import { Host } from './host.js';
import type { NetInterface } from './net-interface.js';
import { Segment } from './net-interface.js';
import { Network, type NetworkOptions } from './network.js';
import { BLACKHOLE, NO_GATEWAY } from './routes.js';
import type { OverlayKind } from './tunnel.js';

export interface TopologyNodeSpec {
  readonly name: string;
  readonly ip: string;
  readonly podCIDR: string;
}

export interface TopologyPodSpec {
  readonly name: string;
  readonly namespace: string;
  readonly nodeName: string;
  readonly ip: string;
}

export interface TopologySpec {
  readonly clientIP: string;
  /** Prefix length of the nodes' shared segment (default 24). */
  readonly segmentPrefixLength?: number;
  readonly nodes: readonly TopologyNodeSpec[];
  readonly pods: readonly TopologyPodSpec[];
  /** Pod traffic between nodes: routed as is (default), or Calico's IPIP / VXLAN overlay. */
  readonly overlay?: OverlayKind;
  /** More named external clients: on the nodes' segment, or anywhere (then behind the router). */
  readonly clients?: readonly { readonly name: string; readonly ip: string }[];
  /** The router's address on the nodes' segment (used when a client is off the segment). */
  readonly routerIP?: string;
}

/** Calico's host-side veth MAC: every `cali*` interface carries it. */
export const CALICO_VETH_MAC = Uint8Array.of(0xee, 0xee, 0xee, 0xee, 0xee, 0xee);
/** The fake gateway Calico pods route through (answered by proxy ARP on the node). */
export const CALICO_GATEWAY = parseIPv4('169.254.1.1');

export class TopologyError extends Error {
  override name = 'TopologyError';
}

/** Calico's veth name: `cali` + the first 11 hex digits of sha1("<namespace>.<pod>"). */
export function calicoVethName(namespace: string, podName: string): string {
  // The one-shot hash: a Hash object per pod cost ~1 s of a 100k-pod build.
  return `cali${hash('sha1', `${namespace}.${podName}`, 'hex').slice(0, 11)}`;
}

/** 52:54:00 (the QEMU/libvirt prefix) + the address's low three bytes. */
function hostMac(addr: number): Uint8Array {
  return Uint8Array.of(0x52, 0x54, 0x00, (addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff);
}

/** 0a:58 + the pod IP, as the CNI bridge/host-local plugins derive pod MACs. */
function podMac(addr: number): Uint8Array {
  return Uint8Array.of(0x0a, 0x58, addr >>> 24, (addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff);
}

export interface ClusterTopology {
  readonly network: Network;
  readonly client: Host;
  readonly nodes: ReadonlyMap<string, Host>;
  /** The L2 segment of the client and the nodes' eth0s, and its prefix length. */
  readonly segment: Segment;
  readonly segmentPrefixLength: number;
  readonly overlay: OverlayKind;
  /** Each node's pod CIDR (its blackhole route, and the route every other node has to it). */
  readonly nodePodCidrs: Map<string, Cidr>;
  /** Tunnel-device MAC per node address (the overlay's neighbour table). */
  readonly tunnelMacs: Map<number, Uint8Array>;
  /** Pod hosts by `namespace/name`. */
  readonly pods: Map<string, Host>;
  /** The named external clients (spec.clients) by name. */
  readonly clients: ReadonlyMap<string, Host>;
  /** The router in front of the nodes, when a client sits off the nodes' segment. */
  readonly router: Host | null;
  /** Node-side veth of each pod (`namespace/name` → interface). */
  readonly podVeths: Map<string, NetInterface>;
}

export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function buildClusterTopology(
  spec: TopologySpec,
  rng: Rng,
  options: NetworkOptions = {},
): ClusterTopology {
  const network = new Network(options);
  const segment = new Segment('lan');
  const prefix = spec.segmentPrefixLength ?? 24;
  const clientAddr = parseIPv4(spec.clientIP);
  const segmentNet = (clientAddr & prefixMask(prefix)) >>> 0;

  const client = new Host(network, 'client', 'client', rng.fork());
  const clientEth = client.addInterface('eth0', hostMac(clientAddr), clientAddr, prefix, 'external client');
  segment.attach(clientEth);
  client.routes.add(segmentNet, prefix, NO_GATEWAY, clientEth.index);

  const nodes = new Map<string, Host>();
  const nodeCidrs = new Map<string, Cidr>();
  for (const n of spec.nodes) {
    const addr = parseIPv4(n.ip);
    if ((addr & prefixMask(prefix)) >>> 0 !== segmentNet)
      throw new TopologyError(`node ${n.name} (${n.ip}) is not on the client's /${prefix} segment`);
    const node = new Host(network, n.name, 'node', rng.fork());
    node.ipForward = true;
    const eth = node.addInterface('eth0', hostMac(addr), addr, prefix, `node ${n.name} uplink`);
    segment.attach(eth);
    node.routes.add(segmentNet, prefix, NO_GATEWAY, eth.index);
    node.routes.add(0, 0, clientAddr, eth.index);
    nodes.set(n.name, node);
    nodeCidrs.set(n.name, parseCidr(n.podCIDR));
  }
  if (spec.nodes.length > 0) client.routes.add(0, 0, parseIPv4(spec.nodes[0].ip), clientEth.index);
  const { clients, router } = addExternalClients(network, segment, prefix, spec, nodes, rng);

  // Every host on the segment knows every other's MAC.
  for (const a of segment.members) {
    for (const b of segment.members) if (a !== b) a.host.neighbours.set(b.addr, b.mac);
  }
  // Each node routes the other nodes' pod CIDRs via their IPs: directly over the segment,
  // or through the overlay's tunnel device.
  const overlay = spec.overlay ?? 'none';
  const tunnelMacs = new Map<number, Uint8Array>();
  if (overlay !== 'none') {
    for (const n of spec.nodes) {
      const node = nodes.get(n.name)!;
      const cidr = nodeCidrs.get(n.name)!;
      const addr = parseIPv4(n.ip);
      addTunnelDevice(node, overlay, addr, cidr, tunnelMacs);
    }
  }
  for (const n of spec.nodes) {
    const node = nodes.get(n.name)!;
    // Calico's blackhole for the node's own block: a packet for a pod that is gone is
    // discarded here, not sent out of the default route (local pods have /32 routes).
    const own = nodeCidrs.get(n.name)!;
    node.routes.add(own.network, own.prefixLength, NO_GATEWAY, BLACKHOLE);
    const out = node.tunnel?.device ?? node.interfaceByName('eth0')!;
    for (const m of spec.nodes) {
      if (m.name === n.name) continue;
      const cidr = nodeCidrs.get(m.name)!;
      node.routes.add(cidr.network, cidr.prefixLength, parseIPv4(m.ip), out.index);
    }
  }

  const topology: ClusterTopology = {
    network,
    client,
    nodes,
    segment,
    segmentPrefixLength: prefix,
    overlay,
    nodePodCidrs: nodeCidrs,
    tunnelMacs,
    pods: new Map(),
    podVeths: new Map(),
    clients,
    router,
  };
  for (const p of spec.pods) attachPod(topology, p);
  return topology;
}

/**
 * The named clients. One on the nodes' segment is wired like the default client. One
 * elsewhere (203.0.113.2) gets its own /24 link to a router on the nodes' segment — the
 * router in front of a cluster — whose LAN address every node routes that /24 through, so
 * replies that keep the client's address (externalTrafficPolicy: Local) find their way back.
 */
function addExternalClients(
  network: Network,
  lan: Segment,
  prefix: number,
  spec: TopologySpec,
  nodes: ReadonlyMap<string, Host>,
  rng: Rng,
): { clients: Map<string, Host>; router: Host | null } {
  const clients = new Map<string, Host>();
  const lanNet = (parseIPv4(spec.clientIP) & prefixMask(prefix)) >>> 0;
  const firstNode = spec.nodes.length > 0 ? parseIPv4(spec.nodes[0].ip) : 0;
  let router: Host | null = null;
  const linksByNet = new Map<number, { segment: Segment; iface: NetInterface }>();
  for (const c of spec.clients ?? []) {
    const addr = parseIPv4(c.ip);
    const host = new Host(network, c.name, 'client', rng.fork());
    clients.set(c.name, host);
    if ((addr & prefixMask(prefix)) >>> 0 === lanNet) {
      const eth = host.addInterface('eth0', hostMac(addr), addr, prefix, `external client ${c.name}`);
      lan.attach(eth);
      host.routes.add(lanNet, prefix, NO_GATEWAY, eth.index);
      if (firstNode !== 0) host.routes.add(0, 0, firstNode, eth.index);
      continue;
    }
    if (router === null) {
      const rAddr = parseIPv4(spec.routerIP ?? '0.0.0.0');
      if (spec.routerIP === undefined || (rAddr & prefixMask(prefix)) >>> 0 !== lanNet)
        throw new TopologyError(
          `client ${c.name} (${c.ip}) is off the nodes' segment and no router address on it is given`,
        );
      router = new Host(network, 'router', 'router', rng.fork());
      router.ipForward = true;
      const eth = router.addInterface('eth0', hostMac(rAddr), rAddr, prefix, 'router in front of the nodes');
      lan.attach(eth);
      router.routes.add(lanNet, prefix, NO_GATEWAY, eth.index);
      // ClusterIPs and LoadBalancer VIPs are reached through the first node, as from the client.
      if (firstNode !== 0) router.routes.add(0, 0, firstNode, eth.index);
    }
    // One link per /24 of clients: its first free of .1/.254 is the router's side.
    const linkNet = (addr & 0xffffff00) >>> 0;
    let link = linksByNet.get(linkNet);
    if (link === undefined) {
      const taken = new Set((spec.clients ?? []).map((x) => parseIPv4(x.ip)));
      const gw = [(linkNet | 1) >>> 0, (linkNet | 254) >>> 0].find((a) => !taken.has(a));
      if (gw === undefined)
        throw new TopologyError(
          `clients use both .1 and .254 of ${formatIPv4(linkNet)}/24: no address is left for the router`,
        );
      const segment = new Segment(`${formatIPv4(linkNet)}/24`);
      const iface = router.addInterface(
        `eth${linksByNet.size + 1}`,
        hostMac(gw),
        gw,
        24,
        `router link to ${formatIPv4(linkNet)}/24`,
      );
      segment.attach(iface);
      router.routes.add(linkNet, 24, NO_GATEWAY, iface.index);
      const routerLan = router.interfaces[0].addr;
      for (const node of nodes.values()) node.routes.add(linkNet, 24, routerLan, node.interfaces[0].index);
      link = { segment, iface };
      linksByNet.set(linkNet, link);
    }
    const cIface = host.addInterface('eth0', hostMac(addr), addr, 24, `external client ${c.name}`);
    link.segment.attach(cIface);
    host.routes.add(linkNet, 24, NO_GATEWAY, cIface.index);
    host.routes.add(0, 0, link.iface.addr, cIface.index);
    for (const m of link.segment.members) {
      if (m === cIface) continue;
      m.host.neighbours.set(addr, cIface.mac);
      host.neighbours.set(m.addr, m.mac);
    }
  }
  return { clients, router };
}

/** Calico's tunnel device on a node: `tunl0` (IPIP) or `vxlan.calico`, addressed from its pod CIDR. */
function addTunnelDevice(
  node: Host,
  overlay: Exclude<OverlayKind, 'none'>,
  addr: number,
  cidr: Cidr,
  tunnelMacs: Map<number, Uint8Array>,
): void {
  // vxlan.calico gets a locally administered MAC; tunl0 has none (ARPHRD_TUNNEL), zeros stand in.
  const mac =
    overlay === 'vxlan'
      ? Uint8Array.of(
          0x66,
          0x63,
          (addr >>> 24) & 0xff,
          (addr >>> 16) & 0xff,
          (addr >>> 8) & 0xff,
          addr & 0xff,
        )
      : new Uint8Array(6);
  const device = node.addInterface(
    overlay === 'ipip' ? 'tunl0' : 'vxlan.calico',
    mac,
    cidr.network,
    32,
    `${overlay} tunnel of ${node.name}`,
  );
  node.tunnel = { kind: overlay, device, peerMacs: tunnelMacs };
  tunnelMacs.set(addr, mac);
}

/**
 * A node that registers after the topology was built (a `kind: Node` applied later): its
 * eth0 on the segment, every segment member's neighbour entry for it and its for them, its
 * pod CIDR's blackhole, and a route to its pod CIDR on every other node (and theirs on it).
 */
export function joinNode(topology: ClusterTopology, n: TopologyNodeSpec, rng: Rng): Host {
  if (topology.nodes.has(n.name)) throw new TopologyError(`node ${n.name} is already part of the topology`);
  const prefix = topology.segmentPrefixLength;
  const clientEth = topology.client.interfaces[0];
  const segmentNet = (clientEth.addr & prefixMask(prefix)) >>> 0;
  const addr = parseIPv4(n.ip);
  if ((addr & prefixMask(prefix)) >>> 0 !== segmentNet)
    throw new TopologyError(`node ${n.name} (${n.ip}) is not on the client's /${prefix} segment`);
  const node = new Host(topology.network, n.name, 'node', rng);
  node.ipForward = true;
  const eth = node.addInterface('eth0', hostMac(addr), addr, prefix, `node ${n.name} uplink`);
  for (const member of topology.segment.members) {
    member.host.neighbours.set(addr, eth.mac);
    node.neighbours.set(member.addr, member.mac);
  }
  topology.segment.attach(eth);
  node.routes.add(segmentNet, prefix, NO_GATEWAY, eth.index);
  node.routes.add(0, 0, clientEth.addr, eth.index);
  // The routed clients' networks, through the router in front of the nodes.
  const router = topology.router;
  for (const link of router?.interfaces.slice(1) ?? [])
    node.routes.add((link.addr & 0xffffff00) >>> 0, 24, router!.interfaces[0].addr, eth.index);
  const cidr = parseCidr(n.podCIDR);
  if (topology.overlay !== 'none') addTunnelDevice(node, topology.overlay, addr, cidr, topology.tunnelMacs);
  node.routes.add(cidr.network, cidr.prefixLength, NO_GATEWAY, BLACKHOLE);
  const out = node.tunnel?.device ?? eth;
  for (const [name, other] of topology.nodes) {
    const otherCidr = topology.nodePodCidrs.get(name);
    const otherEth = other.interfaceByName('eth0');
    if (otherCidr === undefined || otherEth === undefined) continue;
    node.routes.add(otherCidr.network, otherCidr.prefixLength, otherEth.addr, out.index);
    const back = other.tunnel?.device ?? otherEth;
    other.routes.add(cidr.network, cidr.prefixLength, addr, back.index);
  }
  (topology.nodes as Map<string, Host>).set(n.name, node);
  topology.nodePodCidrs.set(n.name, cidr);
  return node;
}

/**
 * Plugs a pod into its node: a veth pair, the pod's /32 and default route, the node's
 * /32 route and neighbour entry. Used at build time and when a controller starts a pod.
 */
export function attachPod(topology: ClusterTopology, p: TopologyPodSpec): Host {
  const node = topology.nodes.get(p.nodeName);
  if (node === undefined)
    throw new TopologyError(`pod ${p.namespace}/${p.name} is on unknown node ${p.nodeName}`);
  const key = podKey(p.namespace, p.name);
  if (topology.pods.has(key)) throw new TopologyError(`pod ${key} is already attached`);
  const addr = parseIPv4(p.ip);
  const pod = new Host(topology.network, p.name, 'pod', node.rng.forkSeed());
  const podEth = pod.addInterface('eth0', podMac(addr), addr, 32, `pod ${key} eth0`);
  const hostSide = node.addInterface(
    calicoVethName(p.namespace, p.name),
    CALICO_VETH_MAC,
    0,
    0,
    `veth to pod ${key}`,
  );
  podEth.peer = hostSide.index;
  hostSide.peer = podEth.index;
  pod.routes.add(CALICO_GATEWAY, 32, NO_GATEWAY, podEth.index);
  pod.routes.add(0, 0, CALICO_GATEWAY, podEth.index);
  pod.neighbours.set(CALICO_GATEWAY, CALICO_VETH_MAC);
  node.routes.add(addr, 32, NO_GATEWAY, hostSide.index);
  node.neighbours.set(addr, podEth.mac);
  topology.pods.set(key, pod);
  topology.podVeths.set(key, hostSide);
  return pod;
}

/**
 * Unplugs a deleted pod: the node forgets its route and neighbour, so packets still
 * addressed to it are dropped on the node (as after the CNI's DEL), not delivered.
 */
export function detachPod(topology: ClusterTopology, namespace: string, name: string): void {
  const key = podKey(namespace, name);
  const pod = topology.pods.get(key);
  const veth = topology.podVeths.get(key);
  if (pod === undefined || veth === undefined) return;
  const node = veth.host;
  const addr = pod.interfaces[0].addr;
  node.routes.remove(addr, 32);
  node.neighbours.delete(addr);
  veth.peer = -1;
  pod.interfaces[0].peer = -1;
  topology.pods.delete(key);
  topology.podVeths.delete(key);
}
