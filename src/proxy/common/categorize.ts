/**
 * kube-proxy's CategorizeEndpoints (pkg/proxy/topology.go): which endpoints of a service
 * port serve cluster-wide traffic and which serve node-local traffic on one node.
 * Every proxy mode calls this, so all modes agree on the eligible endpoint sets.
 * (Topology hints are not modelled: dpsim has no zones.)
 */
import type { Endpoint, ServicePort } from './model.js';

export interface CategorizedEndpoints {
  /** Endpoints for traffic that may go anywhere; null when the port does not use cluster endpoints. */
  readonly clusterEndpoints: readonly Endpoint[] | null;
  /** Endpoints on this node; null when the port does not use local endpoints. */
  readonly localEndpoints: readonly Endpoint[] | null;
  /** Union of the two (de-duplicated, kube-proxy order). */
  readonly allReachableEndpoints: readonly Endpoint[];
  /** Any usable endpoint anywhere: decides REJECT ("no endpoints") vs DROP ("no local endpoints"). */
  readonly hasAnyEndpoints: boolean;
}

/** A service port is externally accessible with a NodePort, a load-balancer VIP or an external IP. */
export function isExternallyAccessible(sp: ServicePort): boolean {
  return sp.nodePort !== 0 || sp.loadBalancerIPs.length > 0 || sp.externalIPs.length > 0;
}

/** eTP=Local only takes effect for externally accessible ports. */
export function externalPolicyLocal(sp: ServicePort): boolean {
  return sp.externalTrafficPolicy === 'Local' && isExternallyAccessible(sp);
}

export function internalPolicyLocal(sp: ServicePort): boolean {
  return sp.internalTrafficPolicy === 'Local';
}

export function usesClusterEndpoints(sp: ServicePort): boolean {
  // Even with eTP=Local the cluster set is needed for pod/node-originated short-circuit rules.
  return !internalPolicyLocal(sp) || isExternallyAccessible(sp);
}

export function usesLocalEndpoints(sp: ServicePort): boolean {
  return internalPolicyLocal(sp) || externalPolicyLocal(sp);
}

/** Ready endpoints; if there are none, the serving-and-terminating ones (ProxyTerminatingEndpoints). */
function readyOrTerminatingFallback(endpoints: readonly Endpoint[]): Endpoint[] {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length > 0) return ready;
  return endpoints.filter((e) => e.serving && e.terminating);
}

export function categorizeEndpoints(sp: ServicePort, nodeName: string): CategorizedEndpoints {
  const cluster = usesClusterEndpoints(sp) ? readyOrTerminatingFallback(sp.endpoints) : null;
  const local = usesLocalEndpoints(sp)
    ? readyOrTerminatingFallback(sp.endpoints.filter((e) => e.nodeName === nodeName))
    : null;

  let all: Endpoint[];
  if (cluster === null) all = local ?? [];
  else if (local === null) all = cluster;
  else {
    const seen = new Set(cluster.map((e) => `${e.ip}:${e.port}`));
    all = cluster.concat(local.filter((e) => !seen.has(`${e.ip}:${e.port}`)));
  }

  const hasAnyEndpoints =
    (cluster !== null && cluster.length > 0) || readyOrTerminatingFallback(sp.endpoints).length > 0;
  return { clusterEndpoints: cluster, localEndpoints: local, allReachableEndpoints: all, hasAnyEndpoints };
}
