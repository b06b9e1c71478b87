/**
 * kube-proxy's iptables proxier (pkg/proxy/iptables/proxier.go, ~v1.28–1.33 layout) for
 * one node: the `iptables-restore --noflush` payload a full sync writes, and the kernel
 * state it leaves on a clean node (that payload plus the jump rules kube-proxy prepends to
 * the built-in chains and the empty canary chains).
 *
 * Rules are written as kube-proxy writes them, token for token (comment first,
 * `-m tcp -p tcp -d IP --dport P`, quoted comments), and the structured ruleset is
 * obtained by parsing that text with dpsim's iptables-restore parser, so the restore
 * input and the structure cannot drift apart. Service ports are handled in model order
 * (sorted) where kube-proxy uses Go map order; only the order of services inside
 * KUBE-SERVICES / KUBE-NODEPORTS / filter chains depends on it.
 */
import { formatIPv4, isIPv4, parseIPv4, prefixMask } from '../../util/ipv4.js';
import { formatIPv6, isIPv6Text, parseIPv6, prefixMask6 } from '../../util/ipv6.js';
import {
  categorizeEndpoints,
  externalPolicyLocal,
  internalPolicyLocal,
  isExternallyAccessible,
  usesClusterEndpoints,
  usesLocalEndpoints,
} from '../common/categorize.js';
import type { Endpoint, ProxyModel, ServicePort } from '../common/model.js';
import { endpointChainName, serviceChainNames } from './chain-names.js';
import { goHex08, kubeProxyProbability, probabilityToKernel } from './format.js';
import { type PrebuiltLines, restorePrebuilt } from './parse.js';
import type { Match, Rule, Ruleset } from './types.js';

export interface IptablesCompileOptions {
  /** --iptables-masquerade-bit (default 14 → mark 0x4000). */
  readonly masqueradeBit?: number;
  /** --masquerade-all (default false). */
  readonly masqueradeAll?: boolean;
  /** Use the ClusterCIDR local-traffic detector (default true; needs model.clusterCIDR). */
  readonly localDetector?: boolean;
  /**
   * kube-proxy's LocalTrafficDetector as match arguments, overriding `localDetector`:
   * e.g. `{ ifLocal: '-i cali+', ifNotLocal: '! -i cali+' }` (InterfaceNamePrefix), or null
   * for no detector (ClusterCIDR mode without a cluster CIDR).
   */
  readonly localTrafficDetector?: LocalTrafficDetector | null;
  /**
   * --nodeport-addresses as CIDRs ('primary' already resolved to the node's IPs as /32);
   * unset or empty = every local address (the `-m addrtype --dst-type LOCAL` rule).
   */
  readonly nodePortAddresses?: readonly string[];
  /** The node's addresses NodePort CIDRs select from, loopback excluded (default: its InternalIP). */
  readonly nodeAddresses?: readonly string[];
  /** iptables supports MASQUERADE --random-fully (default true, as iptables 1.8.9 does). */
  readonly randomFully?: boolean;
  /** --iptables-localhost-nodeports (default true). */
  readonly localhostNodePorts?: boolean;
  /** The kernel has nfacct counters (default false: the nfacct objects must exist for a restore to load). */
  readonly nfacct?: boolean;
  /** sysctl nf_conntrack_tcp_be_liberal=1 (default false) removes the INVALID drop rule. */
  readonly conntrackTCPLiberal?: boolean;
  /** Create the empty KUBE-PROXY-CANARY chains in mangle, nat and filter (default true). */
  readonly canaryChains?: boolean;
  /**
   * A partial sync (KEP-3453): only these Services (`ns/name`) get their KUBE-SVC/SVL/EXT/FW/SEP
   * chains written; the others' chains stay as the kernel has them. Unset: a full sync.
   */
  readonly changedServices?: ReadonlySet<string>;
  /**
   * The nat chains `iptables-save -t nat` lists on the node now: every service chain among
   * them that this sync does not keep is flushed (`:CHAIN - [0:0]`) and deleted (`-X`).
   * Unset: no clean-up (a clean node, or large-cluster mode between clean-ups).
   */
  readonly existingNatChains?: Iterable<string>;
  /**
   * Compile the IPv6 proxier of a dual-stack node (the model is then the IPv6 one): its rules
   * load with ip6tables-restore. kube-proxy's IPv6 differences: no localhost NodePorts (the
   * nodePorts jump excludes ::1/128 and there is no localnet DROP rule), `[addr]:port` DNAT
   * targets and endpoint strings, REJECT defaulting to icmp6-port-unreachable.
   */
  readonly ipv6?: boolean;
}

/** Match arguments selecting traffic from this node's pods, and the negation. */
export interface LocalTrafficDetector {
  readonly ifLocal: string;
  readonly ifNotLocal: string;
}

export interface IptablesCompileResult {
  /** The kernel's tables after kube-proxy's first full sync on a clean node. */
  readonly ruleset: Ruleset;
  /** What kube-proxy feeds `iptables-restore -w 5 -W 100000 --noflush --counters`. */
  readonly restoreInput: string;
  /**
   * The iptables commands (argv after `iptables`) kube-proxy runs before that restore on a
   * clean node: canary chains, EnsureChain and EnsureRule(Prepend) for every jump.
   */
  readonly bootstrapCommands: readonly (readonly string[])[];
  /** kubeproxy_sync_proxy_rules_iptables_last per table: the `-A` lines this restore wrote (a full sync: every rule). */
  readonly ruleCounts: { readonly filter: number; readonly nat: number };
  /** More than 1000 endpoints: per-endpoint comments dropped, as kube-proxy does. */
  readonly largeClusterMode: boolean;
  /** Every KUBE-SVC/SVL/EXT/FW/SEP chain the rules need, written this time or not. */
  readonly activeNatChains: ReadonlySet<string>;
  /** Stale service chains this restore flushes and deletes, in the order written. */
  readonly deletedChains: readonly string[];
  /** kubeproxy_sync_proxy_rules_iptables_total{table="nat"}: the rules kept, skipped ones included. */
  readonly natRulesTotal: number;
}

