/**
 * The structured form of an iptables ruleset (IPv4), shared by the compiler, the
 * `iptables-save` renderer and parser, and the evaluator.
 *
 * It holds what the kernel holds after iptables has parsed a rule, not the text a user
 * typed: addresses are masked u32 pairs, marks are the `--set-xmark value/mask` pair that
 * libxt_MARK stores for every MARK spelling, statistic probabilities are the kernel's
 * fixed-point u32 (`round(p * 2^31)`). That is why rendering it gives the canonical
 * `iptables-save` text and why parse(render(x)) is x.
 */

export type TableName = 'filter' | 'nat' | 'mangle' | 'raw' | 'security';

/** Order in which iptables-nft 1.8.9 `iptables-save` prints tables (observed on a real kernel). */
export const TABLE_SAVE_ORDER: readonly TableName[] = ['mangle', 'security', 'raw', 'filter', 'nat'];

/** Built-in chains per table, in the order iptables-save declares them (hook order). */
export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export function isTableName(name: string): name is TableName {
  return name === 'filter' || name === 'nat' || name === 'mangle' || name === 'raw' || name === 'security';
}

/** `[!] -s/-d addr/mask`: addr already masked (iptables clears host bits). */
export interface AddrMatch {
  addr: number;
  mask: number;
  invert: boolean;
  /** An ip6tables address as canonical `network/len` text (addr and mask are then 0). */
  v6?: string;
}

/** `[!] -i/-o name`; a trailing `+` is iptables' prefix wildcard. */
export interface IfaceMatch {
  name: string;
  invert: boolean;
}

export interface ProtoMatch {
  /** IANA protocol number (never 0: `-p all` means no protocol match). */
  proto: number;
  invert: boolean;
}

export interface PortRange {
  min: number;
  max: number;
  invert: boolean;
}

/** RTN_* route types as libxt_addrtype names them; the bit for type t is 1 << t. */
export const ADDRTYPE_NAMES = [
  'UNSPEC',
  'UNICAST',
  'LOCAL',
  'BROADCAST',
  'ANYCAST',
  'MULTICAST',
  'BLACKHOLE',
  'UNREACHABLE',
  'PROHIBIT',
  'THROW',
  'NAT',
  'XRESOLVE',
] as const;
export const ADDRTYPE_UNICAST = 1 << 1;
export const ADDRTYPE_LOCAL = 1 << 2;
export const ADDRTYPE_BROADCAST = 1 << 3;
export const ADDRTYPE_MULTICAST = 1 << 5;

export interface AddrTypeSpec {
  /** Bit mask of 1 << RTN_type. */
  types: number;
  invert: boolean;
}

/**
 * conntrack state bits as xt_conntrack sees them. INVALID/ESTABLISHED/RELATED/NEW/UNTRACKED
 * equal src/proxy/common/packet-meta.ts CtState; SNAT/DNAT are the connection's NAT status
 * (IPS_SRC_NAT / IPS_DST_NAT), which a caller ORs into PacketMeta.ctState for packets of a
 * NATed connection (kube-proxy's KUBE-FIREWALL rule tests `! --ctstate ...,DNAT`).
 */
export const CT_STATE_BITS = {
  INVALID: 1,
  ESTABLISHED: 2,
  RELATED: 4,
  NEW: 8,
  UNTRACKED: 64,
  SNAT: 128,
  DNAT: 256,
} as const;
/** The order libxt_conntrack prints states in. */
export const CT_STATE_SAVE_ORDER = [
  'INVALID',
  'NEW',
  'RELATED',
  'ESTABLISHED',
  'UNTRACKED',
  'SNAT',
  'DNAT',
] as const;

export type Match =
  | { kind: 'comment'; comment: string }
  | { kind: 'tcp' | 'udp' | 'sctp'; sport: PortRange | null; dport: PortRange | null }
  | {
      kind: 'addrtype';
      src: AddrTypeSpec | null;
      dst: AddrTypeSpec | null;
      limitIfaceIn: boolean;
      limitIfaceOut: boolean;
    }
  /** `probability` is the kernel's u32 threshold: round(p * 2^31), compared against a 31-bit random. */
  | { kind: 'statistic'; mode: 'random'; probability: number; invert: boolean }
  /** `every` and `packet` as the user wrote them (the kernel stores every - 1). */
  | { kind: 'statistic'; mode: 'nth'; every: number; packet: number; invert: boolean }
  | { kind: 'mark'; value: number; mask: number; invert: boolean }
  | { kind: 'conntrack'; ctstate: number; invert: boolean }
  | {
      kind: 'recent';
      action: 'set' | 'rcheck' | 'update' | 'remove';
      invert: boolean;
      seconds: number;
      reap: boolean;
      hitcount: number;
      rttl: boolean;
      name: string;
      mask: number;
      side: 'source' | 'dest';
      /** ip6tables: the mask as canonical IPv6 text (all ones unless --mask says otherwise). */
      mask6?: string;
    }
  | { kind: 'nfacct'; name: string }
  /**
   * `-m set [!] --match-set NAME dir[,dir…]` (xt_set): `dirs` directions were given (1..6);
   * bit i of `dstFlags` is set when direction i (0-based) is `dst`. Membership is answered
   * by the evaluator's injected IpsetLookup.
   */
  | { kind: 'set'; name: string; invert: boolean; dirs: number; dstFlags: number }
  /**
   * `-m ipvs` (xt_ipvs): the packet belongs to an IPVS connection, optionally narrowed by
   * its virtual protocol/address/port and flow direction. Any option implies `--ipvs`;
   * `invert` is `! --ipvs`, which iptables only allows alone.
   */
  | {
      kind: 'ipvs';
      invert: boolean;
      vproto: { proto: number; invert: boolean } | null;
      vaddr: AddrMatch | null;
      vport: { port: number; invert: boolean } | null;
      vdir: 'ORIGINAL' | 'REPLY' | null;
    }
  /**
   * `-m physdev` (xt_physdev): bridge-port conditions. dpsim's nodes route (Calico-style
   * veths, no Linux bridge), so no packet is bridged: each given condition holds only inverted.
   */
  | {
      kind: 'physdev';
      physdevIn: IfaceMatch | null;
      physdevOut: IfaceMatch | null;
      isIn: { invert: boolean } | null;
      isOut: { invert: boolean } | null;
      isBridged: { invert: boolean } | null;
    }
  /** A match dpsim does not model: kept verbatim so the rule still renders, reported by the parser. */
  | { kind: 'unknown'; name: string; args: string[] };

