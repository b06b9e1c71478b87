/**
 * kube-proxy's sync loop, as a deterministic state machine on a simulated clock.
 *
 * kube-proxy never calls syncProxyRules straight from an informer event: every event calls
 * `syncRunner.Run()`, and a BoundedFrequencyRunner decides when the sync really happens.
 * This models the runner of current kube-proxy (pkg/proxy/runner, used by every proxier
 * since it replaced pkg/util/async): `Loop` waits for a trigger — a `Run()` request, the
 * `maxInterval` timer or the `retryInterval` timer after a failed run — runs the function,
 * then waits `minInterval` measured from the run's *completion* before it looks at triggers
 * again. Requests that arrive meanwhile (during the run or the cool-down) sit in the
 * runner's one-slot channel and are coalesced into the next run; none is lost. A failed run
 * arms the retry timer; a successful one disarms it. Both interval timers restart after
 * every run. (The older pkg/util/async runner let `burstRuns` = 2 runs through a token
 * bucket back to back; current kube-proxy has no burst, and neither does this model.)
 *
 * The runner owns no timers: a driver asks `nextRunAt()` for the instant the runner wants to
 * act, advances its own clock (an EventQueue, a control-plane clock) to it and calls
 * `fire(now)`; it calls `request(now)` for every informer event. All times are nanoseconds.
 * The same inputs give the same runs, so per-node loops on one seed are reproducible.
 */

/** FullSyncPeriod (pkg/proxy/util): the iptables and nftables proxiers resync fully once an hour. */
export const FULL_SYNC_PERIOD_NS = 3600e9;

export interface BoundedFrequencySettings {
  /** At least this long from the end of one run to the start of the next (minSyncPeriod). */
  readonly minIntervalNs: number;
  /** After a failed run, run again no later than this (kube-proxy passes syncPeriod). */
  readonly retryIntervalNs: number;
  /** Run at least this often even without requests (kube-proxy passes FullSyncPeriod). */
  readonly maxIntervalNs: number;
}

/** What started a run: a request, the periodic timer, or the retry after a failure. */
export type RunTrigger = 'request' | 'periodic' | 'retry';

export interface RunOutcome {
  /** false: the run failed (iptables-restore returned an error); the retry timer is armed. */
  readonly ok: boolean;
  /** How long the run took on the simulated clock (default 0); minInterval counts from its end. */
  readonly durationNs?: number;
}

export interface RunRecord {
  readonly startNs: number;
  readonly endNs: number;
  readonly trigger: RunTrigger;
  readonly ok: boolean;
}

export class BoundedFrequencyRunnerError extends Error {
  override name = 'BoundedFrequencyRunnerError';
}

export class BoundedFrequencyRunner {
  /** A Run() request is waiting in the one-slot channel: since when (Infinity: none). */
  private pendingSince = Number.POSITIVE_INFINITY;
  /** Earliest instant the loop looks at triggers again (end of the last run + minInterval). */
  private readyAt: number;
  private maxAt: number;
  private retryAt = Number.POSITIVE_INFINITY;
  /** The latest instant the driver has shown the runner; time never goes back. */
  private now: number;
  private runs = 0;

  constructor(
    readonly settings: BoundedFrequencySettings,
    private readonly fn: (nowNs: number, trigger: RunTrigger) => RunOutcome,
    startNs = 0,
  ) {
    const { minIntervalNs, retryIntervalNs, maxIntervalNs } = settings;
    for (const [name, v] of [
      ['minInterval', minIntervalNs],
      ['retryInterval', retryIntervalNs],
      ['maxInterval', maxIntervalNs],
    ] as const) {
      if (!(v >= 0)) throw new BoundedFrequencyRunnerError(`${name} must be >= 0, got ${v}`);
    }
    // Zero would make the runner spin on one instant; kube-proxy's validation requires syncPeriod > 0.
    if (retryIntervalNs === 0 || maxIntervalNs === 0) {
      throw new BoundedFrequencyRunnerError('retryInterval and maxInterval must be > 0');
    }
    // NewBoundedFrequencyRunner panics on this, as kube-proxy's config validation prevents it.
    if (maxIntervalNs < minIntervalNs) {
      throw new BoundedFrequencyRunnerError(
        `maxInterval (${maxIntervalNs} ns) must be >= minInterval (${minIntervalNs} ns)`,
      );
    }
    // Loop starts its timers when it starts: min expired at once (nothing ran yet), max armed.
    this.readyAt = startNs;
    this.maxAt = startNs + maxIntervalNs;
    this.now = startNs;
  }

