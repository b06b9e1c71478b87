/**
 * The load generator: synthetic TCP flows through a whole simulated cluster.
 *
 * F flows, each from the external client or from a pod to one of the scenario's Service
 * frontends (the client uses NodePorts / external IPs / LoadBalancer IPs when the Service
 * has them, else the ClusterIP via its default route; pods use ClusterIPs). Each of the N
 * packets picks a flow by popularity (uniform or Zipf) and is written as raw bytes into the
 * network's frame pool and sent by the source host (`Host.output`: routing, the node's
 * netfilter or tc programs, NAT, every link) — the pump carries it to the backend pod.
 *
 * TCP stays honest, so a capture of the run reads as clean TCP: a flow's first packet is a
 * SYN; the backend pod's own TCP stack answers SYN-ACK, which comes back through the reverse
 * NAT to the source, where the generator (not the source's stack) takes it and answers the
 * handshake's ACK. Each later pick of the flow sends one HTTP/1.1 request (real payload, PSH),
 * the pod's HTTP responder answers it on the same keep-alive connection, and the generator
 * acknowledges every segment of the answer with the exact sequence numbers. A flow that was
 * reset (RST or ICMP error) sends a fresh SYN when picked again. At the end every established
 * flow is closed as curl closes: FIN from the source, the pod's FIN, the last ACK.
 *
 * Attribution: a flow's initial sequence number is 2·(flow index), so the pod that receives
 * the SYN knows which flow it is whatever NAT happened on the way (NAT never touches sequence
 * numbers); it remembers the flow by the (NATed) source address and port it sees on its own
 * port, for the flow's later segments. That gives the per-backend distribution without
 * trusting the proxy's own bookkeeping.
 *
 * Packets are injected in a closed loop (each one after the previous has been delivered or
 * dropped), or, with `rate`, at fixed simulated-time intervals with frames overlapping.
 */

import type { TcpSegment } from '../apps/transport.js';
import { DNS_NAMESPACE, isDnsAddonService } from '../k8s/cluster-dns-addon.js';
import type { ServicePort } from '../proxy/common/model.js';
import type { Simulation } from '../sim/simulation.js';
import type { Host, TcpReceiver } from '../topology/host.js';
import { formatIPv4, parseIPv4 } from '../util/ipv4.js';
import { Rng } from '../util/rng.js';
import { type TcpFrameSpec, writeTcpFrame } from '../wire/build.js';
import { TcpFlag } from '../wire/tcp.js';
import type { AppliedChurn, ChurnEvent } from './churn.js';
import { type FairnessSummary, fairness } from './fairness.js';
import { runPickLoop } from './pick-loop.js';
import type { PopularityLaw } from './popularity.js';

const WINDOW = 65535;
/** Generator source ports: above the Service/NodePort ranges, below nothing a pod listens on. */
export const LOAD_PORT_MIN = 33000;
export const LOAD_PORT_MAX = 60999;
const PORTS_PER_SOURCE = LOAD_PORT_MAX - LOAD_PORT_MIN + 1;
const ZERO_MAC = new Uint8Array(6);

const enum FlowState {
  UNOPENED = 0,
  SYN_SENT = 1,
  ESTABLISHED = 2,
  RESET = 3,
  /** The source sent its FIN (end of the run). */
  CLOSING = 4,
  /** Both FINs exchanged. */
  CLOSED = 5,
}

export class LoadError extends Error {
  override name = 'LoadError';
}

export interface LoadOptions {
  readonly flows: number;
  readonly packets: number;
  readonly dist?: PopularityLaw;
  readonly zipfExponent?: number;
  /** Packets per simulated second; 0 or absent: closed loop (one packet in flight at a time). */
  readonly rate?: number;
  readonly churn?: readonly ChurnEvent[];
  readonly seed?: number;
  /** Called every `progressEvery` packets and at the end. */
  readonly onProgress?: (sent: number, total: number) => void;
  readonly progressEvery?: number;
}

