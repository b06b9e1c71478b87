/**
 * The ReplicaSet and Deployment controllers (pkg/controller/replicaset, .../deployment),
 * reduced to what the dataplane needs: a Deployment owns one ReplicaSet per pod template,
 * named `<deployment>-<pod-template-hash>`; a ReplicaSet keeps `replicas` live pods named
 * `<rs>-<5 random chars>`, replacing pods that are deleted or terminating.
 *
 * A template change scales the old ReplicaSet straight to 0 (no surge/unavailability pacing:
 * a Recreate-like roll-out), keeping it at 0 replicas as revision history.
 */

import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { generateName, podTemplateHash } from '../names.js';
import { type ClusterStore, objectKey } from '../store.js';
import { cloneJson, writable } from '../writable.js';
import { isPodReady, isPodTerminating, startPod, terminatePod } from './pods.js';
import { rollingUpdateStep } from './rolling-update.js';

export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** What one reconcile changed, so the caller can resync the affected Services. */
export interface PodChanges {
  readonly created: Pod[];
  readonly removedOrTerminating: Pod[];
}

export function uniquePodName(store: ClusterStore, ns: string, base: string): string {
  // The apiserver retries on a name collision (AlreadyExists); so do we.
  for (;;) {
    const name = generateName(base, store.random.names);
    if (!store.pods.has(objectKey(ns, name))) return name;
  }
}

/**
 * Creates, schedules and starts one pod from a controller's template, owned by it (the
 * ReplicaSet, DaemonSet and StatefulSet controllers share this). `meta` adds to the template's
 * metadata (its labels merge into the template's); `nodeName` binds the pod to a node (the
 * DaemonSet's node affinity); `spec` adds fields such as a StatefulSet pod's hostname.
 */
