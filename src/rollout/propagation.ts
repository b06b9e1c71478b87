/**
 * How a change in the API reaches each node's rules, on the simulated clock:
 *
 *   API change ─► EndpointSlice controller (batches changes for `batchPeriod`, then writes the
 *   slices: one new model version) ─► each node's watch (its own seeded delay, in order) ─►
 *   the node's proxy sync loop (kube-proxy's bounded-frequency runner: at most one sync per
 *   minSyncPeriod, requests in between coalesced) ─► the node's rules and health servers.
 *
 * So nodes disagree for a while, as real ones do. Every model version the controller wrote
 * is kept, and every node remembers the version its rules were built from, so a failed
 * request can be traced to the node whose rules were stale and to when they were fixed.
 */
import { toProxyModel } from '../k8s/index.js';
import { BoundedFrequencyRunner } from '../proxy/common/bounded-frequency-runner.js';
import type { ProxyModel } from '../proxy/common/model.js';
import type { Simulation } from '../sim/simulation.js';
import type { Rng } from '../util/rng.js';
import { type DelaySpec, sampleDelay } from './delay.js';

/** The sync loop a node's proxy runs (kube-proxy's BoundedFrequencyRunner, driven by the caller's clock). */
export interface SyncLoop {
  /** An informer event: ask for a sync as soon as the minimum interval allows. */
  request(nowNs: number): void;
  /** The instant the loop acts next (Infinity: never). */
  nextRunAt(): number;
  /** Runs the sync if one is due at `nowNs`; returns whether it ran. */
  fire(nowNs: number): unknown;
}

export interface SyncLoopSettings {
  /** minSyncPeriod: from the end of one sync to the start of the next. */
  readonly minIntervalNs: number;
  /** Periodic resync with no request (kube-proxy: FullSyncPeriod, an hour). */
  readonly maxIntervalNs: number;
  /** After a failed sync (kube-proxy passes its syncPeriod). */
  readonly retryIntervalNs: number;
}

/** Builds a node's loop around its sync function. */
export type SyncLoopFactory = (
  settings: SyncLoopSettings,
  sync: (nowNs: number) => void,
  startNs: number,
) => SyncLoop;

/** A sync that happened: when, where, which model version it programmed. */
export interface SyncEvent {
  readonly timeNs: number;
  readonly node: string;
  readonly version: number;
  /** A watch event asked for it, or the periodic timer. */
  readonly trigger: 'change' | 'periodic';
}

/** The EndpointSlice controller wrote the slices: a new model version exists from this time. */
export interface SliceWrite {
  readonly timeNs: number;
  readonly version: number;
}

interface NodeState {
  readonly name: string;
  readonly loop: SyncLoop;
  /** Latest version this node's watch has delivered. */
  seen: number;
  /** Version its rules were built from. */
  programmed: number;
  lastSyncNs: number;
  /** Time the watch delivers its latest event (deliveries stay in order). */
  lastDeliveryNs: number;
  /** The pending timer for the loop, and its time. */
  timerAtNs: number;
  /** Programmed versions over time, for "what did this node's rules say at time t". */
  readonly history: { timeNs: number; version: number }[];
  /** The node stopped (its watch and sync loop with it). */
  stopped: boolean;
}

export interface PropagationOptions {
  readonly batchPeriodNs: number;
  readonly watchDelay: DelaySpec;
  readonly loop: SyncLoopSettings;
  readonly loopFactory: SyncLoopFactory;
  /**
   * Serving-and-terminating endpoints as a fallback (KEP-1669, kube-proxy ≥ 1.26 and Cilium).
   * false models a proxy without it: a terminating endpoint is never used.
   */
  readonly terminatingFallback: boolean;
  readonly setTimer: (delayNs: number, fn: () => void) => number;
  readonly nowNs: () => number;
}

export class Propagation {
  /** Model versions the EndpointSlice controller wrote; version 0 is the state at start. */
  readonly versions: ProxyModel[] = [];
  readonly versionTimes: number[] = [];
  readonly syncs: SyncEvent[] = [];
  readonly writes: SliceWrite[] = [];
  private readonly nodes = new Map<string, NodeState>();
  private writePending = false;

  constructor(
    private readonly sim: Simulation,
    private readonly rng: Rng,
    private readonly options: PropagationOptions,
  ) {
    this.versions.push(this.snapshot());
    this.versionTimes.push(options.nowNs());
    for (const name of sim.proxies.keys()) {
      const state: NodeState = {
        name,
        loop: options.loopFactory(options.loop, (now) => this.syncNode(state, now), options.nowNs()),
        seen: 0,
        programmed: 0,
        lastSyncNs: options.nowNs(),
        lastDeliveryNs: options.nowNs(),
        timerAtNs: Number.POSITIVE_INFINITY,
        history: [{ timeNs: options.nowNs(), version: 0 }],
        stopped: false,
      };
      this.nodes.set(name, state);
      // Every node starts from the same rules: the state at start, whatever the option says.
      sim.syncNode(name, this.versions[0]);
      this.arm(state);
    }
  }

