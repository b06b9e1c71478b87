/**
 * The load generator for UDP (`dpsim load --proto udp`): F flows, each one connected UDP
 * socket on a source (the external client or a pod) aimed at one UDP Service frontend (the
 * client uses NodePorts / external IPs / LoadBalancer IPs, pods the ClusterIP, as the TCP
 * generator chooses). Each of the N picks sends one datagram from the flow's socket; a pod's
 * UDP echo answers it with its name, a one-way sink (`dpsim.io/udp-sink-ports`) only counts.
 *
 * Attribution does not trust the proxy's bookkeeping: every datagram carries `DPSL` and its
 * flow index in its first 8 bytes (NAT never touches the payload), and a counter in front of
 * each pod's UDP sockets records which pod each flow's datagrams reach. A flow counts as
 * placed on a backend at its first datagram there (again if its datagrams later reach
 * another pod, e.g. after conntrack clean-up). ICMP errors reach the connected sockets as
 * ECONNREFUSED and are counted as refused.
 */

import type { QuotedUdp, UdpSocket } from '../apps/index.js';
import type { UdpDatagram } from '../apps/udp-stack.js';
import { isDnsAddonService } from '../k8s/cluster-dns-addon.js';
import type { Simulation } from '../sim/simulation.js';
import type { Host, UdpReceiver } from '../topology/host.js';
import { formatIPv4, parseIPv4 } from '../util/ipv4.js';
import { Rng } from '../util/rng.js';
import { readU32 } from '../wire/bytes.js';
import type { AppliedChurn } from './churn.js';
import { fairness } from './fairness.js';
import {
  type BackendShare,
  type ConntrackOccupancy,
  frontendsFor,
  LOAD_PORT_MAX,
  LOAD_PORT_MIN,
  LoadError,
  type LoadOptions,
  type ServiceDistribution,
} from './generator.js';
import { runPickLoop } from './pick-loop.js';
import type { PopularityLaw } from './popularity.js';

/** The first bytes of every generator datagram: `DPSL`, then the flow index (u32, big-endian). */
const MAGIC = 0x4450534c;
const PAYLOAD_TEXT = ' dpsim-load udp\n';
const PORTS_PER_SOURCE = LOAD_PORT_MAX - LOAD_PORT_MIN + 1;

export interface UdpLoadReport {
  readonly proto: 'udp';
  readonly mode: string;
  readonly seed: number;
  readonly dist: PopularityLaw;
  readonly rate: number | null;
  readonly flows: {
    readonly population: number;
    /** Flows that sent at least one datagram. */
    readonly opened: number;
    /** Flows that got at least one reply. */
    readonly answered: number;
    /** Placements of flows on backend pods (sum of the per-backend flow counts). */
    readonly delivered: number;
    /** Flows whose socket got an ICMP error (ECONNREFUSED and the like). */
    readonly refused: number;
  };
  readonly packets: {
    readonly requested: number;
    /** Datagrams the sources sent (what Mpps counts). */
    readonly injected: number;
    /** Replies that reached the sources' sockets. */
    readonly replies: number;
    readonly skippedSourceGone: number;
    /** Generator datagrams that reached a backend pod. */
    readonly deliveredToBackends: number;
  };
  readonly wallSeconds: number;
  readonly mpps: number;
  readonly interfaceTraversals: number;
  readonly traversalsPerSecond: number;
  readonly simulatedSeconds: number;
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
  readonly targets: readonly Target[];
  nextPort: number;
}

interface Backend {
  readonly pod: string;
  readonly node: string;
  flows: number;
  packets: number;
}

/** Counts generator datagrams at a pod, then hands them to the pod's own sockets. */
class BackendUdpCounter implements UdpReceiver {
  constructor(
    private readonly gen: UdpLoadGenerator,
    private readonly backend: number,
    readonly inner: UdpReceiver | null,
  ) {}

