/**
 * Compiles a ProxyModel into kube-proxy's nftables table for one node.
 *
 * Target layout: kube-proxy nftables mode as of kubernetes/kubernetes commit 531be81
 * (2025 master, v1.33-era; the layout the upstream proxier_test.go `baseRules` checks):
 * base chains filter-prerouting-pre-dnat / filter-output-pre-dnat at dstnat-10,
 * filter-input / -forward / -output at filter, nat-prerouting / nat-output at dstnat,
 * nat-postrouting at srcnat; a `cluster-ips` set with `cluster-ips-check` (reject wrong
 * ports of live ClusterIPs, drop unallocated ones in the service CIDR); per-endpoint chains
 * with `dnat to`; a `mark-for-masquerade` chain. The post-2025 layout (hairpin set, no
 * per-endpoint chains) is deliberately not modelled.
 *
 * Objects are created in the order one full sync of a fresh kube-proxy creates them
 * (setupNFTables, then service ports in model order), which is the order `nft list` shows.
 *
 * `family: 'ip6'` compiles what kube-proxy's IPv6 proxier writes on a dual-stack node: the
 * same layout in `table ip6 kube-proxy`, over the IPv6 model (IPv6 ClusterIPs, endpoints,
 * node address and cluster CIDR), with `ipv6_addr` sets and `ip6 daddr != ::1` where the IPv4
 * proxier excludes 127.0.0.0/8.
 */

import {
  type CategorizedEndpoints,
  categorizeEndpoints,
  externalPolicyLocal,
  internalPolicyLocal,
  isExternallyAccessible,
} from '../common/categorize.js';
import type { Endpoint, ProxyModel, ServicePort } from '../common/model.js';
import {
  addrTypeOf,
  familyCidrContains,
  isFamilyAddress,
  localhostPrefix,
  type NftFamily,
  parseFamilyCidr,
} from './family.js';
import { type EndpointNames, endpointNames, servicePortChainNames } from './names.js';
import type {
  NftChain,
  NftHookName,
  NftL4Proto,
  NftMap,
  NftMapElement,
  NftMatch,
  NftRule,
  NftSet,
  NftStatement,
  NftTable,
  NftVerdict,
} from './table.js';

export const NFT_LAYOUT_VERSION = 'kube-proxy nftables, kubernetes commit 531be81 (2025, v1.33-era)';

export class NftCompileError extends Error {
  override name = 'NftCompileError';
}

export interface NftCompileOptions {
  /** `ip` (default: kube-proxy's IPv4 proxier) or `ip6` (its IPv6 proxier, over an IPv6 model). */
  readonly family?: NftFamily;
  /** --masquerade-all (default false). */
  readonly masqueradeAll?: boolean;
  /** --iptables-masquerade-bit (default 14 ⇒ 0x4000). */
  readonly masqueradeBit?: number;
  /**
   * --nodeport-addresses: 'primary' (nftables default: the node's primary IP, in @nodeport-ips)
   * or 'all' (match-all: `fib daddr type local ip daddr != 127.0.0.0/8`, no nodeport-ips set).
   */
  readonly nodePortAddresses?: 'primary' | 'all';
  /** With 'primary' (or CIDRs): the addresses in @nodeport-ips (default: the node's primary IP). */
  readonly nodePortIPs?: readonly string[];
  /**
   * The source prefix kube-proxy's local-traffic detector matches (ClusterCIDR or NodeCIDR
   * mode); null for no detector. Default: the model's cluster CIDR.
   */
  readonly localDetectorCIDR?: string | null;
}

// Fixed object names inside the table (kube-proxy uses no "kube-" prefix there).
export const CHAIN = {
  filterPreroutingPreDnat: 'filter-prerouting-pre-dnat',
  filterOutputPreDnat: 'filter-output-pre-dnat',
  filterInput: 'filter-input',
  filterForward: 'filter-forward',
  filterOutput: 'filter-output',
  natPrerouting: 'nat-prerouting',
  natOutput: 'nat-output',
  natPostrouting: 'nat-postrouting',
  services: 'services',
  serviceEndpointsCheck: 'service-endpoints-check',
  nodePortEndpointsCheck: 'nodeport-endpoints-check',
  clusterIPsCheck: 'cluster-ips-check',
  firewallCheck: 'firewall-check',
  markForMasquerade: 'mark-for-masquerade',
  masquerading: 'masquerading',
  reject: 'reject-chain',
} as const;

