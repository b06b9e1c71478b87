/**
 * The cloud load balancer in front of a LoadBalancer Service, as instance-mode balancers work:
 * it sends each connection to a node's NodePort, choosing among the nodes it considers
 * healthy, and polls every node's health check — the Service's `healthCheckNodePort`
 * (`/healthz`, kube-proxy's per-Service server: 200 while the node has a ready local
 * endpoint, 503 otherwise) for `externalTrafficPolicy: Local`, else kube-proxy's :10256 —
 * every `interval`. A node goes out after `unhealthyThreshold` failed checks in a row and
 * comes back after `healthyThreshold` passing ones. The checks are real HTTP requests from
 * the client side through each node's stack.
 */
import type { Rng } from '../util/rng.js';
import type { RequestRecord } from './requests.js';

export interface LoadBalancerSettings {
  readonly intervalNs: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
}

export const DEFAULT_LB_SETTINGS: LoadBalancerSettings = {
  intervalNs: 5e9,
  unhealthyThreshold: 2,
  healthyThreshold: 2,
};

/** A node going in or out of the balancer's rotation. */
export interface LbEvent {
  readonly timeNs: number;
  readonly node: string;
  readonly healthy: boolean;
}

interface Target {
  readonly node: string;
  healthy: boolean;
  passes: number;
  fails: number;
  /** Since when the node's health check has been failing (Infinity while it passes). */
  failingSinceNs: number;
}

export class LoadBalancer {
  readonly events: LbEvent[] = [];
  private readonly targets: Target[];
  private readonly byNode = new Map<string, Target>();

  constructor(
    nodes: readonly string[],
    private readonly settings: LoadBalancerSettings,
    private readonly rng: Rng,
    /** Sends one health check to the node; the result comes back through `checked`. */
    private readonly probe: (node: string) => void,
    private readonly setTimer: (delayNs: number, fn: () => void) => void,
    private readonly nowNs: () => number,
  ) {
    // Every node starts in rotation: the Service has been healthy for a while.
    this.targets = nodes.map((node) => ({
      node,
      healthy: true,
      passes: 0,
      fails: 0,
      failingSinceNs: Number.POSITIVE_INFINITY,
    }));
    for (const t of this.targets) this.byNode.set(t.node, t);
    this.schedule(settings.intervalNs);
  }

  /** Picks the node for a new connection; undefined when no node is healthy. */
  pick(): string | undefined {
    let healthy = 0;
    for (const t of this.targets) if (t.healthy) healthy++;
    if (healthy === 0) return undefined;
    let k = this.rng.nextInt(healthy);
    for (const t of this.targets) if (t.healthy && k-- === 0) return t.node;
    return undefined;
  }

  inRotation(node: string): boolean {
    return this.byNode.get(node)?.healthy ?? false;
  }

  /** When the node's health check started failing (Infinity: it passes). */
  failingSince(node: string): number {
    return this.byNode.get(node)?.failingSinceNs ?? Number.POSITIVE_INFINITY;
  }

  /** A health check's result. */
  checked(node: string, record: RequestRecord): void {
    const t = this.byNode.get(node);
    if (t === undefined) return;
    const pass = record.outcome === 'ok';
    if (pass) {
      t.passes++;
      t.fails = 0;
      t.failingSinceNs = Number.POSITIVE_INFINITY;
      if (!t.healthy && t.passes >= this.settings.healthyThreshold) this.set(t, true);
    } else {
      t.fails++;
      t.passes = 0;
      if (t.failingSinceNs === Number.POSITIVE_INFINITY) t.failingSinceNs = record.startNs;
      if (t.healthy && t.fails >= this.settings.unhealthyThreshold) this.set(t, false);
    }
  }

  private set(t: Target, healthy: boolean): void {
    t.healthy = healthy;
    this.events.push({ timeNs: this.nowNs(), node: t.node, healthy });
  }

  private schedule(delayNs: number): void {
    this.setTimer(delayNs, () => {
      for (const t of this.targets) this.probe(t.node);
      this.schedule(this.settings.intervalNs);
    });
  }
}
