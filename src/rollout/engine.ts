/**
 * One `dpsim rollout` run: steady traffic through the real datapath while a workload goes
 * through a transition, with the control plane on the same simulated clock as the packets.
 *
 * Every change in the API (a pod created, Ready, terminating, gone; a roll-out step) goes
 * through the EndpointSlice controller, each node's watch and each node's proxy sync loop
 * (propagation.ts) before that node's rules change; the kubelet (kubelet.ts) starts, probes
 * and stops pods with their real timings; an external load balancer (load-balancer.ts) polls
 * health checks for LoadBalancer Services. Each request is a TCP connection from the client
 * (requests.ts); each failure is explained from what the nodes' rules, the pods and the load
 * balancer were doing when it was sent (attribution.ts).
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeProxyConfig } from '../config/kube-proxy-config.js';
import { defaultKubeProxyConfig } from '../config/node-options.js';
import { isPodTerminating } from '../k8s/controllers/pods.js';
import type { LoadOptions } from '../k8s/index.js';
import { objectKey } from '../k8s/store.js';
import { FULL_SYNC_PERIOD_NS } from '../proxy/common/bounded-frequency-runner.js';
import type { ProxyMode } from '../proxy/common/datapath.js';
import type { ServicePort } from '../proxy/common/model.js';
import { Simulation } from '../sim/simulation.js';
import { formatIPv4, parseIPv4 } from '../util/ipv4.js';
import { Rng } from '../util/rng.js';
import { type Attribution, attributeFailure } from './attribution.js';
import { type DelaySpec, parseDelaySpec } from './delay.js';
import { Kubelet } from './kubelet.js';
import { DEFAULT_LB_SETTINGS, type LbEvent, LoadBalancer } from './load-balancer.js';
import { DEFAULT_NODE_MONITOR_GRACE_NS, nodeFailureTimes } from './node-lifecycle.js';
import {
  kubeProxySyncLoop,
  Propagation,
  type SliceWrite,
  type SyncEvent,
  type SyncLoopFactory,
} from './propagation.js';
import { RequestClient, type RequestOutcome, type RequestRecord, SynObserver } from './requests.js';
import {
  disruptionBudgets,
  EVICTION_RETRY_NS,
  evictRound,
  findWorkload,
  startTransition,
  type Transition,
  TransitionError,
  type Workload,
} from './transitions.js';
import { UdpRequestClient } from './udp-requests.js';
import { applyTemplateEdits, type RunSettings, type Variant } from './variants.js';

/** Cilium's agent applies a Service change as soon as its watch delivers it (no minSyncPeriod). */
const EBPF_MIN_SYNC_NS = 0;
/** kube-proxy's FullSyncPeriod: the periodic run of its loop. */
const PERIODIC_SYNC_NS = FULL_SYNC_PERIOD_NS;

export interface RolloutOptions {
  readonly manifests: readonly { source: string; text: string }[];
  readonly deployment: string;
  readonly transition: Transition;
  readonly rps: number;
  readonly durationS: number;
  /** When the transition starts, seconds of simulated time into the run. */
  readonly atS: number;
  readonly seed: number;
  readonly mode?: ProxyMode;
  /** The base settings (flags); a variant's override them. */
  readonly settings?: RunSettings;
  readonly variant?: Variant;
  /** The client gives a request up after this long (default 2 s). */
  readonly requestTimeoutNs?: number;
  /** The Service to send to (default: the first one selecting the workload's pods). */
  readonly service?: string;
  readonly clusterOptions?: Omit<LoadOptions, 'seed'>;
  /** Requests as TCP connections (default) or UDP datagrams (udp-requests.ts). */
  readonly proto?: 'tcp' | 'udp';
  /** The node proxies' sync loop (default: kube-proxy's BoundedFrequencyRunner). */
  readonly loopFactory?: SyncLoopFactory;
}

export interface SecondBucket {
  readonly second: number;
  sent: number;
  ok: number;
  refused: number;
  reset: number;
  timeout: number;
}