export interface BackendShare {
  readonly pod: string;
  readonly node: string;
  /** Flows whose SYN this pod received (a flow re-placed after a reset counts again). */
  readonly flows: number;
  /** Non-SYN segments of generator flows the pod received (handshake ACKs and data). */
  readonly packets: number;
  /** The pod was deleted (by churn) before the end of the run. */
  readonly deleted: boolean;
}

export interface ServiceDistribution {
  /** `namespace/name[:port]`. */
  readonly service: string;
  readonly backends: readonly BackendShare[];
  /** Over the flows per backend, among the Service's endpoints and any pod that got flows. */
  readonly fairness: FairnessSummary;
}

export interface ConntrackOccupancy {
  readonly node: string;
  /** nf_conntrack entries, or the eBPF CT map's entries (two per service flow: SERVICE + regular). */
  readonly entries: number;
  readonly max: number;
  readonly table: 'nf_conntrack' | 'cilium_ct4_global' | 'cilium_ct_any4_global';
}

export interface LoadReport {
  /** The transport: 'tcp' (this generator) or 'sctp' (sctp-generator.ts), whose counters reuse the TCP names (see formatLoadReport). */
  readonly proto: 'tcp' | 'sctp';
  readonly mode: string;
  readonly seed: number;
  readonly dist: PopularityLaw;
  readonly rate: number | null;
  readonly flows: {
    readonly population: number;
    /** Flows that sent at least one SYN. */
    readonly opened: number;
    /** Flows whose handshake completed at the source (SYN-ACK came back). */
    readonly established: number;
    /** SYN placements on a backend pod (sum of the per-backend flow counts). */
    readonly delivered: number;
    /** RSTs or ICMP errors received for generator flows. */
    readonly resets: number;
  };
  readonly packets: {
    readonly requested: number;
    /** The N picks plus the handshake ACKs (what Mpps counts). */
    readonly injected: number;
    readonly syn: number;
    readonly handshakeAcks: number;
    /** Picks on an established flow: one HTTP request each. */
    readonly data: number;
    /** ACKs the sources sent for the pods' answers (and their FINs); not in `injected`. */
    readonly replyAcks: number;
    /** FINs that closed the established flows after the run; not in `injected`. */
    readonly fins: number;
    /** Picks skipped because the flow's source pod had been deleted by churn. */
    readonly skippedSourceGone: number;
    /** Generator segments that reached a backend pod's TCP stack. */
    readonly deliveredToBackends: number;
  };
  readonly wallSeconds: number;
  /** Injected packets per wall-clock second, in millions. */
  readonly mpps: number;
  /** Frames handed to an interface (every hop of every packet, replies included). */
  readonly interfaceTraversals: number;
  readonly traversalsPerSecond: number;
  readonly simulatedSeconds: number;
  /** Drops by reason over the whole run (tc programs' reasons as `TC_PROGRAM:<reason>`). */
  readonly drops: Readonly<Record<string, number>>;
  readonly services: readonly ServiceDistribution[];
  readonly conntrack: readonly ConntrackOccupancy[];
  readonly churn: readonly AppliedChurn[];
}

interface Target {
  readonly daddr: number;
  readonly dport: number;
  readonly service: number;
}

interface Source {
  readonly host: Host;
  readonly name: string;
  readonly addr: number;
  readonly targets: readonly Target[];
  /** Flow index per source port (−1: not a generator port). */
  readonly flowOfPort: Int32Array;
  nextPort: number;
}

interface Backend {
  readonly host: Host;
  readonly pod: string;
  readonly node: string;
  flows: number;
  packets: number;
  /** Per port of the pod: the flow behind each (source address · 65536 + source port) it saw a SYN from. */
  readonly peers: Map<number, Map<number, number>>;
}

/** Frontends a source can use for one Service port. */
export function frontendsFor(sp: ServicePort, fromClient: boolean, nodeIps: readonly string[]): string[] {
  if (fromClient) {
    const external = [...sp.externalIPs, ...sp.loadBalancerIPs].map((ip) => `${ip}:${sp.port}`);
    if (sp.nodePort !== 0) external.push(...nodeIps.map((ip) => `${ip}:${sp.nodePort}`));
    if (external.length > 0) return external;
  }
  return [`${sp.clusterIP}:${sp.port}`];
}