export const SET = {
  clusterIPs: 'cluster-ips',
  nodePortIPs: 'nodeport-ips',
  serviceIPs: 'service-ips',
  serviceNodePorts: 'service-nodeports',
  noEndpointServices: 'no-endpoint-services',
  noEndpointNodePorts: 'no-endpoint-nodeports',
  firewallIPs: 'firewall-ips',
} as const;

const DSTNAT = -100;
const FILTER = 0;
const SRCNAT = 100;

const jump = (chain: string): NftVerdict => ({ kind: 'jump', chain });
const goto = (chain: string): NftVerdict => ({ kind: 'goto', chain });
const verdictStmt = (verdict: NftVerdict): NftStatement => ({ kind: 'verdict', verdict });
const rule = (matches: NftMatch[], statements: NftStatement[], comment?: string): NftRule =>
  comment === undefined ? { matches, statements } : { matches, statements, comment };
/** Shared by every rule that jumps there (rules are never edited in place). */
const JUMP_MARK_FOR_MASQUERADE: NftStatement = verdictStmt(jump(CHAIN.markForMasquerade));
/** The statements of every endpoint chain's first rule (one array for 100k rules at 10k Services). */
const MARK_FOR_MASQUERADE_STATEMENTS: NftStatement[] = [JUMP_MARK_FOR_MASQUERADE];
const CT_NEW: NftMatch = { kind: 'ctState', states: ['new'] };
const noLocalhost = (family: NftFamily): NftMatch => ({
  kind: 'addr',
  field: 'daddr',
  negate: true,
  prefixes: [localhostPrefix(family)],
});

/** Keeps chains and sets in creation order, as the kernel does. */
class TableBuilder {
  readonly chains: NftChain[] = [];
  readonly sets: (NftSet | NftMap)[] = [];
  private readonly chainByName = new Map<string, NftChain>();
  private readonly setByName = new Map<string, NftSet | NftMap>();

  ensureChain(name: string, extra?: Partial<Pick<NftChain, 'base' | 'comment'>>): NftChain {
    let chain = this.chainByName.get(name);
    if (chain === undefined) {
      chain = extra === undefined ? { name, rules: [] } : { name, ...extra, rules: [] };
      this.chainByName.set(name, chain);
      this.chains.push(chain);
    }
    this.lastChain = chain;
    return chain;
  }

  /**
   * The chain ensureChain gave last: rules mostly go to the chain just named, and a lookup
   * among 100k chains costs a cache miss or two.
   */
  private lastChain: NftChain | null = null;

  addRule(chainName: string, r: NftRule): void {
    const last = this.lastChain;
    (last !== null && last.name === chainName ? last : this.ensureChain(chainName)).rules.push(r);
  }

  addSet<T extends NftSet | NftMap>(set: T): T {
    const existing = this.setByName.get(set.name);
    if (existing !== undefined) return existing as T;
    this.setByName.set(set.name, set);
    this.sets.push(set);
    return set;
  }
}

/** Keys already present per set/map: knftables elements are unique by key, and the first value stays. */
const elementKeys = new WeakMap<NftSet | NftMap, Set<string>>();

function firstTimeKey(container: NftSet | NftMap, key: string): boolean {
  let keys = elementKeys.get(container);
  if (keys === undefined) {
    keys = new Set(container.kind === 'set' ? container.elements : container.elements.map(mapElementKey));
    elementKeys.set(container, keys);
  }
  if (keys.has(key)) return false;
  keys.add(key);
  return true;
}

function mapElementKey(el: NftMapElement): string {
  return `${el.addr ?? ''} . ${el.proto} . ${el.port}`;
}

function addSetElement(set: NftSet, addr: string): void {
  if (firstTimeKey(set, addr)) set.elements.push(addr);
}

function addMapElement(map: NftMap, el: NftMapElement): void {
  if (firstTimeKey(map, mapElementKey(el))) map.elements.push(el);
}

function checkAddr(family: NftFamily, text: string, what: string): string {
  if (!isFamilyAddress(family, text))
    throw new NftCompileError(`${what}: "${text}" is not an ${family === 'ip6' ? 'IPv6' : 'IPv4'} address`);
  return text;
}