  receive(d: UdpDatagram): boolean {
    this.gen.countAtBackend(this.backend, d.payload);
    return this.inner?.receive(d) ?? false;
  }

  receiveIcmpError(type: number, code: number, quoted: QuotedUdp): boolean {
    return this.inner?.receiveIcmpError(type, code, quoted) ?? false;
  }
}

export class UdpLoadGenerator {
  readonly flows: number;
  private readonly sim: Simulation;
  private readonly options: LoadOptions;
  private readonly rng: Rng;
  private readonly sources: Source[] = [];
  private readonly serviceNames: string[] = [];
  private readonly backends: Backend[] = [];
  private readonly backendOf = new Map<Host, number>();
  private readonly serviceBackendFlows: number[][] = [];
  private readonly serviceBackendPackets: number[][] = [];
  private readonly sockets: UdpSocket[] = [];
  private readonly flowSource: Uint16Array;
  private readonly flowService: Uint16Array;
  private readonly flowBackend: Int32Array;
  private readonly flowSent: Uint8Array;
  private readonly flowAnswered: Uint8Array;
  private readonly flowRefused: Uint8Array;
  /** One payload buffer: the flow index is written in before each send (the frame copies it). */
  private readonly payload: Uint8Array;
  private readonly payloadView: DataView;

