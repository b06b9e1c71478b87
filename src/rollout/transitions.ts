/**
 * The transitions `dpsim rollout` puts a workload through, as their Kubernetes tools do them:
 * `--image` (kubectl set image: a new pod template, rolled out by the Deployment controller),
 * `--scale N`, `--delete-pod NAME` (a graceful delete with the pod's grace period) and
 * `--drain NODE` (kubectl drain --ignore-daemonsets: cordon, then evict the node's other pods
 * through the eviction API, which refuses while a PodDisruptionBudget allows no disruption;
 * kubectl retries every 5 s); `--node-not-ready NODE` (the node stops: see node-lifecycle.ts).
 */
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { parseAllDocuments } from 'yaml';
import type { Cluster } from '../k8s/cluster.js';
import { isPodReady, isPodTerminating } from '../k8s/controllers/pods.js';
import { podGracePeriodSeconds } from '../k8s/controllers/replicaset.js';
import { resolveIntOrPercent } from '../k8s/controllers/rolling-update.js';
import { matchesMap } from '../k8s/labels.js';

export type Transition =
  | { readonly kind: 'image'; readonly image: string }
  | { readonly kind: 'scale'; readonly replicas: number }
  | { readonly kind: 'drain'; readonly node: string }
  | { readonly kind: 'delete-pod'; readonly pod: string }
  /** The node stops (powered off or cut off): the node lifecycle controller marks it NotReady after its grace period. */
  | { readonly kind: 'node-not-ready'; readonly node: string };

export class TransitionError extends Error {
  override name = 'TransitionError';
}

/** kubectl drain's wait between eviction attempts refused by a disruption budget. */
export const EVICTION_RETRY_NS = 5e9;

/** The workload: a Deployment, or a bare ReplicaSet (no roll-out, but scale/delete/drain work). */
export interface Workload {
  readonly kind: 'Deployment' | 'ReplicaSet';
  readonly name: string;
  readonly namespace: string;
  readonly selector: Readonly<Record<string, string>>;
}

export function findWorkload(cluster: Cluster, name: string): Workload {
  const dep = cluster.deployments().find((d) => d.metadata?.name === name);
  const pick = (o: Deployment | ReplicaSet, kind: Workload['kind']): Workload => ({
    kind,
    name,
    namespace: o.metadata?.namespace ?? 'default',
    selector: o.spec?.template?.metadata?.labels ?? {},
  });
  if (dep !== undefined) return pick(dep, 'Deployment');
  const rs = cluster.replicaSets().find((r) => r.metadata?.name === name);
  if (rs !== undefined) return pick(rs, 'ReplicaSet');
  const known = [
    ...cluster.deployments().map((d) => `deployment/${d.metadata?.name}`),
    ...cluster.replicaSets().map((r) => `replicaset/${r.metadata?.name}`),
  ];
  throw new TransitionError(
    `deployments.apps "${name}" not found${known.length > 0 ? ` (have: ${known.join(', ')})` : ''}`,
  );
}

/** The workload's pods (live or terminating), by key. */
export function workloadPods(cluster: Cluster, w: Workload): Pod[] {
  return cluster
    .pods()
    .filter(
      (p) =>
        (p.metadata?.namespace ?? 'default') === w.namespace && matchesMap(w.selector, p.metadata?.labels),
    );
}

interface Budget {
  readonly namespace: string;
  readonly selector: Readonly<Record<string, string>>;
  readonly minAvailable?: number | string;
  readonly maxUnavailable?: number | string;
  readonly name: string;
}

/** PodDisruptionBudgets (policy/v1) among the manifests; the API model does not store them. */
export function disruptionBudgets(sources: readonly { text: string }[]): Budget[] {
  const out: Budget[] = [];
  for (const s of sources) {
    for (const d of parseAllDocuments(s.text)) {
      const o = d.toJS() as {
        kind?: string;
        metadata?: { name?: string; namespace?: string };
        spec?: {
          selector?: { matchLabels?: Record<string, string> };
          minAvailable?: number | string;
          maxUnavailable?: number | string;
        };
      } | null;
      if (o === null || typeof o !== 'object' || o.kind !== 'PodDisruptionBudget') continue;
      out.push({
        name: o.metadata?.name ?? '',
        namespace: o.metadata?.namespace ?? 'default',
        selector: o.spec?.selector?.matchLabels ?? {},
        ...(o.spec?.minAvailable !== undefined ? { minAvailable: o.spec.minAvailable } : {}),
        ...(o.spec?.maxUnavailable !== undefined ? { maxUnavailable: o.spec.maxUnavailable } : {}),
      });
    }
  }
  return out;
}

/**
 * The eviction API's check: every budget selecting the pod must allow one more disruption
 * (healthy pods above the desired minimum). Returns the refusing budget's message, or null.
 */