/** The source's end of a flow: takes SYN-ACKs, RSTs and ICMP errors of generator flows, passes the rest on. */
class GeneratorReceiver implements TcpReceiver {
  constructor(
    private readonly gen: LoadGenerator,
    private readonly source: number,
    /** The host's own receiver (its TCP stack), or a backend counter in front of it. */
    public inner: TcpReceiver | null,
  ) {}

  receive(seg: TcpSegment): void {
    if (!this.gen.takeReply(this.source, seg)) this.inner?.receive(seg);
  }

  receiveIcmpError(type: number, code: number, quoted: TcpSegment): void {
    if (!this.gen.takeIcmpError(this.source, quoted)) this.inner?.receiveIcmpError(type, code, quoted);
  }
}

/** The backend's side: counts generator segments per pod, then hands them to the pod's stack. */
class BackendCounter implements TcpReceiver {
  constructor(
    private readonly gen: LoadGenerator,
    private readonly backend: number,
    readonly inner: TcpReceiver | null,
  ) {}

  receive(seg: TcpSegment): void {
    this.gen.countAtBackend(this.backend, seg);
    this.inner?.receive(seg);
  }

  receiveIcmpError(type: number, code: number, quoted: TcpSegment): void {
    this.inner?.receiveIcmpError(type, code, quoted);
  }
}

export class LoadGenerator {
  readonly flows: number;
  private readonly sim: Simulation;
  private readonly options: LoadOptions;
  private readonly rng: Rng;
  private readonly sources: Source[] = [];
  private readonly serviceNames: string[] = [];
  private readonly backends: Backend[] = [];
  private readonly backendOf = new Map<Host, number>();
  /** Flows and packets per [service][backend], grown as pods appear. */
  private readonly serviceBackendFlows: number[][] = [];
  private readonly serviceBackendPackets: number[][] = [];

  private readonly flowSource: Uint16Array;
  private readonly flowSport: Uint16Array;
  private readonly flowDaddr: Uint32Array;
  private readonly flowDport: Uint16Array;
  private readonly flowService: Uint16Array;
  private readonly flowState: Uint8Array;
  private readonly flowServerIsn: Uint32Array;
  /** The source's next sequence number, and the next one it expects from the pod (its ACK). */
  private readonly flowClientNext: Uint32Array;
  private readonly flowServerNext: Uint32Array;
  /** The HTTP request a flow sends, per service. */
  private readonly requests: Uint8Array[] = [];
  /** Once the run is over (closing the flows), segments are no longer counted at the backends. */
  private closing = false;
  private readonly flowBackend: Int32Array;
  private readonly spec: TcpFrameSpec;

  private syn = 0;
  private handshakeAcks = 0;
  private data = 0;
  private skipped = 0;
  private established = 0;
  private delivered = 0;
  private resets = 0;
  private atBackends = 0;
  private replyAcks = 0;
  private fins = 0;

  constructor(sim: Simulation, options: LoadOptions) {
    if (!Number.isInteger(options.flows) || options.flows < 1)
      throw new LoadError(`--flows must be a positive integer, got ${options.flows}`);
    if (!Number.isInteger(options.packets) || options.packets < 0)
      throw new LoadError(`--packets must be a non-negative integer, got ${options.packets}`);
    if (options.rate !== undefined && !(options.rate >= 0 && Number.isFinite(options.rate)))
      throw new LoadError(
        `--rate must be a non-negative number of packets per simulated second, got ${options.rate}`,
      );
    this.sim = sim;
    this.options = options;
    this.flows = options.flows;
    this.rng = new Rng(options.seed ?? 1);
    const f = options.flows;
    this.flowSource = new Uint16Array(f);
    this.flowSport = new Uint16Array(f);
    this.flowDaddr = new Uint32Array(f);
    this.flowDport = new Uint16Array(f);
    this.flowService = new Uint16Array(f);
    this.flowState = new Uint8Array(f);
    this.flowServerIsn = new Uint32Array(f);
    this.flowClientNext = new Uint32Array(f);
    this.flowServerNext = new Uint32Array(f);
    this.flowBackend = new Int32Array(f).fill(-1);
    this.spec = {
      srcMac: ZERO_MAC,
      dstMac: ZERO_MAC,
      src: 0,
      dst: 0,
      sport: 0,
      dport: 0,
      seq: 0,
      ack: 0,
      flags: 0,
      window: WINDOW,
    };
    this.buildSources();
    this.buildFlows();
    this.attachBackends();
  }