/** Compiles `model` into the `ip kube-proxy` (or `ip6 kube-proxy`) table kube-proxy would program on node `nodeName`. */
export function compileNftables(
  model: ProxyModel,
  nodeName: string,
  options: NftCompileOptions = {},
): NftTable {
  const node = model.nodes.find((n) => n.name === nodeName);
  if (node === undefined) {
    throw new NftCompileError(
      `node "${nodeName}" is not in the model (known: ${model.nodes.map((n) => n.name).join(', ') || 'none'})`,
    );
  }
  const family = options.family ?? 'ip';
  checkAddr(family, node.ip, `node ${nodeName} IP`);
  const masqueradeBit = options.masqueradeBit ?? 14;
  if (!Number.isInteger(masqueradeBit) || masqueradeBit < 0 || masqueradeBit > 31) {
    throw new NftCompileError(`masqueradeBit must be an integer in [0, 31], got ${masqueradeBit}`);
  }
  const masqueradeMark = (1 << masqueradeBit) >>> 0;
  const matchAllNodePorts = (options.nodePortAddresses ?? 'primary') === 'all';
  const masqueradeAll = options.masqueradeAll ?? false;
  const serviceCIDRs = model.serviceCIDR === '' ? [] : model.serviceCIDR.split(',').map((c) => c.trim());
  for (const c of serviceCIDRs) parseCidrOrThrow(family, c, 'serviceCIDR');
  // The default local detector (ClusterCIDR) is only "implemented" when --cluster-cidr is set.
  const clusterCIDR =
    options.localDetectorCIDR !== undefined
      ? options.localDetectorCIDR
      : model.clusterCIDR === ''
        ? null
        : model.clusterCIDR;
  if (clusterCIDR !== null) parseCidrOrThrow(family, clusterCIDR, 'clusterCIDR');

  const b = new TableBuilder();
  const nodePortIPs = options.nodePortIPs ?? [node.ip];
  for (const ip of nodePortIPs) checkAddr(family, ip, 'nodePortIPs');
  const sets = setupBase(b, { family, masqueradeMark, matchAllNodePorts, serviceCIDRs, nodePortIPs });

  for (const sp of model.servicePorts) {
    // Headless and other-family Services are ignored by a proxier of one family.
    if (sp.clusterIP === '' || sp.clusterIP === 'None' || sp.clusterIP.includes(':') !== (family === 'ip6'))
      continue;
    checkAddr(family, sp.clusterIP, `${sp.servicePortName} clusterIP`);
    compileServicePort(b, sets, sp, categorizeEndpoints(sp, nodeName), {
      family,
      nodeIP: node.ip,
      clusterCIDR,
      masqueradeAll,
    });
  }

  return {
    family,
    name: 'kube-proxy',
    comment: 'rules for kube-proxy',
    sets: b.sets,
    chains: b.chains,
    node: { name: node.name, ip: node.ip },
  };
}

function parseCidrOrThrow(family: NftFamily, text: string, what: string): void {
  try {
    parseFamilyCidr(family, text);
  } catch (e) {
    throw new NftCompileError(`${what}: ${(e as Error).message}`);
  }
}

interface BaseParams {
  readonly family: NftFamily;
  readonly masqueradeMark: number;
  readonly matchAllNodePorts: boolean;
  readonly serviceCIDRs: readonly string[];
  readonly nodePortIPs: readonly string[];
}

