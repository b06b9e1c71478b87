/**
 * The per-mode work the scale benchmarks time, on one node (node1) of a synthetic cluster
 * wired exactly as the simulator wires it (src/sim/modes.ts):
 *
 * - `newConn()`: the first packet of a new connection, pod → ClusterIP of a Service picked
 *   uniformly at random (so iptables walks on average half of KUBE-SERVICES, as kube-proxy's
 *   real first-packet latency does): conntrack miss + the mode's rules/maps + DNAT binding +
 *   byte rewrite with checksums. iptables/nftables: NodeNetfilter.trackAndRunDst at
 *   PREROUTING; IPVS: PREROUTING then INPUT, where IPVS schedules and DNATs; eBPF:
 *   EbpfDatapath.tcIngressPod. Each op copies a pre-built 54-byte SYN and gives it a fresh
 *   source (address, port) with an incremental checksum update — the same small overhead in
 *   every mode. The unconfirmed conntrack entry is released after the hook (the packet "ends"
 *   there), so the table does not fill; the IPVS connection table is expired as the kernel's
 *   timers would (1 ms of simulated time per connection); the eBPF CT map is an LRU and runs
 *   full after ~65 k ops, as on a busy node.
 * - `established()`: a packet of one of 1024 established flows (handshake done through the
 *   same path), conntrack hit, through PREROUTING + FORWARD + POSTROUTING (netfilter modes) or
 *   tc ingress (eBPF).
 *
 * Used by bench/modes.bench.ts (benny) and `dpsim bench newconn` (src/bench/newconn.ts).
 */
import type { ProxyMode } from '../proxy/common/datapath.js';
import { LazyNetfilterProgram } from '../proxy/common/lazy-program.js';
import type { ProxyModel } from '../proxy/common/model.js';
import { NfHook } from '../proxy/common/packet-meta.js';
import { DEFAULT_MAP_SIZES, type EbpfDatapath } from '../proxy/ebpf/index.js';
import { EbpfNodeIngress } from '../proxy/ebpf/node-program.js';
import { IpvsNodeProgram } from '../proxy/ipvs/node-program.js';
import { attachMode, type NodeProxy } from '../sim/modes.js';
import { buildClusterTopology } from '../topology/build.js';
import type { Host } from '../topology/host.js';
import type { NodeNetfilter } from '../topology/netfilter-path.js';
import { PathVerdict } from '../trace/drop-reasons.js';
import { SYNTHETIC_NODES, SYNTHETIC_SERVICE_PORT, syntheticClusterIP } from '../traffic/synthetic-model.js';
import { Rng } from '../util/rng.js';
import {
  type FiveTuple,
  newFiveTuple,
  ParseStatus,
  parseFiveTuple,
  rewriteSource,
  type TcpFrameSpec,
  writeTcpFrame,
} from '../wire/index.js';
import { parseMac } from '../wire/mac.js';
import { TcpFlag } from '../wire/tcp.js';

const FRAME = 54;
const TEMPLATES = 4096;
const ESTABLISHED_FLOWS = 1024;
/** Seed of the node's random choices and of the Services the templates aim at. */
export const HARNESS_SEED = 17;
const NODE = SYNTHETIC_NODES[0];
const NODE_IP = 0xc0a86465; // 192.168.100.101
/** node1's pods are 10.128.0.0/11; backends start at its bottom. */
const POD_NET = 0x0a800000;
/** Client pods (and fresh sources of new connections) from 10.144.0.0 up: never a backend, so no hairpin. */
const CLIENT_POD_NET = 0x0a900000;
const POD_VETH = 'cali0';
const SYN_ACK = TcpFlag.SYN | TcpFlag.ACK;
/** ebpf: room for 30 k Services × up to 10 endpoints in the LB maps. */
const EBPF_MAP_SIZES = { ...DEFAULT_MAP_SIZES, lbMapMax: 524_288 };
const CONNTRACK_MAX = 262_144;

/** One node (node1) carrying `mode` for `model`, wired exactly as the simulator wires it. */
export function attachOne(
  mode: ProxyMode,
  model: ProxyModel,
  seed = HARNESS_SEED,
): { node: Host; proxy: NodeProxy } {
  const rng = new Rng(seed);
  const topology = buildClusterTopology(
    { clientIP: '192.168.100.1', nodes: [{ ...NODE }], pods: [] },
    rng.fork(),
  );
  const proxies = attachMode(mode, topology, model, rng.fork(), {
    conntrackMax: CONNTRACK_MAX,
    ebpfMapSizes: EBPF_MAP_SIZES,
  });
  return { node: topology.nodes.get(NODE.name)!, proxy: proxies.get(NODE.name)! };
}