export interface FailureReason {
  readonly reason: string;
  count: number;
  refused: number;
  reset: number;
  timeout: number;
  firstNs: number;
  lastNs: number;
}

export interface PodEvent {
  readonly timeNs: number;
  readonly pod: string;
  readonly what: string;
}

export interface RolloutResult {
  readonly mode: ProxyMode;
  readonly proto: 'tcp' | 'udp';
  readonly seed: number;
  readonly label: string;
  readonly service: string;
  readonly target: string;
  readonly transition: Transition;
  readonly atNs: number;
  readonly durationNs: number;
  readonly rps: number;
  readonly settings: {
    readonly minSyncPeriodNs: number;
    readonly watchDelay: DelaySpec;
    readonly batchPeriodNs: number;
    readonly terminatingFallback: boolean;
    readonly requestTimeoutNs: number;
    readonly loadBalancer: { readonly intervalNs: number; readonly unhealthyThreshold: number } | null;
  };
  readonly totals: {
    readonly requests: number;
    readonly succeeded: number;
    readonly failed: number;
    readonly refused: number;
    readonly reset: number;
    readonly timedOut: number;
  };
  readonly seconds: readonly SecondBucket[];
  readonly reasons: readonly FailureReason[];
  readonly syncs: readonly SyncEvent[];
  readonly sliceWrites: readonly SliceWrite[];
  readonly lbEvents: readonly LbEvent[];
  readonly podEvents: readonly PodEvent[];
  readonly messages: readonly string[];
}

export class RolloutError extends Error {
  override name = 'RolloutError';
}

function loopMinSync(mode: ProxyMode, config: KubeProxyConfig): number {
  switch (mode) {
    case 'iptables':
      return config.iptables.minSyncPeriodNs;
    case 'nftables':
      return config.nftables.minSyncPeriodNs;
    case 'ipvs':
      return config.ipvs.minSyncPeriodNs;
    default:
      return EBPF_MIN_SYNC_NS;
  }
}

/** The proxy's syncPeriod (its loop's retry interval); Cilium's agent: the same 30 s default. */
function syncPeriodOf(mode: ProxyMode, config: KubeProxyConfig): number {
  switch (mode) {
    case 'iptables':
      return config.iptables.syncPeriodNs;
    case 'nftables':
      return config.nftables.syncPeriodNs;
    case 'ipvs':
      return config.ipvs.syncPeriodNs;
    default:
      return 30e9;
  }
}

/** The Service the traffic goes to: named, or the first selecting the workload's pods. */
function targetService(
  sim: Simulation,
  w: Workload,
  name: string | undefined,
  proto: 'TCP' | 'UDP',
): ServicePort {
  const ports = sim.model.servicePorts.filter((sp) => sp.protocol === proto && sp.namespace === w.namespace);
  if (name !== undefined) {
    const sp = ports.find((p) => p.name === name);
    if (sp === undefined) throw new RolloutError(`services "${name}" not found (or has no ${proto} port)`);
    return sp;
  }
  for (const svc of sim.cluster.services()) {
    const sel = svc.spec?.selector;
    if (sel === undefined || Object.keys(sel).length === 0) continue;
    if (!Object.entries(sel).every(([k, v]) => w.selector[k] === v)) continue;
    const sp = ports.find((p) => p.name === svc.metadata?.name);
    if (sp !== undefined) return sp;
  }
  throw new RolloutError(
    `no Service with a ${proto} port selects the pods of ${w.kind.toLowerCase()} "${w.name}"`,
  );
}

export function runRollout(options: RolloutOptions): RolloutResult {
  return startRollout(options).run();
}

/**
 * A rollout with every interface captured into a pcapng file as the run goes (pods created
 * during the run are captured from their creation). Same seed, same bytes.
 */
