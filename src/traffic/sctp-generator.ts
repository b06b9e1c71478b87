/**
 * The load generator over SCTP (`dpsim load --proto sctp`): the same flows, popularity,
 * churn and report as the TCP generator (generator.ts), with each flow an SCTP association
 * to one of the scenario's SCTP Service frontends.
 *
 * A flow's first pick sends an INIT; the backend pod's SCTP endpoint answers INIT ACK with
 * its State Cookie, which comes back through the reverse NAT to the source, where the
 * generator (standing in for the source's SCTP stack) echoes it (COOKIE ECHO); the pod's
 * COOKIE ACK establishes the association. Each later pick sends one DATA chunk (a request
 * message); the pod answers SACK + DATA with its name, and the generator acknowledges the
 * answer with a SACK. An ABORT ends a flow (counted as a reset); its next pick starts over
 * with an INIT. At the end every established association is shut down (SHUTDOWN, SHUTDOWN
 * ACK, SHUTDOWN COMPLETE), so a capture reads as clean SCTP.
 *
 * Attribution: a flow's INIT carries initiate tag f + 1 (never 0), so the pod that gets
 * the INIT knows the flow whatever NAT did to addresses and ports; it remembers the flow by
 * the (NATed) source it sees on its port for the flow's COOKIE ECHO and DATA.
 */
import { SCTP_DEFAULT_RWND, type SctpReceiver } from '../apps/sctp-stack.js';
import type { Simulation } from '../sim/simulation.js';
import type { Host } from '../topology/host.js';
import { parseIPv4 } from '../util/ipv4.js';
import { Rng } from '../util/rng.js';
import { type SctpFrameSpec, writeSctpFrame } from '../wire/build.js';
import { type SctpChunk, type SctpPacket, SctpParamType } from '../wire/sctp.js';
import { fairness } from './fairness.js';
import {
  type BackendShare,
  type ConntrackOccupancy,
  frontendsFor,
  LOAD_PORT_MAX,
  LOAD_PORT_MIN,
  LoadError,
  type LoadOptions,
  type LoadReport,
  type ServiceDistribution,
} from './generator.js';
import { runPickLoop } from './pick-loop.js';

const PORTS_PER_SOURCE = LOAD_PORT_MAX - LOAD_PORT_MIN + 1;
const ZERO_MAC = new Uint8Array(6);
const EMPTY = new Uint8Array(0);
const STREAMS = 10;

const enum Assoc {
  UNOPENED = 0,
  COOKIE_WAIT = 1,
  COOKIE_ECHOED = 2,
  ESTABLISHED = 3,
  ABORTED = 4,
  SHUTDOWN_SENT = 5,
  CLOSED = 6,
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
  readonly flowOfPort: Int32Array;
  nextPort: number;
}

interface Backend {
  readonly pod: string;
  readonly node: string;
  readonly peers: Map<number, Map<number, number>>;
}

/** Takes the packets of generator associations at a source; passes the rest to the host's own endpoint. */
class SourceEnd implements SctpReceiver {
  constructor(
    private readonly gen: SctpLoadGenerator,
    private readonly source: number,
    public inner: SctpReceiver | null,
  ) {}

  receive(src: number, dst: number, packet: SctpPacket): void {
    if (!this.gen.takeReply(this.source, dst, packet)) this.inner?.receive(src, dst, packet);
  }
}

/** Counts generator packets at a backend pod, then hands them to its SCTP endpoint. */
class BackendCounter implements SctpReceiver {
  constructor(
    private readonly gen: SctpLoadGenerator,
    private readonly backend: number,
    readonly inner: SctpReceiver,
  ) {}

  receive(src: number, dst: number, packet: SctpPacket): void {
    this.gen.countAtBackend(this.backend, src, packet);
    this.inner.receive(src, dst, packet);
  }
}

export class SctpLoadGenerator {
  readonly flows: number;
  private readonly sim: Simulation;
  private readonly options: LoadOptions;
  private readonly rng: Rng;
  private readonly sources: Source[] = [];
  private readonly serviceNames: string[] = [];
  private readonly requests: Uint8Array[] = [];
  private readonly backends: Backend[] = [];
  private readonly backendOf = new Map<Host, number>();
  private readonly serviceBackendFlows: number[][] = [];
  private readonly serviceBackendPackets: number[][] = [];