export class IptablesCompileError extends Error {
  override name = 'IptablesCompileError';
}

const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;
const LOCALHOST_NODEPORTS_COUNTER = 'localhost_nps_accepted_pkts';
const INVALID_DROPPED_COUNTER = 'ct_state_invalid_dropped_pkts';

interface JumpChain {
  readonly table: 'filter' | 'nat';
  readonly dst: string;
  readonly src: string;
  readonly comment: string;
  readonly extra: string;
}

const CTSTATE_NEW = '-m conntrack --ctstate NEW';

/** iptablesJumpChains then iptablesKubeletJumpChains, in the order kube-proxy ensures them. */
const JUMP_CHAINS: readonly JumpChain[] = [
  {
    table: 'filter',
    dst: 'KUBE-EXTERNAL-SERVICES',
    src: 'INPUT',
    comment: 'kubernetes externally-visible service portals',
    extra: CTSTATE_NEW,
  },
  {
    table: 'filter',
    dst: 'KUBE-EXTERNAL-SERVICES',
    src: 'FORWARD',
    comment: 'kubernetes externally-visible service portals',
    extra: CTSTATE_NEW,
  },
  {
    table: 'filter',
    dst: 'KUBE-NODEPORTS',
    src: 'INPUT',
    comment: 'kubernetes health check service ports',
    extra: '',
  },
  {
    table: 'filter',
    dst: 'KUBE-SERVICES',
    src: 'FORWARD',
    comment: 'kubernetes service portals',
    extra: CTSTATE_NEW,
  },
  {
    table: 'filter',
    dst: 'KUBE-SERVICES',
    src: 'OUTPUT',
    comment: 'kubernetes service portals',
    extra: CTSTATE_NEW,
  },
  { table: 'filter', dst: 'KUBE-FORWARD', src: 'FORWARD', comment: 'kubernetes forwarding rules', extra: '' },
  {
    table: 'filter',
    dst: 'KUBE-PROXY-FIREWALL',
    src: 'INPUT',
    comment: 'kubernetes load balancer firewall',
    extra: CTSTATE_NEW,
  },
  {
    table: 'filter',
    dst: 'KUBE-PROXY-FIREWALL',
    src: 'OUTPUT',
    comment: 'kubernetes load balancer firewall',
    extra: CTSTATE_NEW,
  },
  {
    table: 'filter',
    dst: 'KUBE-PROXY-FIREWALL',
    src: 'FORWARD',
    comment: 'kubernetes load balancer firewall',
    extra: CTSTATE_NEW,
  },
  { table: 'nat', dst: 'KUBE-SERVICES', src: 'OUTPUT', comment: 'kubernetes service portals', extra: '' },
  { table: 'nat', dst: 'KUBE-SERVICES', src: 'PREROUTING', comment: 'kubernetes service portals', extra: '' },
  {
    table: 'nat',
    dst: 'KUBE-POSTROUTING',
    src: 'POSTROUTING',
    comment: 'kubernetes postrouting rules',
    extra: '',
  },
  { table: 'filter', dst: 'KUBE-FIREWALL', src: 'INPUT', comment: '', extra: '' },
  { table: 'filter', dst: 'KUBE-FIREWALL', src: 'OUTPUT', comment: '', extra: '' },
];

const CANARY = 'KUBE-PROXY-CANARY';

/** A CIDR of the proxier's family, as Go's net.IPNet.String() prints it (host bits cleared). */
interface FamilyCidr {
  readonly text: string;
  /** A /0: every address. */
  readonly all: boolean;
  /** IPv4: the network and mask as numbers (what the parser makes of `-s text`); 0 for IPv6. */
  readonly network: number;
  readonly mask: number;
  contains(ip: string): boolean;
}

/** Normalizes `text` as a CIDR of the family (IPv6 when `ipv6`); null for the other family or garbage. */
function normalizeCidr(text: string, ipv6 = false): FamilyCidr | null {
  const [addr, len = ipv6 ? '128' : '32'] = text.trim().split('/');
  if (ipv6) {
    if (!isIPv6Text(addr) || !/^(12[0-8]|1[01]\d|[1-9]?\d)$/.test(len)) return null;
    const mask = prefixMask6(Number(len));
    const network = parseIPv6(addr) & mask;
    return {
      text: `${formatIPv6(network)}/${len}`,
      all: len === '0',
      network: 0,
      mask: 0,
      contains: (ip) => isIPv6Text(ip) && (parseIPv6(ip) & mask) === network,
    };
  }
  if (!isIPv4(addr) || !/^(3[0-2]|[12]?\d)$/.test(len)) return null;
  const mask = prefixMask(Number(len));
  const network = (parseIPv4(addr) & mask) >>> 0;
  return {
    text: `${formatIPv4(network)}/${len}`,
    all: mask === 0,
    network,
    mask: mask >>> 0,
    contains: (ip) => isIPv4(ip) && (parseIPv4(ip) & mask) >>> 0 === network,
  };
}

/**
 * A restore line buffer: kube-proxy's LineBuffer, counting lines for the rules metric. A line
 * may carry the Rule its text parses to (writeRule), so the ruleset is built without parsing
 * the ~3 rules per endpoint back from text.
 */