/** setupNFTables(): the fixed chains, sets and rules, in kube-proxy's creation order. */
function setupBase(b: TableBuilder, p: BaseParams): ServiceSets {
  const baseChains: [string, 'filter' | 'nat', NftHookName, number][] = [
    [CHAIN.filterPreroutingPreDnat, 'filter', 'prerouting', DSTNAT - 10],
    [CHAIN.filterOutputPreDnat, 'filter', 'output', DSTNAT - 10],
    [CHAIN.filterInput, 'filter', 'input', FILTER],
    [CHAIN.filterForward, 'filter', 'forward', FILTER],
    [CHAIN.filterOutput, 'filter', 'output', FILTER],
    [CHAIN.natPrerouting, 'nat', 'prerouting', DSTNAT],
    [CHAIN.natOutput, 'nat', 'output', DSTNAT],
    [CHAIN.natPostrouting, 'nat', 'postrouting', SRCNAT],
  ];
  for (const [name, type, hook, priority] of baseChains)
    b.ensureChain(name, { base: { type, hook, priority, policy: 'accept' } });

  // nftablesJumpChains: the destination chain is created on first mention, then the jump rule added.
  const jumps: [string, string, boolean][] = [
    [CHAIN.nodePortEndpointsCheck, CHAIN.filterInput, true],
    [CHAIN.serviceEndpointsCheck, CHAIN.filterInput, true],
    [CHAIN.serviceEndpointsCheck, CHAIN.filterForward, true],
    [CHAIN.serviceEndpointsCheck, CHAIN.filterOutput, true],
    [CHAIN.firewallCheck, CHAIN.filterPreroutingPreDnat, true],
    [CHAIN.firewallCheck, CHAIN.filterOutputPreDnat, true],
    [CHAIN.services, CHAIN.natOutput, false],
    [CHAIN.services, CHAIN.natPrerouting, false],
    [CHAIN.masquerading, CHAIN.natPostrouting, false],
    [CHAIN.clusterIPsCheck, CHAIN.filterForward, true],
    [CHAIN.clusterIPsCheck, CHAIN.filterOutput, true],
  ];
  for (const [dst, src, ctNew] of jumps) {
    b.ensureChain(dst);
    b.addRule(src, rule(ctNew ? [CT_NEW] : [], [verdictStmt(jump(dst))]));
  }
  for (const name of [CHAIN.services, CHAIN.clusterIPsCheck, CHAIN.masquerading, CHAIN.markForMasquerade])
    b.ensureChain(name);

  const mark = p.masqueradeMark;
  const addrType = addrTypeOf(p.family);
  const keyType = `${addrType} . inet_proto . inet_service` as const;
  b.addRule(CHAIN.markForMasquerade, rule([], [{ kind: 'markSet', op: 'or', value: mark }]));
  b.addRule(
    CHAIN.masquerading,
    rule([{ kind: 'markMask', mask: mark, negate: false, value: 0 }], [verdictStmt({ kind: 'return' })]),
  );
  b.addRule(CHAIN.masquerading, rule([], [{ kind: 'markSet', op: 'xor', value: mark }]));
  b.addRule(CHAIN.masquerading, rule([], [{ kind: 'masquerade', fullyRandom: true }]));

  const clusterIPs = b.addSet<NftSet>({
    kind: 'set',
    name: SET.clusterIPs,
    type: addrType,
    comment: 'Active ClusterIPs',
    elements: [],
  });
  b.addRule(
    CHAIN.clusterIPsCheck,
    rule(
      [{ kind: 'addrInSet', field: 'daddr', set: SET.clusterIPs }],
      [{ kind: 'reject' }],
      'Reject traffic to invalid ports of ClusterIPs',
    ),
  );
  if (p.serviceCIDRs.length > 0) {
    b.addRule(
      CHAIN.clusterIPsCheck,
      rule(
        [{ kind: 'addr', field: 'daddr', negate: false, prefixes: p.serviceCIDRs }],
        [verdictStmt({ kind: 'drop' })],
        'Drop traffic to unallocated ClusterIPs',
      ),
    );
  }

  // With match-all nodeport addresses kube-proxy does add+delete: the set does not exist.
  if (!p.matchAllNodePorts) {
    b.addSet<NftSet>({
      kind: 'set',
      name: SET.nodePortIPs,
      type: addrType,
      comment: 'IPs that accept NodePort traffic',
      elements: [...p.nodePortIPs],
    });
  }

  const noEndpointServices = b.addSet<NftMap>({
    kind: 'map',
    name: SET.noEndpointServices,
    keyType,
    comment: 'vmap to drop or reject packets to services with no endpoints',
    elements: [],
  });
  const noEndpointNodePorts = b.addSet<NftMap>({
    kind: 'map',
    name: SET.noEndpointNodePorts,
    keyType: 'inet_proto . inet_service',
    comment: 'vmap to drop or reject packets to service nodeports with no endpoints',
    elements: [],
  });
  b.ensureChain(CHAIN.reject, { comment: 'helper for @no-endpoint-services / @no-endpoint-nodeports' });
  b.addRule(CHAIN.reject, rule([], [{ kind: 'reject' }]));
  b.addRule(
    CHAIN.serviceEndpointsCheck,
    rule([], [{ kind: 'vmap', key: 'daddr.l4proto.dport', map: SET.noEndpointServices }]),
  );
  const nodePortDest: NftMatch[] = p.matchAllNodePorts
    ? [noLocalhost(p.family)]
    : [{ kind: 'addrInSet', field: 'daddr', set: SET.nodePortIPs }];
  b.addRule(
    CHAIN.nodePortEndpointsCheck,
    rule(nodePortDest, [{ kind: 'vmap', key: 'l4proto.dport', map: SET.noEndpointNodePorts }]),
  );

  const firewallIPs = b.addSet<NftMap>({
    kind: 'map',
    name: SET.firewallIPs,
    keyType,
    comment: 'destinations that are subject to LoadBalancerSourceRanges',
    elements: [],
  });
  b.addRule(
    CHAIN.firewallCheck,
    rule([], [{ kind: 'vmap', key: 'daddr.l4proto.dport', map: SET.firewallIPs }]),
  );

  const serviceIPs = b.addSet<NftMap>({
    kind: 'map',
    name: SET.serviceIPs,
    keyType,
    comment: 'ClusterIP, ExternalIP and LoadBalancer IP traffic',
    elements: [],
  });
  const serviceNodePorts = b.addSet<NftMap>({
    kind: 'map',
    name: SET.serviceNodePorts,
    keyType: 'inet_proto . inet_service',
    comment: 'NodePort traffic',
    elements: [],
  });
  b.addRule(CHAIN.services, rule([], [{ kind: 'vmap', key: 'daddr.l4proto.dport', map: SET.serviceIPs }]));
  const nodePortMatches: NftMatch[] = p.matchAllNodePorts
    ? [{ kind: 'fibLocal', field: 'daddr' }, noLocalhost(p.family)]
    : [{ kind: 'addrInSet', field: 'daddr', set: SET.nodePortIPs }];
  b.addRule(
    CHAIN.services,
    rule(nodePortMatches, [{ kind: 'vmap', key: 'l4proto.dport', map: SET.serviceNodePorts }]),
  );
  return { clusterIPs, serviceIPs, serviceNodePorts, noEndpointServices, noEndpointNodePorts, firewallIPs };
}

