/**
 * Per-mode scale benchmarks: what a proxy mode costs as the number of Services grows.
 *
 * - `newconn/<mode>/services=<n>` (benny, ops/s): the first packet of a new connection, pod →
 *   ClusterIP of a Service picked uniformly at random (so iptables walks on average half of
 *   KUBE-SERVICES, as kube-proxy's real first-packet latency does), through the node's work:
 *   conntrack miss + the mode's rules/maps + DNAT binding + byte rewrite with checksums.
 *   iptables/nftables: NodeNetfilter.trackAndRunDst at PREROUTING; IPVS: PREROUTING then
 *   INPUT, where IPVS schedules and DNATs; eBPF: EbpfDatapath.tcIngressPod. Each op copies a
 *   pre-built 54-byte SYN and gives it a fresh source (address, port) with an incremental
 *   checksum update — the same small overhead in every mode. The unconfirmed conntrack entry is
 *   released after the hook (the packet "ends" there), so the table does not fill; the IPVS
 *   connection table is expired as the kernel's timers would (1 ms of simulated time per
 *   connection); the eBPF CT map is an LRU and runs full after ~65 k ops, as on a busy node.
 * - `established/<mode>/services=<n>` (benny): a packet of one of 1024 established flows
 *   (handshake done through the same path), conntrack hit, through PREROUTING + FORWARD +
 *   POSTROUTING (netfilter modes) or tc ingress (eBPF).
 * - `compile-full|compile-incremental/<mode>/services=<n>` (.extra.json, ms): what the
 *   simulator does on a sync (NodeProxy.sync from src/sim/modes.ts) with 10 endpoints per
 *   Service. Full: a fresh proxy for the model. Incremental: one endpoint of one Service
 *   changed, the sync told which Service. iptables, nftables and IPVS recompile their whole
 *   tables on every sync (kube-proxy's full sync; partial sync is not modelled), so their
 *   incremental figure is another full compile; eBPF's `lb.sync(model, changed)` re-plans and
 *   rewrites only that Service's frontends. Timed by hand (median of a few runs; one at 10 k
 *   Services where a run takes seconds; 21 for eBPF's sub-millisecond incremental sync).
 * - `memory/<mode>/per=flow` (bytes per tracked flow) and `memory-per-service/<mode>/services=<n>`
 *   (native dump text bytes per Service; `ebpf-maps`: LB map entry bytes) in .extra.json.
 *
 * Each (mode, size) harness is built, measured and dropped before the next (one small benny
 * suite each; the results are merged into one benny-shaped file), so at most one 30 k-Service
 * table set is alive at a time. Run alone: `npx tsx bench/modes.bench.ts` (~2½ minutes on a
 * 2-core machine with other work competing; building the 30 k-Service tables, iptables above
 * all, is a third of it — `DPSIM_BENCH_QUICK=1` runs small sizes only). Writes
 * bench/results/modes.{json,csv,extra.json}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import b from 'benny';
import type { CaseResult, Summary } from 'benny/lib/internal/common-types.js';
import type { ExtraCase, ExtraFile } from '../src/bench/results.js';
import { PROXY_MODES, type ProxyMode } from '../src/proxy/common/datapath.js';
import type { ProxyModel } from '../src/proxy/common/model.js';
import { NfHook } from '../src/proxy/common/packet-meta.js';
import { DEFAULT_MAP_SIZES, type EbpfDatapath } from '../src/proxy/ebpf/index.js';
import { EbpfNodeIngress } from '../src/proxy/ebpf/node-program.js';
import { IpvsNodeProgram } from '../src/proxy/ipvs/node-program.js';
import { attachMode, type NodeProxy } from '../src/sim/modes.js';
import { buildClusterTopology } from '../src/topology/build.js';
import type { Host } from '../src/topology/host.js';
import { type NodeNetfilter, PathVerdict } from '../src/topology/netfilter-path.js';
import {
  SYNTHETIC_NODES,
  SYNTHETIC_SERVICE_PORT,
  syntheticClusterIP,
  syntheticModel,
  withOneEndpointChanged,
} from '../src/traffic/synthetic-model.js';
import { Rng } from '../src/util/rng.js';
import {
  type FiveTuple,
  newFiveTuple,
  ParseStatus,
  parseFiveTuple,
  rewriteSource,
  type TcpFrameSpec,
  writeTcpFrame,
} from '../src/wire/index.js';
import { parseMac } from '../src/wire/mac.js';
import { TcpFlag } from '../src/wire/tcp.js';

const RESULTS = 'bench/results';
/** DPSIM_BENCH_QUICK=1: small sizes only, to check the suite works (figures not comparable). */
const QUICK = process.env.DPSIM_BENCH_QUICK === '1';
const NEWCONN_SIZES = QUICK ? [100, 1_000, 2_000] : [100, 1_000, 10_000, 30_000];
const ESTABLISHED_SIZES = QUICK ? [100, 2_000] : [100, 10_000];
const COMPILE_SIZES = QUICK ? [1_000] : [1_000, 10_000];
const MEMORY_SIZES = QUICK ? [1_000, 2_000] : [1_000, 10_000];
const FRAME = 54;
const TEMPLATES = 4096;
const ESTABLISHED_FLOWS = 1024;
const SEED = 17;
const CASE_OPTIONS = { minSamples: 3, maxTime: 0.6 };
/** Size whose harness gives `memory/<mode>/per=flow` (the per-flow cost does not depend on it). */
const PER_FLOW_SIZE = 1_000;
/** eBPF's incremental sync is sub-millisecond: a median of many runs costs nothing. */
const EBPF_INCREMENTAL_RUNS = 21;
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

