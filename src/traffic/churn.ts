/**
 * Endpoint churn during a load run: control-plane events applied when the generator has sent
 * a given number of packets, then every node's proxy re-synced (`Simulation.syncFromCluster`),
 * as kube-proxy / Cilium's agent would after the EndpointSlice change.
 *
 * Spec: comma-separated `KIND=N@PACKET` items, e.g. `scale=5@10000,delete=1@20000,unready=1@30000`.
 * - `scale=N`   — the first Deployment (else the first ReplicaSet) backing a Service scaled to N replicas;
 * - `delete=N`  — N backend pods deleted at once (grace 0; their ReplicaSet replaces them);
 * - `unready=N` — N ready backend pods marked not Ready (readiness probe failing);
 * - `ready=N`   — N not-ready backend pods marked Ready again.
 * Pods are picked with the run's seeded Rng. Events run in packet order (ties: spec order).
 */
import { DNS_DEPLOYMENT, DNS_NAMESPACE, isDnsAddonService } from '../k8s/cluster-dns-addon.js';
import type { ClusterEvent } from '../k8s/index.js';
import { podApps } from '../sim/pod-apps.js';
import type { Simulation } from '../sim/simulation.js';
import type { Rng } from '../util/rng.js';

export type ChurnKind = 'scale' | 'delete' | 'unready' | 'ready';
export const CHURN_KINDS: readonly ChurnKind[] = ['scale', 'delete', 'unready', 'ready'];

export interface ChurnEvent {
  readonly kind: ChurnKind;
  readonly count: number;
  /** Applied just before the packet with this index (0-based) is sent. */
  readonly atPacket: number;
}

export interface AppliedChurn {
  readonly kind: ChurnKind;
  readonly count: number;
  readonly atPacket: number;
  /** What the control plane answered, one line per object touched. */
  readonly messages: readonly string[];
  /** False when the event could not be carried out (e.g. no pod left to delete). */
  readonly ok: boolean;
}

export class ChurnSpecError extends Error {
  override name = 'ChurnSpecError';
}

const ITEM = /^([a-z]+)=(\d+)@(\d+)$/;

/** Parses a churn spec; events come back sorted by packet (stable for ties). */
export function parseChurnSpec(spec: string): ChurnEvent[] {
  const events: ChurnEvent[] = [];
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const m = ITEM.exec(item);
    if (m === null) {
      throw new ChurnSpecError(
        `bad churn item "${item}": expected KIND=N@PACKET with KIND one of ${CHURN_KINDS.join(', ')} (e.g. scale=5@10000)`,
      );
    }
    const kind = m[1] as ChurnKind;
    if (!CHURN_KINDS.includes(kind)) {
      throw new ChurnSpecError(
        `unknown churn kind "${m[1]}" in "${item}" (expected ${CHURN_KINDS.join(', ')})`,
      );
    }
    const count = Number(m[2]);
    const atPacket = Number(m[3]);
    if (!Number.isSafeInteger(count) || !Number.isSafeInteger(atPacket)) {
      throw new ChurnSpecError(`numbers out of range in churn item "${item}"`);
    }
    if (kind !== 'scale' && count === 0) throw new ChurnSpecError(`churn item "${item}" touches no pod`);
    events.push({ kind, count, atPacket });
  }
  if (events.length === 0) throw new ChurnSpecError(`empty churn spec "${spec}"`);
  // Array.prototype.sort is stable: equal packets keep their spec order.
  return events.sort((a, b) => a.atPacket - b.atPacket);
}

/** Pods that are endpoints of a Service port (the apiserver's host-network endpoints excluded). */
function backendPods(sim: Simulation): { namespace: string; name: string; ready: boolean }[] {
  const names = new Set<string>();
  for (const sp of sim.model.servicePorts) {
    // CoreDNS is not churned: the load it would break is DNS, which the HTTP load does not send.
    if (isDnsAddonService(sp.namespace, sp.name)) continue;
    for (const ep of sp.endpoints) if (ep.podName !== '') names.add(`${sp.namespace}/${ep.podName}`);
  }
  return podApps(sim.cluster.pods())
    .filter((p) => names.has(`${p.namespace}/${p.name}`) && !p.terminating)
    .map((p) => ({ namespace: p.namespace, name: p.name, ready: p.ready }))
    .sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
}

function pick<T>(items: T[], count: number, rng: Rng): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < count && pool.length > 0) out.push(pool.splice(rng.nextInt(pool.length), 1)[0]);
  return out;
}

function scaleTarget(sim: Simulation): ClusterEvent | null {
  // Not the CoreDNS add-on (kube-system/coredns and its ReplicaSet): the load is HTTP.
  const notDns = (o: { metadata?: { namespace?: string; name?: string } }) =>
    !(o.metadata?.namespace === DNS_NAMESPACE && o.metadata?.name?.startsWith(DNS_DEPLOYMENT));
  const deployments = sim.cluster.deployments().filter(notDns);
  const byKey = (o: { metadata?: { namespace?: string; name?: string } }) =>
    `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;
  const first = <T extends { metadata?: { namespace?: string; name?: string } }>(xs: T[]) =>
    [...xs].sort((a, b) => (byKey(a) < byKey(b) ? -1 : 1))[0];
  const d = first(deployments);
  if (d !== undefined)
    return {
      type: 'scaleDeployment',
      namespace: d.metadata?.namespace,
      name: d.metadata!.name!,
      replicas: 0,
    };
  const rs = first(sim.cluster.replicaSets().filter(notDns));
  if (rs !== undefined)
    return {
      type: 'scaleReplicaSet',
      namespace: rs.metadata?.namespace,
      name: rs.metadata!.name!,
      replicas: 0,
    };
  return null;
}

/** Applies one churn event to the cluster and re-syncs every node's proxy. */
export function applyChurn(sim: Simulation, event: ChurnEvent, rng: Rng): AppliedChurn {
  const messages: string[] = [];
  let ok = true;
  const run = (e: ClusterEvent): void => {
    const r = sim.cluster.apply(e);
    messages.push(r.message);
    if (!r.ok) ok = false;
  };
  switch (event.kind) {
    case 'scale': {
      const target = scaleTarget(sim);
      if (target === null) {
        ok = false;
        messages.push('no Deployment or ReplicaSet to scale');
      } else run({ ...target, replicas: event.count } as ClusterEvent);
      break;
    }
    case 'delete':
    case 'unready':
    case 'ready': {
      const candidates = backendPods(sim).filter((p) =>
        event.kind === 'unready' ? p.ready : event.kind === 'ready' ? !p.ready : true,
      );
      const chosen = pick(candidates, event.count, rng);
      if (chosen.length < event.count) {
        ok = false;
        messages.push(
          `only ${chosen.length} of ${event.count} pods could be ${event.kind === 'delete' ? 'deleted' : `made ${event.kind}`}`,
        );
      }
      for (const p of chosen) {
        if (event.kind === 'delete') run({ type: 'deletePod', namespace: p.namespace, name: p.name });
        else
          run({ type: 'setPodReady', namespace: p.namespace, name: p.name, ready: event.kind === 'ready' });
      }
      break;
    }
  }
  sim.syncFromCluster();
  return { kind: event.kind, count: event.count, atPacket: event.atPacket, messages, ok };
}
