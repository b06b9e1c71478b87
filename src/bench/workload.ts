/**
 * The hot-path benchmark's workload: one ClusterIP service with 16 endpoints spread over two
 * nodes, and F distinct client flows to it as pre-built 54-byte Ethernet/IPv4/TCP frames
 * (ACK segments of established connections, correct checksums). Everything is derived from a
 * seed, so a worker thread can rebuild the same model on its own and the frames are identical
 * run to run.
 *
 * This is set-up code (control plane): it runs before any timing and may favour clarity.
 */
import { flowHashSymmetric } from '../maps/index.js';
import type { Endpoint, ProxyModel, ServicePort } from '../proxy/common/model.js';
import { formatIPv4, parseIPv4 } from '../util/ipv4.js';
import { Rng } from '../util/rng.js';
import { type TcpFrameSpec, writeTcpFrame } from '../wire/build.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import { parseMac } from '../wire/mac.js';
import { TcpFlag } from '../wire/tcp.js';

/** Ethernet 14 + IPv4 20 + TCP 20: the smallest TCP frame, as packet-rate benchmarks use. */
export const HOTPATH_FRAME_SIZE = 54;
export const BENCH_NODE = 'node-a';
export const BENCH_NODES = [
  { name: 'node-a', ip: '192.168.0.10', podCIDR: '10.244.0.0/24' },
  { name: 'node-b', ip: '192.168.0.11', podCIDR: '10.244.1.0/24' },
] as const;
export const BENCH_SERVICE_IP = '10.96.0.10';
export const BENCH_SERVICE_PORT = 80;
export const BENCH_TARGET_PORT = 8080;
export const BENCH_ENDPOINTS = 16;
/** Client addresses come from the cluster CIDR 10.244.0.0/16 (pods of any node). */
const CLIENT_NET = 0x0af40000;
const CLIENT_PORT_MIN = 1024;
const CLIENT_PORT_SPAN = 65536 - CLIENT_PORT_MIN;

export class WorkloadError extends Error {
  override name = 'WorkloadError';
}

/** One ClusterIP `bench/web:80` → 16 endpoints `10.244.{0,1}.x:8080`, half on each node. */
export function hotpathModel(): ProxyModel {
  const endpoints: Endpoint[] = [];
  for (let i = 0; i < BENCH_ENDPOINTS; i++) {
    const node = BENCH_NODES[i % 2];
    const ip = `10.244.${i % 2}.${10 + (i >> 1)}`;
    endpoints.push({
      ip,
      port: BENCH_TARGET_PORT,
      nodeName: node.name,
      ready: true,
      serving: true,
      terminating: false,
      podName: `web-${i}`,
    });
  }
  // kube-proxy's order: sorted by the "ip:port" string.
  endpoints.sort((a, b) => (`${a.ip}:${a.port}` < `${b.ip}:${b.port}` ? -1 : 1));
  const web: ServicePort = {
    namespace: 'bench',
    name: 'web',
    portName: '',
    protocol: 'TCP',
    servicePortName: 'bench/web',
    type: 'ClusterIP',
    clusterIP: BENCH_SERVICE_IP,
    port: BENCH_SERVICE_PORT,
    nodePort: 0,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    sessionAffinity: 'None',
    stickyMaxAgeSeconds: 0,
    externalTrafficPolicy: 'Cluster',
    internalTrafficPolicy: 'Cluster',
    healthCheckNodePort: 0,
    endpoints,
  };
  return {
    servicePorts: [web],
    nodes: BENCH_NODES.map((n) => ({ ...n })),
    clusterCIDR: '10.244.0.0/16',
    serviceCIDR: '10.96.0.0/12',
  };
}

/** The backends' addresses as u32, for checking translated frames. */
export function hotpathBackendAddrs(): Set<number> {
  return new Set(hotpathModel().servicePorts[0].endpoints.map((e) => parseIPv4(e.ip)));
}

/** F distinct client (address, port) pairs towards the service: the 5-tuples of the workload. */
export interface Flows {
  readonly count: number;
  readonly saddr: Uint32Array;
  readonly sport: Uint16Array;
  readonly daddr: number;
  readonly dport: number;
  readonly proto: number;
}

/**
 * `count` distinct flows drawn from `seed`. A client is one of 65 536 cluster-CIDR addresses
 * with a port in 1024..65535, so up to ~4·10⁹ distinct flows exist; duplicates are redrawn.
 */
