/**
 * The DaemonSet controller (pkg/controller/daemon), reduced to what the dataplane needs: one
 * pod per eligible node (every node whose labels match the template's nodeSelector), named
 * `<ds>-<5 random chars>` and bound to its node at creation, as the controller's node
 * affinity does. A node that registers later gets its pod on the next sync; a deleted pod
 * is replaced on the same node.
 */
import type { DaemonSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { matchesMap } from '../labels.js';
import type { ClusterStore } from '../store.js';
import { writable } from '../writable.js';
import { isPodReady, isPodTerminating, terminatePod } from './pods.js';
import { createOwnedPod, type PodChanges, uniquePodName } from './replicaset.js';

/** The nodes a DaemonSet runs on, in cluster order. */
function eligibleNodes(store: ClusterStore, ds: DaemonSet): string[] {
  const selector = ds.spec?.template?.spec?.nodeSelector;
  const out: string[] = [];
  for (const [name, node] of store.nodes)
    if (selector === undefined || matchesMap(selector, node.metadata?.labels ?? {})) out.push(name);
  return out;
}

/** The DaemonSet's live (not terminating) pods, by node. */
function podsByNode(store: ClusterStore, uid: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const key of store.podsByOwner.get(uid) ?? []) {
    const pod = store.pods.get(key);
    if (pod === undefined || isPodTerminating(pod)) continue;
    const node = pod.spec?.nodeName ?? '';
    const list = out.get(node);
    if (list === undefined) out.set(node, [key]);
    else list.push(key);
  }
  return out;
}

export function syncDaemonSet(store: ClusterStore, dsKey: string, gracePeriodSeconds: number): PodChanges {
  const changes: PodChanges = { created: [], removedOrTerminating: [] };
  const ds = store.daemonSets.get(dsKey);
  const meta = ds?.metadata;
  if (ds === undefined || meta?.uid === undefined || meta.name === undefined || meta.namespace === undefined)
    return changes;
  const eligible = eligibleNodes(store, ds);
  const running = podsByNode(store, meta.uid);
  for (const node of eligible) {
    const keys = running.get(node) ?? [];
    if (keys.length === 0) {
      const name = uniquePodName(store, meta.namespace, `${meta.name}-`);
      changes.created.push(
        createOwnedPod(
          store,
          ds,
          'DaemonSet',
          ds.spec?.template,
          name,
          { generateName: `${meta.name}-` },
          node,
        ),
      );
    }
    // More than one on a node (never made here, but a hand-made pod could be adopted): keep the oldest.
    for (const extra of keys.slice(1)) {
      const pod = store.pods.get(extra);
      if (pod !== undefined && terminatePod(store, extra, gracePeriodSeconds))
        changes.removedOrTerminating.push(pod);
    }
  }
  // Pods on nodes the DaemonSet no longer selects go away.
  const wanted = new Set(eligible);
  for (const [node, keys] of running) {
    if (wanted.has(node)) continue;
    for (const key of keys) {
      const pod = store.pods.get(key);
      if (pod !== undefined && terminatePod(store, key, gracePeriodSeconds))
        changes.removedOrTerminating.push(pod);
    }
  }
  updateDaemonSetStatus(store, ds, eligible.length);
  return changes;
}

export function updateDaemonSetStatus(store: ClusterStore, ds: DaemonSet, desired?: number): void {
  const uid = ds.metadata?.uid;
  const pods: Pod[] = [];
  for (const key of (uid === undefined ? undefined : store.podsByOwner.get(uid)) ?? []) {
    const pod = store.pods.get(key);
    if (pod !== undefined && !isPodTerminating(pod) && pod.spec?.nodeName !== undefined) pods.push(pod);
  }
  const ready = pods.filter(isPodReady).length;
  writable(ds).status = {
    currentNumberScheduled: pods.length,
    desiredNumberScheduled: desired ?? eligibleNodes(store, ds).length,
    numberMisscheduled: 0,
    numberReady: ready,
    numberAvailable: ready,
    updatedNumberScheduled: pods.length,
    observedGeneration: ds.metadata?.generation ?? 1,
  };
}
