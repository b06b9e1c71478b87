/**
 * The kubelet's side of a pod's life, with its real timings, on the simulated clock:
 *
 * - start: the container starts `dpsim.io/startup-seconds` (default 1) after the pod is bound;
 *   its app then listens. With a readinessProbe the pod turns Ready after the first passing
 *   probe (initialDelaySeconds, then every periodSeconds; successThreshold passes in a row);
 *   without one, as soon as the container runs. Probes keep running: failureThreshold misses
 *   in a row turn the pod not Ready (the probe passes while the app listens).
 * - deletion (deletionTimestamp set): the preStop hook runs first (`lifecycle.preStop.sleep`
 *   or an `exec` of `sleep N`), then SIGTERM, whose handling the app chooses with the
 *   `dpsim.io/sigterm` annotation: `exit` (default: closes its listener and exits at once),
 *   `drain` (keeps serving `dpsim.io/drain-seconds`, default 5, then exits), `ignore` (serves
 *   until killed). SIGKILL comes at terminationGracePeriodSeconds (default 30) after the
 *   deletion, cutting short whatever is still running. When the container has exited the pod
 *   object is removed and its network namespace torn down.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import { isPodReady } from '../k8s/controllers/pods.js';
import { podGracePeriodSeconds } from '../k8s/controllers/replicaset.js';

export type SigtermHandling = 'exit' | 'drain' | 'ignore';
export const SIGTERM_ANNOTATION = 'dpsim.io/sigterm';
export const DRAIN_SECONDS_ANNOTATION = 'dpsim.io/drain-seconds';
export const STARTUP_SECONDS_ANNOTATION = 'dpsim.io/startup-seconds';

export interface PodTimings {
  readonly startupSeconds: number;
  readonly probe: {
    readonly initialDelaySeconds: number;
    readonly periodSeconds: number;
    readonly failureThreshold: number;
    readonly successThreshold: number;
  } | null;
  readonly preStopSeconds: number;
  readonly graceSeconds: number;
  readonly sigterm: SigtermHandling;
  readonly drainSeconds: number;
}

export class PodSpecError extends Error {
  override name = 'PodSpecError';
}

function seconds(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0)
    throw new PodSpecError(`${what} "${text}" is not a number of seconds >= 0`);
  return n;
}

/** `sleep 5` in an exec preStop hook (["sleep","5"], ["/bin/sh","-c","sleep 5"]). */
function execSleepSeconds(command: readonly string[] | undefined): number {
  const text = (command ?? []).join(' ');
  const m = /(?:^|[\s;&|/])sleep\s+(\d+(?:\.\d+)?)/.exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** What the pod's spec and annotations say about its timings. */
export function podTimings(pod: Pod): PodTimings {
  const ann = pod.metadata?.annotations ?? {};
  const c = pod.spec?.containers?.[0];
  const rp = c?.readinessProbe;
  const preStop = c?.lifecycle?.preStop as
    | { sleep?: { seconds?: number }; exec?: { command?: string[] } }
    | undefined;
  const sigterm = (ann[SIGTERM_ANNOTATION] ?? 'exit') as SigtermHandling;
  if (!['exit', 'drain', 'ignore'].includes(sigterm))
    throw new PodSpecError(
      `annotation ${SIGTERM_ANNOTATION}: "${ann[SIGTERM_ANNOTATION]}" is not one of exit, drain, ignore`,
    );
  return {
    startupSeconds: seconds(ann[STARTUP_SECONDS_ANNOTATION], 1, `annotation ${STARTUP_SECONDS_ANNOTATION}`),
    probe:
      rp === undefined
        ? null
        : {
            initialDelaySeconds: rp.initialDelaySeconds ?? 0,
            periodSeconds: rp.periodSeconds ?? 10,
            failureThreshold: rp.failureThreshold ?? 3,
            successThreshold: rp.successThreshold ?? 1,
          },
    preStopSeconds: preStop?.sleep?.seconds ?? execSleepSeconds(preStop?.exec?.command),
    graceSeconds: podGracePeriodSeconds(pod),
    sigterm,
    drainSeconds: seconds(ann[DRAIN_SECONDS_ANNOTATION], 5, `annotation ${DRAIN_SECONDS_ANNOTATION}`),
  };
}

/** What the kubelet does to the world; the engine wires these to the cluster and the simulation. */
export interface KubeletActions {
  setTimer(delayNs: number, fn: () => void): void;
  nowNs(): number;
  startListening(pod: Pod): void;
  stopListening(pod: Pod): void;
  listening(pod: Pod): boolean;
  setReady(pod: Pod, ready: boolean): void;
  /** The container exited: the pod object goes away. */
  removePod(pod: Pod): void;
  /** A lifecycle step happened (for the report). */
  note(podKey: string, what: string): void;
  /** The pod still exists (same object). */
  alive(pod: Pod): boolean;
}

interface Tracked {
  readonly pod: Pod;
  readonly timings: PodTimings;
  started: boolean;
  terminating: boolean;
  exited: boolean;
  passes: number;
  misses: number;
}

export class Kubelet {
  private readonly pods = new Map<string, Tracked>();

  constructor(private readonly act: KubeletActions) {}

  /** Pods running when the run starts: their apps already listen and they are Ready. */
  adopt(key: string, pod: Pod): void {
    const t: Tracked = {
      pod,
      timings: podTimings(pod),
      started: true,
      terminating: false,
      exited: false,
      passes: 0,
      misses: 0,
    };
    this.pods.set(key, t);
    if (t.timings.probe !== null) this.scheduleProbe(key, t, t.timings.probe.periodSeconds);
  }

  /** A pod the API just bound to this node: start its container. */
  created(key: string, pod: Pod): void {
    const t: Tracked = {
      pod,
      timings: podTimings(pod),
      started: false,
      terminating: false,
      exited: false,
      passes: 0,
      misses: 0,
    };
    this.pods.set(key, t);
    this.after(t.timings.startupSeconds, t, () => {
      t.started = true;
      this.act.startListening(pod);
      this.act.note(key, 'container started');
      if (t.timings.probe === null) this.act.setReady(pod, true);
      else this.scheduleProbe(key, t, t.timings.probe.initialDelaySeconds);
    });
  }

  /** The pod got a deletionTimestamp: preStop, SIGTERM, SIGKILL at the grace deadline. */
  terminating(key: string): void {
    const t = this.pods.get(key);
    if (t === undefined || t.terminating) return;
    t.terminating = true;
    const { preStopSeconds, graceSeconds } = t.timings;
    this.act.note(key, preStopSeconds > 0 ? `preStop sleep ${preStopSeconds}s` : 'SIGTERM');
    // SIGKILL at the deadline, whatever is still running.
    this.after(graceSeconds, t, () => this.exit(key, t, 'SIGKILL at the grace deadline'));
    if (preStopSeconds < graceSeconds) this.after(preStopSeconds, t, () => this.sigterm(key, t));
  }

  /** The pod object is gone (removed by the API): forget it. */
  forget(key: string): void {
    const t = this.pods.get(key);
    if (t !== undefined) t.exited = true;
    this.pods.delete(key);
  }

  private sigterm(key: string, t: Tracked): void {
    if (preStopRan(t)) this.act.note(key, 'SIGTERM');
    switch (t.timings.sigterm) {
      case 'exit':
        this.exit(key, t, 'app exited on SIGTERM');
        break;
      case 'drain': {
        const remaining = t.timings.graceSeconds - t.timings.preStopSeconds;
        if (t.timings.drainSeconds < remaining)
          this.after(t.timings.drainSeconds, t, () => this.exit(key, t, 'app exited after draining'));
        break;
      }
      case 'ignore':
        break;
    }
  }

  private exit(key: string, t: Tracked, why: string): void {
    if (t.exited) return;
    t.exited = true;
    this.act.stopListening(t.pod);
    this.act.note(key, why);
    if (this.act.alive(t.pod)) this.act.removePod(t.pod);
    this.pods.delete(key);
  }

  private scheduleProbe(key: string, t: Tracked, delaySeconds: number): void {
    const probe = t.timings.probe;
    if (probe === null) return;
    this.after(delaySeconds, t, () => {
      // The probe connects to the app: it passes while the app listens.
      const pass = this.act.listening(t.pod);
      if (pass) {
        t.passes++;
        t.misses = 0;
        if (!isPodReady(t.pod) && t.passes >= probe.successThreshold) {
          this.act.setReady(t.pod, true);
          this.act.note(key, 'readiness probe passed');
        }
      } else {
        t.misses++;
        t.passes = 0;
        if (isPodReady(t.pod) && t.misses >= probe.failureThreshold) {
          this.act.setReady(t.pod, false);
          this.act.note(key, 'readiness probe failed');
        }
      }
      this.scheduleProbe(key, t, probe.periodSeconds);
    });
  }

  /** Runs `fn` after `s` seconds unless the pod has exited meanwhile. */
  private after(s: number, t: Tracked, fn: () => void): void {
    this.act.setTimer(s * 1e9, () => {
      if (!t.exited && this.act.alive(t.pod)) fn();
    });
  }
}

function preStopRan(t: Tracked): boolean {
  return t.timings.preStopSeconds > 0;
}