  private readonly flowSource: Uint16Array;
  private readonly flowSport: Uint16Array;
  private readonly flowDaddr: Uint32Array;
  private readonly flowDport: Uint16Array;
  private readonly flowService: Uint16Array;
  private readonly flowState: Uint8Array;
  private readonly flowPeerTag: Uint32Array;
  private readonly flowNextTsn: Uint32Array;
  private readonly flowPeerTsn: Uint32Array;
  private readonly flowCookie: Uint8Array[];
  private readonly flowBackend: Int32Array;
  private readonly spec: SctpFrameSpec;
  private closing = false;

  private inits = 0;
  private cookieEchoes = 0;
  private data = 0;
  private skipped = 0;
  private established = 0;
  private delivered = 0;
  private aborts = 0;
  private atBackends = 0;
  private sacks = 0;
  private shutdowns = 0;

  constructor(sim: Simulation, options: LoadOptions) {
    if (!Number.isInteger(options.flows) || options.flows < 1)
      throw new LoadError(`--flows must be a positive integer, got ${options.flows}`);
    if (!Number.isInteger(options.packets) || options.packets < 0)
      throw new LoadError(`--packets must be a non-negative integer, got ${options.packets}`);
    if (options.rate !== undefined && !(options.rate >= 0 && Number.isFinite(options.rate)))
      throw new LoadError(
        `--rate must be a non-negative number of packets per simulated second, got ${options.rate}`,
      );
    if (sim.mode === 'ebpf')
      throw new LoadError(
        'SCTP is not supported in eBPF mode: it models Cilium\'s kube-proxy replacement, which does not handle SCTP (docs.cilium.io, "SCTP support (beta)": not supported with KPR)',
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
    this.flowPeerTag = new Uint32Array(f);
    this.flowNextTsn = new Uint32Array(f);
    this.flowPeerTsn = new Uint32Array(f);
    this.flowCookie = new Array<Uint8Array>(f).fill(EMPTY);
    this.flowBackend = new Int32Array(f).fill(-1);
    this.spec = {
      srcMac: ZERO_MAC,
      dstMac: ZERO_MAC,
      src: 0,
      dst: 0,
      sctp: { sport: 0, dport: 0, verificationTag: 0, chunks: [] },
    };
    this.buildSources();
    this.buildFlows();
    this.attachBackends();
  }

  private buildSources(): void {
    const sim = this.sim;
    const servicePorts = sim.model.servicePorts.filter((sp) => sp.protocol === 'SCTP');
    if (servicePorts.length === 0) throw new LoadError('the scenario has no SCTP Service to send traffic to');
    for (const sp of servicePorts) {
      this.serviceNames.push(sp.servicePortName);
      this.requests.push(new Uint8Array(Buffer.from(`request for ${sp.name}.${sp.namespace}\n`, 'latin1')));
    }
    const nodeIps = sim.model.nodes.map((n) => n.ip);
    const hosts: [string, Host][] = [['client', sim.topology.client]];
    for (const [key, pod] of [...sim.topology.pods].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
      hosts.push([`pod/${key}`, pod]);
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
      host.sctp = new SourceEnd(this, index, host.sctp);
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

  /** Wraps the SCTP endpoint of every pod that has one (again after churn plugged new pods). */
  private attachBackends(): void {
    const t = this.sim.topology;
    for (const [key, pod] of t.pods) {
      if (this.backendOf.has(pod)) continue;
      const index = this.backends.length;
      this.backends.push({ pod: key, node: t.podVeths.get(key)?.host.name ?? '', peers: new Map() });
      this.backendOf.set(pod, index);
      const outer = pod.sctp;
      if (outer instanceof SourceEnd) {
        if (outer.inner !== null) outer.inner = new BackendCounter(this, index, outer.inner);
      } else if (outer !== null) {
        pod.sctp = new BackendCounter(this, index, outer);
      }
    }
    for (let s = 0; s < this.serviceNames.length; s++) {
      if (this.serviceBackendFlows.length <= s) this.serviceBackendFlows.push([]);
      if (this.serviceBackendPackets.length <= s) this.serviceBackendPackets.push([]);
      while (this.serviceBackendFlows[s].length < this.backends.length) this.serviceBackendFlows[s].push(0);
      while (this.serviceBackendPackets[s].length < this.backends.length)
        this.serviceBackendPackets[s].push(0);
    }
  }

  // ------------------------------------------------------------ per packet

  countAtBackend(backend: number, src: number, packet: SctpPacket): void {
    if (this.closing) return;
    const b = this.backends[backend];
    const peerKey = src * 65536 + packet.sport;
    const first = packet.chunks[0];
    if (first.kind === 'init') {
      const f = first.initiateTag - 1;
      if (f < 0 || f >= this.flows) return;
      let byPort = b.peers.get(packet.dport);
      if (byPort === undefined) {
        byPort = new Map();
        b.peers.set(packet.dport, byPort);
      }
      byPort.set(peerKey, f);
      this.atBackends++;
      if (this.flowBackend[f] === backend) return; // a retransmitted INIT
      this.flowBackend[f] = backend;
      this.delivered++;
      this.serviceBackendFlows[this.flowService[f]][backend]++;
      return;
    }
    if (first.kind !== 'cookie-echo' && first.kind !== 'data') return;
    const f = b.peers.get(packet.dport)?.get(peerKey);
    if (f === undefined) return;
    this.atBackends++;
    this.serviceBackendPackets[this.flowService[f]][backend]++;
  }

  /** A packet arrived at source `source` for address `dst`; true when it belonged to a generator flow. */
  takeReply(source: number, dst: number, packet: SctpPacket): boolean {
    const src = this.sources[source];
    if (dst !== src.addr) return false;
    const f = src.flowOfPort[packet.dport];
    if (f < 0) return false;
    // Section 8.5: only packets carrying this association's tag (f + 1) belong to it.
    const first = packet.chunks[0];
    const tAbort = first.kind === 'abort' && (first.flags & 1) !== 0;
    if (!tAbort && packet.verificationTag !== f + 1) return true;
    for (const c of packet.chunks) this.onChunk(f, c);
    return true;
  }

  private onChunk(f: number, c: SctpChunk): void {
    const state = this.flowState[f];
    switch (c.kind) {
      case 'init-ack':
        if (state !== Assoc.COOKIE_WAIT) return;
        this.flowPeerTag[f] = c.initiateTag;
        this.flowPeerTsn[f] = (c.initialTsn - 1) >>> 0;
        this.flowCookie[f] = c.params.find((p) => p.type === SctpParamType.STATE_COOKIE)?.value ?? EMPTY;
        this.flowState[f] = Assoc.COOKIE_ECHOED;
        this.sendCookieEcho(f);
        return;
      case 'cookie-ack':
        if (state !== Assoc.COOKIE_ECHOED) return;
        this.flowState[f] = Assoc.ESTABLISHED;
        this.flowCookie[f] = EMPTY;
        this.established++;
        return;
      case 'data':
        if (state !== Assoc.ESTABLISHED && state !== Assoc.SHUTDOWN_SENT) return;
        this.flowPeerTsn[f] = c.tsn;
        this.send(f, this.flowPeerTag[f], [
          {
            kind: 'sack',
            flags: 0,
            cumulativeTsnAck: c.tsn,
            aRwnd: SCTP_DEFAULT_RWND,
            gapBlocks: [],
            duplicateTsns: [],
          },
        ]);
        this.sacks++;
        return;
      case 'shutdown-ack':
        if (state !== Assoc.SHUTDOWN_SENT) return;
        this.send(f, this.flowPeerTag[f], [{ kind: 'shutdown-complete', flags: 0 }]);
        this.flowState[f] = Assoc.CLOSED;
        return;
      case 'abort':
        if (state !== Assoc.ABORTED) this.aborts++;
        this.flowState[f] = Assoc.ABORTED;
        return;
      default:
        return;
    }
  }

  private send(f: number, vtag: number, chunks: SctpChunk[]): void {
    const src = this.sources[this.flowSource[f]];
    const spec = this.spec;
    spec.src = src.addr;
    spec.dst = this.flowDaddr[f];
    spec.sctp = { sport: this.flowSport[f], dport: this.flowDport[f], verificationTag: vtag, chunks };
    const pool = this.sim.network.pool;
    const slot = pool.acquire();
    pool.lengths[slot] = writeSctpFrame(pool.view(slot), 0, spec);
    src.host.output(slot);
  }

  private sendInit(f: number): void {
    this.flowNextTsn[f] = 1;
    this.send(f, 0, [
      {
        kind: 'init',
        flags: 0,
        initiateTag: f + 1,
        aRwnd: SCTP_DEFAULT_RWND,
        outboundStreams: STREAMS,
        inboundStreams: STREAMS,
        initialTsn: 1,
        params: [],
      },
    ]);
    this.inits++;
  }

  private sendCookieEcho(f: number): void {
    this.send(f, this.flowPeerTag[f], [{ kind: 'cookie-echo', flags: 0, cookie: this.flowCookie[f] }]);
    this.cookieEchoes++;
  }

  /** One pick: the association's next step (INIT, or the COOKIE ECHO again while waiting), else one DATA message. */
  private sendPick(f: number): void {
    const src = this.sources[this.flowSource[f]];
    if (src.host.kind === 'pod' && !this.sim.topology.pods.has(src.name.slice(4))) {
      this.skipped++;
      return;
    }
    const state = this.flowState[f];
    if (state === Assoc.ESTABLISHED) {
      const tsn = this.flowNextTsn[f];
      this.flowNextTsn[f] = (tsn + 1) >>> 0;
      const streamSeq = (tsn - 1) & 0xffff;
      this.send(f, this.flowPeerTag[f], [
        {
          kind: 'data',
          flags: 0x03,
          tsn,
          streamId: 0,
          streamSeq,
          ppid: 0,
          payload: this.requests[this.flowService[f]],
        },
      ]);
      this.data++;
      return;
    }
    if (state === Assoc.COOKIE_ECHOED) {
      this.sendCookieEcho(f);
      return;
    }
    if (state === Assoc.ABORTED) this.flowBackend[f] = -1;
    this.flowState[f] = Assoc.COOKIE_WAIT;
    this.sendInit(f);
  }

  /** Shuts every established association down: SHUTDOWN, the pod's SHUTDOWN ACK, SHUTDOWN COMPLETE. */
  closeFlows(): void {
    this.closing = true;
    for (let f = 0; f < this.flows; f++) {
      if (this.flowState[f] !== Assoc.ESTABLISHED) continue;
      const src = this.sources[this.flowSource[f]];
      if (src.host.kind === 'pod' && !this.sim.topology.pods.has(src.name.slice(4))) continue;
      this.flowState[f] = Assoc.SHUTDOWN_SENT;
      this.send(f, this.flowPeerTag[f], [
        { kind: 'shutdown', flags: 0, cumulativeTsnAck: this.flowPeerTsn[f] },
      ]);
      this.shutdowns++;
      if ((this.shutdowns & 255) === 0) this.sim.settle();
    }
    this.sim.settle();
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
    const injected = this.inits + this.cookieEchoes + this.data;
    const simulatedSeconds = (net.nowNs - loop.startNs) / 1e9;
    const conntrack = this.occupancy();
    const services = this.distributions();
    this.closeFlows();
    let opened = 0;
    for (let f = 0; f < this.flows; f++) if (this.flowState[f] !== Assoc.UNOPENED) opened++;
    return {
      proto: 'sctp',
      mode: sim.mode,
      seed: o.seed ?? 1,
      dist: loop.law,
      rate: loop.rate,
      flows: {
        population: this.flows,
        opened,
        established: this.established,
        delivered: this.delivered,
        resets: this.aborts,
      },
      packets: {
        requested: total,
        injected,
        syn: this.inits,
        handshakeAcks: this.cookieEchoes,
        data: this.data,
        replyAcks: this.sacks,
        fins: this.shutdowns,
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
      const sp = model.servicePorts.find((p) => p.servicePortName === service && p.protocol === 'SCTP');
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
}

/** Runs an SCTP load on a built simulation. */
export function runSctpLoad(sim: Simulation, options: LoadOptions): LoadReport {
  return new SctpLoadGenerator(sim, options).run();
}
