/**
 * The address family one verification run covers, and the scenario as that family's proxier
 * sees it. kube-proxy runs one proxier per family (its MetaProxier), so a dual-stack cluster
 * is verified once per family: the IPv4 run loads the `iptables-save` / `table ip` rules and
 * sends IPv4 connections, the IPv6 run loads the `ip6tables-save` / `table ip6` rules of the
 * IPv6 model (the Services' IPv6 ClusterIPs, the IPv6 EndpointSlices, the nodes' IPv6
 * addresses) and sends IPv6 connections between the hosts' IPv6 addresses.
 */
import type { Cluster } from '../k8s/cluster.js';
import { toProxyModel } from '../k8s/proxy-model.js';
import type { ProxyModel } from '../proxy/common/model.js';
import { type PodAppInfo, podApps } from '../sim/pod-apps.js';
import { ScenarioError } from './errors.js';

export type VerifyFamily = 'ipv4' | 'ipv6';
export const VERIFY_FAMILIES: readonly VerifyFamily[] = ['ipv4', 'ipv6'];

/** The scenario in one family: its proxy model, its pods at that family's addresses, the client's address. */
export interface FamilyView {
  readonly family: VerifyFamily;
  readonly model: ProxyModel;
  readonly pods: readonly PodAppInfo[];
  readonly clientIP: string;
}

/** Each pod's address of `family` (status.podIPs), by `namespace/name`. */
function podAddresses(cluster: Cluster, family: VerifyFamily): Map<string, string> {
  const out = new Map<string, string>();
  for (const pod of cluster.pods()) {
    const ip = pod.status?.podIPs
      ?.map((p) => p.ip ?? '')
      .find((a) => a.includes(':') === (family === 'ipv6'));
    if (ip !== undefined && ip !== '')
      out.set(`${pod.metadata!.namespace ?? 'default'}/${pod.metadata!.name!}`, ip);
  }
  return out;
}

/** The cluster as the `family` proxier sees it; an IPv6 view of a single-stack cluster is a ScenarioError. */
export function familyView(cluster: Cluster, family: VerifyFamily): FamilyView {
  const pods = podApps(cluster.pods());
  if (family === 'ipv4')
    return { family, model: toProxyModel(cluster), pods, clientIP: cluster.config.clientIP };
  const v6 = cluster.config.ipv6;
  if (v6 === undefined)
    throw new ScenarioError(
      '--family ipv6: the cluster is single-stack (use --dual-stack, or a Cluster document with v4,v6 serviceCIDR and clusterCIDR pairs)',
    );
  const addresses = podAddresses(cluster, 'ipv6');
  const pods6 = pods.flatMap((p) => {
    const ip = addresses.get(`${p.namespace}/${p.name}`);
    return ip === undefined ? [] : [{ ...p, ip }];
  });
  return { family, model: toProxyModel(cluster, 'IPv6'), pods: pods6, clientIP: v6.clientIP };
}

/** `host:port` as a URL or a log line writes it (`[addr]:port` for IPv6). */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