export async function runRolloutCaptured(
  options: RolloutOptions,
  pcapFile: string,
): Promise<{ readonly result: RolloutResult; readonly frames: number }> {
  const run = startRollout(options, pcapFile);
  const capture = run.sim.capture!;
  let result: RolloutResult;
  try {
    result = run.run();
  } finally {
    await capture.close();
  }
  return { result, frames: capture.frames };
}

function startRollout(options: RolloutOptions, pcapFile?: string): RolloutRun {
  const variant = options.variant;
  const settings: RunSettings = { ...(options.settings ?? {}), ...(variant?.settings ?? {}) };
  const manifests = applyTemplateEdits(options.manifests, options.deployment, variant?.edits ?? []);
  const mode = settings.mode ?? options.mode;
  const sim = new Simulation({
    manifests,
    seed: options.seed,
    ...(mode !== undefined ? { mode } : {}),
    ...(options.clusterOptions !== undefined ? { clusterOptions: options.clusterOptions } : {}),
    ...(pcapFile !== undefined ? { capture: true, captureFile: pcapFile } : {}),
    ...(settings.udpConntrackCleanup !== undefined
      ? { udpConntrackCleanup: settings.udpConntrackCleanup }
      : {}),
  });
  return new RolloutRun(sim, options, settings, manifests, variant?.label ?? 'base');
}

class RolloutRun {
  private readonly net;
  private readonly cluster;
  private readonly epochMs: number;
  private readonly workload: Workload;
  private readonly service: ServicePort;
  private readonly propagation: Propagation;
  private readonly kubelet: Kubelet;
  private readonly syn = new SynObserver();
  private readonly client: { send(entryNode: string, addr: number, port: number): number };
  private readonly proto: 'tcp' | 'udp';
  private readonly lb: LoadBalancer | null = null;
  private readonly knownTerminating = new Set<string>();
  private readonly podEvents: PodEvent[] = [];
  private readonly messages: string[] = [];
  private readonly seconds: SecondBucket[] = [];
  private readonly reasons = new Map<string, FailureReason>();
  /** Every pod IP's holders over time, for naming the pod a stale rule pointed at. */
  private readonly ipHolders = new Map<string, { pod: string; fromNs: number; toNs: number }[]>();
  /** When each pod's app stopped listening, and when the pod went away. */
  private readonly stoppedNs = new Map<string, number>();
  private readonly goneNs = new Map<string, number>();
  /** Nodes that stopped (--node-not-ready), and when; when the controller marked them NotReady. */
  private readonly downNs = new Map<string, number>();
  private readonly notReadyNs = new Map<string, number>();
  private readonly nodeMonitorGraceNs: number;
  private readonly nodeRng: Rng;
  private readonly requestTimeoutNs: number;
  private readonly atNs: number;
  private readonly durationNs: number;
  private readonly minSyncNs: number;
  private readonly watchDelay: DelaySpec;
  private readonly batchNs: number;
  private readonly fallback: boolean;
  private readonly budgets;
  private readonly nodeAddr = new Map<string, number>();
  private readonly nodeNames: string[] = [];
  private readonly clientAddr: number;
  private nextNodeIndex = 0;
  private totals = { requests: 0, succeeded: 0, failed: 0, refused: 0, reset: 0, timedOut: 0 };
  private readonly lbProbeIds = new Map<number, string>();
  private readonly hcClient: RequestClient | null = null;