class Lines {
  readonly lines: string[] = [];
  /**
   * Per line, as restorePrebuilt reads them: the chain a prebuilt `-A` appends to or a prebuilt
   * declaration declares, and the prebuilt rule; both undefined for a line the restore parses.
   */
  readonly chain: (string | undefined)[] = [];
  readonly rule: (Rule | undefined)[] = [];
  /** Chains declared with declareChain, in order. */
  readonly chainNames: string[] = [];
  /**
   * Whether prebuilt lines keep their text too (else their line is '': only the structure is
   * wanted). Writers test it before building a prebuilt rule's text: at 10k Services that text
   * is most of a sync's garbage.
   */
  prebuiltText = true;
  write(...parts: string[]): void {
    this.lines.push(joinParts(parts));
    this.chain.push(undefined);
    this.rule.push(undefined);
  }
  /** `-A chain …` whose text parses to `rule` (`text` is read only when prebuiltText is set). */
  writeRule(chain: string, rule: Rule, text: string): void {
    this.lines.push(this.prebuiltText ? text : '');
    this.chain.push(chain);
    this.rule.push(rule);
  }
  /**
   * `:CHAIN - [0:0]`: declares (or flushes) a user chain. A service chain (KUBE-SVC-…, SEP, …)
   * is not listed in chainNames: only kube-proxy's fixed chains are looked up there.
   */
  declareChain(chain: string, serviceChain = false): void {
    this.lines.push(this.prebuiltText ? `:${chain} - [0:0]` : '');
    this.chain.push(chain);
    this.rule.push(undefined);
    if (!serviceChain) this.chainNames.push(chain);
  }
}

/** The non-empty parts joined by spaces (kube-proxy's LineBuffer.Write). */
function joinParts(parts: readonly string[]): string {
  return parts.filter((p) => p !== '').join(' ');
}

const IP_PROTOCOL_NUMBER: Readonly<Record<string, number>> = { tcp: 6, udp: 17, sctp: 132 };

/** kube-proxy's probability text for 1/n (the same ten digits for every Service), per n. */
const probabilityTexts: string[] = [];
function probabilityText(n: number): string {
  let t = probabilityTexts[n];
  if (t === undefined) {
    t = kubeProxyProbability(n);
    probabilityTexts[n] = t;
  }
  return t;
}

/** iptables' statistic threshold of kube-proxy's probability text for 1/n, per n. */
const statisticThresholds: number[] = [];
function statisticThreshold(n: number): number {
  let t = statisticThresholds[n];
  if (t === undefined) {
    t = probabilityToKernel(Number(probabilityText(n)));
    statisticThresholds[n] = t;
  }
  return t;
}

/** The structures the iptables parser gives the bulk rules' pieces (parse.ts is the reference). */
const commentMatch = (comment: string): Match => ({ kind: 'comment', comment });
const jumpTo = (chain: string) => ({ kind: 'jump' as const, chain, goto: false });
/**
 * Pieces many prebuilt rules share. A compiled rule is never mutated (a restore copies the
 * chains' rule lists, not the rules), so one object can serve every rule: at 10k Services ×
 * 10 endpoints each one saved is 100k objects the compile no longer keeps alive.
 */
const JUMP_MARK_MASQ = jumpTo('KUBE-MARK-MASQ');
const NO_MATCHES: Match[] = [];
const PROTO_MATCHES = new Map<number, Rule['proto']>();
function protoMatch(proto: number): Rule['proto'] {
  let m = PROTO_MATCHES.get(proto);
  if (m === undefined) {
    m = { proto, invert: false };
    PROTO_MATCHES.set(proto, m);
  }
  return m;
}
/** `-m statistic --mode random --probability <1/n>`, per n. */
const randomMatches: Match[] = [];
function randomMatch(n: number): Match {
  let m = randomMatches[n];
  if (m === undefined) {
    m = { kind: 'statistic', mode: 'random', probability: statisticThreshold(n), invert: false };
    randomMatches[n] = m;
  }
  return m;
}
function ruleOf(partial: Partial<Rule>): Rule {
  return {
    src: partial.src ?? null,
    dst: partial.dst ?? null,
    inIface: partial.inIface ?? null,
    outIface: partial.outIface ?? null,
    proto: partial.proto ?? null,
    matches: partial.matches ?? [],
    target: partial.target ?? null,
  };
}
/** A dotted-quad address the parser would accept, as the number it gives; null otherwise. */
function hostAddress(ip: string): number | null {
  return isIPv4(ip) ? parseIPv4(ip) >>> 0 : null;
}

const quoted = (text: string) => `"${text}"`;

/** The chain prefixes kube-proxy's stale-chain clean-up considers its own (isServiceChainName). */
const SERVICE_CHAIN_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-SEP-', 'KUBE-FW-', 'KUBE-EXT-'];
export function isServiceChainName(name: string): boolean {
  return SERVICE_CHAIN_PREFIXES.some((p) => name.startsWith(p));
}

/** kube-proxy's large-cluster mode: more than 1000 endpoints over the family's service ports. */
export function isLargeClusterMode(model: ProxyModel, ipv6 = false): boolean {
  const ofFamily = ipv6 ? isIPv6Text : isIPv4;
  let totalEndpoints = 0;
  for (const sp of model.servicePorts) if (ofFamily(sp.clusterIP)) totalEndpoints += sp.endpoints.length;
  return totalEndpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD;
}

/** One sync's restore input without the kernel state it leads to (partial syncs need the node's tables). */
export type IptablesRestoreResult = Omit<IptablesCompileResult, 'ruleset'>;

/**
 * The kernel's tables after a full sync on a clean node, with that sync's restore input.
 * `changedServices` and `existingNatChains` are refused here: a partial or clean-up restore
 * only means something applied on top of a node's tables (see compileIptablesRestore).
 */
export function compileIptables(
  model: ProxyModel,
  nodeName: string,
  options: IptablesCompileOptions = {},
): IptablesCompileResult {
  if (options.changedServices !== undefined || options.existingNatChains !== undefined) {
    throw new IptablesCompileError('a partial sync has no clean-node ruleset: use compileIptablesRestore');
  }
  const { result, kernelEntries } = compileRestore(model, nodeName, options, 'both');
  return { ...result, ruleset: restorePrebuilt(kernelEntries(), { ipv6: options.ipv6 === true }).ruleset };
}