function ebpfDatapathOf(node: Host): EbpfDatapath {
  const prog = node.interfaceByName('eth0')?.tcIngress;
  if (!(prog instanceof EbpfNodeIngress)) throw new Error('ebpf mode attached no program to eth0');
  return prog.datapath;
}

const spec: TcpFrameSpec = {
  srcMac: parseMac('ee:ee:ee:ee:ee:ee'),
  dstMac: parseMac('02:00:00:00:00:01'),
  src: 0,
  dst: 0,
  sport: 0,
  dport: 0,
  seq: 1000,
  ack: 0,
  flags: TcpFlag.SYN,
  window: 64240,
};

function writeFrame(
  buf: Uint8Array,
  at: number,
  src: number,
  sport: number,
  dst: number,
  dport: number,
  flags: number,
): void {
  spec.src = src;
  spec.dst = dst;
  spec.sport = sport;
  spec.dport = dport;
  spec.flags = flags;
  spec.ack = flags & TcpFlag.ACK ? 1 : 0;
  writeTcpFrame(buf, at, spec);
}

/** The per-mode work measured by the benny cases; built once per (mode, services). */
export interface Harness {
  readonly mode: ProxyMode;
  readonly services: number;
  readonly proxy: NodeProxy;
  newConn(): void;
  /** Destination address (u32) of the last newConn's packet after the node's work: the backend chosen. */
  lastDestination(): number;
  established(): void;
  /** Bytes of state one tracked flow costs. */
  perFlowBytes(): { value: number; note: string };
}

class NetfilterHarness implements Harness {
  private readonly nf: NodeNetfilter;
  private readonly ft: FiveTuple = newFiveTuple();
  private readonly work = new Uint8Array(FRAME);
  private readonly synTemplates = new Uint8Array(TEMPLATES * FRAME);
  private readonly ackTemplates = new Uint8Array(ESTABLISHED_FLOWS * FRAME);
  private readonly ipvs: IpvsNodeProgram | null;
  private j = 0;
  private e = 0;

  constructor(
    readonly mode: ProxyMode,
    readonly services: number,
    readonly proxy: NodeProxy,
    node: Host,
    rng: Rng,
  ) {
    this.nf = node.netfilter!;
    // IPVS mode compiles a node on its first packet: take the program itself.
    const program =
      this.nf.program instanceof LazyNetfilterProgram ? this.nf.program.built() : this.nf.program;
    this.ipvs = program instanceof IpvsNodeProgram ? program : null;
    const pod = (CLIENT_POD_NET | 2) >>> 0;
    for (let k = 0; k < TEMPLATES; k++) {
      const svc = rng.nextInt(services);
      writeFrame(
        this.synTemplates,
        k * FRAME,
        pod,
        1024,
        syntheticClusterIP(svc),
        SYNTHETIC_SERVICE_PORT,
        TcpFlag.SYN,
      );
    }
    this.openEstablishedFlows(rng);
    this.checkNewConn();
  }

  private parse(frame: Uint8Array): void {
    if (parseFiveTuple(frame, this.ft, 0, FRAME) !== ParseStatus.OK) throw new Error('bad frame');
  }

  /** A packet from the pod through the node's forward path: PREROUTING (+ IPVS INPUT), FORWARD, POSTROUTING. */
  private forward(frame: Uint8Array, nowNs: number, inIface: string, outIface: string): PathVerdict {
    const nf = this.nf;
    const ft = this.ft;
    let v = nf.trackAndRunDst(NfHook.PREROUTING, frame, ft, inIface, '', nowNs, null);
    if (v !== PathVerdict.CONTINUE) return v;
    if (this.ipvs !== null && nf.firstPacket) {
      v = nf.runHook(NfHook.INPUT, frame, ft, inIface, '', nowNs, null);
      if (v !== PathVerdict.CONTINUE) return v;
    } else {
      v = nf.runHook(NfHook.FORWARD, frame, ft, inIface, outIface, nowNs, null);
      if (v !== PathVerdict.CONTINUE) return v;
    }
    return nf.runPostrouting(frame, ft, inIface, outIface, NODE_IP, nowNs, null);
  }