  constructor(
    readonly sim: Simulation,
    private readonly options: RolloutOptions,
    settings: RunSettings,
    manifests: readonly { source: string; text: string }[],
    private readonly label: string,
  ) {
    this.net = sim.network;
    this.cluster = sim.cluster;
    this.cluster.store.pacedRollouts = true;
    this.epochMs = this.cluster.now() - this.net.nowNs / 1e6;
    this.workload = findWorkload(this.cluster, options.deployment);
    this.proto = options.proto ?? 'tcp';
    this.service = targetService(sim, this.workload, options.service, this.proto === 'udp' ? 'UDP' : 'TCP');
    this.budgets = disruptionBudgets(manifests);
    const kpc = sim.loadResult?.kubeProxyConfig ?? defaultKubeProxyConfig(this.cluster.config.clusterCIDR);
    this.minSyncNs = settings.minSyncPeriodNs ?? loopMinSync(sim.mode, kpc);
    this.watchDelay = settings.watchDelay ?? parseDelaySpec('uniform:50ms-500ms');
    this.batchNs = settings.batchPeriodNs ?? 0;
    this.fallback = settings.terminatingFallback ?? true;
    this.requestTimeoutNs = options.requestTimeoutNs ?? 2e9;
    this.atNs = options.atS * 1e9;
    this.durationNs = options.durationS * 1e9;
    const rng = new Rng(options.seed ^ 0x5eed);
    const setTimer = (d: number, fn: () => void) => this.net.setTimer(d, fn);
    const nowNs = () => this.net.nowNs;

    for (const [name, host] of sim.topology.nodes) {
      this.nodeAddr.set(name, host.interfaces[0].addr);
      this.nodeNames.push(name);
    }
    const clientHost = sim.topology.client;
    this.clientAddr = clientHost.interfaces[0].addr;

    this.propagation = new Propagation(sim, rng.fork(), {
      batchPeriodNs: this.batchNs,
      watchDelay: this.watchDelay,
      loop: {
        minIntervalNs: this.minSyncNs,
        maxIntervalNs: PERIODIC_SYNC_NS,
        retryIntervalNs: syncPeriodOf(sim.mode, kpc),
      },
      loopFactory: options.loopFactory ?? kubeProxySyncLoop,
      terminatingFallback: this.fallback,
      setTimer,
      nowNs,
    });

    this.kubelet = new Kubelet({
      setTimer,
      nowNs,
      startListening: (pod) => sim.startPodListeners(ns(pod), name(pod)),
      stopListening: (pod) => {
        sim.stopPodListeners(ns(pod), name(pod));
        this.stoppedNs.set(keyOf(pod), this.net.nowNs);
      },
      listening: (pod) => sim.podListening(ns(pod), name(pod)),
      setReady: (pod, ready) =>
        // A stopped node's kubelet reaches no API server: its probes change nothing.
        !this.onDownNode(pod) &&
        this.mutate(() => {
          this.cluster.apply({ type: 'setPodReady', namespace: ns(pod), name: name(pod), ready });
          this.resyncDeploymentsSoon(pod);
        }),
      removePod: (pod) =>
        !this.onDownNode(pod) &&
        this.mutate(() => {
          if (this.cluster.getPod(name(pod), ns(pod)) === pod)
            this.cluster.apply({ type: 'deletePod', namespace: ns(pod), name: name(pod) });
        }),
      note: (podKey, what) => this.podEvents.push({ timeNs: this.net.nowNs, pod: podKey, what }),
      alive: (pod) => this.cluster.getPod(name(pod), ns(pod)) === pod,
    });
    for (const pod of this.cluster.pods()) {
      if (pod.status?.podIP === undefined) continue;
      this.kubelet.adopt(keyOf(pod), pod);
      this.recordIp(pod);
    }
    this.watchPods();
    this.nodeMonitorGraceNs = settings.nodeMonitorGraceNs ?? DEFAULT_NODE_MONITOR_GRACE_NS;

    const stack = clientHost.tcp as ConstructorParameters<typeof RequestClient>[0];
    const host = `${formatIPv4(this.nodeAddr.values().next().value ?? 0)}:${this.service.nodePort}`;
    this.client =
      this.proto === 'udp'
        ? new UdpRequestClient(
            sim.udpStack(clientHost),
            this.clientAddr,
            this.requestTimeoutNs,
            setTimer,
            (id) => this.net.clearTimer(id),
            (r) => this.done(r),
            (r) => this.noteUdpBackend(r),
          )
        : new RequestClient(
            stack,
            this.clientAddr,
            this.syn,
            this.requestTimeoutNs,
            setTimer,
            (id) => this.net.clearTimer(id),
            (r) => this.done(r),
            host,
          );
    if (this.service.type === 'LoadBalancer' && this.service.nodePort !== 0) {
      const lbSettings = {
        ...DEFAULT_LB_SETTINGS,
        ...(settings.lbIntervalNs !== undefined ? { intervalNs: settings.lbIntervalNs } : {}),
        ...(settings.lbUnhealthy !== undefined ? { unhealthyThreshold: settings.lbUnhealthy } : {}),
      };
      this.settingsLb = lbSettings;
      const hcPort = this.service.healthCheckNodePort !== 0 ? this.service.healthCheckNodePort : 10256;
      this.hcClient = new RequestClient(
        stack,
        this.clientAddr,
        this.syn,
        1e9,
        setTimer,
        (id) => this.net.clearTimer(id),
        (r) => {
          const node = this.lbProbeIds.get(r.id);
          this.lbProbeIds.delete(r.id);
          if (node !== undefined) this.lb?.checked(node, r);
        },
        'health-check',
        '/healthz',
      );
      this.lb = new LoadBalancer(
        [...this.nodeAddr.keys()],
        lbSettings,
        rng.fork(),
        (node) => {
          const id = this.hcClient!.send(node, this.nodeAddr.get(node)!, hcPort);
          this.lbProbeIds.set(id, node);
        },
        setTimer,
        nowNs,
      );
    }
    // Drawn last, so the other random choices are the same with or without a node failure.
    this.nodeRng = rng.fork();
  }

