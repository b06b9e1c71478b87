/**
 * The IPv6 half of a dual-stack node: kube-proxy runs a second proxier for IPv6 (its
 * MetaProxier), which compiles the IPv6 model — the Services' IPv6 ClusterIPs, the IPv6
 * EndpointSlices, the node's IPv6 address and the IPv6 cluster CIDR — into its mode's IPv6
 * form: ip6tables rules (printed as `ip6tables-save` does; in iptables mode they also run on
 * the IPv6 path, ipv6-datapath.ts), the `ip6 kube-proxy` nftables table, the IPVS proxier's
 * IPv6 virtual servers, ipsets and ip6tables rules, or Cilium's lb6 maps. All load into (or
 * match) the real tools, and all run on the IPv6 path (ipv6-datapath.ts).
 *
 * Settings shared with the IPv4 proxier come from the same KubeProxyConfiguration and kernel
 * facts (masquerade bit and -all, --random-fully, nfacct, tcp_be_liberal); the local-traffic
 * detector is the IPv6 cluster CIDR (NodeCIDR: the node's IPv6 pod CIDR), and
 * nodePortAddresses keep their IPv6 entries.
 */

import type { KubeProxyConfig } from '../config/kube-proxy-config.js';
import { ipvsOptions, type NodeFacts, nftablesOptions } from '../config/node-options.js';
import type { Cluster } from '../k8s/cluster.js';
import { toProxyModel } from '../k8s/proxy-model.js';
import type { ProxyMode } from '../proxy/common/datapath.js';
import type { ProxyModel } from '../proxy/common/model.js';
import type { EbpfLoadBalancer } from '../proxy/ebpf/compile.js';
import {
  compileLb6,
  dumpLb6Maps,
  type Lb6State,
  renderCiliumLbList6,
  renderCiliumServiceList6,
} from '../proxy/ebpf/lb6.js';
import { formatBpftoolPlain } from '../proxy/ebpf/render.js';
import { compileIptables, type IptablesCompileResult, renderIptablesSave } from '../proxy/iptables/index.js';
import {
  compileIpvs,
  type IpvsCompileOptions,
  type IpvsNodeState,
  renderIpsetList,
} from '../proxy/ipvs/index.js';
import { renderIpvsadmList6 } from '../proxy/ipvs/render6.js';
import { compileNftables, type NftCompileOptions, renderTable } from '../proxy/nftables/index.js';
import type { NftTable } from '../proxy/nftables/table.js';
import { cidr6Contains, parseCidr6, parseIPv6 } from '../util/ipv6.js';

export class Ipv6RulesError extends Error {
  override name = 'Ipv6RulesError';
}

/** The IPv6 proxy model of a dual-stack cluster (a one-line error for a single-stack one). */
export function ipv6Model(cluster: Cluster): ProxyModel {
  if (cluster.config.ipv6 === undefined)
    throw new Ipv6RulesError(
      'error: --family ipv6: the cluster is single-stack (use --dual-stack or a v4,v6 --service-cluster-ip-range)',
    );
  return toProxyModel(cluster, 'IPv6');
}