  private buildSources(): void {
    const sim = this.sim;
    const servicePorts = sim.model.servicePorts.filter(
      (sp) =>
        sp.protocol === 'TCP' &&
        !(sp.namespace === 'default' && sp.name === 'kubernetes') &&
        !isDnsAddonService(sp.namespace, sp.name),
    );
    if (servicePorts.length === 0)
      throw new LoadError(
        'the scenario has no TCP Service to send traffic to (besides default/kubernetes and kube-system/kube-dns)',
      );
    for (const sp of servicePorts) {
      this.serviceNames.push(sp.servicePortName);
      this.requests.push(
        new Uint8Array(
          Buffer.from(
            `GET / HTTP/1.1\r\nHost: ${sp.name}.${sp.namespace}\r\nUser-Agent: dpsim-load\r\nAccept: */*\r\n\r\n`,
            'latin1',
          ),
        ),
      );
    }
    const nodeIps = sim.model.nodes.map((n) => n.ip);
    const hosts: [string, Host][] = [['client', sim.topology.client]];
    // Every pod is a source but the DNS add-on's (kube-system), which sends no HTTP.
    for (const [key, pod] of [...sim.topology.pods].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
      if (!key.startsWith(`${DNS_NAMESPACE}/`)) hosts.push([`pod/${key}`, pod]);
    for (const [name, host] of hosts) {
      const fromClient = host === sim.topology.client;
      const targets: Target[] = [];
      servicePorts.forEach((sp, service) => {
        for (const fe of frontendsFor(sp, fromClient, nodeIps)) {
          const [ip, port] = fe.split(':');
          targets.push({ daddr: parseIPv4(ip), dport: Number(port), service });
        }
      });
      const addr = host.interfaces.find((i) => i.addr !== 0)?.addr ?? 0;
      if (addr === 0) continue;
      const index = this.sources.length;
      this.sources.push({
        host,
        name,
        addr,
        targets,
        flowOfPort: new Int32Array(65536).fill(-1),
        nextPort: LOAD_PORT_MIN,
      });
      host.tcp = new GeneratorReceiver(this, index, host.tcp);
    }
    if (this.flows > this.sources.length * PORTS_PER_SOURCE) {
      throw new LoadError(
        `--flows ${this.flows} is more than the ${this.sources.length} sources × ${PORTS_PER_SOURCE} source ports can hold`,
      );
    }
  }

  private buildFlows(): void {
    const rng = this.rng.fork();
    for (let f = 0; f < this.flows; f++) {
      let s = rng.nextInt(this.sources.length);
      while (this.sources[s].nextPort > LOAD_PORT_MAX) s = (s + 1) % this.sources.length;
      const src = this.sources[s];
      const t = src.targets[rng.nextInt(src.targets.length)];
      const port = src.nextPort++;
      src.flowOfPort[port] = f;
      this.flowSource[f] = s;
      this.flowSport[f] = port;
      this.flowDaddr[f] = t.daddr;
      this.flowDport[f] = t.dport;
      this.flowService[f] = t.service;
    }
  }

  /** Wraps every pod's TCP receiver with a counter (again after churn plugged new pods). */
  private attachBackends(): void {
    const t = this.sim.topology;
    for (const [key, pod] of t.pods) {
      if (this.backendOf.has(pod)) continue;
      const node = t.podVeths.get(key)?.host.name ?? '';
      const index = this.backends.length;
      this.backends.push({ host: pod, pod: key, node, flows: 0, packets: 0, peers: new Map() });
      this.backendOf.set(pod, index);
      // A pod that is also a source keeps the generator's receiver outermost.
      const outer = pod.tcp;
      if (outer instanceof GeneratorReceiver) {
        outer.inner = new BackendCounter(this, index, outer.inner);
      } else {
        pod.tcp = new BackendCounter(this, index, outer);
      }
    }
    for (let s = 0; s < this.serviceNames.length; s++) {
      if (this.serviceBackendFlows.length <= s) this.serviceBackendFlows.push([]);
      if (this.serviceBackendPackets.length <= s) this.serviceBackendPackets.push([]);
      const flows = this.serviceBackendFlows[s];
      const packets = this.serviceBackendPackets[s];
      while (flows.length < this.backends.length) flows.push(0);
      while (packets.length < this.backends.length) packets.push(0);
    }
  }

  // ------------------------------------------------------------ per packet

  /** Flow index of a generator segment seen by a pod: the ISN is 2·flow. */
  private flowOfSequence(seq: number): number {
    const f = seq >>> 1;
    return f < this.flows ? f : -1;
  }

  countAtBackend(backend: number, seg: TcpSegment): void {
    if (this.closing || (seg.flags & (TcpFlag.RST | TcpFlag.FIN)) !== 0) return;
    const b = this.backends[backend];
    // The pod sees the flow by its (NATed) source on its own port: remembered at the SYN.
    const peerKey = seg.src * 65536 + seg.sport;
    let byPort = b.peers.get(seg.dport);
    if ((seg.flags & TcpFlag.SYN) !== 0) {
      const f = this.flowOfSequence(seg.seq);
      if (f < 0) return;
      if (byPort === undefined) {
        byPort = new Map();
        b.peers.set(seg.dport, byPort);
      }
      byPort.set(peerKey, f);
      this.atBackends++;
      if (this.flowBackend[f] === backend) return; // a retransmitted SYN
      this.flowBackend[f] = backend;
      b.flows++;
      this.delivered++;
      this.serviceBackendFlows[this.flowService[f]][backend]++;
    } else {
      const f = byPort?.get(peerKey);
      if (f === undefined) return;
      // The picks: the handshake's ACK (it acknowledges the SYN-ACK alone) and the requests;
      // not the ACKs of the pod's answers.
      if (seg.payload.length === 0 && seg.ack !== (this.flowServerIsn[f] + 1) >>> 0) return;
      this.atBackends++;
      b.packets++;
      this.serviceBackendPackets[this.flowService[f]][backend]++;
    }
  }

  /** A segment arrived at source `source`; true when it belonged to a generator flow. */
  takeReply(source: number, seg: TcpSegment): boolean {
    const src = this.sources[source];
    if (seg.dst !== src.addr) return false;
    const f = src.flowOfPort[seg.dport];
    if (f < 0) return false;
    if ((seg.flags & TcpFlag.RST) !== 0) {
      if (this.flowState[f] !== FlowState.RESET) this.resets++;
      this.flowState[f] = FlowState.RESET;
      return true;
    }
    const synAck = TcpFlag.SYN | TcpFlag.ACK;
    if ((seg.flags & synAck) === synAck && seg.ack === (2 * f + 1) >>> 0) {
      if (this.flowState[f] === FlowState.SYN_SENT) {
        this.flowState[f] = FlowState.ESTABLISHED;
        this.flowServerIsn[f] = seg.seq;
        this.flowServerNext[f] = (seg.seq + 1) >>> 0;
        this.flowClientNext[f] = (2 * f + 1) >>> 0;
        this.established++;
      }
      // The handshake's ACK (also re-sent for a retransmitted SYN-ACK, as TCP does).
      if (this.flowState[f] === FlowState.ESTABLISHED) {
        this.send(f, TcpFlag.ACK);
        this.handshakeAcks++;
      }
      return true;
    }
    // The pod's answer (or its FIN): acknowledged segment by segment, as the client's TCP would.
    const state = this.flowState[f];
    const fin = (seg.flags & TcpFlag.FIN) !== 0 ? 1 : 0;
    if ((state === FlowState.ESTABLISHED || state === FlowState.CLOSING) && seg.payload.length + fin > 0) {
      if (seg.seq === this.flowServerNext[f])
        this.flowServerNext[f] = (seg.seq + seg.payload.length + fin) >>> 0;
      this.send(f, TcpFlag.ACK);
      this.replyAcks++;
      if (fin === 1 && state === FlowState.CLOSING) this.flowState[f] = FlowState.CLOSED;
    }
    return true;
  }

  takeIcmpError(source: number, quoted: TcpSegment): boolean {
    const src = this.sources[source];
    if (quoted.src !== src.addr) return false;
    const f = src.flowOfPort[quoted.sport];
    if (f < 0) return false;
    if (this.flowState[f] !== FlowState.RESET) this.resets++;
    this.flowState[f] = FlowState.RESET;
    return true;
  }

  /** Writes flow f's next segment into a pool slot and sends it from its source host. */
  private send(f: number, flags: number, payload?: Uint8Array): void {
    const src = this.sources[this.flowSource[f]];
    const spec = this.spec;
    spec.src = src.addr;
    spec.dst = this.flowDaddr[f];
    spec.sport = this.flowSport[f];
    spec.dport = this.flowDport[f];
    if (flags === TcpFlag.SYN) {
      spec.seq = (2 * f) >>> 0;
      spec.ack = 0;
    } else {
      spec.seq = this.flowClientNext[f];
      spec.ack = this.flowServerNext[f];
      const length = (payload?.length ?? 0) + ((flags & TcpFlag.FIN) !== 0 ? 1 : 0);
      this.flowClientNext[f] = (spec.seq + length) >>> 0;
    }
    spec.flags = flags;
    spec.payload = payload;
    const pool = this.sim.network.pool;
    const slot = pool.acquire();
    pool.lengths[slot] = writeTcpFrame(pool.view(slot), 0, spec);
    src.host.output(slot);
  }

  /** One pick: SYN for a flow not (or no longer) connected, else a data segment. */
  private sendPick(f: number): void {
    const src = this.sources[this.flowSource[f]];
    if (src.host.kind === 'pod' && !this.sim.topology.pods.has(src.name.slice(4))) {
      this.skipped++;
      return;
    }
    const state = this.flowState[f];
    if (state === FlowState.ESTABLISHED) {
      this.send(f, TcpFlag.ACK | TcpFlag.PSH, this.requests[this.flowService[f]]);
      this.data++;
      return;
    }
    if (state === FlowState.RESET) this.flowBackend[f] = -1;
    this.flowState[f] = FlowState.SYN_SENT;
    this.send(f, TcpFlag.SYN);
    this.syn++;
  }

  /**
   * Closes every established flow as curl closes its connection: FIN from the source; the
   * pod's stack acknowledges, its responder closes too, and the source acknowledges that FIN.
   */
  closeFlows(): void {
    this.closing = true;
    for (let f = 0; f < this.flows; f++) {
      if (this.flowState[f] !== FlowState.ESTABLISHED) continue;
      const src = this.sources[this.flowSource[f]];
      if (src.host.kind === 'pod' && !this.sim.topology.pods.has(src.name.slice(4))) continue;
      this.flowState[f] = FlowState.CLOSING;
      this.send(f, TcpFlag.FIN | TcpFlag.ACK);
      this.fins++;
      if ((this.fins & 255) === 0) this.sim.settle();
    }
    this.sim.settle();
  }

  // ------------------------------------------------------------ bursts (benchmarks)

  /** Opens every flow not yet connected (SYN, then the handshake), one at a time; returns the established count. */
  openFlows(): number {
    for (let f = 0; f < this.flows; f++) {
      if (this.flowState[f] === FlowState.ESTABLISHED) continue;
      this.sendPick(f);
      this.sim.settle();
    }
    return this.established;
  }

  private cursor = 0;

  /**
   * Sends `count` data segments over the established flows in turn, all at the current
   * simulated instant (the pump interleaves them), then runs the pump until they are all
   * delivered or dropped. Flows not established are skipped. Returns the segments sent.
   */
  burst(count: number): number {
    let sent = 0;
    for (let i = 0; i < count; i++) {
      const f = this.cursor;
      this.cursor = f + 1 === this.flows ? 0 : f + 1;
      if (this.flowState[f] !== FlowState.ESTABLISHED) continue;
      this.send(f, TcpFlag.ACK);
      this.data++;
      sent++;
    }
    this.sim.settle();
    return sent;
  }

  // ------------------------------------------------------------ the run

  run(): LoadReport {
    const o = this.options;
    const sim = this.sim;
    const net = sim.network;
    const total = o.packets;
    const loop = runPickLoop(sim, this.rng, this.flows, o, {
      sendPick: (f) => this.sendPick(f),
      attachBackends: () => this.attachBackends(),
    });
    const { applied, wallSeconds, traversals } = loop;
    const injected = this.syn + this.handshakeAcks + this.data;
    const simulatedSeconds = (net.nowNs - loop.startNs) / 1e9;
    // Occupancy and shares while the flows are open; then they are closed, so the pods'
    // sockets and a capture end cleanly.
    const conntrack = this.occupancy();
    const services = this.distributions();
    this.closeFlows();
    let opened = 0;
    for (let f = 0; f < this.flows; f++) if (this.flowState[f] !== FlowState.UNOPENED) opened++;
    return {
      proto: 'tcp',
      mode: sim.mode,
      seed: o.seed ?? 1,
      dist: loop.law,
      rate: loop.rate,
      flows: {
        population: this.flows,
        opened,
        established: this.established,
        delivered: this.delivered,
        resets: this.resets,
      },
      packets: {
        requested: total,
        injected,
        syn: this.syn,
        handshakeAcks: this.handshakeAcks,
        data: this.data,
        replyAcks: this.replyAcks,
        fins: this.fins,
        skippedSourceGone: this.skipped,
        deliveredToBackends: this.atBackends,
      },
      wallSeconds,
      mpps: wallSeconds > 0 ? injected / wallSeconds / 1e6 : 0,
      interfaceTraversals: traversals,
      traversalsPerSecond: wallSeconds > 0 ? traversals / wallSeconds : 0,
      simulatedSeconds,
      drops: net.drops.toRecord(),
      services,
      conntrack,
      churn: applied,
    };
  }

  private distributions(): ServiceDistribution[] {
    const model = this.sim.model;
    return this.serviceNames.map((service, s) => {
      const sp = model.servicePorts.find((p) => p.servicePortName === service);
      const endpointPods = new Set(
        (sp?.endpoints ?? []).filter((e) => e.podName !== '').map((e) => `${sp!.namespace}/${e.podName}`),
      );
      const flows = this.serviceBackendFlows[s];
      const packets = this.serviceBackendPackets[s];
      const shares: BackendShare[] = [];
      this.backends.forEach((b, i) => {
        if (!endpointPods.has(b.pod) && flows[i] === 0 && packets[i] === 0) return;
        shares.push({
          pod: b.pod,
          node: b.node,
          flows: flows[i],
          packets: packets[i],
          deleted: !this.sim.topology.pods.has(b.pod),
        });
      });
      shares.sort((a, b) => (a.pod < b.pod ? -1 : 1));
      return { service, backends: shares, fairness: fairness(shares.map((x) => x.flows)) };
    });
  }

  private occupancy(): ConntrackOccupancy[] {
    const out: ConntrackOccupancy[] = [];
    for (const [name, proxy] of this.sim.proxies) out.push({ node: name, ...proxy.flowTable() });
    return out.sort((a, b) => (a.node < b.node ? -1 : 1));
  }

  /** Where flow `f` goes, for tests and traces: `client 192.168.100.1:33000 → 10.233.x.y:80`. */
  describeFlow(f: number): string {
    const src = this.sources[this.flowSource[f]];
    return `${src.name} ${formatIPv4(src.addr)}:${this.flowSport[f]} → ${formatIPv4(this.flowDaddr[f])}:${this.flowDport[f]}`;
  }
}

/** Runs a load on a built simulation. */
export function runLoad(sim: Simulation, options: LoadOptions): LoadReport {
  return new LoadGenerator(sim, options).run();
}