  private settingsLb: { intervalNs: number; unhealthyThreshold: number } | null = null;

  private onDownNode(pod: Pod): boolean {
    const node = pod.spec?.nodeName;
    return node !== undefined && this.downNs.has(node);
  }

  run(): RolloutResult {
    const net = this.net;
    const start = net.nowNs;
    const interval = 1e9 / this.options.rps;
    const total = Math.floor((this.options.durationS * 1e9) / interval);
    let sent = 0;
    const sendNext = (): void => {
      this.sendOne();
      sent++;
      if (sent < total) net.setTimer(start + sent * interval - net.nowNs, sendNext);
    };
    if (total > 0) net.setTimer(0, sendNext);
    net.setTimer(this.atNs, () => this.startTransition());
    // Let the last requests finish (or time out).
    net.run(start + this.durationNs + this.requestTimeoutNs + 1e6);
    return this.result();
  }

  // ---------------------------------------------------------------- traffic

  private sendOne(): void {
    const sp = this.service;
    let node: string | undefined;
    let addr: number;
    let port: number;
    if (this.lb !== null) {
      node = this.lb.pick();
      if (node === undefined) {
        // No healthy node: the balancer has nowhere to send it (counted as refused).
        this.bucket(this.net.nowNs).sent++;
        this.count('refused', 'load balancer: no healthy node', this.net.nowNs);
        return;
      }
      addr = this.nodeAddr.get(node)!;
      port = sp.nodePort;
    } else if (sp.nodePort !== 0) {
      // Round-robin over the nodes' NodePorts, as DNS or a plain L4 balancer would spread them.
      node = this.nodeNames[this.nextNodeIndex++ % this.nodeNames.length];
      addr = this.nodeAddr.get(node)!;
      port = sp.nodePort;
    } else {
      // ClusterIP: through the first node, where the client's routes send it.
      node = this.nodeAddr.keys().next().value!;
      addr = parseIPv4(sp.clusterIP);
      port = sp.port;
    }
    this.bucket(this.net.nowNs).sent++;
    this.client.send(node, addr, port);
  }

  private bucket(timeNs: number): SecondBucket {
    const s = Math.floor(timeNs / 1e9);
    while (this.seconds.length <= s)
      this.seconds.push({ second: this.seconds.length, sent: 0, ok: 0, refused: 0, reset: 0, timeout: 0 });
    return this.seconds[s];
  }