const log = (s: string) => process.stderr.write(`${s}\n`);

function elapsedMs<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}

/** One node (node1) carrying `mode` for `model`, wired exactly as the simulator wires it. */
function attachOne(mode: ProxyMode, model: ProxyModel): { node: Host; proxy: NodeProxy } {
  const rng = new Rng(SEED);
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
    this.ipvs = this.nf.program instanceof IpvsNodeProgram ? this.nf.program : null;
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

export function buildHarness(mode: ProxyMode, model: ProxyModel, services: number): Harness {
  const { node, proxy } = attachOne(mode, model);
  const rng = new Rng(SEED + services);
  return mode === 'ebpf'
    ? new EbpfHarness(services, proxy, node, rng)
    : new NetfilterHarness(mode, services, proxy, node, rng);
}

/** Native dump text bytes per Service (what the mode programs into the kernel, as text). */
function perServiceDumpBytes(h: Harness): number {
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
function ebpfMapBytesPerService(h: Harness, model: ProxyModel): number {
  const maps = ebpfDatapathOf(h.proxy.node).lb.maps;
  const backends = new Set<string>();
  for (const sp of model.servicePorts) for (const e of sp.endpoints) backends.add(`${e.ip}:${e.port}`);
  const bytes = maps.services.count * (3 + 3) * 4 + backends.size * 3 * 4 + maps.revNat.count * (1 + 2) * 4;
  return bytes / h.services;
}

interface CompileTiming {
  full: number;
  incremental: number;
  runs: number;
  incrementalRuns: number;
}

/** Copies template frame `k` into `out` without creating a view (subarray allocates). */
function copyFrame(templates: Uint8Array, k: number, out: Uint8Array): void {
  const base = k * FRAME;
  for (let i = 0; i < FRAME; i++) out[i] = templates[base + i];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * Full: a fresh node proxy for the model (median of `runs`). Incremental: NodeProxy.sync after
 * one endpoint of one Service changed, told which Service (median of `runs`, or of
 * EBPF_INCREMENTAL_RUNS for eBPF, whose incremental sync costs well under a millisecond).
 * Each change builds on the last, so the model the proxy holds differs from the next one in
 * exactly the Service named.
 */
function timeCompile(mode: ProxyMode, model: ProxyModel, runs: number): CompileTiming {
  const full: number[] = [];
  let attached: { node: Host; proxy: NodeProxy } | null = null;
  for (let r = 0; r < runs; r++) {
    attached = null;
    const [a, ms] = elapsedMs(() => attachOne(mode, model));
    attached = a;
    full.push(ms);
  }
  const incremental: number[] = [];
  const incrementalRuns = mode === 'ebpf' ? EBPF_INCREMENTAL_RUNS : runs;
  let current = model;
  for (let r = 0; r < incrementalRuns; r++) {
    const service = (r * 7919) % model.servicePorts.length;
    current = withOneEndpointChanged(current, service, r + 1);
    const changed = new Set([current.servicePorts[service].servicePortName]);
    const next = current;
    incremental.push(elapsedMs(() => attached!.proxy.sync(next, changed))[1]);
  }
  return { full: median(full), incremental: median(incremental), runs, incrementalRuns };
}

function modesAvailable(): ProxyMode[] {
  const out: ProxyMode[] = [];
  const probe = syntheticModel({ services: 10 });
  for (const mode of PROXY_MODES) {
    try {
      buildHarness(mode, probe, 10);
      out.push(mode);
    } catch (e) {
      log(`modes bench: ${mode} mode left out: ${(e as Error).message}`);
    }
  }
  return out;
}

/** One benny case: its name and the op it times. */
interface TimedCase {
  readonly name: string;
  readonly fn: () => void;
}

/**
 * Runs `cases` as one small benny suite and returns its results. One suite per harness: benny
 * prepares every case of a suite before running any, so a single suite would keep every
 * (mode, size) harness — gigabytes at 30 k Services — alive at once.
 */
async function timeCases(title: string, cases: readonly TimedCase[]): Promise<CaseResult[]> {
  const summary = await b.suite(title, ...cases.map((c) => b.add(c.name, c.fn, CASE_OPTIONS)), b.cycle());
  return summary.results;
}

/** The per-harness suites as one, in benny's summary shape (percentSlower against the fastest of all). */
function mergeResults(name: string, results: readonly CaseResult[]): Summary {
  const fastest = results.reduce((f, r, i) => (r.ops > results[f].ops ? i : f), 0);
  const slowest = results.reduce((f, r, i) => (r.ops < results[f].ops ? i : f), 0);
  return {
    name,
    date: new Date(),
    results: results.map((r, i) => ({
      ...r,
      percentSlower: i === fastest ? 0 : Number(((1 - r.ops / results[fastest].ops) * 100).toFixed(2)),
    })),
    fastest: { name: results[fastest].name, index: fastest },
    slowest: { name: results[slowest].name, index: slowest },
  };
}

/** bench/results/modes.{json,csv} exactly as benny's `save` writes them (without details). */
function saveLikeBenny(summary: Summary, file: string): void {
  const rows = summary.results.map(({ name, ops, margin, percentSlower }) => ({
    name,
    ops,
    margin,
    percentSlower,
  }));
  const json = {
    name: summary.name,
    date: summary.date.toISOString(),
    version: null,
    results: rows,
    fastest: summary.fastest,
    slowest: summary.slowest,
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `${file}.json`), JSON.stringify(json, null, 2));
  const csv = [
    '"name","ops","margin","percentSlower"',
    ...rows.map((r) => `${JSON.stringify(r.name)},${r.ops},${r.margin},${r.percentSlower}`),
  ];
  writeFileSync(join(RESULTS, `${file}.csv`), csv.join('\n'));
  log(`Saved to: ${join(RESULTS, `${file}.json`)} and .csv`);
}

export default async function run(): Promise<Summary> {
  const started = performance.now();
  const modes = modesAvailable();
  const extra: ExtraCase[] = [];
  const notes: string[] = [];

  // ---- new connections and established flows: each (mode, size) harness is built, measured
  // (memory first: dumps of big tables are slow to render, and timing runs fill the CT tables)
  // and dropped before the next one is built.
  const results: CaseResult[] = [];
  for (const n of NEWCONN_SIZES) {
    const model = syntheticModel({ services: n });
    for (const mode of modes) {
      const [h, ms] = elapsedMs(() => buildHarness(mode, model, n));
      log(`built ${mode} for ${n} Services in ${(ms / 1000).toFixed(1)} s`);
      if (n === PER_FLOW_SIZE) {
        const flow = h.perFlowBytes();
        extra.push({ name: `memory/${mode}/per=flow`, value: flow.value, unit: 'B' });
        notes.push(`memory/${mode}/per=flow: ${flow.note}`);
      }
      if (MEMORY_SIZES.includes(n)) {
        extra.push({
          name: `memory-per-service/${mode}/services=${n}`,
          value: perServiceDumpBytes(h),
          unit: 'B (native dump text)',
        });
        if (mode === 'ebpf')
          extra.push({
            name: `memory-per-service/ebpf-maps/services=${n}`,
            value: ebpfMapBytesPerService(h, model),
            unit: 'B (LB map entries)',
          });
      }
      const cases: TimedCase[] = [{ name: `newconn/${mode}/services=${n}`, fn: () => h.newConn() }];
      if (ESTABLISHED_SIZES.includes(n))
        cases.push({ name: `established/${mode}/services=${n}`, fn: () => h.established() });
      results.push(...(await timeCases(`modes: ${mode} with ${n} Services`, cases)));
    }
  }
  const summary = mergeResults(
    'modes: first packet of a new connection and established packets vs number of ClusterIP Services',
    results,
  );
  console.table(
    summary.results.map((r) => ({
      case: r.name,
      'ops/s': r.ops,
      'µs/op': (1e6 / r.ops).toFixed(2),
      '±%': r.margin,
    })),
  );
  saveLikeBenny(summary, 'modes');

  // ---- compile time, full and incremental, 10 endpoints per Service (timed by hand).
  for (const n of COMPILE_SIZES) {
    const model = syntheticModel({ services: n, endpointsOf: () => 10 });
    for (const mode of modes) {
      const t = timeCompile(mode, model, n >= 10_000 ? 1 : 3);
      extra.push({ name: `compile-full/${mode}/services=${n}`, value: t.full, unit: 'ms' });
      extra.push({ name: `compile-incremental/${mode}/services=${n}`, value: t.incremental, unit: 'ms' });
      log(
        `compile ${mode} ${n}×10: full ${t.full.toFixed(0)} ms (median of ${t.runs}), ` +
          `incremental ${t.incremental.toFixed(3)} ms (median of ${t.incrementalRuns})`,
      );
    }
  }
  notes.push(
    'compile-incremental: iptables, nftables and ipvs recompile whole tables on each sync (full sync; partial sync not modelled); ebpf re-plans only the changed Service (lb.sync(model, changed))',
  );

  const opsOf = (name: string) => summary.results.find((r) => r.name === name)?.ops ?? Number.NaN;
  const file: ExtraFile = { cases: extra };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'modes.extra.json'), `${JSON.stringify(file, null, 2)}\n`);

  // ---- the compact summary: ratios within this run.
  const value = (name: string) => extra.find((c) => c.name === name)?.value ?? Number.NaN;
  const lo = NEWCONN_SIZES[0];
  const hi = NEWCONN_SIZES[NEWCONN_SIZES.length - 1];
  const [eLo, eHi] = [ESTABLISHED_SIZES[0], ESTABLISHED_SIZES[ESTABLISHED_SIZES.length - 1]];
  const cHi = COMPILE_SIZES[COMPILE_SIZES.length - 1];
  const mHi = MEMORY_SIZES[MEMORY_SIZES.length - 1];
  console.table(
    modes.map((mode) => {
      const usLo = 1e6 / opsOf(`newconn/${mode}/services=${lo}`);
      const usHi = 1e6 / opsOf(`newconn/${mode}/services=${hi}`);
      return {
        mode,
        [`newconn µs @${lo}`]: usLo.toFixed(2),
        [`newconn µs @${hi}`]: usHi.toFixed(2),
        [`cost ×(${hi}/${lo})`]: (usHi / usLo).toFixed(2),
        [`estab µs @${eLo}`]: (1e6 / opsOf(`established/${mode}/services=${eLo}`)).toFixed(2),
        [`estab µs @${eHi}`]: (1e6 / opsOf(`established/${mode}/services=${eHi}`)).toFixed(2),
        [`compile full @${cHi} ms`]: value(`compile-full/${mode}/services=${cHi}`).toFixed(0),
        [`compile incr @${cHi} ms`]: value(`compile-incremental/${mode}/services=${cHi}`).toFixed(3),
        'B/flow': value(`memory/${mode}/per=flow`).toFixed(0),
        [`B/svc text @${mHi}`]: value(`memory-per-service/${mode}/services=${mHi}`).toFixed(0),
      };
    }),
  );
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`modes bench: ${((performance.now() - started) / 1000).toFixed(0)} s in all`);
  return summary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await run();
}
