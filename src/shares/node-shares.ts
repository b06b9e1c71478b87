/**
 * Per node and service port: the exact shares the node's rules give each endpoint, beside
 * the equal shares kube-proxy (or Cilium) means them to get over the endpoints its traffic
 * policies select there. The rules come from wherever the datapath runs them — compiled,
 * or parsed from a user's dump — so a compiler or a dump that balances wrongly shows here.
 */
import { categorizeEndpoints, externalPolicyLocal, internalPolicyLocal } from '../proxy/common/categorize.js';
import type { Endpoint, ProxyModel, ServicePort } from '../proxy/common/model.js';
import type { EbpfLoadBalancer } from '../proxy/ebpf/compile.js';
import { serviceChainNames } from '../proxy/iptables/chain-names.js';
import type { Ruleset } from '../proxy/iptables/types.js';
import type { IpvsVirtualServerSpec } from '../proxy/ipvs/compile.js';
import { servicePortChainNames } from '../proxy/nftables/names.js';
import type { NftTable } from '../proxy/nftables/table.js';
import { formatIPv4 } from '../util/ipv4.js';
import { ebpfFrontendShares } from './ebpf.js';
import { frac, percent, within, ZERO } from './fraction.js';
import { iptablesChainShares } from './iptables.js';
import { ipvsShares } from './ipvs.js';
import { nftChainShares } from './nftables.js';
import type { RuleShares, ServiceShares } from './types.js';

/** The structures a node's datapath selects endpoints with. */
export type ShareSource =
  | { readonly mode: 'iptables'; readonly ruleset: Ruleset }
  | { readonly mode: 'nftables'; readonly table: NftTable }
  | { readonly mode: 'ipvs'; readonly virtualServers: readonly IpvsVirtualServerSpec[] }
  | { readonly mode: 'ebpf'; readonly lb: EbpfLoadBalancer };

const key = (e: Pick<Endpoint, 'ip' | 'port'>) => `${e.ip}:${e.port}`;

/** Compares exact rule shares with equal shares over `intended`; null when they agree. */
export function shareProblem(rules: RuleShares, intended: readonly string[]): string | null {
  const tol = rules.resolution;
  const problems: string[] = [];
  if (intended.length > 0) {
    const target = frac(1, intended.length);
    for (const ep of intended) {
      const s = rules.shares.get(ep) ?? ZERO;
      if (!within(s, target, tol))
        problems.push(`${ep} gets ${percent(s, 4)}, intended ${percent(target, 4)}`);
    }
    if (!within(rules.unmatched, ZERO, tol))
      problems.push(`${percent(rules.unmatched, 4)} of new connections match no endpoint`);
  }
  for (const [ep, s] of rules.shares)
    if (!intended.includes(ep) && !within(s, ZERO, tol))
      problems.push(`${ep} gets ${percent(s, 4)} but is not an endpoint this traffic may use`);
  return problems.length === 0 ? null : problems.join('; ');
}

function row(
  node: string,
  sp: ServicePort,
  path: string,
  rules: RuleShares,
  intendedEndpoints: readonly Endpoint[],
): ServiceShares {
  const intended = intendedEndpoints.map(key);
  const problem = shareProblem(rules, intended);
  return {
    node,
    servicePortName: sp.servicePortName,
    path,
    rules,
    intended,
    pods: new Map(sp.endpoints.filter((e) => e.podName !== '').map((e) => [key(e), e.podName])),
    agree: problem === null,
    problem,
  };
}

/** Chains of the two kube-proxy modes: the cluster and the local traffic-policy chain. */
function policyChainRows(
  model: ProxyModel,
  node: string,
  chainsOf: (sp: ServicePort) => { cluster: string; local: string },
  sharesOf: (chain: string) => RuleShares | null,
): ServiceShares[] {
  const out: ServiceShares[] = [];
  for (const sp of model.servicePorts) {
    const cat = categorizeEndpoints(sp, node);
    const chains = chainsOf(sp);
    const cluster = sharesOf(chains.cluster);
    if (cluster !== null)
      out.push(
        row(node, sp, `${chains.cluster} (cluster traffic policy)`, cluster, cat.clusterEndpoints ?? []),
      );
    const local = sharesOf(chains.local);
    if (local !== null)
      out.push(row(node, sp, `${chains.local} (local traffic policy)`, local, cat.localEndpoints ?? []));
  }
  return out;
}

/** The endpoints a way in of this kind is meant to use on `node` (kube-proxy's policies). */
function intendedFor(sp: ServicePort, node: string, kind: string, selection?: string): readonly Endpoint[] {
  const cat = categorizeEndpoints(sp, node);
  const local =
    selection !== undefined
      ? selection === 'local'
      : kind === 'ClusterIP'
        ? internalPolicyLocal(sp)
        : externalPolicyLocal(sp);
  return (local ? cat.localEndpoints : cat.clusterEndpoints) ?? [];
}

export function nodeShares(model: ProxyModel, node: string, source: ShareSource): ServiceShares[] {
  switch (source.mode) {
    case 'iptables':
      return policyChainRows(
        model,
        node,
        (sp) => {
          const c = serviceChainNames(sp.servicePortName, sp.protocol);
          return { cluster: c.svc, local: c.svl };
        },
        (chain) => iptablesChainShares(source.ruleset, chain),
      );
    case 'nftables':
      return policyChainRows(model, node, servicePortChainNames, (chain) =>
        nftChainShares(source.table, chain),
      );
    case 'ipvs': {
      const byName = new Map(model.servicePorts.map((sp) => [`${sp.servicePortName}/${sp.protocol}`, sp]));
      const out: ServiceShares[] = [];
      for (const vs of source.virtualServers) {
        const sp = byName.get(`${vs.servicePortName}/${vs.protocol}`);
        if (sp === undefined) continue;
        // 'local-fallback-cluster': kube-proxy's IPVS proxier uses the cluster set when no local one exists.
        const selection = vs.endpointSelection === 'local' ? 'local' : 'cluster';
        out.push(
          row(
            node,
            sp,
            `${vs.protocol} ${vs.address}:${vs.port} ${vs.scheduler} (${vs.kind})`,
            ipvsShares(vs),
            intendedFor(sp, node, vs.kind, selection),
          ),
        );
      }
      return out;
    }
    case 'ebpf': {
      const byName = new Map(model.servicePorts.map((sp) => [`${sp.servicePortName}/${sp.protocol}`, sp]));
      const out: ServiceShares[] = [];
      for (const f of source.lb.frontends.values()) {
        const proto = f.plan.proto === 6 ? 'TCP' : f.plan.proto === 17 ? 'UDP' : 'SCTP';
        const sp = byName.get(`${f.plan.servicePortName}/${proto}`);
        if (sp === undefined) continue;
        out.push(
          row(
            node,
            sp,
            `${formatIPv4(f.plan.addr)}:${f.plan.port} (${f.plan.kind})`,
            ebpfFrontendShares(source.lb, f),
            intendedFor(sp, node, f.plan.kind),
          ),
        );
      }
      return out;
    }
  }
}