  private done(r: RequestRecord): void {
    const outcome = r.outcome as RequestOutcome;
    const b = this.bucket(r.startNs);
    if (outcome === 'ok') {
      b.ok++;
      this.totals.requests++;
      this.totals.succeeded++;
      return;
    }
    const why = this.explain(r);
    this.count(outcome, why.reason, r.startNs);
  }

  private count(outcome: Exclude<RequestOutcome, 'ok'>, reason: string, startNs: number): void {
    const b = this.bucket(startNs);
    b[outcome]++;
    this.totals.requests++;
    this.totals.failed++;
    if (outcome === 'refused') this.totals.refused++;
    else if (outcome === 'reset') this.totals.reset++;
    else this.totals.timedOut++;
    let entry = this.reasons.get(reason);
    if (entry === undefined) {
      entry = { reason, count: 0, refused: 0, reset: 0, timeout: 0, firstNs: startNs, lastNs: startNs };
      this.reasons.set(reason, entry);
    }
    entry.count++;
    entry[outcome]++;
    entry.firstNs = Math.min(entry.firstNs, startNs);
    entry.lastNs = Math.max(entry.lastNs, startNs);
  }

  private explain(r: RequestRecord): Attribution {
    let backendPod = r.synPod;
    if (this.proto === 'udp') {
      // Where the entry node's conntrack entry sent the query, as seen just after it crossed.
      backendPod ??= this.udpBackend.get(r.id) ?? this.conntrackBackend(r);
      this.udpBackend.delete(r.id);
      // Refused after its translation to a pod: the pod's port unreachable (no socket), as the
      // SYN observer reports a TCP pod that had stopped listening.
      const record =
        backendPod !== undefined && r.outcome === 'refused'
          ? { ...r, synPod: backendPod, synPodListening: false }
          : r;
      return attributeFailure({ ...this.attributionContext(), record, backendPod });
    }
    // The SYN reached no pod: where did the entry node's rules send it? (its conntrack entry)
    backendPod ??= this.conntrackBackend(r);
    return attributeFailure({ ...this.attributionContext(), record: r, backendPod });
  }

  /** Where the entry node's conntrack entry sent a UDP query (kept: a clean-up may delete it before the query times out). */
  private readonly udpBackend = new Map<number, string>();

  private noteUdpBackend(r: RequestRecord): void {
    const pod = this.conntrackBackend(r);
    if (pod !== undefined) this.udpBackend.set(r.id, pod);
  }

  /** The pod the entry node's conntrack entry for this request translates to, if any. */
  private conntrackBackend(r: RequestRecord): string | undefined {
    const ct = this.sim.proxies.get(r.entryNode)?.conntrack ?? null;
    const dst = this.nodeAddr.get(r.entryNode) ?? 0;
    if (ct === null) return undefined;
    const proto = this.proto === 'udp' ? 17 : 6;
    const ref = ct.find(this.clientAddr, dst, r.localPort, this.service.nodePort, proto, this.net.nowNs);
    if (ref < 0) return undefined;
    const to = ct.natDaddr(ref);
    return to !== dst ? this.holderOf(formatIPv4(to), r.startNs) : undefined;
  }

  private attributionContext() {
    return {
      service: this.service,
      propagation: this.propagation,
      stoppedNs: this.stoppedNs,
      goneNs: this.goneNs,
      lb: this.lb,
      downNs: this.downNs,
      notReadyNs: this.notReadyNs,
    };
  }

  private holderOf(ip: string, atNs: number): string | undefined {
    for (const h of this.ipHolders.get(ip) ?? []) if (h.fromNs <= atNs && atNs <= h.toNs) return h.pod;
    const all = this.ipHolders.get(ip);
    return all?.[all.length - 1]?.pod;
  }

  private recordIp(pod: Pod): void {
    const ip = pod.status?.podIP;
    if (ip === undefined) return;
    let list = this.ipHolders.get(ip);
    if (list === undefined) {
      list = [];
      this.ipHolders.set(ip, list);
    }
    list.push({ pod: keyOf(pod), fromNs: this.net.nowNs, toNs: Number.POSITIVE_INFINITY });
  }