/** Compiles the IPv6 proxier's ip6tables rules for `nodeName`. */
export function compileIpv6Iptables(
  cluster: Cluster,
  nodeName: string,
  kubeProxy: KubeProxyConfig | undefined,
  facts: NodeFacts | undefined,
): IptablesCompileResult {
  const model = ipv6Model(cluster);
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

/**
 * The IPv6 nftables proxier's options: the IPv4 proxier's masquerade settings (and its
 * kernel check), with the IPv6 local-traffic detector and the node's IPv6 NodePort addresses
 * (an `::/0` entry matches every local address; other IPv6 entries select the node's IPv6
 * address when they hold it; none means the node's primary IPv6 address).
 */
export function ipv6NftablesOptions(
  model: ProxyModel,
  nodeName: string,
  kubeProxy: KubeProxyConfig | undefined,
  facts: NodeFacts | undefined,
): NftCompileOptions {
  const node = model.nodes.find((n) => n.name === nodeName);
  if (node === undefined) throw new Ipv6RulesError(`error: unknown node "${nodeName}"`);
  if (kubeProxy === undefined || facts === undefined) return { family: 'ip6' };
  const v4 = nftablesOptions(kubeProxy, facts);
  const v6ClusterCIDR =
    kubeProxy.clusterCIDR
      .split(',')
      .map((c) => c.trim())
      .find((c) => c.includes(':')) ?? model.clusterCIDR;
  const detector =
    kubeProxy.detectLocalMode === 'NodeCIDR'
      ? node.podCIDR === ''
        ? null
        : node.podCIDR
      : v6ClusterCIDR === ''
        ? null
        : v6ClusterCIDR;
  const common: NftCompileOptions = {
    family: 'ip6',
    ...(v4.masqueradeBit !== undefined ? { masqueradeBit: v4.masqueradeBit } : {}),
    ...(v4.masqueradeAll !== undefined ? { masqueradeAll: v4.masqueradeAll } : {}),
    localDetectorCIDR: detector,
  };
  const v6Entries = kubeProxy.nodePortAddresses.filter((c) => c.includes(':'));
  if (v6Entries.some((c) => c.endsWith('/0'))) return { ...common, nodePortAddresses: 'all' };
  if (v6Entries.length === 0 || node.ip === '') return common;
  const addr = parseIPv6(node.ip);
  const held = v6Entries.some((c) => cidr6Contains(parseCidr6(c), addr));
  return { ...common, nodePortAddresses: 'primary', nodePortIPs: held ? [node.ip] : [] };
}

/** Compiles the IPv6 nftables proxier's `ip6 kube-proxy` table for `nodeName`. */
export function compileIpv6Nftables(
  cluster: Cluster,
  nodeName: string,
  kubeProxy: KubeProxyConfig | undefined,
  facts: NodeFacts | undefined,
): NftTable {
  const model = ipv6Model(cluster);
  return compileNftables(model, nodeName, ipv6NftablesOptions(model, nodeName, kubeProxy, facts));
}

/**
 * The IPv6 IPVS proxier's state: IPv6 virtual servers on the node's IPv6 addresses, the
 * `family inet6` KUBE-6- ipsets and their ip6tables rules. The scheduler and masquerade
 * settings are the IPv4 proxier's; NodePort virtual servers sit on the node's IPv6 address
 * (nodePortAddresses keep their IPv6 entries).
 */
export function compileIpv6Ipvs(
  cluster: Cluster,
  nodeName: string,
  kubeProxy: KubeProxyConfig | undefined,
  facts: NodeFacts | undefined,
  extra: { readonly date?: Date; readonly scheduler?: string } = {},
): IpvsNodeState {
  const model = ipv6Model(cluster);
  const node = model.nodes.find((n) => n.name === nodeName);
  if (node === undefined) throw new Ipv6RulesError(`error: unknown node "${nodeName}"`);
  const date = extra.date;
  let options: IpvsCompileOptions = { family: 'ipv6', ...(date !== undefined ? { saveDate: date } : {}) };
  if (kubeProxy !== undefined && facts !== undefined) {
    const v4 = ipvsOptions(kubeProxy, facts);
    options = {
      ...options,
      ...(v4.scheduler !== undefined ? { scheduler: v4.scheduler } : {}),
      ...(v4.masqueradeAll !== undefined ? { masqueradeAll: v4.masqueradeAll } : {}),
      ...(v4.masqueradeBit !== undefined ? { masqueradeBit: v4.masqueradeBit } : {}),
      ...(v4.randomFully !== undefined ? { randomFully: v4.randomFully } : {}),
      nodePortAddresses: kubeProxy.nodePortAddresses.filter((c) => c.includes(':')),
    };
  }
  return compileIpvs(model, nodeName, {
    ...options,
    ...(extra.scheduler !== undefined ? { scheduler: extra.scheduler } : {}),
    nodeAddresses: node.ip === '' ? [] : [node.ip],
  });
}

/**
 * The IPv6 LB maps Cilium writes beside the node's IPv4 ones (`ipv4` is the node's IPv4 load
 * balancer: its algorithm settings, and the IDs the IPv6 frontends and backends continue from).
 */
export function compileIpv6Lb(cluster: Cluster, nodeName: string, ipv4?: EbpfLoadBalancer): Lb6State {
  const model = ipv6Model(cluster);
  if (ipv4 === undefined) return compileLb6(model, nodeName);
  const first = ipv6FirstIds(ipv4);
  return compileLb6(model, nodeName, {
    algorithm: ipv4.algorithm,
    maglevTableSize: ipv4.maglevTableSize,
    maglevHashSeed: ipv4.maglevSeedText,
    externalClusterIP: ipv4.externalClusterIP,
    firstRevNat: first.revNat,
    firstBackendId: first.backend,
  });
}

/** The service and backend IDs a node's IPv6 frontends start from: one past its IPv4 ones (one ID space). */
export function ipv6FirstIds(ipv4: EbpfLoadBalancer): { revNat: number; backend: number } {
  let revNat = 0;
  let backend = 0;
  for (const f of ipv4.frontends.values()) {
    revNat = Math.max(revNat, f.revNat);
    for (const id of [...f.extBackendIds, ...(f.intBackendIds ?? [])]) backend = Math.max(backend, id);
  }
  return { revNat: revNat + 1, backend: backend + 1 };
}

/** Views of the IPv6 rules as compiled; the IPv6 traffic they carried shows in `conntrack --family ipv6`. */
export type Ipv6View = 'ipvsadm' | 'ipset' | 'iptables' | 'bpftool' | 'cilium-lb' | 'cilium-service';

/**
 * The node's IPv6 rules in `mode`'s own listing (`ip6tables-save`, `nft list table ip6
 * kube-proxy`, `ipvsadm -Ln` / `ipset list` / the IPVS mode's `ip6tables-save`).
 */
export function renderIpv6Rules(
  mode: ProxyMode,
  cluster: Cluster,
  nodeName: string,
  kubeProxy: KubeProxyConfig | undefined,
  facts: NodeFacts | undefined,
  date: Date,
  view?: Ipv6View,
  ipv4Lb?: EbpfLoadBalancer,
): string {
  switch (mode) {
    case 'iptables':
      return renderIpv6Iptables(cluster, nodeName, kubeProxy, facts, date);
    case 'nftables':
      return renderTable(compileIpv6Nftables(cluster, nodeName, kubeProxy, facts));
    case 'ipvs': {
      const state = compileIpv6Ipvs(cluster, nodeName, kubeProxy, facts, { date });
      if (view === 'ipset') return renderIpsetList(state.ipsets, { iptablesSave: state.iptablesSave });
      if (view === 'iptables') return state.iptablesSave;
      return renderIpvsadmList6(state);
    }
    case 'ebpf': {
      const state = compileIpv6Lb(cluster, nodeName, ipv4Lb);
      if (view === 'cilium-lb') return renderCiliumLbList6(state);
      if (view === 'cilium-service') return renderCiliumServiceList6(state);
      return dumpLb6Maps(state)
        .map((d) => `# bpftool map dump pinned /sys/fs/bpf/tc/globals/${d.name}\n${formatBpftoolPlain(d)}`)
        .join('\n');
    }
    default:
      throw new Ipv6RulesError(`error: --family ipv6 is not compiled in ${mode} mode yet`);
  }
}