/**
 * Only the ruleset of compileIptables (what a node's evaluator runs): the text of the rules
 * built as structures is not written, and no restore input is joined — at 10k Services that
 * text is most of a sync's garbage.
 */
export function compileIptablesRuleset(
  model: ProxyModel,
  nodeName: string,
  options: IptablesCompileOptions = {},
): Ruleset {
  if (options.changedServices !== undefined || options.existingNatChains !== undefined) {
    throw new IptablesCompileError('a partial sync has no clean-node ruleset: use compileIptablesRestore');
  }
  const { kernelEntries } = compileRestore(model, nodeName, options, 'ruleset');
  return restorePrebuilt(kernelEntries(), { ipv6: options.ipv6 === true }).ruleset;
}

/**
 * The kernel state of compileIptables as restore text (no prebuilt rules): parsing it gives
 * the same ruleset compileIptables builds directly (a test holds them equal).
 */
export function compileIptablesKernelText(
  model: ProxyModel,
  nodeName: string,
  options: IptablesCompileOptions = {},
): string {
  // Without prebuilding every entry is a text line.
  return compileRestore(model, nodeName, options, 'restore')
    .kernelEntries()
    .flatMap((segment) => segment.text)
    .join('\n');
}

/** The `iptables-restore --noflush` input of one sync (full, or partial with `changedServices`). */
export function compileIptablesRestore(
  model: ProxyModel,
  nodeName: string,
  options: IptablesCompileOptions = {},
): IptablesRestoreResult {
  return compileRestore(model, nodeName, options, 'restore').result;
}