  get latestVersion(): number {
    return this.versions.length - 1;
  }

  nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  /** The version a node's rules held at `timeNs`. */
  programmedAt(node: string, timeNs: number): number {
    const h = this.nodes.get(node)?.history ?? [];
    let v = 0;
    for (const e of h) {
      if (e.timeNs > timeNs) break;
      v = e.version;
    }
    return v;
  }

  /** The version the control plane had written by `timeNs`. */
  writtenAt(timeNs: number): number {
    let v = 0;
    for (let i = 0; i < this.versionTimes.length; i++) if (this.versionTimes[i] <= timeNs) v = i;
    return v;
  }

  lastSyncOf(node: string): number {
    return this.nodes.get(node)?.lastSyncNs ?? 0;
  }

  /** The node stopped: its watch delivers nothing more and its proxy never syncs again. */
  stopNode(name: string): void {
    const state = this.nodes.get(name);
    if (state === undefined) return;
    state.stopped = true;
    state.timerAtNs = Number.NEGATIVE_INFINITY;
  }

  /** Something in the API changed: the EndpointSlice controller writes within its batch period. */
  apiChanged(): void {
    if (this.writePending) return;
    this.writePending = true;
    this.options.setTimer(this.options.batchPeriodNs, () => {
      this.writePending = false;
      this.writeSlices();
    });
  }

  private snapshot(): ProxyModel {
    const model = toProxyModel(this.sim.cluster);
    if (this.options.terminatingFallback) return model;
    // Before KEP-1669 a proxy used ready endpoints only: a terminating one serves nothing.
    return {
      ...model,
      servicePorts: model.servicePorts.map((sp) => ({
        ...sp,
        endpoints: sp.endpoints.map((e) => (e.terminating ? { ...e, serving: false } : e)),
      })),
    };
  }

  private writeSlices(): void {
    const now = this.options.nowNs();
    this.versions.push(this.snapshot());
    this.versionTimes.push(now);
    const version = this.latestVersion;
    this.writes.push({ timeNs: now, version });
    // Each node's watch: its own delay, never overtaking its previous event.
    for (const state of this.nodes.values()) {
      if (state.stopped) continue;
      const at = Math.max(now + sampleDelay(this.options.watchDelay, this.rng), state.lastDeliveryNs);
      state.lastDeliveryNs = at;
      this.options.setTimer(at - now, () => {
        state.seen = Math.max(state.seen, version);
        state.loop.request(this.options.nowNs());
        this.arm(state);
      });
    }
  }

  /** Keeps one timer per node at the loop's next run. */
  private arm(state: NodeState): void {
    if (state.stopped) return;
    const at = state.loop.nextRunAt();
    if (!Number.isFinite(at) || at >= state.timerAtNs) return;
    state.timerAtNs = at;
    this.options.setTimer(at - this.options.nowNs(), () => {
      if (state.timerAtNs !== at || state.stopped) return;
      state.timerAtNs = Number.POSITIVE_INFINITY;
      state.loop.fire(this.options.nowNs());
      this.arm(state);
    });
  }

  private syncNode(state: NodeState, nowNs: number): void {
    const trigger = state.seen !== state.programmed ? 'change' : 'periodic';
    state.programmed = state.seen;
    state.lastSyncNs = nowNs;
    state.history.push({ timeNs: nowNs, version: state.seen });
    this.sim.syncNode(state.name, this.versions[state.seen]);
    this.syncs.push({ timeNs: nowNs, node: state.name, version: state.seen, trigger });
  }
}

/**
 * The node's loop is kube-proxy's own BoundedFrequencyRunner (src/proxy/common): a sync no
 * sooner than minSyncPeriod after the previous one ended, requests in between coalesced, a
 * periodic run every maxInterval. Syncs here never fail, so its retry timer stays idle.
 */
export const kubeProxySyncLoop: SyncLoopFactory = (settings, sync, startNs) =>
  new BoundedFrequencyRunner(
    {
      minIntervalNs: settings.minIntervalNs,
      retryIntervalNs: settings.retryIntervalNs,
      maxIntervalNs: settings.maxIntervalNs,
    },
    (nowNs) => {
      sync(nowNs);
      return { ok: true };
    },
    startNs,
  );
