/**
 * Cluster DNS as CoreDNS's `kubernetes` plugin answers it, for the names dpsim's cluster holds
 * (default domain cluster.local; a bare name resolves in `default`, as from a pod there):
 *
 *   svc, svc.ns, svc.ns.svc, svc.ns.svc.cluster.local
 *     ExternalName → CNAME; headless → the ready endpoints' addresses; otherwise the ClusterIP.
 *   host.svc.ns.svc.cluster.local (and the shorter forms)
 *     → the address of the headless Service's endpoint with that hostname: a StatefulSet pod
 *       `<sts>-0` under its serviceName.
 *
 * `undefined` is NXDOMAIN.
 */

import { parseIPv4 } from '../util/ipv4.js';
import type { Cluster } from './cluster.js';

export type DnsAnswer =
  | { readonly type: 'CNAME'; readonly target: string }
  | { readonly type: 'A'; readonly addresses: readonly string[] };

const CLUSTER_DOMAIN = 'svc.cluster.local';

/** The labels left of the cluster domain, in the forms CoreDNS's search path accepts. */
function relativeLabels(name: string): string[] {
  const labels = name.replace(/\.$/, '').split('.');
  if (labels.length >= 3 && labels.slice(-3).join('.') === CLUSTER_DOMAIN) return labels.slice(0, -3);
  if (labels.length >= 2 && labels[labels.length - 1] === 'svc') return labels.slice(0, -1);
  return labels;
}

function byAddress(addresses: Iterable<string>): string[] {
  return [...new Set(addresses)].sort((a, b) => parseIPv4(a) - parseIPv4(b));
}

export function resolveDns(cluster: Cluster, name: string): DnsAnswer | undefined {
  const labels = relativeLabels(name);
  if (labels.length === 3) return resolveEndpointHostname(cluster, labels[0], labels[1], labels[2]);
  if (labels.length < 1 || labels.length > 2) return undefined;
  const svc = cluster.getService(labels[0], labels[1] ?? 'default');
  if (svc === undefined) return undefined;
  if (svc.spec?.type === 'ExternalName') return { type: 'CNAME', target: svc.spec.externalName ?? '' };
  if (svc.spec?.clusterIP === 'None') {
    const addrs: string[] = [];
    // A records: the IPv4 slices only (a dual-stack Service's IPv6 slices answer AAAA).
    for (const s of cluster.slicesOfService(svc))
      if (s.addressType !== 'IPv6')
        for (const e of s.endpoints) if (e.conditions?.ready !== false) addrs.push(...e.addresses);
    return { type: 'A', addresses: byAddress(addrs) };
  }
  return { type: 'A', addresses: svc.spec?.clusterIP ? [svc.spec.clusterIP] : [] };
}

/** `host.svc.ns`: the endpoint of headless Service `svc` that publishes hostname `host`. */
function resolveEndpointHostname(
  cluster: Cluster,
  hostname: string,
  service: string,
  namespace: string,
): DnsAnswer | undefined {
  const svc = cluster.getService(service, namespace);
  if (svc === undefined || svc.spec?.clusterIP !== 'None') return undefined;
  const addrs: string[] = [];
  for (const s of cluster.slicesOfService(svc))
    for (const e of s.endpoints) if (e.hostname === hostname) addrs.push(...e.addresses);
  return addrs.length === 0 ? undefined : { type: 'A', addresses: byAddress(addrs) };
}