  // ---------------------------------------------------------------- control plane

  /** Brings the cluster's clock to the packets' clock. */
  private tick(): void {
    const target = this.epochMs + this.net.nowNs / 1e6;
    const now = this.cluster.now();
    if (target > now) this.cluster.apply({ type: 'advanceClock', seconds: (target - now) / 1000 });
  }

  /** One change in the API, then what the kubelets and controllers do about it. */
  private mutate(change: () => void): void {
    this.tick();
    change();
    this.settle();
  }

  private resyncDeploymentsSoon(pod: Pod): void {
    // The Deployment controller looks again now, and once the pod has been Ready minReadySeconds.
    this.cluster.resyncDeployments();
    const dep = this.cluster.deployments().find((d) => d.metadata?.name === this.workload.name);
    const minReady = dep?.spec?.minReadySeconds ?? 0;
    if (minReady > 0 && pod.status !== undefined)
      this.net.setTimer(minReady * 1e9 + 1e6, () => this.mutate(() => this.cluster.resyncDeployments()));
  }

  /** The kubelets' and controllers' reaction: new pods start, deleted ones stop, slices follow. */
  private settle(): void {
    const { attached, detached } = this.sim.syncPods({ startApps: false });
    for (const key of detached) {
      this.kubelet.forget(key);
      this.goneNs.set(key, this.net.nowNs);
      for (const list of this.ipHolders.values())
        for (const h of list)
          if (h.pod === key && h.toNs === Number.POSITIVE_INFINITY) h.toNs = this.net.nowNs;
    }
    if (detached.length > 0) this.cluster.resyncDeployments();
    for (const key of attached) {
      const [n, p] = key.split('/');
      const pod = this.cluster.getPod(p, n);
      if (pod === undefined) continue;
      if (!this.onDownNode(pod)) this.kubelet.created(key, pod);
      this.recordIp(pod);
    }
    // The resync above may have created pods too.
    const again = this.sim.syncPods({ startApps: false });
    for (const key of again.attached) {
      const [n, p] = key.split('/');
      const pod = this.cluster.getPod(p, n);
      if (pod === undefined) continue;
      if (!this.onDownNode(pod)) this.kubelet.created(key, pod);
      this.recordIp(pod);
    }
    this.watchPods();
    for (const pod of this.cluster.pods()) {
      const key = keyOf(pod);
      if (isPodTerminating(pod) && !this.knownTerminating.has(key) && !this.onDownNode(pod)) {
        this.knownTerminating.add(key);
        this.kubelet.terminating(key);
      }
    }
    this.propagation.apiChanged();
  }

  private watchPods(): void {
    for (const [key, host] of this.sim.topology.pods) {
      if (host.tcp === null) continue;
      // tcpStack starts the app of a pod that has not had a packet yet (sim/pending-pod-app.ts).
      this.syn.watch(host, key, this.service.endpoints[0]?.port ?? 8080, this.sim.tcpStack(host));
    }
  }

  private startTransition(): void {
    this.mutate(() => {
      try {
        this.messages.push(...startTransition(this.cluster, this.workload, this.options.transition));
      } catch (e) {
        if (e instanceof TransitionError) throw new RolloutError(e.message);
        throw e;
      }
    });
    const t = this.options.transition;
    if (t.kind === 'drain') this.evict(t.node);
    if (t.kind === 'node-not-ready') this.stopNode(t.node);
  }