  /** SYN, SYN-ACK from the backend, ACK: 1024 confirmed, established connections. */
  private openEstablishedFlows(rng: Rng): void {
    const pod = (CLIENT_POD_NET | 3) >>> 0;
    const reply = new Uint8Array(FRAME);
    for (let k = 0; k < ESTABLISHED_FLOWS; k++) {
      const vip = syntheticClusterIP(rng.nextInt(this.services));
      const sport = 20_000 + k;
      writeFrame(this.work, 0, pod, sport, vip, SYNTHETIC_SERVICE_PORT, TcpFlag.SYN);
      this.parse(this.work);
      if (this.forward(this.work, 0, POD_VETH, 'eth0') !== PathVerdict.CONTINUE)
        throw new Error(`${this.mode}: SYN of flow ${k} was not forwarded`);
      const backend = this.ft.daddr;
      const bport = this.ft.dport;
      if (backend === vip) throw new Error(`${this.mode}: SYN of flow ${k} was not DNATed`);
      writeFrame(reply, 0, backend, bport, pod, sport, SYN_ACK);
      this.parse(reply);
      if (this.forward(reply, 1000, 'eth0', POD_VETH) !== PathVerdict.CONTINUE)
        throw new Error(`${this.mode}: SYN-ACK of flow ${k} was dropped`);
      if (this.ft.saddr !== vip) throw new Error(`${this.mode}: SYN-ACK of flow ${k} was not un-DNATed`);
      writeFrame(this.ackTemplates, k * FRAME, pod, sport, vip, SYNTHETIC_SERVICE_PORT, TcpFlag.ACK);
      copyFrame(this.ackTemplates, k, this.work);
      this.parse(this.work);
      if (this.forward(this.work, 2000, POD_VETH, 'eth0') !== PathVerdict.CONTINUE)
        throw new Error(`${this.mode}: ACK of flow ${k} was dropped`);
    }
  }

  /** Before timing: 256 new connections must all be translated to a backend pod. */
  private checkNewConn(): void {
    for (let i = 0; i < 256; i++) {
      this.newConn();
      if ((this.ft.daddr & 0xff800000) >>> 0 !== POD_NET)
        throw new Error(
          `${this.mode}: a new connection was not DNATed to a pod (got ${this.ft.daddr >>> 0})`,
        );
    }
  }

  newConn(): void {
    const j = this.j++;
    const k = j & (TEMPLATES - 1);
    const w = this.work;
    copyFrame(this.synTemplates, k, w);
    rewriteSource(w, 14, (CLIENT_POD_NET + 16 + ((j >>> 14) & 0xfffff)) >>> 0, 1024 + (j & 0x3fff));
    this.parse(w);
    const nowNs = 1e10 + j * 1e6;
    const nf = this.nf;
    const v = nf.trackAndRunDst(NfHook.PREROUTING, w, this.ft, POD_VETH, '', nowNs, null);
    if (v === PathVerdict.CONTINUE && this.ipvs !== null)
      nf.runHook(NfHook.INPUT, w, this.ft, POD_VETH, '', nowNs, null);
    nf.abandon();
    // The kernel's per-connection timers: expire IPVS connections past their timeout.
    if (this.ipvs !== null && (j & 0x3fff) === 0) this.ipvs.ipvs.conns.expireDue(nowNs);
  }

  lastDestination(): number {
    return this.ft.daddr >>> 0;
  }

  established(): void {
    const k = this.e++ & (ESTABLISHED_FLOWS - 1);
    copyFrame(this.ackTemplates, k, this.work);
    this.parse(this.work);
    this.forward(this.work, 3000, POD_VETH, 'eth0');
  }

  perFlowBytes(): { value: number; note: string } {
    const ct = this.proxy.conntrack!;
    return { value: ct.byteLength / ct.max, note: 'nf_conntrack typed arrays / nf_conntrack_max' };
  }
}

class EbpfHarness implements Harness {
  readonly mode = 'ebpf' as const;
  private readonly dp: EbpfDatapath;
  private readonly work = new Uint8Array(FRAME);
  private readonly synTemplates = new Uint8Array(TEMPLATES * FRAME);
  private readonly ackTemplates = new Uint8Array(ESTABLISHED_FLOWS * FRAME);
  private j = 0;
  private e = 0;

