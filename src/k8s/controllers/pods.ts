/**
 * What the scheduler and the kubelet do for a pod in dpsim: bind it to a node (least-loaded:
 * fewest pods, ties to the first node in cluster order), give it an IP from that node's
 * podCIDR, and mark it Running and Ready at once (containers start instantly in the
 * simulation). Also readiness changes, graceful termination and removal.
 */

import type { Pod, PodCondition } from 'kubernetes-types/core/v1.js';
import { formatIPv4, parseIPv4 } from '../../util/ipv4.js';
import { podIPv6For } from '../cluster-config-ipv6.js';
import { type ClusterStore, formatTimestamp, objectKey } from '../store.js';
import { writable } from '../writable.js';

/** The node lifecycle controller's taint on a node that stopped posting status. */
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';

function pickNode(store: ClusterStore): string | undefined {
  let best: string | undefined;
  let bestCount = Number.POSITIVE_INFINITY;
  for (const { name, ipam } of store.nodeSlots()) {
    if (ipam.inUse >= ipam.capacity) continue;
    // A cordoned node (kubectl cordon / drain) takes no new pods.
    const node = store.nodes.get(name);
    if (node?.spec?.unschedulable === true) continue;
    // Nor does an unreachable one (the node lifecycle controller's NoSchedule taint).
    if (node?.spec?.taints?.some((t) => t.key === UNREACHABLE_TAINT && t.effect === 'NoSchedule') === true)
      continue;
    const count = store.podCountByNode.get(name) ?? 0;
    if (count < bestCount) {
      best = name;
      bestCount = count;
      if (count === 0) break;
    }
  }
  return best;
}

function conditions(ready: boolean, nowText: string, scheduled: boolean): PodCondition[] {
  const s = (b: boolean) => (b ? 'True' : 'False');
  return [
    { type: 'Initialized', status: s(scheduled), lastTransitionTime: nowText },
    { type: 'Ready', status: s(ready), lastTransitionTime: nowText },
    { type: 'ContainersReady', status: s(ready), lastTransitionTime: nowText },
    { type: 'PodScheduled', status: s(scheduled), lastTransitionTime: nowText },
  ];
}

/** Stores a new pod (metadata already stamped), scheduling it and starting it. */
export function startPod(store: ClusterStore, pod: Pod): Pod {
  const ns = pod.metadata!.namespace!;
  const name = pod.metadata!.name!;
  const key = objectKey(ns, name);
  pod.spec ??= { containers: [] };
  const spec = pod.spec;
  const now = formatTimestamp(store.clock.now());
  let nodeName = spec.nodeName;
  if (nodeName !== undefined && !store.nodes.has(nodeName)) nodeName = undefined;
  nodeName ??= pickNode(store);
  const ip = nodeName === undefined ? -1 : (store.ipamFor(nodeName)?.allocate() ?? -1);
  if (nodeName === undefined || ip < 0) {
    // Nowhere to run: the pod stays Pending and unscheduled, with no IP and no endpoint.
    delete spec.nodeName;
    writable(pod).status = {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }],
    };
  } else {
    spec.nodeName = nodeName;
    const hostIP = nodeIP(store, nodeName);
    const podIP = formatIPv4(ip);
    const dual = dualStackPodIPs(store, nodeName, podIP);
    // Paced (the rollout engine's kubelet): the container starts, then probes make it Ready.
    const ready = !store.pacedRollouts;
    writable(pod).status = {
      phase: 'Running',
      conditions: conditions(ready, now, true),
      hostIP,
      hostIPs: dual === undefined ? [{ ip: hostIP }] : [{ ip: hostIP }, { ip: dual.hostIP }],
      podIP,
      podIPs: dual === undefined ? [{ ip: podIP }] : [{ ip: podIP }, { ip: dual.podIP }],
      startTime: now,
      qosClass: 'BestEffort',
      containerStatuses: (spec.containers ?? []).map((c) => ({
        name: c.name,
        image: c.image ?? '',
        imageID: '',
        ready,
        started: ready,
        restartCount: 0,
        state: { running: { startedAt: now } },
      })),
    };
    store.podCountByNode.set(nodeName, (store.podCountByNode.get(nodeName) ?? 0) + 1);
  }
  store.pods.set(key, pod);
  if (nodeName !== undefined && ip >= 0 && !store.pacedRollouts)
    store.readySinceMs.set(key, store.clock.now());
  store.podSequence.set(key, store.nextPodSequence());
  store.podLabels.add(ns, key, pod.metadata?.labels, pod);
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller)?.uid;
  if (owner !== undefined) {
    let set = store.podsByOwner.get(owner);
    if (set === undefined) {
      set = new Set();
      store.podsByOwner.set(owner, set);
    }
    set.add(key);
  }
  return pod;
}