function compileRestore(
  model: ProxyModel,
  nodeName: string,
  options: IptablesCompileOptions,
  /**
   * restore: text only; both: text, and the bulk rules also as structures; ruleset: the
   * structures, and text only for the lines the restore parses (restoreInput left empty).
   */
  output: 'restore' | 'both' | 'ruleset',
): { result: IptablesRestoreResult; kernelEntries: () => PrebuiltLines[] } {
  const masqueradeBit = options.masqueradeBit ?? 14;
  if (!Number.isInteger(masqueradeBit) || masqueradeBit < 0 || masqueradeBit > 31) {
    throw new IptablesCompileError(`masquerade bit must be an integer in [0, 31], got ${masqueradeBit}`);
  }
  const node = model.nodes.find((n) => n.name === nodeName);
  if (!node) throw new IptablesCompileError(`node "${nodeName}" is not in the model`);
  const ipv6 = options.ipv6 === true;
  const ofFamily = ipv6 ? isIPv6Text : isIPv4;
  if (!ofFamily(node.ip))
    throw new IptablesCompileError(
      `node "${nodeName}" has no ${ipv6 ? 'IPv6' : 'IPv4'} address ("${node.ip}")`,
    );
  const nodeIPText = node.ip;
  const masqueradeMark = goHex08((1 << masqueradeBit) >>> 0);
  const masqueradeAll = options.masqueradeAll ?? false;
  const clusterCidr = (options.localDetector ?? true) ? normalizeCidr(model.clusterCIDR, ipv6) : null;
  const localDetector: LocalTrafficDetector | null =
    options.localTrafficDetector !== undefined
      ? options.localTrafficDetector
      : clusterCidr === null
        ? null
        : { ifLocal: `-s ${clusterCidr.text}`, ifNotLocal: `! -s ${clusterCidr.text}` };
  const clusterCidrDetector = options.localTrafficDetector === undefined && clusterCidr !== null;
  const nodePortCidrs = (options.nodePortAddresses ?? []).map((text) => {
    const c = normalizeCidr(text, ipv6);
    if (c === null)
      throw new IptablesCompileError(`nodePortAddresses: "${text}" is not an ${ipv6 ? 'IPv6' : 'IPv4'} CIDR`);
    return c;
  });
  const inCidrs = (ip: string) => nodePortCidrs.some((c) => c.contains(ip));
  const nodePortsMatchAll = nodePortCidrs.length === 0 || nodePortCidrs.some((c) => c.all);
  // NewNodePortAddresses: localhost NodePorts only when the addresses include IPv4 loopback;
  // never for IPv6 (the kernel has no route_localnet for ::1).
  const localhostNodePorts =
    !ipv6 && (options.localhostNodePorts ?? true) && (nodePortsMatchAll || inCidrs('127.0.0.1'));
  const nfacct = options.nfacct ?? false;

  const filterChains = new Lines();
  const filterRules = new Lines();
  const natChains = new Lines();
  const natRules = new Lines();
  // Where an unchanged Service's own chains go in a partial sync: computed, then thrown away.
  const skippedNatChains = new Lines();
  const skippedNatRules = new Lines();
  const activeNatChains = new Set<string>();
  const changedServices = options.changedServices;
  for (const c of [
    'KUBE-SERVICES',
    'KUBE-EXTERNAL-SERVICES',
    'KUBE-FORWARD',
    'KUBE-NODEPORTS',
    'KUBE-PROXY-FIREWALL',
  ]) {
    filterChains.declareChain(c);
  }
  for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']) {
    natChains.declareChain(c);
  }

  natRules.write('-A KUBE-POSTROUTING -m mark ! --mark', `${masqueradeMark}/${masqueradeMark}`, '-j RETURN');
  natRules.write('-A KUBE-POSTROUTING -j MARK --xor-mark', masqueradeMark);
  natRules.write(
    '-A KUBE-POSTROUTING -m comment --comment',
    quoted('kubernetes service traffic requiring SNAT'),
    '-j MASQUERADE',
    (options.randomFully ?? true) ? '--random-fully' : '',
  );
  natRules.write('-A KUBE-MARK-MASQ -j MARK --or-mark', masqueradeMark);

  if (localhostNodePorts) {
    filterChains.declareChain('KUBE-FIREWALL');
    filterRules.write(
      '-A KUBE-FIREWALL -m comment --comment',
      quoted('block incoming localnet connections'),
      '-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    );
  }

  const servicePorts = model.servicePorts.filter((sp) => ofFamily(sp.clusterIP));
  // Rules are prebuilt for IPv4 only (ip6tables' addresses stay with the parser).
  const withRules = output !== 'restore' && !ipv6;
  const lineText = output !== 'ruleset' || !withRules;
  for (const lines of [natChains, natRules, skippedNatChains, skippedNatRules]) lines.prebuiltText = lineText;
  // Only the restore's result reports the live service chains; the ruleset alone does not need them.
  const trackActiveChains = output !== 'ruleset';
  const largeClusterMode = isLargeClusterMode(model, ipv6);
  const serviceComment = (text: string) => (largeClusterMode ? '' : `-m comment --comment ${text}`);

  for (const sp of servicePorts) {
    writeServicePort(sp);
  }

  function writeServicePort(sp: ServicePort): void {
    const protocol = sp.protocol.toLowerCase();
    const spn = sp.servicePortName;
    const chains = serviceChainNames(spn, sp.protocol);
    // net.JoinHostPort: an IPv6 endpoint is [addr]:port (also in the chain-name hash).
    const epString = (ep: Endpoint) => (ipv6 ? `[${ep.ip}]:${ep.port}` : `${ep.ip}:${ep.port}`);
    // Each endpoint's chain is named once per sync: the hash is the costly part, and one string
    // object per name lets every later lookup reuse its cached string hash.
    const epChains = new Map<Endpoint, string>();
    const epChain = (ep: Endpoint): string => {
      let name = epChains.get(ep);
      if (name === undefined) {
        name = endpointChainName(spn, protocol, epString(ep));
        epChains.set(ep, name);
      }
      return name;
    };
    const externalIPs = sp.externalIPs.filter(ofFamily);
    const lbIPs = sp.loadBalancerIPs.filter(ofFamily);
    const sourceRanges = sp.loadBalancerSourceRanges
      .map((c) => normalizeCidr(c, ipv6))
      .filter((c): c is NonNullable<typeof c> => c !== null);
    const match = (dst: string, port: number) => `-m ${protocol} -p ${protocol} -d ${dst} --dport ${port}`;

    const cat = categorizeEndpoints(sp, nodeName);
    const clusterEndpoints = cat.clusterEndpoints ?? [];
    const localEndpoints = cat.localEndpoints ?? [];
    const hasEndpoints = cat.hasAnyEndpoints;

    const usesClusterPolicyChain = clusterEndpoints.length > 0 && usesClusterEndpoints(sp);
    const usesLocalPolicyChain = localEndpoints.length > 0 && usesLocalEndpoints(sp);

    let internalPolicyChain = chains.svc;
    let hasInternalEndpoints = hasEndpoints;
    if (internalPolicyLocal(sp)) {
      internalPolicyChain = chains.svl;
      if (localEndpoints.length === 0) hasInternalEndpoints = false;
    }
    const internalTrafficChain = internalPolicyChain;

    let externalPolicyChain = chains.svc;
    let hasExternalEndpoints = hasEndpoints;
    if (externalPolicyLocal(sp)) {
      externalPolicyChain = chains.svl;
      if (localEndpoints.length === 0) hasExternalEndpoints = false;
    }
    const externalTrafficChain = chains.ext;
    const usesExternalTrafficChain = hasEndpoints && isExternallyAccessible(sp);
    const usesFWChain = hasEndpoints && lbIPs.length > 0 && sourceRanges.length > 0;
    const loadBalancerTrafficChain = usesFWChain ? chains.fw : externalTrafficChain;

    let internalFilterTarget = '';
    let internalFilterComment = '';
    let externalFilterTarget = '';
    let externalFilterComment = '';
    if (!hasEndpoints) {
      internalFilterTarget = 'REJECT';
      internalFilterComment = quoted(`${spn} has no endpoints`);
      externalFilterTarget = 'REJECT';
      externalFilterComment = internalFilterComment;
    } else {
      if (!hasInternalEndpoints) {
        internalFilterTarget = 'DROP';
        internalFilterComment = quoted(`${spn} has no local endpoints`);
      }
      if (!hasExternalEndpoints) {
        externalFilterTarget = 'DROP';
        externalFilterComment = quoted(`${spn} has no local endpoints`);
      }
    }

    // The cluster IP rules' structure, when the parser would accept their text as is: a
    // dotted-quad cluster IP, a port protocol, a comment iptables takes, and a jump to a chain
    // this restore declares (the parser refuses a jump to any other).
    const clusterIPComment = `${spn} cluster IP`;
    const clusterIPAddr = withRules ? hostAddress(sp.clusterIP) : null;
    const internalChainDeclared =
      internalTrafficChain === chains.svc ? usesClusterPolicyChain : usesLocalPolicyChain;
    const prebuildClusterIP =
      clusterIPAddr !== null &&
      IP_PROTOCOL_NUMBER[protocol] !== undefined &&
      sp.port >= 0 &&
      sp.port <= 65535 &&
      clusterIPComment.length <= 255 &&
      internalChainDeclared;
    /** `-m comment --comment "<spn> cluster IP" -m <proto> -p <proto> -d <clusterIP> --dport <port>`, plus `src` and `target`. */
    const clusterIPRule = (src: Rule['src'], target: Rule['target']): Rule =>
      ruleOf({
        src,
        dst: { addr: clusterIPAddr!, mask: 0xffffffff, invert: false },
        proto: { proto: IP_PROTOCOL_NUMBER[protocol], invert: false },
        matches: [
          commentMatch(clusterIPComment),
          { kind: protocol as 'tcp', sport: null, dport: { min: sp.port, max: sp.port, invert: false } },
        ],
        target,
      });

    // Cluster IP.
    if (hasInternalEndpoints) {
      const text = () =>
        joinParts([
          '-A KUBE-SERVICES -m comment --comment',
          quoted(clusterIPComment),
          match(sp.clusterIP, sp.port),
          '-j',
          internalTrafficChain,
        ]);
      if (prebuildClusterIP) {
        natRules.writeRule(
          'KUBE-SERVICES',
          clusterIPRule(null, jumpTo(internalTrafficChain)),
          natRules.prebuiltText ? text() : '',
        );
      } else natRules.write(text());
    } else {
      filterRules.write(
        '-A KUBE-SERVICES -m comment --comment',
        internalFilterComment,
        match(sp.clusterIP, sp.port),
        '-j',
        internalFilterTarget,
      );
    }

    // External IPs.
    for (const ip of externalIPs) {
      if (hasEndpoints) {
        natRules.write(
          '-A KUBE-SERVICES -m comment --comment',
          quoted(`${spn} external IP`),
          match(ip, sp.port),
          '-j',
          externalTrafficChain,
        );
      }
      if (!hasExternalEndpoints) {
        filterRules.write(
          '-A KUBE-EXTERNAL-SERVICES -m comment --comment',
          externalFilterComment,
          match(ip, sp.port),
          '-j',
          externalFilterTarget,
        );
      }
    }

    // Load-balancer ingress IPs.
    for (const ip of lbIPs) {
      if (hasEndpoints) {
        natRules.write(
          '-A KUBE-SERVICES -m comment --comment',
          quoted(`${spn} loadbalancer IP`),
          match(ip, sp.port),
          '-j',
          loadBalancerTrafficChain,
        );
      }
      if (usesFWChain) {
        filterRules.write(
          '-A KUBE-PROXY-FIREWALL -m comment --comment',
          quoted(`${spn} traffic not accepted by ${chains.fw}`),
          match(ip, sp.port),
          '-j DROP',
        );
      }
    }
    if (!hasExternalEndpoints) {
      for (const ip of lbIPs) {
        filterRules.write(
          '-A KUBE-EXTERNAL-SERVICES -m comment --comment',
          externalFilterComment,
          match(ip, sp.port),
          '-j',
          externalFilterTarget,
        );
      }
    }

    // NodePort.
    if (sp.nodePort !== 0) {
      if (hasEndpoints) {
        if (localhostNodePorts && nfacct) {
          natRules.write(
            '-A KUBE-NODEPORTS -m comment --comment',
            spn,
            `-m ${protocol} -p ${protocol} -d 127.0.0.0/8 --dport ${sp.nodePort}`,
            `-m nfacct --nfacct-name ${LOCALHOST_NODEPORTS_COUNTER}`,
            '-j',
            externalTrafficChain,
          );
        }
        natRules.write(
          '-A KUBE-NODEPORTS -m comment --comment',
          spn,
          `-m ${protocol} -p ${protocol} --dport ${sp.nodePort}`,
          '-j',
          externalTrafficChain,
        );
      }
      if (!hasExternalEndpoints) {
        filterRules.write(
          '-A KUBE-EXTERNAL-SERVICES -m comment --comment',
          externalFilterComment,
          '-m addrtype --dst-type LOCAL',
          `-m ${protocol} -p ${protocol} --dport ${sp.nodePort}`,
          '-j',
          externalFilterTarget,
        );
      }
    }

    // Health-check nodePort (only set by the model for eTP=Local LoadBalancers).
    if (sp.healthCheckNodePort !== 0) {
      filterRules.write(
        '-A KUBE-NODEPORTS -m comment --comment',
        quoted(`${spn} health check node port`),
        `-m tcp -p tcp --dport ${sp.healthCheckNodePort}`,
        '-j ACCEPT',
      );
    }

    // The Service's own chains: written only when it changed since the last sync (partial
    // syncs), but always computed so the rule metric and the set of live chains are right.
    const skip = changedServices !== undefined && !changedServices.has(`${sp.namespace}/${sp.name}`);
    const svcChains = skip ? skippedNatChains : natChains;
    const svcRules = skip ? skippedNatRules : natRules;
    const declare = (chain: string) => {
      svcChains.declareChain(chain, true);
      if (trackActiveChains) activeNatChains.add(chain);
    };

    // Internal traffic: masquerade off-cluster sources reaching the cluster IP.
    if (hasInternalEndpoints) {
      const args = () => `-m comment --comment ${quoted(clusterIPComment)} ${match(sp.clusterIP, sp.port)}`;
      if (masqueradeAll) svcRules.write('-A', internalTrafficChain, args(), '-j KUBE-MARK-MASQ');
      else if (localDetector !== null) {
        const text = () =>
          joinParts(['-A', internalTrafficChain, args(), localDetector.ifNotLocal, '-j KUBE-MARK-MASQ']);
        // The ClusterCIDR detector's `! -s <cluster CIDR>` is prebuilt; an interface detector is parsed.
        if (prebuildClusterIP && clusterCidrDetector && clusterCidr !== null) {
          const src = { addr: clusterCidr.network, mask: clusterCidr.mask, invert: true };
          svcRules.writeRule(
            internalTrafficChain,
            clusterIPRule(src, jumpTo('KUBE-MARK-MASQ')),
            svcRules.prebuiltText ? text() : '',
          );
        } else svcRules.write(text());
      }
    }

    // External traffic chain.
    if (usesExternalTrafficChain) {
      declare(externalTrafficChain);
      if (!externalPolicyLocal(sp)) {
        svcRules.write(
          '-A',
          externalTrafficChain,
          '-m comment --comment',
          quoted(`masquerade traffic for ${spn} external destinations`),
          '-j KUBE-MARK-MASQ',
        );
      } else {
        if (localDetector !== null) {
          svcRules.write(
            '-A',
            externalTrafficChain,
            '-m comment --comment',
            quoted(`pod traffic for ${spn} external destinations`),
            localDetector.ifLocal,
            '-j',
            chains.svc,
          );
        }
        svcRules.write(
          '-A',
          externalTrafficChain,
          '-m comment --comment',
          quoted(`masquerade LOCAL traffic for ${spn} external destinations`),
          '-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
        );
        svcRules.write(
          '-A',
          externalTrafficChain,
          '-m comment --comment',
          quoted(`route LOCAL traffic for ${spn} external destinations`),
          '-m addrtype --src-type LOCAL -j',
          chains.svc,
        );
      }
      if (hasExternalEndpoints) svcRules.write('-A', externalTrafficChain, '-j', externalPolicyChain);
    }

    // Load-balancer source ranges.
    if (usesFWChain) {
      declare(chains.fw);
      const args = `-A ${chains.fw} -m comment --comment ${quoted(`${spn} loadbalancer IP`)}`;
      let allowFromNode = false;
      for (const cidr of sourceRanges) {
        svcRules.write(args, `-s ${cidr.text}`, '-j', externalTrafficChain);
        if (cidr.contains(nodeIPText)) allowFromNode = true;
      }
      if (allowFromNode) {
        for (const ip of lbIPs) svcRules.write(args, `-s ${ip}`, '-j', externalTrafficChain);
      }
      svcRules.write(
        `-A ${chains.fw} -m comment --comment`,
        quoted(`other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL`),
      );
    }

    const writeServiceToEndpointRules = (svcChain: string, endpoints: readonly Endpoint[]) => {
      if (sp.sessionAffinity === 'ClientIP') {
        for (const ep of endpoints) {
          svcRules.write(
            '-A',
            svcChain,
            serviceComment(quoted(`${spn} -> ${epString(ep)}`)),
            `-m recent --name ${epChain(ep)} --rcheck --seconds ${sp.stickyMaxAgeSeconds} --reap`,
            '-j',
            epChain(ep),
          );
        }
      }
      endpoints.forEach((ep, i) => {
        const statistic =
          i < endpoints.length - 1
            ? `-m statistic --mode random --probability ${probabilityText(endpoints.length - i)}`
            : '';
        const comment = `${spn} -> ${epString(ep)}`;
        const chain = epChain(ep);
        const text = () =>
          joinParts(['-A', svcChain, serviceComment(quoted(comment)), statistic, '-j', chain]);
        if (!withRules || comment.length > 255) {
          svcRules.write(text());
          return;
        }
        const matches: Match[] = largeClusterMode ? [] : [commentMatch(comment)];
        if (statistic !== '') matches.push(randomMatch(endpoints.length - i));
        svcRules.writeRule(
          svcChain,
          ruleOf({ matches, target: jumpTo(chain) }),
          svcRules.prebuiltText ? text() : '',
        );
      });
    };

    if (usesClusterPolicyChain) {
      declare(chains.svc);
      writeServiceToEndpointRules(chains.svc, clusterEndpoints);
    }
    if (usesLocalPolicyChain) {
      declare(chains.svl);
      writeServiceToEndpointRules(chains.svl, localEndpoints);
    }

    const protoNumber = IP_PROTOCOL_NUMBER[protocol];
    // The matches every endpoint chain of this Service repeats: shared by its rules.
    const sepComment: Match[] = largeClusterMode ? NO_MATCHES : [commentMatch(spn)];
    const sepMatches = {
      masq: sepComment,
      dnat: [...sepComment, { kind: protocol as 'tcp', sport: null, dport: null }] satisfies Match[],
    };
    for (const ep of cat.allReachableEndpoints) {
      const chain = epChain(ep);
      declare(chain);
      const head = () => `-A ${chain} ${serviceComment(spn)}`.trimEnd();
      const masqText = () => joinParts([head(), `-s ${ep.ip}`, '-j KUBE-MARK-MASQ']);
      const affinity = sp.sessionAffinity === 'ClientIP' ? `-m recent --name ${chain} --set` : '';
      const dnatText = () =>
        joinParts([
          head(),
          affinity,
          `-m ${protocol} -p ${protocol} -j DNAT --to-destination ${epString(ep)}`,
        ]);
      const addr = withRules ? hostAddress(ep.ip) : null;
      // Prebuilt when the parser would accept the text as is (else it reports the error).
      if (addr === null || protoNumber === undefined || ep.port < 1 || ep.port > 65535) {
        svcRules.write(masqText());
        svcRules.write(dnatText());
        continue;
      }
      const withText = svcRules.prebuiltText;
      svcRules.writeRule(
        chain,
        ruleOf({
          src: { addr, mask: 0xffffffff, invert: false },
          matches: sepMatches.masq,
          target: JUMP_MARK_MASQ,
        }),
        withText ? masqText() : '',
      );
      if (affinity !== '') {
        svcRules.write(dnatText());
        continue;
      }
      svcRules.writeRule(
        chain,
        ruleOf({
          proto: protoMatch(protoNumber),
          matches: sepMatches.dnat,
          target: {
            kind: 'DNAT',
            range: { addrMin: addr, addrMax: addr, hasAddr: true, portMin: ep.port, portMax: ep.port },
            random: false,
            persistent: false,
          },
        }),
        withText ? dnatText() : '',
      );
    }
  }

  // Delete chains no longer in use: a chain line flushes it, -X then removes it.
  const deletedChains: string[] = [];
  if (options.existingNatChains !== undefined) {
    // kube-proxy walks a Go set here (random order); dpsim sorts, so the text is reproducible.
    const stale = [...new Set(options.existingNatChains)]
      .filter((c) => isServiceChainName(c) && !activeNatChains.has(c))
      .sort();
    for (const chain of stale) {
      natChains.declareChain(chain, true);
      natRules.write('-X', chain);
      deletedChains.push(chain);
    }
  }

  const nodePortsComment = quoted(
    'kubernetes service nodeports; NOTE: this must be the last rule in this chain',
  );
  if (nodePortsMatchAll) {
    // Every local address accepts nodePorts (127/8 only with localhost nodePorts).
    natRules.write(
      '-A KUBE-SERVICES -m comment --comment',
      nodePortsComment,
      '-m addrtype --dst-type LOCAL',
      ipv6 ? '! -d ::1/128' : localhostNodePorts ? '' : '! -d 127.0.0.0/8',
      '-j KUBE-NODEPORTS',
    );
  } else {
    // GetNodeIPs: the node's addresses inside the CIDRs, interface order (lo first).
    const addresses = [ipv6 ? '::1' : '127.0.0.1', ...(options.nodeAddresses ?? [node.ip])];
    for (const ip of addresses.filter(inCidrs)) {
      if ((ip.startsWith('127.') || ip === '::1') && !localhostNodePorts) continue;
      natRules.write(
        '-A KUBE-SERVICES -m comment --comment',
        nodePortsComment,
        `-d ${ip}`,
        '-j KUBE-NODEPORTS',
      );
    }
  }

  if (!(options.conntrackTCPLiberal ?? false)) {
    filterRules.write(
      '-A KUBE-FORWARD -m conntrack --ctstate INVALID',
      nfacct ? `-m nfacct --nfacct-name ${INVALID_DROPPED_COUNTER}` : '',
      '-j DROP',
    );
  }
  filterRules.write(
    '-A KUBE-FORWARD -m comment --comment',
    quoted('kubernetes forwarding rules'),
    `-m mark --mark ${masqueradeMark}/${masqueradeMark}`,
    '-j ACCEPT',
  );
  filterRules.write(
    '-A KUBE-FORWARD -m comment --comment',
    quoted('kubernetes forwarding conntrack rule'),
    '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  );

  const restoreInput = !lineText
    ? ''
    : [
        '*filter',
        ...filterChains.lines,
        ...filterRules.lines,
        'COMMIT',
        '*nat',
        ...natChains.lines,
        ...natRules.lines,
        'COMMIT',
        '',
      ].join('\n');

  const bootstrap = bootstrapCommands(options.canaryChains ?? true);
  return {
    result: {
      restoreInput,
      bootstrapCommands: bootstrap,
      ruleCounts: { filter: filterRules.lines.length, nat: natRules.lines.length - deletedChains.length },
      largeClusterMode,
      activeNatChains,
      deletedChains,
      natRulesTotal: natRules.lines.length + skippedNatRules.lines.length - deletedChains.length,
    },
    kernelEntries: () =>
      kernelStateEntries(bootstrap, filterChains, filterRules, natChains, natRules, withRules),
  };
}

/**
 * What kube-proxy (and its iptables monitor) does with single iptables commands before
 * the restore, on a clean node: create the canary chains, then EnsureChain + EnsureRule
 * (Prepend) for every jump. Each prepend lands on top, so the last one ensured is first.
 */
function bootstrapCommands(canary: boolean): string[][] {
  const cmds: string[][] = [];
  if (canary) for (const table of ['mangle', 'nat', 'filter']) cmds.push(['-t', table, '-N', CANARY]);
  const created = new Set<string>();
  for (const j of JUMP_CHAINS) {
    if (!created.has(`${j.table} ${j.dst}`)) {
      created.add(`${j.table} ${j.dst}`);
      cmds.push(['-t', j.table, '-N', j.dst]);
    }
    const extra = j.extra === '' ? [] : j.extra.split(' ');
    const comment = j.comment === '' ? [] : ['-m', 'comment', '--comment', j.comment];
    cmds.push(['-t', j.table, '-I', j.src, ...extra, ...comment, '-j', j.dst]);
  }
  return cmds;
}

/** The kernel's tables after the bootstrap commands and the `--noflush` restore, as restore lines. */
function kernelStateEntries(
  bootstrap: readonly string[][],
  filterChains: Lines,
  filterRules: Lines,
  natChains: Lines,
  natRules: Lines,
  /** Prebuilt lines as their structures (else every line as text). */
  prebuilt: boolean,
): PrebuiltLines[] {
  const chains = new Map<string, string[]>([
    ['mangle', []],
    ['filter', []],
    ['nat', []],
  ]);
  const jumps = new Map<string, string[]>([
    ['mangle', []],
    ['filter', []],
    ['nat', []],
  ]);
  for (const cmd of bootstrap) {
    const [, table, op, chain, ...spec] = cmd;
    if (op === '-N') chains.get(table)!.push(chain);
    else {
      const quotedSpec = spec.map((a) => (a.includes(' ') ? quoted(a) : a));
      jumps.get(table)!.unshift(['-A', chain, ...quotedSpec].join(' '));
    }
  }
  const out: PrebuiltLines[] = [];
  /** The segment the fixed lines between two writer buffers go to. */
  let fixed: string[] | null = null;
  const text = (line: string) => {
    if (fixed === null) {
      fixed = [];
      out.push({ text: fixed });
    }
    fixed.push(line);
  };
  // A writer's buffer goes in as it is: no copy of its ~400k lines (without its columns when
  // the rules are not prebuilt: then every line is text).
  const add = (lines: Lines) => {
    fixed = null;
    out.push(prebuilt ? { text: lines.lines, chain: lines.chain, rule: lines.rule } : { text: lines.lines });
  };
  const section = (table: 'filter' | 'nat', restoreChains: Lines, rules: Lines): void => {
    // The bootstrap's chains are kube-proxy's fixed ones, never a service chain: only those
    // among the restore's declarations can coincide.
    const declared = new Set(restoreChains.chainNames.filter((c) => !isServiceChainName(c)));
    text(`*${table}`);
    add(restoreChains);
    for (const c of chains.get(table)!) if (!declared.has(c)) text(`:${c} - [0:0]`);
    for (const j of jumps.get(table)!) text(j);
    add(rules);
    text('COMMIT');
  };
  const mangleChains = chains.get('mangle')!;
  if (mangleChains.length > 0) {
    text('*mangle');
    for (const c of mangleChains) text(`:${c} - [0:0]`);
    text('COMMIT');
  }
  section('filter', filterChains, filterRules);
  section('nat', natChains, natRules);
  return out;
}