export function evictionRefusal(cluster: Cluster, pod: Pod, budgets: readonly Budget[]): string | null {
  const ns = pod.metadata?.namespace ?? 'default';
  for (const b of budgets) {
    if (b.namespace !== ns || !matchesMap(b.selector, pod.metadata?.labels)) continue;
    const selected = cluster
      .pods()
      .filter(
        (p) => (p.metadata?.namespace ?? 'default') === ns && matchesMap(b.selector, p.metadata?.labels),
      );
    const expected = selected.filter((p) => !isPodTerminating(p)).length;
    const healthy = selected.filter((p) => !isPodTerminating(p) && isPodReady(p)).length;
    const desired =
      b.minAvailable !== undefined
        ? resolveIntOrPercent(b.minAvailable, '0', expected, true)
        : expected - resolveIntOrPercent(b.maxUnavailable, '0', expected, true);
    if (healthy - desired < 1)
      return `Cannot evict pod as it would violate the pod's disruption budget (poddisruptionbudget/${b.name}: ${healthy} healthy, ${desired} needed)`;
  }
  return null;
}

/** Starts the transition now; returns what happened, as kubectl would print it. */
export function startTransition(cluster: Cluster, w: Workload, t: Transition): string[] {
  switch (t.kind) {
    case 'image': {
      if (w.kind !== 'Deployment')
        throw new TransitionError(
          `--image needs a Deployment: replicaset "${w.name}" has no roll-out (its pods keep their template)`,
        );
      const dep = cluster.deployments().find((d) => d.metadata?.name === w.name)!;
      const copy: Deployment = JSON.parse(JSON.stringify(dep));
      const containers = copy.spec?.template?.spec?.containers ?? [];
      // kubectl set image NAME=IMAGE, or IMAGE for the first container.
      const eq = t.image.indexOf('=');
      const target = eq > 0 ? t.image.slice(0, eq) : containers[0]?.name;
      const image = eq > 0 ? t.image.slice(eq + 1) : t.image;
      const c = containers.find((x) => x.name === target);
      if (c === undefined) throw new TransitionError(`unable to find container named "${target}"`);
      c.image = image;
      delete (copy as { status?: unknown }).status;
      const out = cluster.applyObject(copy);
      return [`deployment.apps/${w.name} image updated`, ...(out.status === 'rejected' ? [out.message] : [])];
    }
    case 'scale': {
      const r = cluster.apply({
        type: w.kind === 'Deployment' ? 'scaleDeployment' : 'scaleReplicaSet',
        namespace: w.namespace,
        name: w.name,
        replicas: t.replicas,
      });
      if (!r.ok) throw new TransitionError(r.message);
      return [`${w.kind === 'Deployment' ? 'deployment.apps' : 'replicaset.apps'}/${w.name} scaled`];
    }
    case 'delete-pod': {
      const pod = cluster.getPod(t.pod, w.namespace);
      if (pod === undefined) throw new TransitionError(`pods "${t.pod}" not found`);
      cluster.apply({
        type: 'terminatePod',
        namespace: w.namespace,
        name: t.pod,
        gracePeriodSeconds: podGracePeriodSeconds(pod),
      });
      return [`pod "${t.pod}" deleted`];
    }
    case 'drain': {
      if (!cluster.setNodeUnschedulable(t.node, true))
        throw new TransitionError(`nodes "${t.node}" not found`);
      return [`node/${t.node} cordoned`];
    }
    case 'node-not-ready': {
      if (!cluster.nodes().some((n) => n.metadata?.name === t.node))
        throw new TransitionError(`nodes "${t.node}" not found`);
      return [`node/${t.node} stopped: its kubelet posts no status, nothing reaches the node`];
    }
  }
}

/**
 * One round of kubectl drain's evictions on the node: every pod still running there is
 * evicted unless a budget refuses. Returns the messages and whether pods remain to evict.
 */
export function evictRound(
  cluster: Cluster,
  node: string,
  budgets: readonly Budget[],
): { messages: string[]; remaining: number } {
  const messages: string[] = [];
  let remaining = 0;
  for (const pod of cluster.pods()) {
    if (pod.spec?.nodeName !== node || isPodTerminating(pod)) continue;
    // kubectl drain --ignore-daemonsets: a DaemonSet's pod would come straight back.
    if (pod.metadata?.ownerReferences?.some((o) => o.controller && o.kind === 'DaemonSet')) continue;
    const refusal = evictionRefusal(cluster, pod, budgets);
    const name = pod.metadata?.name ?? '';
    if (refusal !== null) {
      messages.push(
        `error when evicting pods/"${name}" -n "${pod.metadata?.namespace ?? 'default'}" (will retry after 5s): ${refusal}`,
      );
      remaining++;
      continue;
    }
    cluster.apply({
      type: 'terminatePod',
      namespace: pod.metadata?.namespace,
      name,
      gracePeriodSeconds: podGracePeriodSeconds(pod),
    });
    messages.push(`evicting pod ${pod.metadata?.namespace ?? 'default'}/${name}`);
  }
  return { messages, remaining };
}
