/**
 * The iptables rules kube-proxy still installs in IPVS mode (proxier.go
 * `writeIptablesRules`, `createAndLinkKubeChain`, `acceptIPVSTraffic`), as an iptables
 * Ruleset: the same structure iptables mode compiles, so one renderer
 * (`renderIptablesSave`, iptables-save 1.8.9 nf_tables form) prints both modes and one
 * evaluator runs both.
 *
 * The rules are written the way kube-proxy spells them (`MARK --or-mark`, `--xor-mark`,
 * `REJECT` without `--reject-with`, `--vproto tcp`, `! -s` after `-m set`) and read by the
 * iptables parser, which keeps what the kernel keeps: iptables-save then prints the
 * canonical form (`--set-xmark M/M`, `--reject-with icmp-port-unreachable`, `--vproto 6`,
 * `! -s` first). Rules are grouped by chain in kube-proxy's write order; the jumps from
 * built-in chains are the ones kube-proxy prepends with `iptables -I` in iptablesJumpChain
 * order, so the last one prepended is first.
 *
 * An inet6 set table gives the IPv6 proxier's ip6tables rules: the KUBE-6- set names, and
 * `::1/128` where the IPv4 rules return 127.0.0.0/8.
 */
import { parseIptables, type Ruleset } from '../iptables/index.js';
import type { IpsetTable } from './ipsets.js';

export interface IpvsIptablesOptions {
  /** Masquerade mark bit (kube-proxy --iptables-masquerade-bit, default 14). */
  readonly masqueradeBit: number;
  readonly masqueradeAll: boolean;
  /** --cluster-cidr for the local-traffic detector; '' = no detector. */
  readonly clusterCIDR: string;
  /** Whether the iptables binary supports `--random-fully` (modern ones do). */
  readonly randomFully: boolean;
  /** LB VIPs not reachable from the node (source ranges exclude the node IP). */
  readonly lbNoNodeAccess: readonly { ip: string; protocol: string; port: number }[];
}

export class IpvsIptablesError extends Error {
  override name = 'IpvsIptablesError';
}

const NAT_CHAINS = [
  'KUBE-SERVICES',
  'KUBE-POSTROUTING',
  'KUBE-NODE-PORT',
  'KUBE-LOAD-BALANCER',
  'KUBE-MARK-MASQ',
];
const FILTER_CHAINS = [
  'KUBE-FORWARD',
  'KUBE-NODE-PORT',
  'KUBE-PROXY-FIREWALL',
  'KUBE-SOURCE-RANGES-FIREWALL',
  'KUBE-IPVS-FILTER',
  'KUBE-IPVS-OUT-FILTER',
];

function quote(text: string): string {
  return /^[A-Za-z0-9_-]+$/.test(text) ? text : `"${text}"`;
}