  private sent = 0;
  private replies = 0;
  private skipped = 0;
  private delivered = 0;
  private atBackends = 0;

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
    this.flowService = new Uint16Array(f);
    this.flowBackend = new Int32Array(f).fill(-1);
    this.flowSent = new Uint8Array(f);
    this.flowAnswered = new Uint8Array(f);
    this.flowRefused = new Uint8Array(f);
    const text = new TextEncoder().encode(PAYLOAD_TEXT);
    this.payload = new Uint8Array(8 + text.length);
    this.payload.set(text, 8);
    this.payloadView = new DataView(this.payload.buffer);
    this.payloadView.setUint32(0, MAGIC);
    this.buildSources();
    this.buildFlows();
    this.attachBackends();
  }

  private buildSources(): void {
    const sim = this.sim;
    // Not kube-system/kube-dns: CoreDNS answers DNS messages, not the load's datagrams.
    const servicePorts = sim.model.servicePorts.filter(
      (sp) => sp.protocol === 'UDP' && !isDnsAddonService(sp.namespace, sp.name),
    );
    if (servicePorts.length === 0)
      throw new LoadError('the scenario has no UDP Service to send traffic to (--proto udp)');
    for (const sp of servicePorts) this.serviceNames.push(sp.servicePortName);
    const nodeIps = sim.model.nodes.map((n) => n.ip);
    const hosts: [string, Host][] = [['client', sim.topology.client]];
    for (const [key, pod] of [...sim.topology.pods].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
      hosts.push([`pod/${key}`, pod]);
    for (const [name, host] of hosts) {
      if (!host.interfaces.some((i) => i.addr !== 0)) continue;
      const fromClient = host === sim.topology.client;
      const targets: Target[] = [];
      servicePorts.forEach((sp, service) => {
        for (const fe of frontendsFor(sp, fromClient, nodeIps)) {
          const [ip, port] = fe.split(':');
          targets.push({ daddr: parseIPv4(ip), dport: Number(port), service });
        }
      });
      this.sources.push({ host, name, targets, nextPort: LOAD_PORT_MIN });
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
      this.flowSource[f] = s;
      this.flowService[f] = t.service;
      const socket = this.sim.udpStack(src.host).bind({
        port,
        onDatagram: () => {
          this.replies++;
          this.flowAnswered[f] = 1;
        },
        onError: () => {
          this.flowRefused[f] = 1;
        },
      });
      socket.connect(t.daddr, t.dport);
      this.sockets.push(socket);
    }
  }

  /** Puts a counter in front of every pod's UDP sockets (again after churn plugged new pods). */
  private attachBackends(): void {
    const t = this.sim.topology;
    for (const [key, pod] of t.pods) {
      if (this.backendOf.has(pod)) continue;
      const node = t.podVeths.get(key)?.host.name ?? '';
      const index = this.backends.length;
      this.backends.push({ pod: key, node, flows: 0, packets: 0 });
      this.backendOf.set(pod, index);
      this.sim.udpStack(pod);
      pod.udp = new BackendUdpCounter(this, index, pod.udp);
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

  /** A datagram reached pod `backend`: attribute it to its flow by the payload's header. */
  countAtBackend(backend: number, payload: Uint8Array): void {
    if (payload.length < 8) return;
    if (readU32(payload, 0) !== MAGIC) return;
    const f = readU32(payload, 4);
    if (f >= this.flows) return;
    const b = this.backends[backend];
    this.atBackends++;
    b.packets++;
    this.serviceBackendPackets[this.flowService[f]][backend]++;
    if (this.flowBackend[f] === backend) return;
    this.flowBackend[f] = backend;
    b.flows++;
    this.delivered++;
    this.serviceBackendFlows[this.flowService[f]][backend]++;
  }

  private sendPick(f: number): void {
    const src = this.sources[this.flowSource[f]];
    if (src.host.kind === 'pod' && !this.sim.topology.pods.has(src.name.slice(4))) {
      this.skipped++;
      return;
    }
    this.payloadView.setUint32(4, f);
    this.sockets[f].send(this.payload);
    this.flowSent[f] = 1;
    this.sent++;
  }

  run(): UdpLoadReport {
    const o = this.options;
    const sim = this.sim;
    const net = sim.network;
    const total = o.packets;
    const loop = runPickLoop(sim, this.rng, this.flows, o, {
      sendPick: (f) => this.sendPick(f),
      attachBackends: () => this.attachBackends(),
    });
    const { applied, wallSeconds, traversals } = loop;
    let opened = 0;
    let answered = 0;
    let refused = 0;
    for (let f = 0; f < this.flows; f++) {
      opened += this.flowSent[f];
      answered += this.flowAnswered[f];
      refused += this.flowRefused[f];
    }
    return {
      proto: 'udp',
      mode: sim.mode,
      seed: o.seed ?? 1,
      dist: loop.law,
      rate: loop.rate,
      flows: { population: this.flows, opened, answered, delivered: this.delivered, refused },
      packets: {
        requested: total,
        injected: this.sent,
        replies: this.replies,
        skippedSourceGone: this.skipped,
        deliveredToBackends: this.atBackends,
      },
      wallSeconds,
      mpps: wallSeconds > 0 ? this.sent / wallSeconds / 1e6 : 0,
      interfaceTraversals: traversals,
      traversalsPerSecond: wallSeconds > 0 ? traversals / wallSeconds : 0,
      simulatedSeconds: (net.nowNs - loop.startNs) / 1e9,
      drops: net.drops.toRecord(),
      services: this.distributions(),
      conntrack: this.occupancy(),
      churn: applied,
    };
  }

  private distributions(): ServiceDistribution[] {
    const model = this.sim.model;
    return this.serviceNames.map((service, s) => {
      const sp = model.servicePorts.find((p) => p.servicePortName === service && p.protocol === 'UDP');
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
    for (const [name, proxy] of this.sim.proxies) out.push({ node: name, ...proxy.flowTable('udp') });
    return out.sort((a, b) => (a.node < b.node ? -1 : 1));
  }

  /** Where flow `f` goes: `client 192.168.100.1:33000 → 192.168.100.100:30053`. */
  describeFlow(f: number): string {
    const s = this.sockets[f];
    return `${this.sources[this.flowSource[f]].name} :${s.localPort} → ${formatIPv4(s.remoteAddr)}:${s.remotePort}`;
  }
}

/** Runs a UDP load on a built simulation. */
export function runUdpLoad(sim: Simulation, options: LoadOptions): UdpLoadReport {
  return new UdpLoadGenerator(sim, options).run();
}