  /** Runs so far. */
  get runCount(): number {
    return this.runs;
  }

  /** A request is queued and has not been served by a run yet. */
  get hasPendingRequest(): boolean {
    return this.pendingSince !== Number.POSITIVE_INFINITY;
  }

  /**
   * `Run()`: ask for a run as soon as the minimum interval allows; repeated asks coalesce.
   * Runs that fell due strictly before `nowNs` happen first (the driver may not have fired
   * them yet); a run due at `nowNs` itself serves this request.
   */
  request(nowNs: number): void {
    this.checkTime(nowNs);
    while (this.nextRunAt() < nowNs) this.fire(this.nextRunAt());
    // A request during a run (after its start, before its end) is legal: it queues for the next run.
    this.now = nowNs;
    this.pendingSince = Math.min(this.pendingSince, nowNs);
  }

  /** The instant the runner will act next (never earlier than the end of its cool-down). */
  nextRunAt(): number {
    return Math.max(this.readyAt, Math.min(this.pendingSince, this.maxAt, this.retryAt));
  }

  /**
   * Advances the runner to `nowNs`: if a run is due (nextRunAt() <= now) it runs once, at
   * nextRunAt() (a driver that calls late does not shift the run). Returns the run, or null.
   */
  fire(nowNs: number): RunRecord | null {
    this.checkTime(nowNs);
    const at = this.nextRunAt();
    if (at > nowNs) {
      this.now = nowNs;
      return null;
    }
    // A late driver gets the run at its due time; calling fire again catches up the rest.
    this.now = at;
    // A request, the max timer and the retry timer due at the same instant make one run.
    const trigger: RunTrigger = this.hasPendingRequest
      ? 'request'
      : this.retryAt <= at
        ? 'retry'
        : 'periodic';
    this.pendingSince = Number.POSITIVE_INFINITY;
    const outcome = this.fn(at, trigger);
    const duration = outcome.durationNs ?? 0;
    if (!(duration >= 0)) throw new BoundedFrequencyRunnerError(`run duration must be >= 0, got ${duration}`);
    const end = at + duration;
    this.retryAt = outcome.ok ? Number.POSITIVE_INFINITY : end + this.settings.retryIntervalNs;
    this.readyAt = end + this.settings.minIntervalNs;
    this.maxAt = end + this.settings.maxIntervalNs;
    this.runs++;
    return { startNs: at, endNs: end, trigger, ok: outcome.ok };
  }

  /** Fires every run due up to and including `untilNs`, in order. */
  advanceTo(untilNs: number): RunRecord[] {
    const out: RunRecord[] = [];
    for (;;) {
      const at = this.nextRunAt();
      if (at > untilNs) return out;
      const r = this.fire(at);
      if (r !== null) out.push(r);
    }
  }

  private checkTime(nowNs: number): void {
    if (!Number.isFinite(nowNs)) throw new BoundedFrequencyRunnerError(`time must be finite, got ${nowNs}`);
    if (nowNs < this.now) {
      throw new BoundedFrequencyRunnerError(`time went backwards: ${nowNs} ns after ${this.now} ns`);
    }
  }
}

/** The runner settings kube-proxy derives from its configuration (proxier.go NewProxier). */
export function kubeProxyRunnerSettings(periods: {
  readonly syncPeriodNs: number;
  readonly minSyncPeriodNs: number;
}): BoundedFrequencySettings {
  return {
    minIntervalNs: periods.minSyncPeriodNs,
    retryIntervalNs: periods.syncPeriodNs,
    maxIntervalNs: FULL_SYNC_PERIOD_NS,
  };
}
