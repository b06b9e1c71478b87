/**
 * The iptables rules kube-proxy still installs in IPVS mode (proxier.go
 * `writeIptablesRules`, `createAndLinkKubeChain`, `acceptIPVSTraffic`), rendered as
 * `iptables-save` would print them after kube-proxy's restore, so the iptables-mode parser
 * and evaluator can load them:
 * - addresses with a prefix length, `[!] -s` before `-p` before the matches;
 * - `MARK --or-mark M` / `--xor-mark M` saved as `--set-xmark M/M` / `--set-xmark M/0x0`;
 * - `REJECT` saved with its default `--reject-with icmp-port-unreachable`;
 * - the `-m ipvs` match saved as `--vaddr A/32 --vproto N --vport P`;
 * - built-in chains first, then kube chains alphabetically (iptables-legacy order), rules
 *   grouped by chain in the order kube-proxy wrote them; the jump rules from built-in chains
 *   are the ones kube-proxy prepends with `iptables -I`, so the last one prepended is first.
 */
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
  /** Header/footer comment text, e.g. "iptables-save v1.8.7 on Thu Jan  1 00:00:00 2025". */
  readonly generatedBy: string;
}

interface Table {
  readonly name: 'nat' | 'filter';
  readonly builtins: readonly string[];
  readonly chains: readonly string[];
  readonly rules: Map<string, string[]>;
}

function quote(comment: string): string {
  return /^[A-Za-z0-9_-]+$/.test(comment) ? comment : `"${comment}"`;
}

const PROTO_NUMBER: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };

