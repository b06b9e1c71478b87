/**
 * A bare topology (src/topology alone: no control plane, no proxy mode, no TCP stack) for
 * the tests of this folder: an external client and two Calico-style nodes on one /24, a
 * pod on each node, every interface captured. Frames are injected on a host's interface
 * exactly as its stack would transmit them, and a pod's "stack" is a recorder that can
 * answer a SYN, so a handshake crosses the network with nothing but topology/ in the way.
 */
import type { TcpSegment } from '../../src/apps/transport.js';
import { readCapture } from '../../src/capture/index.js';
import { PcapngCaptureSink } from '../../src/sim/capture-sink.js';
import { buildClusterTopology, type ClusterTopology, podKey } from '../../src/topology/build.js';
import type { Host } from '../../src/topology/host.js';
import type { OverlayKind } from '../../src/topology/tunnel.js';
import { DROP_REASON_NAMES } from '../../src/trace/drop-reasons.js';
import { formatIPv4, parseIPv4 } from '../../src/util/ipv4.js';
import { Rng } from '../../src/util/rng.js';
import { type TcpFrameSpec, writeTcpFrame } from '../../src/wire/index.js';

export const CLIENT = '192.168.100.1';
export const NODE1 = '192.168.100.100';
export const NODE2 = '192.168.100.101';
/** Pod on node1 (node1's block 10.233.64.0/24) and pod on node2 (10.233.65.0/24). */
export const POD1 = '10.233.64.10';
export const POD2 = '10.233.65.10';

export const SYN = 0x02;
export const ACK = 0x10;

export interface BareTopology {
  readonly topology: ClusterTopology;
  readonly sink: PcapngCaptureSink;
  readonly client: Host;
  readonly node1: Host;
  readonly node2: Host;
  readonly pod1: Host;
  readonly pod2: Host;
  /** Segments each host's receiver got, by host name. */
  readonly received: Map<string, TcpSegment[]>;
}

/** Records what reaches a host; a pod answers a SYN with a SYN/ACK, the client a SYN/ACK with an ACK. */
function recorder(host: Host, received: Map<string, TcpSegment[]>): void {
  const list: TcpSegment[] = [];
  received.set(host.name, list);
  host.tcp = {
    receive(seg) {
      list.push({ ...seg, payload: seg.payload.slice() });
      const reply = (flags: number, seq: number) =>
        host.setTimer(0, () =>
          host.sendTcp({
            src: seg.dst,
            dst: seg.src,
            sport: seg.dport,
            dport: seg.sport,
            seq,
            ack: (seg.seq + 1) >>> 0,
            flags,
            window: 64240,
            options: [],
            payload: new Uint8Array(0),
          }),
        );
      if (host.kind === 'pod' && seg.flags === SYN) reply(SYN | ACK, 5000);
      else if (host.kind === 'client' && seg.flags === (SYN | ACK)) reply(ACK, seg.ack);
    },
    receiveIcmpError() {},
  };
}

export function bareTopology(overlay: OverlayKind = 'none'): BareTopology {
  const topology = buildClusterTopology(
    {
      clientIP: CLIENT,
      nodes: [
        { name: 'node1', ip: NODE1, podCIDR: '10.233.64.0/24' },
        { name: 'node2', ip: NODE2, podCIDR: '10.233.65.0/24' },
      ],
      pods: [
        { name: 'pod1', namespace: 'default', nodeName: 'node1', ip: POD1 },
        { name: 'pod2', namespace: 'default', nodeName: 'node2', ip: POD2 },
      ],
      overlay,
    },
    new Rng(1),
  );
  const sink = new PcapngCaptureSink();
  topology.network.capture = sink;
  for (const iface of topology.network.interfaces) topology.network.captureInterface(iface);
  const received = new Map<string, TcpSegment[]>();
  const pod1 = topology.pods.get(podKey('default', 'pod1'))!;
  const pod2 = topology.pods.get(podKey('default', 'pod2'))!;
  const [node1, node2] = [topology.nodes.get('node1')!, topology.nodes.get('node2')!];
  for (const h of [topology.client, node1, node2, pod1, pod2]) recorder(h, received);
  return { topology, sink, client: topology.client, node1, node2, pod1, pod2, received };
}

/** A SYN from the client's stack (TTL 64, valid checksums) to `dst`:80. */
export function clientSyn(t: BareTopology, dst: string, sport = 40000): void {
  t.client.sendTcp({
    src: parseIPv4(CLIENT),
    dst: parseIPv4(dst),
    sport,
    dport: 80,
    seq: 1000,
    ack: 0,
    flags: SYN,
    window: 64240,
    options: [],
    payload: new Uint8Array(0),
  });
}

/**
 * Puts a hand-built TCP frame on the client's eth0, addressed to node1's MAC (the client's
 * default gateway), after `corrupt` has had its way with the bytes.
 */
export function injectFromClient(
  t: BareTopology,
  spec: Omit<Partial<TcpFrameSpec>, 'dst'> & { dst: string },
  corrupt: (frame: Uint8Array, length: number) => void = () => {},
): void {
  const net = t.topology.network;
  const eth = t.client.interfaceByName('eth0')!;
  const gateway = t.node1.interfaceByName('eth0')!;
  const slot = net.pool.acquire();
  const frame = net.pool.view(slot);
  const length = writeTcpFrame(frame, 0, {
    srcMac: eth.mac,
    dstMac: gateway.mac,
    src: parseIPv4(CLIENT),
    sport: 40000,
    dport: 80,
    seq: 1000,
    flags: SYN,
    window: 64240,
    ttl: 64,
    ...spec,
    dst: parseIPv4(spec.dst),
  } as TcpFrameSpec);
  corrupt(frame, length);
  net.pool.lengths[slot] = length;
  net.transmit(eth, slot);
}

/** Non-zero drop counters of a host, by reason name. */
export function dropsOf(host: Host): Record<string, number> {
  const out: Record<string, number> = {};
  host.drops.byReason.forEach((n, reason) => {
    if (n > 0) out[DROP_REASON_NAMES[reason]] = n;
  });
  return out;
}

/** Captured frames by `host/iface`, as the pcapng the sink wrote holds them. */
export function capturedByInterface(t: BareTopology): Map<string, Uint8Array[]> {
  const file = readCapture(t.sink.toBuffer());
  const out = new Map<string, Uint8Array[]>();
  for (const p of file.packets) {
    const name = file.interfaces[p.interfaceId].name ?? `if${p.interfaceId}`;
    out.set(name, [...(out.get(name) ?? []), p.data]);
  }
  return out;
}

export const ip = formatIPv4;