  /**
   * The node stops: nothing reaches it or its pods from now on, its kubelet goes silent, and
   * the node lifecycle controller reacts after its grace period (node-lifecycle.ts).
   */
  private stopNode(node: string): void {
    const host = this.sim.topology.nodes.get(node);
    if (host === undefined) return;
    const now = this.net.nowNs;
    host.down = true;
    this.downNs.set(node, now);
    this.propagation.stopNode(node);
    // Its kubelet is gone with it: no more probes, starts or stops for the pods bound there.
    for (const pod of this.cluster.pods()) if (pod.spec?.nodeName === node) this.kubelet.forget(keyOf(pod));
    const times = nodeFailureTimes(now, this.nodeMonitorGraceNs, this.nodeRng);
    this.net.setTimer(times.notReadyNs - now, () => {
      this.notReadyNs.set(node, this.net.nowNs);
      const marked: string[] = [];
      this.mutate(() => {
        this.cluster.setNodeUnreachable(node);
        for (const pod of this.cluster.pods()) {
          if (pod.spec?.nodeName !== node) continue;
          this.cluster.apply({ type: 'setPodReady', namespace: ns(pod), name: name(pod), ready: false });
          marked.push(name(pod));
          this.podEvents.push({
            timeNs: this.net.nowNs,
            pod: keyOf(pod),
            what: `not ready (${node} NotReady)`,
          });
        }
      });
      this.podEvents.push({
        timeNs: this.net.nowNs,
        pod: `node/${node}`,
        what: `NotReady (no heartbeat for ${((this.net.nowNs - times.lastHeartbeatNs) / 1e9).toFixed(1)}s)`,
      });
      this.messages.push(
        `node/${node} NotReady (Ready=Unknown: no heartbeat since ${(times.lastHeartbeatNs / 1e9).toFixed(1)}s, node-monitor-grace-period ${this.nodeMonitorGraceNs / 1e9}s); taint node.kubernetes.io/unreachable; pods marked not ready: ${marked.join(', ') || 'none'}`,
      );
    });
    // The taint manager's eviction once the pods' 300 s toleration runs out (if the run lasts).
    this.net.setTimer(times.evictNs - now, () =>
      this.mutate(() => {
        for (const pod of this.cluster.pods()) {
          if (pod.spec?.nodeName !== node || isPodTerminating(pod)) continue;
          this.cluster.apply({
            type: 'terminatePod',
            namespace: ns(pod),
            name: name(pod),
            gracePeriodSeconds: pod.spec?.terminationGracePeriodSeconds ?? 30,
          });
          this.messages.push(
            `taint manager: evicting pod ${ns(pod)}/${name(pod)} from unreachable node/${node}`,
          );
        }
      }),
    );
  }

  private evict(node: string): void {
    let remaining = 0;
    this.mutate(() => {
      const round = evictRound(this.cluster, node, this.budgets);
      this.messages.push(...round.messages);
      remaining = round.remaining;
    });
    if (remaining > 0) this.net.setTimer(EVICTION_RETRY_NS, () => this.evict(node));
    else this.messages.push(`node/${node} drained`);
  }

  private result(): RolloutResult {
    const t = this.options.transition;
    return {
      mode: this.sim.mode,
      proto: this.proto,
      seed: this.options.seed,
      label: this.label,
      service: `${this.service.namespace}/${this.service.name}`,
      target: `${this.workload.kind.toLowerCase()}/${this.workload.name}`,
      transition: t,
      atNs: this.atNs,
      durationNs: this.durationNs,
      rps: this.options.rps,
      settings: {
        minSyncPeriodNs: this.minSyncNs,
        watchDelay: this.watchDelay,
        batchPeriodNs: this.batchNs,
        terminatingFallback: this.fallback,
        requestTimeoutNs: this.requestTimeoutNs,
        loadBalancer: this.settingsLb,
      },
      totals: { ...this.totals },
      seconds: this.seconds.slice(0, Math.ceil(this.durationNs / 1e9)),
      reasons: [...this.reasons.values()].sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1)),
      syncs: this.propagation.syncs,
      sliceWrites: this.propagation.writes,
      lbEvents: this.lb?.events ?? [],
      podEvents: this.podEvents,
      messages: this.messages,
    };
  }
}

const ns = (pod: Pod) => pod.metadata?.namespace ?? 'default';
const name = (pod: Pod) => pod.metadata?.name ?? '';
const keyOf = (pod: Pod) => objectKey(ns(pod), name(pod));