interface ServiceSets {
  readonly clusterIPs: NftSet;
  readonly serviceIPs: NftMap;
  readonly serviceNodePorts: NftMap;
  readonly noEndpointServices: NftMap;
  readonly noEndpointNodePorts: NftMap;
  readonly firewallIPs: NftMap;
}

interface ServiceParams {
  readonly family: NftFamily;
  readonly nodeIP: string;
  readonly clusterCIDR: string | null;
  readonly masqueradeAll: boolean;
}

/** The per-service-port part of syncProxyRules(). */
function compileServicePort(
  b: TableBuilder,
  sets: ServiceSets,
  sp: ServicePort,
  cat: CategorizedEndpoints,
  p: ServiceParams,
): void {
  const proto = sp.protocol.toLowerCase() as NftL4Proto;
  const names = servicePortChainNames(sp);
  const clusterEndpoints = cat.clusterEndpoints ?? [];
  const localEndpoints = cat.localEndpoints ?? [];
  const hasEndpoints = cat.hasAnyEndpoints;
  const affinity = sp.sessionAffinity === 'ClientIP';
  for (const ip of [...sp.externalIPs, ...sp.loadBalancerIPs])
    checkAddr(p.family, ip, `${sp.servicePortName} external/LB IP`);

  // Each endpoint's names are hashed once (the policy chains and the endpoint's own chain
  // all name it); the same strings then key every later lookup.
  const epNames = new Map<Endpoint, EndpointNames>();
  const epChains: NftChain[] = [];
  for (const ep of cat.allReachableEndpoints) {
    checkAddr(p.family, ep.ip, `${sp.servicePortName} endpoint`);
    const n = endpointNames(sp, ep);
    epNames.set(ep, n);
    epChains.push(b.ensureChain(n.chain));
  }
  const namesOf = (ep: Endpoint): EndpointNames => epNames.get(ep) ?? endpointNames(sp, ep);
  const usesClusterPolicyChain = clusterEndpoints.length > 0 && cat.clusterEndpoints !== null;
  if (usesClusterPolicyChain) b.ensureChain(names.cluster);
  const usesLocalPolicyChain = localEndpoints.length > 0 && cat.localEndpoints !== null;
  if (usesLocalPolicyChain) b.ensureChain(names.local);

  let internalTrafficChain = names.cluster;
  let hasInternalEndpoints = hasEndpoints;
  if (internalPolicyLocal(sp)) {
    internalTrafficChain = names.local;
    if (localEndpoints.length === 0) hasInternalEndpoints = false;
  }
  let externalPolicyChain = names.cluster;
  let hasExternalEndpoints = hasEndpoints;
  const eTPLocal = externalPolicyLocal(sp);
  if (eTPLocal) {
    externalPolicyChain = names.local;
    if (localEndpoints.length === 0) hasExternalEndpoints = false;
  }
  // Needed even without externally usable endpoints, for the short-circuit rules.
  const usesExternalTrafficChain = hasEndpoints && isExternallyAccessible(sp);
  if (usesExternalTrafficChain) b.ensureChain(names.external);

  const rejectVerdict = goto(CHAIN.reject);
  const internalFilterVerdict: NftVerdict = hasEndpoints ? { kind: 'drop' } : rejectVerdict;
  const externalFilterVerdict: NftVerdict = hasEndpoints ? { kind: 'drop' } : rejectVerdict;
  const comment = sp.servicePortName;

  addSetElement(sets.clusterIPs, sp.clusterIP);
  if (hasInternalEndpoints) {
    addMapElement(sets.serviceIPs, {
      addr: sp.clusterIP,
      proto,
      port: sp.port,
      verdict: goto(internalTrafficChain),
    });
  } else {
    addMapElement(sets.noEndpointServices, {
      addr: sp.clusterIP,
      proto,
      port: sp.port,
      comment,
      verdict: internalFilterVerdict,
    });
  }

  for (const ip of sp.externalIPs) {
    if (hasEndpoints)
      addMapElement(sets.serviceIPs, { addr: ip, proto, port: sp.port, verdict: goto(names.external) });
    if (!hasExternalEndpoints)
      addMapElement(sets.noEndpointServices, {
        addr: ip,
        proto,
        port: sp.port,
        comment,
        verdict: externalFilterVerdict,
      });
  }

  const usesFWChain = sp.loadBalancerIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
  if (usesFWChain) b.ensureChain(names.firewall);
  for (const ip of sp.loadBalancerIPs) {
    if (hasEndpoints)
      addMapElement(sets.serviceIPs, { addr: ip, proto, port: sp.port, verdict: goto(names.external) });
    if (usesFWChain)
      addMapElement(sets.firewallIPs, { addr: ip, proto, port: sp.port, verdict: goto(names.firewall) });
  }
  if (!hasExternalEndpoints) {
    for (const ip of sp.loadBalancerIPs) {
      addMapElement(sets.noEndpointServices, {
        addr: ip,
        proto,
        port: sp.port,
        comment,
        verdict: externalFilterVerdict,
      });
    }
  }

  if (sp.nodePort !== 0) {
    if (hasEndpoints)
      addMapElement(sets.serviceNodePorts, { proto, port: sp.nodePort, verdict: goto(names.external) });
    if (!hasExternalEndpoints)
      addMapElement(sets.noEndpointNodePorts, {
        proto,
        port: sp.nodePort,
        comment,
        verdict: externalFilterVerdict,
      });
  }

  // Internal traffic: masquerade off-cluster sources reaching the ClusterIP.
  if (hasInternalEndpoints) {
    const toClusterIP: NftMatch = { kind: 'addr', field: 'daddr', negate: false, prefixes: [sp.clusterIP] };
    if (p.masqueradeAll) {
      b.addRule(internalTrafficChain, rule([toClusterIP], [JUMP_MARK_FOR_MASQUERADE]));
    } else if (p.clusterCIDR !== null) {
      const notFromPods: NftMatch = { kind: 'addr', field: 'saddr', negate: true, prefixes: [p.clusterCIDR] };
      b.addRule(internalTrafficChain, rule([toClusterIP, notFromPods], [JUMP_MARK_FOR_MASQUERADE]));
    }
  }

  if (usesExternalTrafficChain) {
    if (!eTPLocal) {
      b.addRule(names.external, rule([], [JUMP_MARK_FOR_MASQUERADE]));
    } else {
      if (p.clusterCIDR !== null) {
        const fromPods: NftMatch = { kind: 'addr', field: 'saddr', negate: false, prefixes: [p.clusterCIDR] };
        b.addRule(
          names.external,
          rule([fromPods], [verdictStmt(goto(names.cluster))], 'short-circuit pod traffic'),
        );
      }
      const fromNode: NftMatch = { kind: 'fibLocal', field: 'saddr' };
      b.addRule(names.external, rule([fromNode], [JUMP_MARK_FOR_MASQUERADE], 'masquerade local traffic'));
      b.addRule(
        names.external,
        rule([fromNode], [verdictStmt(goto(names.cluster))], 'short-circuit local traffic'),
      );
    }
    if (hasExternalEndpoints) b.addRule(names.external, rule([], [verdictStmt(goto(externalPolicyChain))]));
  }

  if (usesFWChain) {
    const sources = [...sp.loadBalancerSourceRanges];
    const allowFromNode = sp.loadBalancerSourceRanges.some((c) => cidrContainsText(p.family, c, p.nodeIP));
    if (allowFromNode) sources.push(...sp.loadBalancerIPs);
    b.addRule(
      names.firewall,
      rule(
        [{ kind: 'addr', field: 'saddr', negate: true, prefixes: sources }],
        [verdictStmt({ kind: 'drop' })],
      ),
    );
  }

  if (affinity) {
    for (const ep of cat.allReachableEndpoints) {
      b.addSet<NftSet>({
        kind: 'set',
        name: namesOf(ep).affinitySet,
        type: addrTypeOf(p.family),
        flags: ['dynamic', 'timeout'],
        timeoutSeconds: sp.stickyMaxAgeSeconds,
        elements: [],
      });
    }
  }

  if (usesClusterPolicyChain) writeServiceToEndpointRules(b, sp, names.cluster, clusterEndpoints, namesOf);
  if (usesLocalPolicyChain) writeServiceToEndpointRules(b, sp, names.local, localEndpoints, namesOf);

  // Shared by this Service's endpoint chains, as JUMP_MARK_FOR_MASQUERADE is by every rule.
  const toProto: NftMatch[] = [{ kind: 'l4proto', proto }];
  cat.allReachableEndpoints.forEach((ep, i) => {
    const chain = epChains[i];
    chain.rules.push(
      rule(
        [{ kind: 'addr', field: 'saddr', negate: false, prefixes: [ep.ip] }],
        MARK_FOR_MASQUERADE_STATEMENTS,
      ),
    );
    if (affinity)
      chain.rules.push(rule([], [{ kind: 'setUpdate', set: namesOf(ep).affinitySet, field: 'saddr' }]));
    chain.rules.push(rule(toProto, [{ kind: 'dnat', addr: ep.ip, port: ep.port }]));
  });
}

function cidrContainsText(family: NftFamily, cidrText: string, addr: string): boolean {
  try {
    return familyCidrContains(family, cidrText, addr);
  } catch {
    throw new NftCompileError(`invalid loadBalancerSourceRange "${cidrText}"`);
  }
}

/** Affinity lookups first, then one uniform `numgen random mod N` over the endpoints in order. */
function writeServiceToEndpointRules(
  b: TableBuilder,
  sp: ServicePort,
  chain: string,
  endpoints: readonly Endpoint[],
  namesOf: (ep: Endpoint) => EndpointNames,
): void {
  if (sp.sessionAffinity === 'ClientIP') {
    for (const ep of endpoints) {
      const n = namesOf(ep);
      b.addRule(
        chain,
        rule([{ kind: 'addrInSet', field: 'saddr', set: n.affinitySet }], [verdictStmt(goto(n.chain))]),
      );
    }
  }
  b.addRule(
    chain,
    rule([], [{ kind: 'numgenVmap', targets: endpoints.map((ep) => goto(namesOf(ep).chain)) }]),
  );
}
