/**
 * The Deployment controller's RollingUpdate arithmetic (pkg/controller/deployment/rolling.go
 * and deployment/util): how far the new ReplicaSet may scale up (maxSurge) and how far the
 * old ones may scale down (maxUnavailable), counting a pod available only once it has been
 * Ready for minReadySeconds. Used when pods take time to start and become ready (the paced
 * control plane of `dpsim rollout`); the instant control plane keeps its one-step roll-out.
 */
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { ClusterStore } from '../store.js';
import { isPodReady, isPodTerminating } from './pods.js';

/** An intstr value (`1`, `"25%"`) resolved against the replica count (ResolveFenceposts). */
export function resolveIntOrPercent(
  value: number | string | undefined,
  fallback: string,
  total: number,
  roundUp: boolean,
): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (m === null) return Number.parseInt(v, 10) || 0;
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** maxSurge and maxUnavailable of a RollingUpdate Deployment (both 0 ⇒ maxUnavailable 1). */
export function rollingFenceposts(dep: Deployment): { maxSurge: number; maxUnavailable: number } {
  const desired = dep.spec?.replicas ?? 1;
  const ru = dep.spec?.strategy?.rollingUpdate;
  const maxSurge = resolveIntOrPercent(ru?.maxSurge, '25%', desired, true);
  let maxUnavailable = resolveIntOrPercent(ru?.maxUnavailable, '25%', desired, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

/** Live pods of a ReplicaSet that have been Ready for minReadySeconds (status.availableReplicas). */
export function availableReplicas(store: ClusterStore, rs: ReplicaSet, minReadySeconds: number): number {
  const now = store.clock.now();
  let n = 0;
  for (const key of store.podsByOwner.get(rs.metadata?.uid ?? '') ?? []) {
    const pod = store.pods.get(key);
    if (pod === undefined || isPodTerminating(pod) || !isPodReady(pod)) continue;
    const since = store.readySinceMs.get(key) ?? now;
    if (since + minReadySeconds * 1000 <= now) n++;
  }
  return n;
}

/**
 * One RollingUpdate step: the new ReplicaSet's replica count (NewRSNewReplicas) and each old
 * ReplicaSet's (reconcileOldReplicaSets: unhealthy pods first, then down to minAvailable),
 * written into their specs. Returns whether any count changed.
 */
export function rollingUpdateStep(
  store: ClusterStore,
  dep: Deployment,
  newRS: ReplicaSet,
  oldRSs: readonly ReplicaSet[],
): boolean {
  const desired = dep.spec?.replicas ?? 1;
  const minReady = dep.spec?.minReadySeconds ?? 0;
  const { maxSurge, maxUnavailable } = rollingFenceposts(dep);
  const replicasOf = (rs: ReplicaSet) => rs.spec?.replicas ?? 0;
  const setReplicas = (rs: ReplicaSet, n: number) => {
    rs.spec = { ...rs.spec!, replicas: n };
  };
  let changed = false;

  // Scale the new ReplicaSet up within maxSurge (or down to desired).
  const all = () => replicasOf(newRS) + oldRSs.reduce((s, rs) => s + replicasOf(rs), 0);
  if (replicasOf(newRS) > desired) {
    setReplicas(newRS, desired);
    changed = true;
  } else if (replicasOf(newRS) < desired) {
    const room = desired + maxSurge - all();
    if (room > 0) {
      setReplicas(newRS, replicasOf(newRS) + Math.min(room, desired - replicasOf(newRS)));
      changed = true;
    }
  }

  // Scale the old ones down without going below desired - maxUnavailable available pods.
  const oldCount = oldRSs.reduce((s, rs) => s + replicasOf(rs), 0);
  if (oldCount === 0) return changed;
  const minAvailable = desired - maxUnavailable;
  const newAvailable = availableReplicas(store, newRS, minReady);
  const newUnavailable = Math.max(0, replicasOf(newRS) - newAvailable);
  let budget = all() - minAvailable - newUnavailable;
  if (budget <= 0) return changed;
  // Oldest first, as the controller sorts old ReplicaSets by creation.
  const created = (rs: ReplicaSet) => `${rs.metadata?.creationTimestamp ?? ''} ${rs.metadata?.name ?? ''}`;
  const oldest = [...oldRSs].sort((a, b) => (created(a) < created(b) ? -1 : created(a) > created(b) ? 1 : 0));
  // cleanupUnhealthyReplicas: pods that are not available go first, at no cost to availability.
  for (const rs of oldest) {
    if (budget <= 0) break;
    const unhealthy = replicasOf(rs) - availableReplicas(store, rs, minReady);
    const cut = Math.min(unhealthy, budget);
    if (cut > 0) {
      setReplicas(rs, replicasOf(rs) - cut);
      budget -= cut;
      changed = true;
    }
  }
  // scaleDownOldReplicaSetsForRollingUpdate: only available pods above minAvailable.
  const available =
    newAvailable +
    oldRSs.reduce((s, rs) => s + Math.min(replicasOf(rs), availableReplicas(store, rs, minReady)), 0);
  let scaleDown = available - minAvailable;
  for (const rs of oldest) {
    if (scaleDown <= 0) break;
    const cut = Math.min(replicasOf(rs), scaleDown);
    if (cut > 0) {
      setReplicas(rs, replicasOf(rs) - cut);
      scaleDown -= cut;
      changed = true;
    }
  }
  return changed;
}