/** On a dual-stack cluster, the pod's IPv6 address and its node's (see podIPv6For), else undefined. */
function dualStackPodIPs(
  store: ClusterStore,
  nodeName: string,
  podIP: string,
): { podIP: string; hostIP: string } | undefined {
  const v6 = store.config.ipv6?.nodes.get(nodeName);
  const podCIDR = store.nodes.get(nodeName)?.spec?.podCIDR;
  if (v6 === undefined || podCIDR === undefined) return undefined;
  const ip = podIPv6For(podIP, podCIDR, v6);
  return ip === undefined ? undefined : { podIP: ip, hostIP: v6.ip };
}

export function nodeIP(store: ClusterStore, nodeName: string): string {
  const node = store.nodes.get(nodeName);
  return node?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
}

/** Removes a pod for good: its IP goes back to the node's pool. */
export function removePod(store: ClusterStore, key: string): Pod | undefined {
  const pod = store.pods.get(key);
  if (pod === undefined) return undefined;
  store.pods.delete(key);
  store.podSequence.delete(key);
  store.readySinceMs.delete(key);
  store.deletionDeadlines.delete(key);
  store.podLabels.remove(pod.metadata!.namespace!, key, pod.metadata?.labels);
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller)?.uid;
  if (owner !== undefined) store.podsByOwner.get(owner)?.delete(key);
  const nodeName = pod.spec?.nodeName;
  if (nodeName !== undefined && pod.status?.podIP !== undefined) {
    store.ipamFor(nodeName)?.release(parseIPv4(pod.status.podIP));
    store.podCountByNode.set(nodeName, Math.max(0, (store.podCountByNode.get(nodeName) ?? 1) - 1));
  }
  return pod;
}

/**
 * Graceful deletion: deletionTimestamp is set to the end of the grace period; the pod stays
 * (Terminating, still serving if Ready) until the clock passes it. Grace 0 removes at once.
 */
export function terminatePod(store: ClusterStore, key: string, gracePeriodSeconds: number): boolean {
  const pod = store.pods.get(key);
  if (pod === undefined) return false;
  if (gracePeriodSeconds <= 0) {
    removePod(store, key);
    return true;
  }
  if (pod.metadata?.deletionTimestamp !== undefined) return true;
  const deadline = store.clock.now() + gracePeriodSeconds * 1000;
  writable(pod.metadata!).deletionTimestamp = formatTimestamp(deadline);
  writable(pod.metadata!).deletionGracePeriodSeconds = gracePeriodSeconds;
  writable(pod.metadata!).resourceVersion = store.nextResourceVersion();
  store.deletionDeadlines.set(key, deadline);
  return true;
}

export function isPodReady(pod: Pod): boolean {
  // A plain loop: the EndpointSlice controller asks this for every selected pod on every sync.
  const conditions = pod.status?.conditions;
  if (!conditions) return false; // also a null from a hand-written manifest
  for (const c of conditions) if (c.type === 'Ready' && c.status === 'True') return true;
  return false;
}

export function isPodTerminating(pod: Pod): boolean {
  return pod.metadata?.deletionTimestamp !== undefined;
}

/** Flips the Ready condition (a readiness probe starting to fail or pass). */
export function setPodReady(store: ClusterStore, key: string, ready: boolean): boolean {
  const pod = store.pods.get(key);
  if (pod === undefined || pod.status?.phase !== 'Running') return false;
  const now = formatTimestamp(store.clock.now());
  const st = (b: boolean) => (b ? 'True' : 'False');
  for (const c of pod.status.conditions ?? []) {
    if ((c.type === 'Ready' || c.type === 'ContainersReady') && c.status !== st(ready)) {
      c.status = st(ready);
      c.lastTransitionTime = now;
    }
  }
  for (const cs of pod.status.containerStatuses ?? []) cs.ready = ready;
  if (ready && !store.readySinceMs.has(key)) store.readySinceMs.set(key, store.clock.now());
  if (!ready) store.readySinceMs.delete(key);
  writable(pod.metadata!).resourceVersion = store.nextResourceVersion();
  return true;
}