export function createOwnedPod(
  store: ClusterStore,
  owner: { readonly metadata?: ObjectMeta },
  kind: 'ReplicaSet' | 'DaemonSet' | 'StatefulSet',
  template: PodTemplateSpec | undefined,
  name: string,
  meta: { generateName?: string; labels?: Record<string, string> },
  nodeName?: string,
  spec?: { hostname?: string; subdomain?: string },
): Pod {
  const ns = owner.metadata?.namespace ?? 'default';
  const tmpl = cloneJson(template ?? {});
  const { labels, ...rest } = meta;
  const merged: ObjectMeta = { ...(tmpl.metadata ?? {}), name, ...rest };
  if (labels !== undefined) merged.labels = { ...(tmpl.metadata?.labels ?? {}), ...labels };
  const stamped = store.stampNew(merged, ns);
  stamped.ownerReferences = [
    {
      apiVersion: 'apps/v1',
      kind,
      name: owner.metadata?.name ?? '',
      uid: owner.metadata?.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: stamped,
    spec: {
      ...(tmpl.spec ?? { containers: [] }),
      restartPolicy: tmpl.spec?.restartPolicy ?? 'Always',
      ...(nodeName !== undefined ? { nodeName } : {}),
      ...(spec ?? {}),
    },
  };
  return startPod(store, pod);
}

/** Lower rank = deleted first (controller.ActivePodsWithRanks, simplified). */
function deletionRank(store: ClusterStore, key: string, pod: Pod, colocated: Map<string, number>): number[] {
  const scheduled = pod.spec?.nodeName !== undefined ? 1 : 0;
  const running = pod.status?.phase === 'Running' ? 1 : 0;
  const ready = isPodReady(pod) ? 1 : 0;
  const crowd = colocated.get(pod.spec?.nodeName ?? '') ?? 0;
  const seq = store.podSequence.get(key) ?? 0;
  // Unscheduled < pending < not ready < ready; more pods on the same node first; newest first.
  return [scheduled, running, ready, -crowd, -seq];
}

function compareRanks(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

export function syncReplicaSet(store: ClusterStore, rsKey: string, gracePeriodSeconds: number): PodChanges {
  const changes: PodChanges = { created: [], removedOrTerminating: [] };
  const rs = store.replicaSets.get(rsKey);
  if (rs === undefined) return changes;
  const ns = rs.metadata!.namespace!;
  const uid = rs.metadata!.uid!;
  const owned = [...(store.podsByOwner.get(uid) ?? [])];
  const active = owned.filter((k) => {
    const p = store.pods.get(k);
    return p !== undefined && !isPodTerminating(p);
  });
  const want = rs.spec?.replicas ?? 1;
  if (active.length < want) {
    for (let i = active.length; i < want; i++) {
      const name = uniquePodName(store, ns, `${rs.metadata!.name}-`);
      changes.created.push(
        createOwnedPod(store, rs, 'ReplicaSet', rs.spec?.template, name, {
          generateName: `${rs.metadata!.name}-`,
        }),
      );
    }
  } else if (active.length > want) {
    const colocated = new Map<string, number>();
    for (const k of active) {
      const n = store.pods.get(k)!.spec?.nodeName ?? '';
      colocated.set(n, (colocated.get(n) ?? 0) + 1);
    }
    const ranked = active
      .map((k) => ({ k, rank: deletionRank(store, k, store.pods.get(k)!, colocated) }))
      .sort((a, b) => compareRanks(a.rank, b.rank));
    for (const { k } of ranked.slice(0, active.length - want)) {
      const pod = store.pods.get(k)!;
      terminatePod(store, k, store.pacedRollouts ? podGracePeriodSeconds(pod) : gracePeriodSeconds);
      changes.removedOrTerminating.push(pod);
    }
  }
  updateReplicaSetStatus(store, rs);
  return changes;
}

/** The pod's terminationGracePeriodSeconds (Kubernetes' default 30). */
export function podGracePeriodSeconds(pod: Pod): number {
  return pod.spec?.terminationGracePeriodSeconds ?? 30;
}

export function updateReplicaSetStatus(store: ClusterStore, rs: ReplicaSet): void {
  const owned = [...(store.podsByOwner.get(rs.metadata!.uid!) ?? [])]
    .map((k) => store.pods.get(k))
    .filter((p): p is Pod => p !== undefined && !isPodTerminating(p));
  const ready = owned.filter(isPodReady).length;
  writable(rs).status = {
    replicas: owned.length,
    fullyLabeledReplicas: owned.length,
    readyReplicas: ready,
    availableReplicas: ready,
    observedGeneration: rs.metadata?.generation ?? 1,
  };
}

/**
 * Ensures the Deployment's current ReplicaSet exists with the right replica count and older
 * ones are at 0. Returns the keys of ReplicaSets that need a sync.
 */
export function syncDeployment(store: ClusterStore, depKey: string): string[] {
  const dep = store.deployments.get(depKey);
  if (dep === undefined) return [];
  const ns = dep.metadata!.namespace!;
  const uid = dep.metadata!.uid!;
  const template = dep.spec?.template ?? {};
  const hash = podTemplateHash(template);
  const rsName = `${dep.metadata!.name}-${hash}`;
  const rsKey = objectKey(ns, rsName);
  const touched: string[] = [];
  const paced = store.pacedRollouts && dep.spec?.strategy?.type !== 'Recreate';
  const olds: [string, ReplicaSet][] = [];
  for (const [k, rs] of store.replicaSets) {
    if (k === rsKey || !rs.metadata?.ownerReferences?.some((o) => o.uid === uid)) continue;
    if (paced) olds.push([k, rs]);
    else if ((rs.spec?.replicas ?? 0) !== 0) {
      rs.spec = { ...rs.spec!, replicas: 0 };
      touched.push(k);
    }
  }
  // Paced: the new ReplicaSet starts empty and grows step by step (rollingUpdateStep below).
  const replicas = paced ? 0 : (dep.spec?.replicas ?? 1);
  let rs = store.replicaSets.get(rsKey);
  if (rs === undefined) {
    const labels = { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const meta = store.stampNew({ name: rsName, labels, generation: 1 }, ns);
    meta.ownerReferences = [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: dep.metadata!.name!,
        uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
    const selector = cloneJson(dep.spec?.selector ?? {});
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    rs = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: meta,
      spec: {
        replicas,
        selector,
        template: { ...cloneJson(template), metadata: { ...(template.metadata ?? {}), labels } },
      },
    };
    store.replicaSets.set(rsKey, rs);
  } else if (!paced && (rs.spec?.replicas ?? 1) !== replicas) {
    rs.spec = { ...rs.spec!, replicas };
  }
  if (paced) {
    rollingUpdateStep(
      store,
      dep,
      rs,
      olds.map(([, o]) => o),
    );
    for (const [k] of olds) touched.push(k);
  }
  touched.push(rsKey);
  return touched;
}

export function updateDeploymentStatus(store: ClusterStore, dep: Deployment): void {
  const uid = dep.metadata!.uid!;
  let replicas = 0;
  let ready = 0;
  let updated = 0;
  const hash = podTemplateHash(dep.spec?.template ?? {});
  for (const rs of store.replicaSets.values()) {
    if (!rs.metadata?.ownerReferences?.some((o) => o.uid === uid)) continue;
    replicas += rs.status?.replicas ?? 0;
    ready += rs.status?.readyReplicas ?? 0;
    if (rs.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] === hash) updated += rs.status?.replicas ?? 0;
  }
  writable(dep).status = {
    replicas,
    readyReplicas: ready,
    availableReplicas: ready,
    updatedReplicas: updated,
    observedGeneration: dep.metadata?.generation ?? 1,
  };
}