export function makeFlows(count: number, seed: number): Flows {
  if (!Number.isInteger(count) || count < 1 || count > 16_000_000) {
    throw new WorkloadError(`flow count must be an integer in 1..16000000, got ${count}`);
  }
  const rng = new Rng(seed);
  const saddr = new Uint32Array(count);
  const sport = new Uint16Array(count);
  // One u32 names a flow here (16 address bits, 16 port bits); a Set of numbers is enough.
  const seen = new Set<number>();
  for (let i = 0; i < count; ) {
    const host = rng.nextU32() & 0xffff;
    const port = CLIENT_PORT_MIN + (rng.nextU32() % CLIENT_PORT_SPAN);
    const id = host * 65536 + port;
    if (seen.has(id)) continue;
    seen.add(id);
    saddr[i] = (CLIENT_NET | host) >>> 0;
    sport[i] = port;
    i++;
  }
  return {
    count,
    saddr,
    sport,
    daddr: parseIPv4(BENCH_SERVICE_IP),
    dport: BENCH_SERVICE_PORT,
    proto: IpProtocol.TCP,
  };
}

/** Writes flow `flow`'s frame at byte `offset` of `buf` (a full build with both checksums). */
function writeFlowFrame(
  buf: Uint8Array,
  offset: number,
  flows: Flows,
  flow: number,
  spec: TcpFrameSpec,
): void {
  spec.src = flows.saddr[flow];
  spec.sport = flows.sport[flow];
  spec.seq = (flow * 7919) >>> 0;
  writeTcpFrame(buf, offset, spec);
}

/**
 * Writes one frame per listed flow, back to back from `buf[offset]` (`order[i]` is the flow of
 * frame i; default all flows in order). `buf` may sit on a SharedArrayBuffer.
 */
export function writeFlowFrames(
  buf: Uint8Array,
  offset: number,
  flows: Flows,
  order?: ArrayLike<number>,
): number {
  const n = order === undefined ? flows.count : order.length;
  if (offset + n * HOTPATH_FRAME_SIZE > buf.length) {
    throw new WorkloadError(`buffer of ${buf.length} bytes cannot hold ${n} frames at offset ${offset}`);
  }
  const spec: TcpFrameSpec = {
    srcMac: parseMac('02:00:00:00:00:02'),
    dstMac: parseMac('02:00:00:00:00:01'),
    src: 0,
    dst: flows.daddr,
    sport: 0,
    dport: flows.dport,
    seq: 0,
    ack: 1,
    flags: TcpFlag.ACK,
    window: 65535,
  };
  for (let i = 0; i < n; i++) {
    writeFlowFrame(buf, offset + i * HOTPATH_FRAME_SIZE, flows, order === undefined ? i : order[i], spec);
  }
  return n;
}

/**
 * RSS-style sharding: flow i goes to queue `flowHashSymmetric(5-tuple) % shards`, as a NIC's
 * symmetric Toeplitz hash spreads flows over CPU queues so both directions of a connection
 * meet the same CPU (and the same per-CPU flow state).
 */
export function shardOfFlow(
  saddr: number,
  daddr: number,
  sport: number,
  dport: number,
  proto: number,
  shards: number,
): number {
  return flowHashSymmetric(saddr, daddr, sport, dport, proto) % shards;
}

/** Flow indices per shard, each list in flow order. */
export function shardFlows(flows: Flows, shards: number): Uint32Array[] {
  if (!Number.isInteger(shards) || shards < 1) {
    throw new WorkloadError(`shard count must be a positive integer, got ${shards}`);
  }
  const of = new Uint16Array(flows.count);
  const sizes = new Uint32Array(shards);
  for (let i = 0; i < flows.count; i++) {
    const s = shardOfFlow(flows.saddr[i], flows.daddr, flows.sport[i], flows.dport, flows.proto, shards);
    of[i] = s;
    sizes[s]++;
  }
  const out = Array.from({ length: shards }, (_, s) => new Uint32Array(sizes[s]));
  const fill = new Uint32Array(shards);
  for (let i = 0; i < flows.count; i++) out[of[i]][fill[of[i]]++] = i;
  return out;
}

/** Fisher–Yates over `count` frames of `buf` in place: a pass's random arrival order. */
export function shuffleFrames(buf: Uint8Array, count: number, frameSize: number, rng: Rng): void {
  const tmp = new Uint8Array(frameSize);
  for (let i = count - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    if (j === i) continue;
    const a = i * frameSize;
    const b = j * frameSize;
    tmp.set(buf.subarray(a, a + frameSize));
    buf.copyWithin(a, b, b + frameSize);
    buf.set(tmp, b);
  }
}

/** "a.b.c.d:port" of a flow, for error messages. */
export function describeFlow(flows: Flows, flow: number): string {
  return `${formatIPv4(flows.saddr[flow])}:${flows.sport[flow]} → ${formatIPv4(flows.daddr)}:${flows.dport}`;
}
