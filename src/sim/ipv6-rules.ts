/**
 * The IPv6 half of a dual-stack node's iptables mode: kube-proxy runs a second proxier for
 * IPv6 (its MetaProxier), which compiles the IPv6 model — the Services' IPv6 ClusterIPs, the
 * IPv6 EndpointSlices, the node's IPv6 address and the IPv6 cluster CIDR — into ip6tables
 * rules. This prints them as `ip6tables-save` does. They are compiled and printed (and load
 * with the real ip6tables-restore), and in iptables mode run on the IPv6 path (ipv6-datapath.ts).
 *
 * Settings shared with the IPv4 proxier come from the same KubeProxyConfiguration and kernel
 * facts (masquerade bit and -all, --random-fully, nfacct, tcp_be_liberal); the local-traffic
 * detector is the IPv6 cluster CIDR, and nodePortAddresses keep their IPv6 entries.
 */

import type { KubeProxyConfig } from '../config/kube-proxy-config.js';
import type { NodeFacts } from '../config/node-options.js';
import type { Cluster } from '../k8s/cluster.js';
import { toProxyModel } from '../k8s/proxy-model.js';
import { compileIptables, type IptablesCompileResult, renderIptablesSave } from '../proxy/iptables/index.js';

export class Ipv6RulesError extends Error {
  override name = 'Ipv6RulesError';
}

/** Compiles the IPv6 proxier's rules for `nodeName`. */
export function compileIpv6Iptables(
  cluster: Cluster,
  nodeName: string,
  kubeProxy: KubeProxyConfig | undefined,
  facts: NodeFacts | undefined,
): IptablesCompileResult {
  if (cluster.config.ipv6 === undefined)
    throw new Ipv6RulesError(
      'error: --family ipv6: the cluster is single-stack (use --dual-stack or a v4,v6 --service-cluster-ip-range)',
    );
  const model = toProxyModel(cluster, 'IPv6');
  const ipv6NodePorts = (kubeProxy?.nodePortAddresses ?? []).filter((c) => c.includes(':'));
  return compileIptables(model, nodeName, {
    ipv6: true,
    ...(kubeProxy !== undefined
      ? { masqueradeBit: kubeProxy.iptables.masqueradeBit, masqueradeAll: kubeProxy.iptables.masqueradeAll }
      : {}),
    ...(facts !== undefined
      ? {
          randomFully: facts.kernel.iptablesRandomFully,
          nfacct: facts.kernel.nfacct,
          conntrackTCPLiberal: facts.kernel.tcpBeLiberal || (kubeProxy?.conntrack.tcpBeLiberal ?? false),
        }
      : {}),
    ...(ipv6NodePorts.length > 0 ? { nodePortAddresses: ipv6NodePorts } : {}),
  });
}

/** `ip6tables-save` of the node, dated `date`. */
export function renderIpv6Iptables(
  cluster: Cluster,
  nodeName: string,
  kubeProxy: KubeProxyConfig | undefined,
  facts: NodeFacts | undefined,
  date: Date,
): string {
  const { ruleset } = compileIpv6Iptables(cluster, nodeName, kubeProxy, facts);
  return renderIptablesSave(ruleset, { date, ipv6: true });
}