export const REJECT_WITH_NAMES = [
  'icmp-net-unreachable',
  'icmp-host-unreachable',
  'icmp-port-unreachable',
  'icmp-proto-unreachable',
  'icmp-net-prohibited',
  'icmp-host-prohibited',
  'tcp-reset',
  'icmp-admin-prohibited',
  // ip6tables' REJECT (ip6t_REJECT): what an IPv6 rule may send.
  'icmp6-no-route',
  'icmp6-adm-prohibited',
  'icmp6-addr-unreachable',
  'icmp6-port-unreachable',
] as const;
export type RejectWith = (typeof REJECT_WITH_NAMES)[number];

/** A NAT range as `--to-destination/--to-source [a[-b]][:p[-q]]`; ports 0 when absent. */
export interface NatRange {
  addrMin: number;
  addrMax: number;
  /** An ip6tables DNAT/SNAT address (canonical text); addrMin/addrMax are then 0. */
  addr6?: string;
  hasAddr: boolean;
  portMin: number;
  portMax: number;
}

export type Target =
  | { kind: 'ACCEPT' }
  | { kind: 'DROP' }
  | { kind: 'RETURN' }
  | { kind: 'jump'; chain: string; goto: boolean }
  | { kind: 'REJECT'; rejectWith: RejectWith }
  | { kind: 'DNAT'; range: NatRange; random: boolean; persistent: boolean }
  | { kind: 'SNAT'; range: NatRange; random: boolean; randomFully: boolean; persistent: boolean }
  | { kind: 'MASQUERADE'; portMin: number; portMax: number; random: boolean; randomFully: boolean }
  /** Every MARK spelling as libxt_MARK stores it: mark = (mark & ~mask) ^ value. */
  | { kind: 'MARK'; value: number; mask: number }
  | { kind: 'unknown'; name: string; args: string[] };

export interface Rule {
  src: AddrMatch | null;
  dst: AddrMatch | null;
  inIface: IfaceMatch | null;
  outIface: IfaceMatch | null;
  proto: ProtoMatch | null;
  /** In the order iptables applies (and prints) them. */
  matches: Match[];
  /** null: a rule without `-j`, which only counts packets (kube-proxy's last KUBE-FW rule). */
  target: Target | null;
}

export interface Chain {
  name: string;
  /** Built-in chains have a policy; user chains have none (printed as `-`). */
  policy: 'ACCEPT' | 'DROP' | null;
  rules: Rule[];
}

export interface Table {
  name: TableName;
  /** Any order; the renderer prints built-ins first in hook order, then user chains sorted. */
  chains: Chain[];
}

export interface Ruleset {
  tables: Table[];
}

export function emptyRule(): Rule {
  return { src: null, dst: null, inIface: null, outIface: null, proto: null, matches: [], target: null };
}

/** A table holding only its built-in chains, each with policy ACCEPT. */
export function newTable(name: TableName): Table {
  return { name, chains: BUILTIN_CHAINS[name].map((c) => ({ name: c, policy: 'ACCEPT', rules: [] })) };
}

export function findTable(ruleset: Ruleset, name: TableName): Table | undefined {
  return ruleset.tables.find((t) => t.name === name);
}

export function findChain(table: Table, name: string): Chain | undefined {
  return table.chains.find((c) => c.name === name);
}

/** Protocol names iptables-save prints (getprotobynumber on a Debian /etc/protocols). */
export const PROTO_NAMES: ReadonlyMap<number, string> = new Map([
  [1, 'icmp'],
  [2, 'igmp'],
  [4, 'ipencap'],
  [6, 'tcp'],
  [17, 'udp'],
  [41, 'ipv6'],
  [47, 'gre'],
  [50, 'esp'],
  [51, 'ah'],
  [58, 'ipv6-icmp'],
  [132, 'sctp'],
  [136, 'udplite'],
]);