/** Builds the IPVS-mode iptables rules for one node's sets. */
export function buildIpvsIptables(sets: IpsetTable, opts: IpvsIptablesOptions): Ruleset {
  const mark = `0x${(1 << opts.masqueradeBit).toString(16)}`;
  const nat: string[] = [];
  const filter: string[] = [];
  const comment = (name: string): string => `-m comment --comment ${quote(sets.get(name).spec.comment)}`;
  const ipv6 = sets.family === 'inet6';
  const set = (name: string): string => sets.kernelName(name);

  // Jumps from built-in chains, prepended in iptablesJumpChain order (so reversed per chain).
  nat.push(
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
  );
  filter.push(
    '-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
    '-A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
    '-A INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT',
    '-A FORWARD -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
    '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    '-A OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER',
  );

  nat.push(`-A KUBE-SERVICES -s ${ipv6 ? '::1/128' : '127.0.0.0/8'} -j RETURN`);

  // ipsetWithIptablesChain, each only when its set has entries.
  const setRules: [string, string[], string, string, string, string][] = [
    ['KUBE-LOOP-BACK', nat, 'KUBE-POSTROUTING', 'MASQUERADE', 'dst,dst,src', ''],
    ['KUBE-LOAD-BALANCER', nat, 'KUBE-SERVICES', 'KUBE-LOAD-BALANCER', 'dst,dst', ''],
    ['KUBE-LOAD-BALANCER-LOCAL', nat, 'KUBE-LOAD-BALANCER', 'RETURN', 'dst,dst', ''],
    ['KUBE-NODE-PORT-LOCAL-TCP', nat, 'KUBE-NODE-PORT', 'RETURN', 'dst', 'tcp'],
    ['KUBE-NODE-PORT-TCP', nat, 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst', 'tcp'],
    ['KUBE-NODE-PORT-LOCAL-UDP', nat, 'KUBE-NODE-PORT', 'RETURN', 'dst', 'udp'],
    ['KUBE-NODE-PORT-UDP', nat, 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst', 'udp'],
    ['KUBE-NODE-PORT-LOCAL-SCTP-HASH', nat, 'KUBE-NODE-PORT', 'RETURN', 'dst,dst', 'sctp'],
    ['KUBE-NODE-PORT-SCTP-HASH', nat, 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst,dst', 'sctp'],
    ['KUBE-LOAD-BALANCER-FW', filter, 'KUBE-PROXY-FIREWALL', 'KUBE-SOURCE-RANGES-FIREWALL', 'dst,dst', ''],
    ['KUBE-LOAD-BALANCER-SOURCE-CIDR', filter, 'KUBE-SOURCE-RANGES-FIREWALL', 'RETURN', 'dst,dst,src', ''],
    ['KUBE-LOAD-BALANCER-SOURCE-IP', filter, 'KUBE-SOURCE-RANGES-FIREWALL', 'RETURN', 'dst,dst,src', ''],
  ];
  for (const [name, table, from, to, dirs, proto] of setRules) {
    if (sets.isEmpty(name)) continue;
    const p = proto === '' ? '' : `-p ${proto} `;
    table.push(`-A ${from} ${p}${comment(name)} -m set --match-set ${set(name)} ${dirs} -j ${to}`);
  }

  if (!sets.isEmpty('KUBE-CLUSTER-IP')) {
    const m = `-A KUBE-SERVICES ${comment('KUBE-CLUSTER-IP')} -m set --match-set ${set('KUBE-CLUSTER-IP')}`;
    if (opts.masqueradeAll) nat.push(`${m} dst,dst -j KUBE-MARK-MASQ`);
    else if (opts.clusterCIDR !== '') nat.push(`${m} dst,dst ! -s ${opts.clusterCIDR} -j KUBE-MARK-MASQ`);
    else nat.push(`${m} src,dst -j KUBE-MARK-MASQ`);
  }

  const externalIpRules = (m: string): void => {
    nat.push(`${m} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT`);
    nat.push(`${m} -m addrtype --dst-type LOCAL -j ACCEPT`);
  };
  if (!sets.isEmpty('KUBE-EXTERNAL-IP')) {
    const m = `-A KUBE-SERVICES ${comment('KUBE-EXTERNAL-IP')} -m set --match-set ${set('KUBE-EXTERNAL-IP')} dst,dst`;
    nat.push(`${m} -j KUBE-MARK-MASQ`);
    externalIpRules(m);
  }
  if (!sets.isEmpty('KUBE-EXTERNAL-IP-LOCAL')) {
    externalIpRules(
      `-A KUBE-SERVICES ${comment('KUBE-EXTERNAL-IP-LOCAL')} -m set --match-set ${set('KUBE-EXTERNAL-IP-LOCAL')} dst,dst`,
    );
  }

  nat.push('-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT');
  nat.push('-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ');
  filter.push('-A KUBE-SOURCE-RANGES-FIREWALL -j DROP');
  for (const e of opts.lbNoNodeAccess) {
    filter.push(
      `-A KUBE-IPVS-OUT-FILTER -s ${e.ip} -m ipvs --vaddr ${e.ip} --vproto ${e.protocol} --vport ${e.port} -j DROP`,
    );
  }
  // acceptIPVSTraffic: must stay at the end of KUBE-SERVICES.
  for (const name of ['KUBE-CLUSTER-IP', 'KUBE-LOAD-BALANCER']) {
    if (!sets.isEmpty(name)) nat.push(`-A KUBE-SERVICES -m set --match-set ${set(name)} dst,dst -j ACCEPT`);
  }

  filter.push(
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    `-A KUBE-NODE-PORT ${comment('KUBE-HEALTH-CHECK-NODE-PORT')} -m set --match-set ${set('KUBE-HEALTH-CHECK-NODE-PORT')} dst -j ACCEPT`,
  );
  for (const name of [
    'KUBE-LOAD-BALANCER',
    'KUBE-CLUSTER-IP',
    'KUBE-EXTERNAL-IP',
    'KUBE-EXTERNAL-IP-LOCAL',
  ]) {
    filter.push(`-A KUBE-IPVS-FILTER -m set --match-set ${set(name)} dst,dst -j RETURN`);
  }
  filter.push(
    `-A KUBE-IPVS-FILTER -m set --match-set ${set('KUBE-HEALTH-CHECK-NODE-PORT')} dst -j RETURN`,
    `-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set ${set('KUBE-IPVS-IPS')} dst -j REJECT`,
  );

  nat.push(
    `-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`,
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${opts.randomFully ? ' --random-fully' : ''}`,
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`,
  );

  const section = (name: string, chains: readonly string[], rules: readonly string[]): string =>
    [`*${name}`, ...chains.map((c) => `:${c} - [0:0]`), ...rules, 'COMMIT'].join('\n');
  const text = `${section('filter', FILTER_CHAINS, filter)}\n${section('nat', NAT_CHAINS, nat)}\n`;
  const { ruleset, warnings } = parseIptables(text, { ipv6 });
  if (warnings.length > 0) {
    throw new IpvsIptablesError(
      `IPVS-mode iptables rules use parts the iptables model lacks: ${warnings.map((w) => w.message).join('; ')}`,
    );
  }
  return ruleset;
}

/** How many iptables rules reference each set (ipset's "References" counter), from iptables-save text. */
export function ipsetReferences(iptablesSave: string): Map<string, number> {
  const refs = new Map<string, number>();
  for (const m of iptablesSave.matchAll(/--match-set (\S+) /g)) refs.set(m[1], (refs.get(m[1]) ?? 0) + 1);
  return refs;
}