export function renderIpvsIptablesSave(sets: IpsetTable, opts: IpvsIptablesOptions): string {
  const mark = `0x${(1 << opts.masqueradeBit).toString(16)}`;
  const nat: Table = {
    name: 'nat',
    builtins: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
    chains: ['KUBE-LOAD-BALANCER', 'KUBE-MARK-MASQ', 'KUBE-NODE-PORT', 'KUBE-POSTROUTING', 'KUBE-SERVICES'],
    rules: new Map(),
  };
  const filter: Table = {
    name: 'filter',
    builtins: ['INPUT', 'FORWARD', 'OUTPUT'],
    chains: [
      'KUBE-FORWARD',
      'KUBE-IPVS-FILTER',
      'KUBE-IPVS-OUT-FILTER',
      'KUBE-NODE-PORT',
      'KUBE-PROXY-FIREWALL',
      'KUBE-SOURCE-RANGES-FIREWALL',
    ],
    rules: new Map(),
  };
  const add = (t: Table, chain: string, rule: string): void => {
    let list = t.rules.get(chain);
    if (list === undefined) {
      list = [];
      t.rules.set(chain, list);
    }
    list.push(`-A ${chain} ${rule}`);
  };
  const comment = (name: string): string => `-m comment --comment ${quote(sets.get(name).spec.comment)}`;

  // Jumps from built-in chains, prepended in iptablesJumpChain order (so reversed per chain).
  add(nat, 'PREROUTING', '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  add(nat, 'OUTPUT', '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  add(nat, 'POSTROUTING', '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING');
  add(filter, 'INPUT', '-m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER');
  add(filter, 'INPUT', '-m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL');
  add(filter, 'INPUT', '-m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT');
  add(filter, 'FORWARD', '-m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL');
  add(filter, 'FORWARD', '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD');
  add(filter, 'OUTPUT', '-m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER');

  add(nat, 'KUBE-SERVICES', '-s 127.0.0.0/8 -j RETURN');

  // ipsetWithIptablesChain, each only when its set has entries.
  const setRules: [string, Table, string, string, string, string][] = [
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
    add(table, from, `${p}${comment(name)} -m set --match-set ${name} ${dirs} -j ${to}`);
  }

  if (!sets.isEmpty('KUBE-CLUSTER-IP')) {
    const m = `${comment('KUBE-CLUSTER-IP')} -m set --match-set KUBE-CLUSTER-IP`;
    if (opts.masqueradeAll) add(nat, 'KUBE-SERVICES', `${m} dst,dst -j KUBE-MARK-MASQ`);
    else if (opts.clusterCIDR !== '')
      add(nat, 'KUBE-SERVICES', `! -s ${opts.clusterCIDR} ${m} dst,dst -j KUBE-MARK-MASQ`);
    else add(nat, 'KUBE-SERVICES', `${m} src,dst -j KUBE-MARK-MASQ`);
  }

  const externalIpRules = (m: string): void => {
    add(nat, 'KUBE-SERVICES', `${m} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT`);
    add(nat, 'KUBE-SERVICES', `${m} -m addrtype --dst-type LOCAL -j ACCEPT`);
  };
  if (!sets.isEmpty('KUBE-EXTERNAL-IP')) {
    const m = `${comment('KUBE-EXTERNAL-IP')} -m set --match-set KUBE-EXTERNAL-IP dst,dst`;
    add(nat, 'KUBE-SERVICES', `${m} -j KUBE-MARK-MASQ`);
    externalIpRules(m);
  }
  if (!sets.isEmpty('KUBE-EXTERNAL-IP-LOCAL')) {
    externalIpRules(`${comment('KUBE-EXTERNAL-IP-LOCAL')} -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst`);
  }

  add(nat, 'KUBE-SERVICES', '-m addrtype --dst-type LOCAL -j KUBE-NODE-PORT');
  add(nat, 'KUBE-LOAD-BALANCER', '-j KUBE-MARK-MASQ');
  add(filter, 'KUBE-SOURCE-RANGES-FIREWALL', '-j DROP');
  for (const e of opts.lbNoNodeAccess) {
    const proto = PROTO_NUMBER[e.protocol] ?? 0;
    add(
      filter,
      'KUBE-IPVS-OUT-FILTER',
      `-s ${e.ip}/32 -m ipvs --vaddr ${e.ip}/32 --vproto ${proto} --vport ${e.port} -j DROP`,
    );
  }
  // acceptIPVSTraffic: must stay at the end of KUBE-SERVICES.
  for (const name of ['KUBE-CLUSTER-IP', 'KUBE-LOAD-BALANCER']) {
    if (!sets.isEmpty(name)) add(nat, 'KUBE-SERVICES', `-m set --match-set ${name} dst,dst -j ACCEPT`);
  }

  add(
    filter,
    'KUBE-FORWARD',
    `-m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
  );
  add(
    filter,
    'KUBE-FORWARD',
    '-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  );
  add(
    filter,
    'KUBE-NODE-PORT',
    `${comment('KUBE-HEALTH-CHECK-NODE-PORT')} -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT`,
  );
  for (const name of [
    'KUBE-LOAD-BALANCER',
    'KUBE-CLUSTER-IP',
    'KUBE-EXTERNAL-IP',
    'KUBE-EXTERNAL-IP-LOCAL',
  ]) {
    add(filter, 'KUBE-IPVS-FILTER', `-m set --match-set ${name} dst,dst -j RETURN`);
  }
  add(filter, 'KUBE-IPVS-FILTER', '-m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j RETURN');
  add(
    filter,
    'KUBE-IPVS-FILTER',
    '-m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable',
  );

  add(nat, 'KUBE-POSTROUTING', `-m mark ! --mark ${mark}/${mark} -j RETURN`);
  add(nat, 'KUBE-POSTROUTING', `-j MARK --set-xmark ${mark}/0x0`);
  add(
    nat,
    'KUBE-POSTROUTING',
    `-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${opts.randomFully ? ' --random-fully' : ''}`,
  );
  add(nat, 'KUBE-MARK-MASQ', `-j MARK --set-xmark ${mark}/${mark}`);

  const out: string[] = [];
  for (const t of [nat, filter]) {
    out.push(`# Generated by ${opts.generatedBy}`, `*${t.name}`);
    for (const c of t.builtins) out.push(`:${c} ACCEPT [0:0]`);
    for (const c of t.chains) out.push(`:${c} - [0:0]`);
    for (const c of [...t.builtins, ...t.chains]) out.push(...(t.rules.get(c) ?? []));
    out.push('COMMIT', `# Completed on ${opts.generatedBy.replace(/^.* on /, '')}`);
  }
  return `${out.join('\n')}\n`;
}

/** How many iptables rules reference each set (ipset's "References" counter). */
export function ipsetReferences(iptablesSave: string): Map<string, number> {
  const refs = new Map<string, number>();
  for (const m of iptablesSave.matchAll(/--match-set (\S+) /g)) refs.set(m[1], (refs.get(m[1]) ?? 0) + 1);
  return refs;
}
