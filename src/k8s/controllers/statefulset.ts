/**
 * The StatefulSet controller (pkg/controller/statefulset), reduced to what the dataplane
 * needs: pods with stable names `<sts>-0` … `<sts>-(n-1)`, created in ordinal order and removed
 * from the highest ordinal down, each with `hostname` = its name and `subdomain` = the
 * StatefulSet's serviceName, so the governing headless Service gives every pod a stable DNS
 * name (`<sts>-0.<service>.<namespace>.svc.cluster.local`). A deleted pod comes back under the
 * same name once the old one is gone. Pods start Ready at once, so OrderedReady's "wait for
 * the previous ordinal" never holds creation up.
 */
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { podTemplateHash } from '../names.js';
import { type ClusterStore, objectKey } from '../store.js';
import { writable } from '../writable.js';
import { isPodReady, isPodTerminating, terminatePod } from './pods.js';
import { createOwnedPod, type PodChanges } from './replicaset.js';

export const STS_POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
export const CONTROLLER_REVISION_HASH_LABEL = 'controller-revision-hash';

export function syncStatefulSet(store: ClusterStore, stsKey: string, gracePeriodSeconds: number): PodChanges {
  const changes: PodChanges = { created: [], removedOrTerminating: [] };
  const sts = store.statefulSets.get(stsKey);
  const meta = sts?.metadata;
  if (sts === undefined || meta?.uid === undefined || meta.name === undefined || meta.namespace === undefined)
    return changes;
  const ns = meta.namespace;
  const replicas = sts.spec?.replicas ?? 1;
  const revision = `${meta.name}-${podTemplateHash(sts.spec?.template ?? {})}`;
  for (let i = 0; i < replicas; i++) {
    const name = `${meta.name}-${i}`;
    // A pod of that name still terminating blocks its successor, as the stable identity demands.
    if (store.pods.has(objectKey(ns, name))) continue;
    const labels = {
      [CONTROLLER_REVISION_HASH_LABEL]: revision,
      [POD_INDEX_LABEL]: String(i),
      [STS_POD_NAME_LABEL]: name,
    };
    const serviceName = sts.spec?.serviceName;
    changes.created.push(
      createOwnedPod(store, sts, 'StatefulSet', sts.spec?.template, name, { labels }, undefined, {
        hostname: name,
        ...(serviceName ? { subdomain: serviceName } : {}),
      }),
    );
  }
  // Scale down from the highest ordinal.
  const owned = [...(store.podsByOwner.get(meta.uid) ?? [])]
    .map((key) => ({ key, pod: store.pods.get(key), ordinal: ordinalOf(meta.name ?? '', key) }))
    .filter(
      (e): e is { key: string; pod: Pod; ordinal: number } => e.pod !== undefined && !isPodTerminating(e.pod),
    )
    .filter((e) => e.ordinal >= replicas)
    .sort((a, b) => b.ordinal - a.ordinal);
  for (const { key, pod } of owned)
    if (terminatePod(store, key, gracePeriodSeconds)) changes.removedOrTerminating.push(pod);
  updateStatefulSetStatus(store, sts);
  return changes;
}

function ordinalOf(stsName: string, podKey: string): number {
  const name = podKey.slice(podKey.indexOf('/') + 1);
  const n = Number(name.slice(stsName.length + 1));
  return Number.isInteger(n) ? n : Number.POSITIVE_INFINITY;
}

export function updateStatefulSetStatus(store: ClusterStore, sts: StatefulSet): void {
  const uid = sts.metadata?.uid;
  const pods: Pod[] = [];
  for (const key of (uid === undefined ? undefined : store.podsByOwner.get(uid)) ?? []) {
    const pod = store.pods.get(key);
    if (pod !== undefined && !isPodTerminating(pod)) pods.push(pod);
  }
  const ready = pods.filter(isPodReady).length;
  writable(sts).status = {
    replicas: pods.length,
    readyReplicas: ready,
    currentReplicas: pods.length,
    updatedReplicas: pods.length,
    availableReplicas: ready,
    observedGeneration: sts.metadata?.generation ?? 1,
  };
}