  constructor(
    readonly services: number,
    readonly proxy: NodeProxy,
    node: Host,
    rng: Rng,
  ) {
    this.dp = ebpfDatapathOf(node);
    const pod = (CLIENT_POD_NET | 2) >>> 0;
    for (let k = 0; k < TEMPLATES; k++)
      writeFrame(
        this.synTemplates,
        k * FRAME,
        pod,
        1024,
        syntheticClusterIP(rng.nextInt(services)),
        SYNTHETIC_SERVICE_PORT,
        TcpFlag.SYN,
      );
    const pod3 = (CLIENT_POD_NET | 3) >>> 0;
    for (let k = 0; k < ESTABLISHED_FLOWS; k++) {
      const vip = syntheticClusterIP(rng.nextInt(services));
      writeFrame(this.work, 0, pod3, 20_000 + k, vip, SYNTHETIC_SERVICE_PORT, TcpFlag.SYN);
      this.dp.tcIngressPod(this.work, 0, FRAME, 1);
      if (this.dp.backendId === 0) throw new Error(`ebpf: SYN of flow ${k} was not load-balanced`);
      writeFrame(this.ackTemplates, k * FRAME, pod3, 20_000 + k, vip, SYNTHETIC_SERVICE_PORT, TcpFlag.ACK);
    }
    const before = this.dp.counters.dnat;
    for (let i = 0; i < 256; i++) this.newConn();
    if (this.dp.counters.dnat - before !== 256) throw new Error('ebpf: a new connection was not DNATed');
  }

  newConn(): void {
    const j = this.j++;
    const k = j & (TEMPLATES - 1);
    const w = this.work;
    copyFrame(this.synTemplates, k, w);
    rewriteSource(w, 14, (CLIENT_POD_NET + 16 + ((j >>> 14) & 0xfffff)) >>> 0, 1024 + (j & 0x3fff));
    this.dp.tcIngressPod(w, 0, FRAME, 10 + j * 1e-3);
  }

  lastDestination(): number {
    // tc rewrote the frame in place: the IPv4 destination at 14 + 16.
    const w = this.work;
    return ((w[30] << 24) | (w[31] << 16) | (w[32] << 8) | w[33]) >>> 0;
  }

  established(): void {
    const k = this.e++ & (ESTABLISHED_FLOWS - 1);
    copyFrame(this.ackTemplates, k, this.work);
    this.dp.tcIngressPod(this.work, 0, FRAME, 5);
  }

  perFlowBytes(): { value: number; note: string } {
    // A pod → service flow holds two CT entries: the CT_SERVICE one and the regular one.
    return {
      value: 2 * this.dp.lb.maps.ctBytesPerEntry(),
      note: 'two cilium_ct4_global entries (SERVICE + regular)',
    };
  }
}

/** `seed` drives the node's random choices and the Services the new connections aim at. */
export function buildHarness(
  mode: ProxyMode,
  model: ProxyModel,
  services: number,
  seed = HARNESS_SEED,
): Harness {
  const { node, proxy } = attachOne(mode, model, seed);
  const rng = new Rng(seed + services);
  return mode === 'ebpf'
    ? new EbpfHarness(services, proxy, node, rng)
    : new NetfilterHarness(mode, services, proxy, node, rng);
}

/** Native dump text bytes per Service (what the mode programs into the kernel, as text). */
export function perServiceDumpBytes(h: Harness): number {
  const p = h.proxy;
  const text =
    h.mode === 'ipvs'
      ? p.dump({ part: 'ipvsadm' }).length +
        p.dump({ part: 'ipset' }).length +
        p.dump({ part: 'iptables' }).length
      : p.dump().length;
  return text / h.services;
}

/** eBPF: bytes of the LB map entries in use per Service (services, backends, reverse NAT). */
export function ebpfMapBytesPerService(h: Harness, model: ProxyModel): number {
  const maps = ebpfDatapathOf(h.proxy.node).lb.maps;
  const backends = new Set<string>();
  for (const sp of model.servicePorts) for (const e of sp.endpoints) backends.add(`${e.ip}:${e.port}`);
  const bytes = maps.services.count * (3 + 3) * 4 + backends.size * 3 * 4 + maps.revNat.count * (1 + 2) * 4;
  return bytes / h.services;
}

/** Copies template frame `k` into `out` without creating a view (subarray allocates). */
function copyFrame(templates: Uint8Array, k: number, out: Uint8Array): void {
  const base = k * FRAME;
  for (let i = 0; i < FRAME; i++) out[i] = templates[base + i];
}
