/**
 * Which Services differ between two ProxyModels: what the simulator tells a proxy mode that can
 * sync incrementally (eBPF), as Cilium's agent and kube-proxy's change trackers learn per
 * Service from Kubernetes events. Derived from the models themselves rather than from the
 * cluster's event results, so a change made by any path (an event, a manifest, a controller)
 * is never missed. Control-plane code: clarity over speed.
 */
import type { Endpoint, ProxyModel, ServicePort } from '../proxy/common/model.js';

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return (
    a.ip === b.ip &&
    a.port === b.port &&
    a.nodeName === b.nodeName &&
    a.ready === b.ready &&
    a.serving === b.serving &&
    a.terminating === b.terminating &&
    a.podName === b.podName
  );
}

/** Field-by-field equality of two service ports (every field a proxy mode may compile). */
export function sameServicePort(a: ServicePort, b: ServicePort): boolean {
  return (
    a.namespace === b.namespace &&
    a.name === b.name &&
    a.portName === b.portName &&
    a.protocol === b.protocol &&
    a.servicePortName === b.servicePortName &&
    a.type === b.type &&
    a.clusterIP === b.clusterIP &&
    a.port === b.port &&
    a.nodePort === b.nodePort &&
    sameStrings(a.externalIPs, b.externalIPs) &&
    sameStrings(a.loadBalancerIPs, b.loadBalancerIPs) &&
    sameStrings(a.loadBalancerSourceRanges, b.loadBalancerSourceRanges) &&
    a.sessionAffinity === b.sessionAffinity &&
    a.stickyMaxAgeSeconds === b.stickyMaxAgeSeconds &&
    a.externalTrafficPolicy === b.externalTrafficPolicy &&
    a.internalTrafficPolicy === b.internalTrafficPolicy &&
    a.healthCheckNodePort === b.healthCheckNodePort &&
    a.endpoints.length === b.endpoints.length &&
    a.endpoints.every((e, i) => sameEndpoint(e, b.endpoints[i]))
  );
}

function portsByIdentity(model: ProxyModel): Map<string, ServicePort> {
  return new Map(model.servicePorts.map((sp) => [`${sp.servicePortName}|${sp.protocol}`, sp]));
}

/**
 * Keys (`ns/name`) of the Services with a service port added, removed or changed from `before`
 * to `after`; `undefined` when something outside the Services changed (nodes, cluster or
 * service CIDR), which only a full sync handles.
 */
export function changedServices(before: ProxyModel, after: ProxyModel): Set<string> | undefined {
  if (before.clusterCIDR !== after.clusterCIDR || before.serviceCIDR !== after.serviceCIDR) return undefined;
  if (
    before.nodes.length !== after.nodes.length ||
    before.nodes.some((n, i) => {
      const m = after.nodes[i];
      return n.name !== m.name || n.ip !== m.ip || n.podCIDR !== m.podCIDR;
    })
  )
    return undefined;
  const changed = new Set<string>();
  const old = portsByIdentity(before);
  for (const [id, sp] of portsByIdentity(after)) {
    const was = old.get(id);
    if (was === undefined || !sameServicePort(was, sp)) changed.add(`${sp.namespace}/${sp.name}`);
    old.delete(id);
  }
  for (const gone of old.values()) changed.add(`${gone.namespace}/${gone.name}`);
  return changed;
}
