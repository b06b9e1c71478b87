/**
 * src/topology on its own: the IPv4 receive / forward / output path of hosts wired by
 * `buildClusterTopology`, with no control plane and no proxy mode. One row per case, in
 * the shape of kube-proxy's packetFlowTest: what is sent, where it ends, what each host
 * counted. A packet is either delivered to exactly one host's stack or counted as a drop
 * with a reason on exactly one host — never lost silently.
 */
import { describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { newFiveTuple, ParseStatus, parseFiveTuple, verifyIpv4HeaderChecksum } from '../../src/wire/index.js';
import {
  type BareTopology,
  bareTopology,
  CLIENT,
  capturedByInterface,
  clientSyn,
  dropsOf,
  injectFromClient,
  NODE1,
  POD1,
  POD2,
  SYN,
} from './fixtures.js';

type HostName = 'client' | 'node1' | 'node2' | 'pod1' | 'pod2';

interface PacketFlowTest {
  readonly name: string;
  /** Breaks the topology before sending (e.g. forgets a neighbour). */
  readonly setup?: (t: BareTopology) => void;
  readonly send: (t: BareTopology) => void;
  /** The host whose stack got the SYN, or null when it was dropped. */
  readonly deliveredTo: HostName | null;
  /** Every non-zero drop counter, per host (hosts not named counted none). */
  readonly drops: Partial<Record<HostName, Record<string, number>>>;
  /** TTL of the SYN as the receiving host's interface captured it. */
  readonly ttlAtReceiver?: number;
}

/** Flips the low bit of the byte at `offset` of the frame. */
const flip =
  (offset: number) =>
  (frame: Uint8Array): void => {
    frame[offset] ^= 0x01;
  };
/** Ethernet (14) + IPv4 header without options (20): the IP checksum at 24, the TCP checksum at 34 + 16. */
const IP_CHECKSUM = 24;
const TCP_CHECKSUM = 50;

const PACKET_FLOW_TESTS: readonly PacketFlowTest[] = [
  {
    name: 'client to a pod on its gateway node: forwarded once (TTL 64 → 63)',
    send: (t) => clientSyn(t, POD1),
    deliveredTo: 'pod1',
    drops: {},
    ttlAtReceiver: 63,
  },
  {
    name: 'client to a pod on the other node: routed node1 → node2 over the segment (TTL 62)',
    send: (t) => clientSyn(t, POD2),
    deliveredTo: 'pod2',
    drops: {},
    ttlAtReceiver: 62,
  },
  {
    name: 'client to its gateway node’s own address: delivered to node1, not forwarded (TTL 64)',
    send: (t) => clientSyn(t, NODE1),
    deliveredTo: 'node1',
    drops: {},
    ttlAtReceiver: 64,
  },
  {
    name: 'TTL 1 arriving at a forwarding node: counted IP_TTL_EXCEEDED on node1, nothing forwarded (no ICMP time exceeded is modelled)',
    send: (t) => injectFromClient(t, { dst: POD1, ttl: 1 }),
    deliveredTo: null,
    drops: { node1: { IP_TTL_EXCEEDED: 1 } },
  },
  {
    name: 'TTL 2 to a pod behind one router: arrives with TTL 1',
    send: (t) => injectFromClient(t, { dst: POD1, ttl: 2 }),
    deliveredTo: 'pod1',
    drops: {},
    ttlAtReceiver: 1,
  },
  {
    name: 'TTL 2 to a pod behind two routers: expires on the second, node2',
    send: (t) => injectFromClient(t, { dst: POD2, ttl: 2 }),
    deliveredTo: null,
    drops: { node2: { IP_TTL_EXCEEDED: 1 } },
  },
  {
    name: 'TTL 1 to the node itself: delivered (TTL only matters when forwarding)',
    send: (t) => injectFromClient(t, { dst: NODE1, ttl: 1 }),
    deliveredTo: 'node1',
    drops: {},
    ttlAtReceiver: 1,
  },
  {
    name: 'bad IPv4 header checksum: dropped by the first receiver, IP_CSUM on node1',
    send: (t) => injectFromClient(t, { dst: POD1 }, flip(IP_CHECKSUM)),
    deliveredTo: null,
    drops: { node1: { IP_CSUM: 1 } },
  },
  {
    name: 'bad TCP checksum to a pod: node1 forwards it (a router leaves L4 checksums to the receiver), the pod drops it, TCP_CSUM',
    send: (t) => injectFromClient(t, { dst: POD1 }, flip(TCP_CHECKSUM)),
    deliveredTo: null,
    drops: { pod1: { TCP_CSUM: 1 } },
  },
  {
    name: 'bad TCP checksum to the node’s own address: TCP_CSUM on node1',
    send: (t) => injectFromClient(t, { dst: NODE1 }, flip(TCP_CHECKSUM)),
    deliveredTo: null,
    drops: { node1: { TCP_CSUM: 1 } },
  },
  {
    name: 'no neighbour for the pod (ARP would fail): NEIGH_FAILED on node1',
    setup: (t) => t.node1.neighbours.delete(parseIPv4(POD1)),
    send: (t) => clientSyn(t, POD1),
    deliveredTo: null,
    drops: { node1: { NEIGH_FAILED: 1 } },
  },
  {
    name: 'no neighbour for the next node: NEIGH_FAILED on node1',
    setup: (t) => t.node1.neighbours.delete(parseIPv4('192.168.100.101')),
    send: (t) => clientSyn(t, POD2),
    deliveredTo: null,
    drops: { node1: { NEIGH_FAILED: 1 } },
  },
  {
    name: 'an address in node1’s own pod block with no pod: Calico’s blackhole route, IP_NOROUTE on node1',
    send: (t) => clientSyn(t, '10.233.64.99'),
    deliveredTo: null,
    drops: { node1: { IP_NOROUTE: 1 } },
  },
  {
    name: 'an address nobody owns: node1 sends it back to its default gateway, the client, which does not forward (IP_NOT_FORWARDING)',
    send: (t) => clientSyn(t, '10.99.0.1'),
    deliveredTo: null,
    drops: { client: { IP_NOT_FORWARDING: 1 } },
  },
];

const HOSTS: readonly HostName[] = ['client', 'node1', 'node2', 'pod1', 'pod2'];

function ttlOnArrival(t: BareTopology, host: HostName): number | undefined {
  const captured = capturedByInterface(t);
  const iface = `${host}/eth0`;
  const ft = newFiveTuple();
  const syns = (captured.get(iface) ?? []).filter(
    (f) => parseFiveTuple(f, ft) === ParseStatus.OK && ft.tcpFlags === SYN && ft.sport === 40000,
  );
  const last = syns.at(-1);
  if (last === undefined) return undefined;
  parseFiveTuple(last, ft);
  expect(verifyIpv4HeaderChecksum(last, ft.ipOffset), 'IPv4 checksum after the TTL decrements').toBe(true);
  return ft.ttl;
}

describe('packet flow through the bare topology (no proxy mode)', () => {
  it.each(PACKET_FLOW_TESTS)('$name', (tc) => {
    const t = bareTopology();
    tc.setup?.(t);
    tc.send(t);
    t.topology.network.run(1e9);
    const gotSyn = HOSTS.filter((h) => (t.received.get(t[h].name) ?? []).some((s) => s.flags === SYN));
    expect(gotSyn).toEqual(tc.deliveredTo === null ? [] : [tc.deliveredTo]);
    const drops = Object.fromEntries(
      HOSTS.map((h) => [h, dropsOf(t[h])]).filter(([, d]) => Object.keys(d).length > 0),
    );
    expect(drops).toEqual(tc.drops);
    // Conserved: nothing left in flight, every frame delivered or counted.
    expect(t.topology.network.framesInFlight).toBe(0);
    if (tc.ttlAtReceiver !== undefined) expect(ttlOnArrival(t, tc.deliveredTo!)).toBe(tc.ttlAtReceiver);
  });

  it('the SYN/ACK of a delivered SYN finds its way back and the client ACKs it: a full handshake over two hops', () => {
    const t = bareTopology();
    clientSyn(t, POD2);
    t.topology.network.run(1e9);
    expect(t.received.get('client')!.map((s) => [s.flags, s.src])).toEqual([[0x12, parseIPv4(POD2)]]);
    expect(t.received.get('pod2')!.map((s) => s.flags)).toEqual([SYN, 0x10]);
    expect(t.received.get('pod2')![0].src).toBe(parseIPv4(CLIENT));
  });
});
