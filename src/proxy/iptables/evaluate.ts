/**
 * Runs packets through a Ruleset the way netfilter's ipt_do_table does: rules of a chain
 * in order, first match wins, `-j` pushes a return point, `-g` does not, RETURN or the end
 * of a user chain pops (with nothing to pop: the built-in chain's policy), a rule without
 * a target only counts.
 *
 * The ruleset is compiled once into typed arrays (addresses, masks, a small bytecode of
 * numeric match operands, target operands), so a packet walks numbers only: no strings
 * except interface names (and only for rules that have `-i/-o`), no allocation unless a
 * trace sink is given. `-m statistic --mode random` draws `rng.nextU32() & 0x7fffffff`
 * and compares it with the kernel's fixed-point threshold round(p * 2^31), as xt_statistic
 * does with get_random_u32(); `-m recent` keeps xt_recent's lists (see recent.ts).
 *
 * The caller owns conntrack: it consults the nat table only for a connection's first
 * packet (ctstate NEW) and applies the returned NAT action to the connection.
 */

import { NOT_FOUND, PairMap } from '../../maps/pair-map.js';
import { parseCidr, parseIPv4, prefixMask } from '../../util/ipv4.js';
import type { Rng } from '../../util/rng.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import { HookVerdict, NatKind } from '../common/datapath.js';
import type { Ipv6AddressLookup } from '../common/ipv6-lookup.js';
import { NF_HOOK_NAMES, type PacketMeta } from '../common/packet-meta.js';
import { RecentTable } from './recent.js';
import { formatRule, type PolicyCounterLookup, type RuleCounterLookup } from './render.js';
import {
  ADDRTYPE_BROADCAST,
  ADDRTYPE_LOCAL,
  ADDRTYPE_MULTICAST,
  ADDRTYPE_UNICAST,
  BUILTIN_CHAINS,
  type Match,
  REJECT_WITH_NAMES,
  type Rule,
  type Ruleset,
  type TableName,
  type Target,
} from './types.js';

/** Table ids for evaluate(): numbers, so the per-packet call compares no strings. */
export const NfTable = { FILTER: 0, NAT: 1, MANGLE: 2, RAW: 3, SECURITY: 4 } as const;
const TABLE_BY_ID: readonly TableName[] = ['filter', 'nat', 'mangle', 'raw', 'security'];

export function tableId(name: TableName): number {
  return TABLE_BY_ID.indexOf(name);
}

export const NatFlag = { RANDOM: 1, RANDOM_FULLY: 2, PERSISTENT: 4 } as const;

/** The outcome of one table at one hook. Reused across packets: evaluate() overwrites every field. */
export interface IptablesResult {
  verdict: HookVerdict;
  /** Index into REJECT_WITH_NAMES when verdict is REJECT. */
  rejectWith: number;
  natKind: NatKind;
  /** DNAT/SNAT range (address already the packet's own when the rule gave only ports). */
  natAddrMin: number;
  natAddrMax: number;
  /** 0 when the rule keeps the port. */
  natPortMin: number;
  natPortMax: number;
  natFlags: number;
  /** Rules examined, matching or not: iptables' per-new-connection cost. */
  rulesEvaluated: number;
}

export function newIptablesResult(): IptablesResult {
  return {
    verdict: HookVerdict.ACCEPT,
    rejectWith: 0,
    natKind: NatKind.NONE,
    natAddrMin: 0,
    natAddrMax: 0,
    natPortMin: 0,
    natPortMax: 0,
    natFlags: 0,
    rulesEvaluated: 0,
  };
}

export interface IptablesTraceEvent {
  readonly table: TableName;
  readonly chain: string;
  /** 0-based position in the chain (`iptables -L --line-numbers` shows ruleIndex + 1). */
  readonly ruleIndex: number;
  /** The rule as iptables-save prints it. */
  readonly ruleText: string;
}

export interface IptablesTraceSink {
  record(event: IptablesTraceEvent): void;
}

/**
 * Answers `-m set` for the evaluator: an ipset implementation (kube-proxy's IPVS-mode sets
 * live in src/proxy/ipvs/ipsets.ts). Set names are resolved once at load, so the per-packet
 * test compares numbers only.
 */
export interface IpsetLookup {
  /** Id (>= 0) of the set called `name`, or -1 when there is none. */
  setId(name: string): number;
  /**
   * Whether the packet is a member of set `id`, its fields picked per direction as xt_set
   * does: `dirs` directions were given, bit i of `dstFlags` set ⇒ direction i reads the
   * destination address/port, else the source. A set whose type has more dimensions than
   * `dirs` never matches (ip_set_test).
   */
  test(id: number, dirs: number, dstFlags: number, meta: PacketMeta): boolean;
}

/**
 * What `-m ipvs` reads about the packet being evaluated: skb->ipvs_property and the IPVS
 * connection it belongs to. The caller (the IPVS node program) updates it before each
 * evaluate; the evaluator only reads it.
 */
export interface IpvsMatchState {
  /** IPVS handled this packet at an earlier hook of its traversal. */
  property: boolean;
  /** The connection's virtual address and port (meaningful when `property`). */
  vaddr: number;
  vport: number;
  /** The packet travels in the connection's reply direction (real server → client). */
  reply: boolean;
}

export function newIpvsMatchState(): IpvsMatchState {
  return { property: false, vaddr: 0, vport: 0, reply: false };
}

export type { Ipv6AddressLookup };

export interface IptablesEvaluatorOptions {
  /** Drives `-m statistic --mode random`. */
  readonly rng: Rng;
  /** Addresses (or CIDRs) the node owns, for `-m addrtype LOCAL`; 127.0.0.0/8 is always local. */
  readonly localAddresses: readonly string[];
  /**
   * Rules using matches or targets dpsim does not model: 'error' (default) refuses the
   * ruleset; 'ignore' lets such matches never match and such targets do nothing.
   */
  readonly unmodeled?: 'error' | 'ignore';
  /** xt_recent ip_list_tot / ip_pkt_list_tot (defaults 200 / 20). */
  readonly recentCapacity?: number;
  readonly recentStamps?: number;
  /** Membership for `-m set`; without it a ruleset using `-m set` is refused at load. */
  readonly ipsets?: IpsetLookup;
  /** The packet's IPVS state for `-m ipvs`; without it a ruleset using `-m ipvs` is refused at load. */
  readonly ipvs?: IpvsMatchState;
  /**
   * An ip6tables ruleset: packet addresses are IPv6 address-table indices, and
   * `localAddresses` are IPv6 (::1 is always local). Without it IPv6 address matches refuse the load.
   */
  readonly ipv6?: Ipv6AddressLookup;
}

export class IptablesLoadError extends Error {
  override name = 'IptablesLoadError';
}

// Rule flag bits.
const F_SRC = 1;
const F_SRC_INV = 2;
const F_DST = 4;
const F_DST_INV = 8;
const F_IN = 16;
const F_IN_INV = 32;
const F_IN_WILD = 64;
const F_OUT = 128;
const F_OUT_INV = 256;
const F_OUT_WILD = 512;
const F_PROTO = 1024;
const F_PROTO_INV = 2048;
// ip6tables -s/-d (prefix over the address bytes; inversion shares F_SRC_INV/F_DST_INV).
const F_SRC6 = 4096;
const F_DST6 = 8192;
const ALL_ONES_IPV6 = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';

// Match opcodes; operands follow in the code array.
const OP_PORTS = 1; // proto, flags, sMin, sMax, dMin, dMax
const OP_MARK = 2; // value, mask, invert
const OP_CTSTATE = 3; // bits, invert
const OP_ADDRTYPE = 4; // srcTypes, dstTypes, flags
const OP_RANDOM = 5; // threshold, invert
const OP_NTH = 6; // every - 1, counter slot, invert
const OP_RECENT = 7; // list, action, flags, seconds, hitcount, mask
const OP_NEVER = 8;
const OP_SET = 9; // set id, dirs, dstFlags, invert
const OP_IPVS = 10; // flags, proto, addr, mask, port

const PORT_S = 1;
const PORT_S_INV = 2;
const PORT_D = 4;
const PORT_D_INV = 8;
const AT_SRC = 1;
const AT_SRC_INV = 2;
const AT_DST = 4;
const AT_DST_INV = 8;
const RECENT_SET = 0;
const RECENT_CHECK = 1;
const RECENT_UPDATE = 2;
const RECENT_REMOVE = 3;
const RF_INV = 1;
const RF_REAP = 2;
const RF_DEST = 4;
// OP_IPVS flag bits.
const IPVS_INV_PROPERTY = 1;
const IPVS_PROTO = 2;
const IPVS_PROTO_INV = 4;
const IPVS_ADDR = 8;
const IPVS_ADDR_INV = 16;
const IPVS_PORT = 32;
const IPVS_PORT_INV = 64;
const IPVS_DIR = 128;
const IPVS_DIR_REPLY = 256;

// Target kinds.
const T_NONE = 0;
const T_ACCEPT = 1;
const T_DROP = 2;
const T_RETURN = 3;
const T_JUMP = 4;
const T_GOTO = 5;
const T_REJECT = 6;
const T_DNAT = 7;
const T_SNAT = 8;
const T_MASQUERADE = 9;
const T_MARK = 10;

const NO_CHAIN = -1;

// emitMatch outcomes.
const EMIT_OK = 0;
const EMIT_UNMODELED = 1;
const EMIT_NEEDS_IPSETS = 2;
const EMIT_NEEDS_IPVS = 3;

/** Rules that need an injected dependency the options lack, per dependency. */
interface Needs {
  ipsets: string[];
  ipvs: string[];
}

/**
 * Chain indices for jump targets while a table compiles. A lookup among 100k chains costs a
 * cache miss or two, and kube-proxy's tables make most of them predictable: most jumps of its
 * tables go to KUBE-MARK-MASQ (the last name looked up is kept), and a Service's endpoint
 * chains are declared right after its service chain and jumped to in that order (the chain
 * after the last one jumped to, or after the rule's own chain, is tried first). Chain names
 * are unique, so a guess whose name matches is the map's own answer.
 */
interface JumpLookup {
  readonly chainIndex: Map<string, number>;
  readonly chainNames: readonly string[];
  /** 1 for a built-in chain's index: no rule may jump to one. */
  readonly isBuiltin: Uint8Array;
  lastName: string | null;
  lastIndex: number;
  /** The chain the last jump not answered by lastName went to. */
  lastJumped: number;
}

/** The index of the chain `name` a rule of chain `fromChain` jumps to; undefined for a missing or built-in chain. */
function jumpIndex(jumps: JumpLookup, name: string, fromChain: number): number | undefined {
  if (name === jumps.lastName) return jumps.lastIndex;
  const names = jumps.chainNames;
  let idx: number | undefined = jumps.lastJumped + 1;
  if (names[idx] !== name) {
    idx = fromChain + 1;
    if (names[idx] !== name) {
      idx = jumps.chainIndex.get(name);
      if (idx === undefined) return undefined;
      jumps.lastName = name;
      jumps.lastIndex = idx;
    }
  }
  if (jumps.isBuiltin[idx] === 1) return undefined;
  jumps.lastJumped = idx;
  return idx;
}

/** One table compiled to parallel typed arrays indexed by a table-wide rule number. */
class CompiledTable {
  readonly chainNames: string[] = [];
  readonly chainIndex = new Map<string, number>();
  chainStart!: Uint32Array;
  chainEnd!: Uint32Array;
  /** 1 = ACCEPT, 0 = DROP for built-ins; ignored for user chains. */
  chainPolicy!: Uint8Array;
  /** Packets and bytes that fell to each built-in chain's policy (iptables-save -c's `:CHAIN POLICY [p:b]`). */
  policyPackets!: Float64Array;
  policyBytes!: Float64Array;
  /** Built-in chain per NfHook, or NO_CHAIN. */
  readonly entry = new Int32Array(NF_HOOK_NAMES.length).fill(NO_CHAIN);
  rules: Rule[] = [];
  ruleChain!: Uint32Array;
  flags!: Uint16Array;
  srcAddr!: Uint32Array;
  srcMask!: Uint32Array;
  dstAddr!: Uint32Array;
  dstMask!: Uint32Array;
  /** ip6tables rules: 16 network bytes per rule and the prefix length, per side. */
  src6Net!: Uint8Array;
  src6Len!: Uint8Array;
  dst6Net!: Uint8Array;
  dst6Len!: Uint8Array;
  proto!: Uint8Array;
  inIface: string[] = [];
  outIface: string[] = [];
  codeStart!: Uint32Array;
  codeEnd!: Uint32Array;
  code!: Uint32Array;
  tKind!: Uint8Array;
  tA!: Uint32Array;
  tB!: Uint32Array;
  tC!: Uint32Array;
  tD!: Uint32Array;
  tE!: Uint32Array;
  packets!: Float64Array;
  bytes!: Float64Array;
  /** Canonical rule text, made on first use (traces only). */
  text: (string | undefined)[] = [];

  constructor(readonly name: TableName) {}
}

export class IptablesEvaluator {
  private readonly tables: (CompiledTable | undefined)[] = [];
  private readonly recent: RecentTable[] = [];
  private readonly recentByName = new Map<string, number>();
  private nthCounters = new Uint32Array(0);
  /** Local prefixes shorter than /32 (127.0.0.0/8), scanned. */
  private readonly localNet: Uint32Array;
  private readonly localMask: Uint32Array;
  /**
   * Local host addresses, hashed: in IPVS mode every ClusterIP is bound on kube-ipvs0, and
   * the kernel answers addrtype with a route lookup, not a scan over them.
   */
  /** The node's own addresses (IPVS binds every service address too: 30k at 30k Services). */
  private readonly localHosts = new PairMap();
  private readonly rng: Rng;
  private readonly ipsets: IpsetLookup | undefined;
  private readonly ipvs: IpvsMatchState | undefined;
  private readonly v6: Ipv6AddressLookup | undefined;
  private stackChain = new Int32Array(1);
  private stackRule = new Int32Array(1);

  constructor(ruleset: Ruleset, options: IptablesEvaluatorOptions) {
    this.rng = options.rng;
    this.ipsets = options.ipsets;
    this.ipvs = options.ipvs;
    this.v6 = options.ipv6;
    const v6 = options.ipv6;
    if (v6 !== undefined)
      for (const a of ['::1', ...options.localAddresses]) this.localHosts.set(v6.internText(a), 0, 1);
    const locals = ['127.0.0.0/8', ...(v6 === undefined ? options.localAddresses : [])].map((text) => {
      try {
        return text.includes('/') ? parseCidr(text) : { network: parseIPv4(text), prefixLength: 32 };
      } catch (e) {
        throw new IptablesLoadError(`local address "${text}": ${(e as Error).message}`);
      }
    });
    const prefixes = locals.filter((c) => c.prefixLength < 32);
    this.localNet = Uint32Array.from(prefixes, (c) => c.network);
    this.localMask = Uint32Array.from(prefixes, (c) => prefixMask(c.prefixLength));
    for (const c of locals) if (c.prefixLength === 32) this.localHosts.set(c.network, 0, 1);
    const nth: number[] = [];
    const unmodeled: string[] = [];
    const needs: Needs = { ipsets: [], ipvs: [] };
    for (const table of ruleset.tables) {
      if (this.tables[tableId(table.name)] !== undefined) {
        throw new IptablesLoadError(`table ${table.name} appears twice`);
      }
      this.tables[tableId(table.name)] = this.compileTable(
        table.name,
        table.chains,
        nth,
        unmodeled,
        needs,
        options,
      );
    }
    const strict = (options.unmodeled ?? 'error') === 'error';
    if (strict && needs.ipsets.length > 0) {
      throw new IptablesLoadError(
        `${needs.ipsets.length} rule(s) use -m set but the evaluator was given no ipset membership (option ipsets), e.g. ${needs.ipsets.slice(0, 3).join('; ')}`,
      );
    }
    if (strict && needs.ipvs.length > 0) {
      throw new IptablesLoadError(
        `${needs.ipvs.length} rule(s) use -m ipvs but the evaluator was given no IPVS packet state (option ipvs), e.g. ${needs.ipvs.slice(0, 3).join('; ')}`,
      );
    }
    if (unmodeled.length > 0 && strict) {
      throw new IptablesLoadError(
        `${unmodeled.length} rule(s) use matches or targets dpsim does not model, e.g. ${unmodeled
          .slice(0, 3)
          .join('; ')} (pass unmodeled: 'ignore' to evaluate anyway)`,
      );
    }
    this.nthCounters = Uint32Array.from(nth);
  }

  private compileTable(
    name: TableName,
    chains: Ruleset['tables'][number]['chains'],
    nthInit: number[],
    unmodeled: string[],
    needs: Needs,
    options: IptablesEvaluatorOptions,
  ): CompiledTable {
    const t = new CompiledTable(name);
    const chainIndex = t.chainIndex;
    for (const c of chains) {
      // One hash operation per chain (100k at 10k Services): a repeated name leaves the size unchanged.
      const before = chainIndex.size;
      chainIndex.set(c.name, t.chainNames.length);
      if (chainIndex.size === before)
        throw new IptablesLoadError(`chain ${c.name} appears twice in table ${name}`);
      t.chainNames.push(c.name);
    }
    const nChains = chains.length;
    let nRules = 0;
    for (const c of chains) nRules += c.rules.length;
    t.chainStart = new Uint32Array(nChains);
    t.chainEnd = new Uint32Array(nChains);
    t.chainPolicy = new Uint8Array(nChains);
    t.policyPackets = new Float64Array(nChains);
    t.policyBytes = new Float64Array(nChains);
    t.ruleChain = new Uint32Array(nRules);
    t.flags = new Uint16Array(nRules);
    t.srcAddr = new Uint32Array(nRules);
    t.srcMask = new Uint32Array(nRules);
    t.dstAddr = new Uint32Array(nRules);
    t.dstMask = new Uint32Array(nRules);
    t.src6Net = new Uint8Array(nRules * 16);
    t.src6Len = new Uint8Array(nRules);
    t.dst6Net = new Uint8Array(nRules * 16);
    t.dst6Len = new Uint8Array(nRules);
    t.proto = new Uint8Array(nRules);
    t.codeStart = new Uint32Array(nRules);
    t.codeEnd = new Uint32Array(nRules);
    t.tKind = new Uint8Array(nRules);
    t.tA = new Uint32Array(nRules);
    t.tB = new Uint32Array(nRules);
    t.tC = new Uint32Array(nRules);
    t.tD = new Uint32Array(nRules);
    t.tE = new Uint32Array(nRules);
    t.packets = new Float64Array(nRules);
    t.bytes = new Float64Array(nRules);
    t.inIface = new Array<string>(nRules).fill('');
    t.outIface = new Array<string>(nRules).fill('');
    t.text = new Array<string | undefined>(nRules);
    const code: number[] = [];
    const builtins = BUILTIN_CHAINS[name];
    const isBuiltin = new Uint8Array(nChains);
    for (const b of builtins) {
      const idx = chainIndex.get(b);
      if (idx !== undefined) isBuiltin[idx] = 1;
    }
    const jumps: JumpLookup = {
      chainIndex,
      chainNames: t.chainNames,
      isBuiltin,
      lastName: null,
      lastIndex: -1,
      lastJumped: -1,
    };
    NF_HOOK_NAMES.forEach((hook, i) => {
      if (builtins.includes(hook)) {
        const idx = chainIndex.get(hook);
        if (idx === undefined) throw new IptablesLoadError(`table ${name} lacks built-in chain ${hook}`);
        t.entry[i] = idx;
      }
    });

    let r = 0;
    chains.forEach((c, ci) => {
      t.chainStart[ci] = r;
      t.chainPolicy[ci] = c.policy === 'DROP' ? 0 : 1;
      for (const rule of c.rules) {
        t.rules.push(rule);
        t.ruleChain[r] = ci;
        let f = 0;
        let v6Missing = false;
        if (rule.src?.v6 !== undefined) {
          f |= F_SRC6 | (rule.src.invert ? F_SRC_INV : 0);
          if (!this.loadPrefix6(rule.src.v6, t.src6Net, t.src6Len, r)) v6Missing = true;
        } else if (rule.src) {
          f |= F_SRC | (rule.src.invert ? F_SRC_INV : 0);
          t.srcMask[r] = rule.src.mask;
          t.srcAddr[r] = (rule.src.addr & rule.src.mask) >>> 0;
        }
        if (rule.dst?.v6 !== undefined) {
          f |= F_DST6 | (rule.dst.invert ? F_DST_INV : 0);
          if (!this.loadPrefix6(rule.dst.v6, t.dst6Net, t.dst6Len, r)) v6Missing = true;
        } else if (rule.dst) {
          f |= F_DST | (rule.dst.invert ? F_DST_INV : 0);
          t.dstMask[r] = rule.dst.mask;
          t.dstAddr[r] = (rule.dst.addr & rule.dst.mask) >>> 0;
        }
        if (rule.inIface) {
          const wild = rule.inIface.name.endsWith('+');
          f |= F_IN | (rule.inIface.invert ? F_IN_INV : 0) | (wild ? F_IN_WILD : 0);
          t.inIface[r] = wild ? rule.inIface.name.slice(0, -1) : rule.inIface.name;
        }
        if (rule.outIface) {
          const wild = rule.outIface.name.endsWith('+');
          f |= F_OUT | (rule.outIface.invert ? F_OUT_INV : 0) | (wild ? F_OUT_WILD : 0);
          t.outIface[r] = wild ? rule.outIface.name.slice(0, -1) : rule.outIface.name;
        }
        if (rule.proto) {
          f |= F_PROTO | (rule.proto.invert ? F_PROTO_INV : 0);
          t.proto[r] = rule.proto.proto;
        }
        t.flags[r] = f;
        t.codeStart[r] = code.length;
        let unknown = v6Missing;
        let missing: 'ipsets' | 'ipvs' | null = null;
        for (const m of rule.matches) {
          const status = this.emitMatch(m, code, nthInit, options);
          if (status === EMIT_UNMODELED) unknown = true;
          else if (status === EMIT_NEEDS_IPSETS) missing = 'ipsets';
          else if (status === EMIT_NEEDS_IPVS) missing ??= 'ipvs';
        }
        t.codeEnd[r] = code.length;
        unknown = this.emitTarget(t, r, rule.target, jumps, name, c.name, ci) || unknown;
        if (missing !== null) needs[missing].push(`${name}: ${formatRule(c.name, rule)}`);
        else if (unknown) unmodeled.push(`${name}: ${formatRule(c.name, rule)}`);
        r++;
      }
      t.chainEnd[ci] = r;
    });
    t.code = Uint32Array.from(code);
    this.checkLoops(t);
    if (this.stackChain.length < nChains + 1) {
      this.stackChain = new Int32Array(nChains + 1);
      this.stackRule = new Int32Array(nChains + 1);
    }
    return t;
  }

  /** Stores an ip6tables `network/len` for rule `r`; false when this evaluator has no IPv6 side. */
  private loadPrefix6(text: string, net: Uint8Array, len: Uint8Array, r: number): boolean {
    const v6 = this.v6;
    if (v6 === undefined) return false;
    const slash = text.indexOf('/');
    const index = v6.internText(text.slice(0, slash));
    for (let i = 0; i < 16; i++) net[r * 16 + i] = v6.byteOf(index, i);
    len[r] = Number(text.slice(slash + 1));
    return true;
  }

  /** Appends a match's bytecode; returns EMIT_OK or why the match cannot be evaluated. */
  private emitMatch(m: Match, code: number[], nthInit: number[], options: IptablesEvaluatorOptions): number {
    switch (m.kind) {
      case 'comment':
      case 'nfacct':
        return EMIT_OK;
      case 'set': {
        if (this.ipsets === undefined) {
          code.push(OP_NEVER);
          return EMIT_NEEDS_IPSETS;
        }
        const id = this.ipsets.setId(m.name);
        // iptables-restore refuses the rule the same way.
        if (id < 0) throw new IptablesLoadError(`Set ${m.name} doesn't exist.`);
        code.push(OP_SET, id, m.dirs, m.dstFlags, m.invert ? 1 : 0);
        return EMIT_OK;
      }
      case 'ipvs': {
        if (this.ipvs === undefined) {
          code.push(OP_NEVER);
          return EMIT_NEEDS_IPVS;
        }
        let fl = m.invert ? IPVS_INV_PROPERTY : 0;
        if (m.vproto) fl |= IPVS_PROTO | (m.vproto.invert ? IPVS_PROTO_INV : 0);
        if (m.vaddr) fl |= IPVS_ADDR | (m.vaddr.invert ? IPVS_ADDR_INV : 0);
        if (m.vport) fl |= IPVS_PORT | (m.vport.invert ? IPVS_PORT_INV : 0);
        if (m.vdir) fl |= IPVS_DIR | (m.vdir === 'REPLY' ? IPVS_DIR_REPLY : 0);
        const mask = m.vaddr?.mask ?? 0;
        code.push(
          OP_IPVS,
          fl,
          m.vproto?.proto ?? 0,
          ((m.vaddr?.addr ?? 0) & mask) >>> 0,
          mask >>> 0,
          m.vport?.port ?? 0,
        );
        return EMIT_OK;
      }
      case 'physdev': {
        // No packet in dpsim crosses a Linux bridge; xt_physdev then matches only when
        // every option it was given is inverted.
        const given = [m.physdevIn, m.physdevOut, m.isIn, m.isOut, m.isBridged].filter((o) => o !== null);
        if (!given.every((o) => o.invert)) code.push(OP_NEVER);
        return EMIT_OK;
      }
      case 'tcp':
      case 'udp':
      case 'sctp': {
        const proto = m.kind === 'tcp' ? IpProtocol.TCP : m.kind === 'udp' ? IpProtocol.UDP : IpProtocol.SCTP;
        let fl = 0;
        if (m.sport) fl |= PORT_S | (m.sport.invert ? PORT_S_INV : 0);
        if (m.dport) fl |= PORT_D | (m.dport.invert ? PORT_D_INV : 0);
        code.push(
          OP_PORTS,
          proto,
          fl,
          m.sport?.min ?? 0,
          m.sport?.max ?? 65535,
          m.dport?.min ?? 0,
          m.dport?.max ?? 65535,
        );
        return EMIT_OK;
      }
      case 'mark':
        // xt_mark compares (mark & mask) with the value as given: bits outside the mask never match.
        code.push(OP_MARK, m.value >>> 0, m.mask >>> 0, m.invert ? 1 : 0);
        return EMIT_OK;
      case 'conntrack':
        code.push(OP_CTSTATE, m.ctstate, m.invert ? 1 : 0);
        return EMIT_OK;
      case 'addrtype': {
        let fl = 0;
        if (m.src) fl |= AT_SRC | (m.src.invert ? AT_SRC_INV : 0);
        if (m.dst) fl |= AT_DST | (m.dst.invert ? AT_DST_INV : 0);
        code.push(OP_ADDRTYPE, m.src?.types ?? 0, m.dst?.types ?? 0, fl);
        return EMIT_OK;
      }
      case 'statistic':
        if (m.mode === 'random') code.push(OP_RANDOM, m.probability, m.invert ? 1 : 0);
        else {
          code.push(OP_NTH, m.every - 1, nthInit.length, m.invert ? 1 : 0);
          nthInit.push(m.packet);
        }
        return EMIT_OK;
      case 'recent': {
        // IPv6 lists key the address index: only the full-address mask (kube-proxy's) is modelled.
        if (m.mask6 !== undefined && (this.v6 === undefined || m.mask6 !== ALL_ONES_IPV6)) {
          code.push(OP_NEVER);
          return EMIT_UNMODELED;
        }
        let list = this.recentByName.get(m.name);
        if (list === undefined) {
          list = this.recent.length;
          this.recent.push(new RecentTable(m.name, options.recentCapacity, options.recentStamps));
          this.recentByName.set(m.name, list);
        }
        const action =
          m.action === 'set'
            ? RECENT_SET
            : m.action === 'rcheck'
              ? RECENT_CHECK
              : m.action === 'update'
                ? RECENT_UPDATE
                : RECENT_REMOVE;
        const fl = (m.invert ? RF_INV : 0) | (m.reap ? RF_REAP : 0) | (m.side === 'dest' ? RF_DEST : 0);
        code.push(
          OP_RECENT,
          list,
          action,
          fl,
          m.seconds,
          m.hitcount,
          m.mask6 !== undefined ? 0xffffffff : m.mask >>> 0,
        );
        return EMIT_OK;
      }
      case 'unknown':
        code.push(OP_NEVER);
        return EMIT_UNMODELED;
    }
  }

  /** Fills a rule's target operands; returns true when the target is not modelled. */
  private emitTarget(
    t: CompiledTable,
    r: number,
    target: Target | null,
    jumps: JumpLookup,
    table: TableName,
    chain: string,
    chainIdx: number,
  ): boolean {
    if (target === null) {
      t.tKind[r] = T_NONE;
      return false;
    }
    switch (target.kind) {
      case 'ACCEPT':
        t.tKind[r] = T_ACCEPT;
        return false;
      case 'DROP':
        t.tKind[r] = T_DROP;
        return false;
      case 'RETURN':
        t.tKind[r] = T_RETURN;
        return false;
      case 'jump': {
        const idx = jumpIndex(jumps, target.chain, chainIdx);
        if (idx === undefined) {
          throw new IptablesLoadError(`${table} ${chain}: jump to missing or built-in chain ${target.chain}`);
        }
        t.tKind[r] = target.goto ? T_GOTO : T_JUMP;
        t.tA[r] = idx;
        return false;
      }
      case 'REJECT':
        t.tKind[r] = T_REJECT;
        t.tA[r] = REJECT_WITH_NAMES.indexOf(target.rejectWith);
        return false;
      case 'DNAT':
      case 'SNAT': {
        t.tKind[r] = target.kind === 'DNAT' ? T_DNAT : T_SNAT;
        if (target.range.addr6 !== undefined) {
          if (this.v6 === undefined) return true;
          t.tA[r] = this.v6.internText(target.range.addr6);
          t.tB[r] = t.tA[r];
        } else {
          t.tA[r] = target.range.addrMin;
          t.tB[r] = target.range.addrMax;
        }
        t.tC[r] = target.range.portMin;
        t.tD[r] = target.range.portMax;
        t.tE[r] =
          (target.range.hasAddr ? 8 : 0) |
          (target.random ? NatFlag.RANDOM : 0) |
          (target.kind === 'SNAT' && target.randomFully ? NatFlag.RANDOM_FULLY : 0) |
          (target.persistent ? NatFlag.PERSISTENT : 0);
        return false;
      }
      case 'MASQUERADE':
        t.tKind[r] = T_MASQUERADE;
        t.tC[r] = target.portMin;
        t.tD[r] = target.portMax;
        t.tE[r] = (target.random ? NatFlag.RANDOM : 0) | (target.randomFully ? NatFlag.RANDOM_FULLY : 0);
        return false;
      case 'MARK':
        t.tKind[r] = T_MARK;
        t.tA[r] = target.value >>> 0;
        t.tB[r] = target.mask >>> 0;
        return false;
      case 'unknown':
        t.tKind[r] = T_NONE;
        return true;
    }
  }

  /** The kernel refuses rulesets whose jumps form a loop (mark_source_chains); so do we. */
  private checkLoops(t: CompiledTable): void {
    const state = new Uint8Array(t.chainNames.length); // 0 new, 1 on stack, 2 done
    const visit = (c: number): void => {
      state[c] = 1;
      for (let r = t.chainStart[c]; r < t.chainEnd[c]; r++) {
        if (t.tKind[r] !== T_JUMP && t.tKind[r] !== T_GOTO) continue;
        const next = t.tA[r];
        if (state[next] === 1) {
          throw new IptablesLoadError(`table ${t.name}: loop through chain ${t.chainNames[next]}`);
        }
        if (state[next] === 0) visit(next);
      }
      state[c] = 2;
    };
    for (let c = 0; c < t.chainNames.length; c++) if (state[c] === 0) visit(c);
  }

  /**
   * The route type of an address as inet_addr_type sees it on this node. Simplified:
   * --limit-iface-in/out (unused by kube-proxy) are ignored, and directed broadcasts count
   * as UNICAST.
   */
  private addrType(addr: number): number {
    if (this.localHosts.get(addr, 0) !== NOT_FOUND) return ADDRTYPE_LOCAL;
    // IPv6 has no broadcast; ff00::/8 is multicast.
    if (this.v6 !== undefined)
      return this.v6.byteOf(addr, 0) === 0xff ? ADDRTYPE_MULTICAST : ADDRTYPE_UNICAST;
    const nets = this.localNet;
    for (let i = 0; i < nets.length; i++) {
      if ((addr & this.localMask[i]) >>> 0 === nets[i]) return ADDRTYPE_LOCAL;
    }
    if (addr >>> 28 === 0xe) return ADDRTYPE_MULTICAST;
    if (addr === 0xffffffff || addr >>> 24 === 0) return ADDRTYPE_BROADCAST;
    return ADDRTYPE_UNICAST;
  }

  private matchRule(t: CompiledTable, r: number, meta: PacketMeta): boolean {
    const f = t.flags[r];
    if (f !== 0) {
      if (f & F_SRC && ((meta.saddr & t.srcMask[r]) >>> 0 === t.srcAddr[r]) === ((f & F_SRC_INV) !== 0))
        return false;
      if (f & F_DST && ((meta.daddr & t.dstMask[r]) >>> 0 === t.dstAddr[r]) === ((f & F_DST_INV) !== 0))
        return false;
      if (f & F_IN) {
        const hit = f & F_IN_WILD ? meta.inIface.startsWith(t.inIface[r]) : meta.inIface === t.inIface[r];
        if (hit === ((f & F_IN_INV) !== 0)) return false;
      }
      if (f & F_OUT) {
        const hit =
          f & F_OUT_WILD ? meta.outIface.startsWith(t.outIface[r]) : meta.outIface === t.outIface[r];
        if (hit === ((f & F_OUT_INV) !== 0)) return false;
      }
      if (f & F_PROTO && (meta.proto === t.proto[r]) === ((f & F_PROTO_INV) !== 0)) return false;
      if (f & (F_SRC6 | F_DST6) && !this.matchAddr6(t, r, f, meta)) return false;
    }
    const code = t.code;
    const end = t.codeEnd[r];
    for (let pc = t.codeStart[r]; pc < end; ) {
      switch (code[pc]) {
        case OP_PORTS: {
          if (meta.proto !== code[pc + 1]) return false;
          const fl = code[pc + 2];
          if (fl & PORT_S) {
            const inRange = meta.sport >= code[pc + 3] && meta.sport <= code[pc + 4];
            if (inRange === ((fl & PORT_S_INV) !== 0)) return false;
          }
          if (fl & PORT_D) {
            const inRange = meta.dport >= code[pc + 5] && meta.dport <= code[pc + 6];
            if (inRange === ((fl & PORT_D_INV) !== 0)) return false;
          }
          pc += 7;
          break;
        }
        case OP_MARK:
          if (((meta.mark & code[pc + 2]) >>> 0 === code[pc + 1]) === (code[pc + 3] === 1)) return false;
          pc += 4;
          break;
        case OP_CTSTATE:
          if (((meta.ctState & code[pc + 1]) !== 0) === (code[pc + 2] === 1)) return false;
          pc += 3;
          break;
        case OP_ADDRTYPE: {
          const fl = code[pc + 3];
          if (
            fl & AT_SRC &&
            ((this.addrType(meta.saddr) & code[pc + 1]) !== 0) === ((fl & AT_SRC_INV) !== 0)
          ) {
            return false;
          }
          if (
            fl & AT_DST &&
            ((this.addrType(meta.daddr) & code[pc + 2]) !== 0) === ((fl & AT_DST_INV) !== 0)
          ) {
            return false;
          }
          pc += 4;
          break;
        }
        case OP_RANDOM:
          if ((this.rng.nextU32() & 0x7fffffff) < code[pc + 1] === (code[pc + 2] === 1)) return false;
          pc += 3;
          break;
        case OP_NTH: {
          const slot = code[pc + 2];
          const next = this.nthCounters[slot] === code[pc + 1] ? 0 : this.nthCounters[slot] + 1;
          this.nthCounters[slot] = next;
          if ((next === 0) === (code[pc + 3] === 1)) return false;
          pc += 4;
          break;
        }
        case OP_RECENT:
          if (!this.recentMatch(code, pc, meta)) return false;
          pc += 7;
          break;
        case OP_SET:
          if (this.ipsets!.test(code[pc + 1], code[pc + 2], code[pc + 3], meta) === (code[pc + 4] === 1))
            return false;
          pc += 5;
          break;
        case OP_IPVS:
          if (!this.ipvsMatch(code, pc, meta)) return false;
          pc += 6;
          break;
        default:
          return false;
      }
    }
    return true;
  }

  /** ip6tables `-s`/`-d`: the packet's address (an index) against the rule's prefix. */
  private matchAddr6(t: CompiledTable, r: number, f: number, meta: PacketMeta): boolean {
    const v6 = this.v6;
    if (v6 === undefined) return false;
    if (f & F_SRC6 && v6.inPrefix(meta.saddr, t.src6Net, r * 16, t.src6Len[r]) === ((f & F_SRC_INV) !== 0))
      return false;
    if (f & F_DST6 && v6.inPrefix(meta.daddr, t.dst6Net, r * 16, t.dst6Len[r]) === ((f & F_DST_INV) !== 0))
      return false;
    return true;
  }

  /**
   * xt_ipvs's ipvs_mt: `--ipvs` alone tests skb->ipvs_property; any other option first
   * needs the property and then tests the packet's protocol and its connection's virtual
   * address (masked), virtual port and direction.
   */
  private ipvsMatch(code: Uint32Array, pc: number, meta: PacketMeta): boolean {
    const s = this.ipvs!;
    const fl = code[pc + 1];
    if ((fl & (IPVS_PROTO | IPVS_ADDR | IPVS_PORT | IPVS_DIR)) === 0)
      return s.property !== ((fl & IPVS_INV_PROPERTY) !== 0);
    if (!s.property) return false;
    if (fl & IPVS_PROTO && (meta.proto === code[pc + 2]) === ((fl & IPVS_PROTO_INV) !== 0)) return false;
    if (fl & IPVS_DIR && s.reply !== ((fl & IPVS_DIR_REPLY) !== 0)) return false;
    if (fl & IPVS_ADDR && ((s.vaddr & code[pc + 4]) >>> 0 === code[pc + 3]) === ((fl & IPVS_ADDR_INV) !== 0))
      return false;
    if (fl & IPVS_PORT && (s.vport === code[pc + 5]) === ((fl & IPVS_PORT_INV) !== 0)) return false;
    return true;
  }

  /** xt_recent's recent_mt, step for step (except --rttl: PacketMeta carries no TTL, so it never narrows). */
  private recentMatch(code: Uint32Array, pc: number, meta: PacketMeta): boolean {
    const list = this.recent[code[pc + 1]];
    const action = code[pc + 2];
    const fl = code[pc + 3];
    const addr = ((fl & RF_DEST ? meta.daddr : meta.saddr) & code[pc + 6]) >>> 0;
    let ret = (fl & RF_INV) !== 0;
    const e = list.lookup(addr);
    if (e === undefined) {
      if (action !== RECENT_SET) return ret;
      list.insert(addr, meta.nowNs);
      return !ret;
    }
    if (action === RECENT_SET) ret = !ret;
    else if (action === RECENT_REMOVE) {
      list.remove(e);
      return !ret;
    } else {
      const seconds = code[pc + 4];
      const hitcount = code[pc + 5];
      const limit = meta.nowNs - seconds * 1e9;
      let hits = 0;
      for (let i = 0; i < e.nstamps; i++) {
        if (seconds !== 0 && limit > e.stamps[i]) continue;
        if (hitcount === 0 || ++hits >= hitcount) {
          ret = !ret;
          break;
        }
      }
      if (fl & RF_REAP) list.reapOldest(limit, e);
    }
    if (action === RECENT_SET || (action === RECENT_UPDATE && ret)) list.update(e, meta.nowNs);
    return ret;
  }

  /**
   * Runs `meta` through one table at meta.hook. Writes the verdict, any NAT action and the
   * rule count into `out`, the mark into meta.mark, and returns the verdict.
   */
  evaluate(table: number, meta: PacketMeta, out: IptablesResult, trace?: IptablesTraceSink): number {
    out.verdict = HookVerdict.ACCEPT;
    out.rejectWith = 0;
    out.natKind = NatKind.NONE;
    out.natAddrMin = 0;
    out.natAddrMax = 0;
    out.natPortMin = 0;
    out.natPortMax = 0;
    out.natFlags = 0;
    out.rulesEvaluated = 0;
    const t = this.tables[table];
    if (t === undefined) return HookVerdict.ACCEPT;
    const base = t.entry[meta.hook];
    if (base === NO_CHAIN) return HookVerdict.ACCEPT;
    const stackChain = this.stackChain;
    const stackRule = this.stackRule;
    const flags = t.flags;
    const dstMask = t.dstMask;
    const dstAddr = t.dstAddr;
    let sp = 0;
    let chain = base;
    let r = t.chainStart[chain];
    let end = t.chainEnd[chain];
    let evaluated = 0;
    for (;;) {
      if (r >= end) {
        // Falling off a chain is RETURN.
        if (sp === 0) break;
        sp--;
        chain = stackChain[sp];
        r = stackRule[sp];
        end = t.chainEnd[chain];
        continue;
      }
      evaluated++;
      // Most rules (KUBE-SERVICES) fail on -d: test it here before the full match.
      const f = flags[r];
      if (
        (f & F_DST && ((meta.daddr & dstMask[r]) >>> 0 === dstAddr[r]) === ((f & F_DST_INV) !== 0)) ||
        !this.matchRule(t, r, meta)
      ) {
        r++;
        continue;
      }
      t.packets[r]++;
      t.bytes[r] += meta.length;
      if (trace !== undefined) this.traceRule(t, r, trace);
      switch (t.tKind[r]) {
        case T_NONE:
          r++;
          continue;
        case T_MARK:
          meta.mark = ((meta.mark & ~t.tB[r]) ^ t.tA[r]) >>> 0;
          r++;
          continue;
        case T_JUMP:
          stackChain[sp] = chain;
          stackRule[sp] = r + 1;
          sp++;
          chain = t.tA[r];
          r = t.chainStart[chain];
          end = t.chainEnd[chain];
          continue;
        case T_GOTO:
          chain = t.tA[r];
          r = t.chainStart[chain];
          end = t.chainEnd[chain];
          continue;
        case T_RETURN:
          r = end;
          continue;
        case T_ACCEPT:
          out.rulesEvaluated = evaluated;
          return HookVerdict.ACCEPT;
        case T_DROP:
          out.rulesEvaluated = evaluated;
          out.verdict = HookVerdict.DROP;
          return HookVerdict.DROP;
        case T_REJECT:
          out.rulesEvaluated = evaluated;
          out.verdict = HookVerdict.REJECT;
          out.rejectWith = t.tA[r];
          return HookVerdict.REJECT;
        case T_DNAT:
        case T_SNAT: {
          const dnat = t.tKind[r] === T_DNAT;
          const hasAddr = (t.tE[r] & 8) !== 0;
          const own = dnat ? meta.daddr : meta.saddr;
          out.natKind = dnat ? NatKind.DNAT : NatKind.SNAT;
          out.natAddrMin = hasAddr ? t.tA[r] : own;
          out.natAddrMax = hasAddr ? t.tB[r] : own;
          out.natPortMin = t.tC[r];
          out.natPortMax = t.tD[r];
          out.natFlags = t.tE[r] & 7;
          out.rulesEvaluated = evaluated;
          return HookVerdict.ACCEPT;
        }
        case T_MASQUERADE:
          out.natKind = NatKind.MASQUERADE;
          out.natPortMin = t.tC[r];
          out.natPortMax = t.tD[r];
          out.natFlags = t.tE[r];
          out.rulesEvaluated = evaluated;
          return HookVerdict.ACCEPT;
      }
    }
    // Reached the end of the built-in chain (or RETURN with nothing to return to): its policy.
    out.rulesEvaluated = evaluated;
    t.policyPackets[base]++;
    t.policyBytes[base] += meta.length;
    const verdict = t.chainPolicy[base] === 1 ? HookVerdict.ACCEPT : HookVerdict.DROP;
    out.verdict = verdict;
    return verdict;
  }

  private traceRule(t: CompiledTable, r: number, trace: IptablesTraceSink): void {
    const chain = t.ruleChain[r];
    let text = t.text[r];
    if (text === undefined) {
      text = formatRule(t.chainNames[chain], t.rules[r]);
      t.text[r] = text;
    }
    trace.record({
      table: t.name,
      chain: t.chainNames[chain],
      ruleIndex: r - t.chainStart[chain],
      ruleText: text,
    });
  }

  /** Per-rule counters for `iptables-save -c` rendering. Unknown rules read [0, 0]. */
  counterLookup(): RuleCounterLookup {
    return (table, chain, ruleIndex) => {
      const t = this.tables[tableId(table)];
      const c = t?.chainIndex.get(chain);
      if (t === undefined || c === undefined) return [0, 0];
      const r = t.chainStart[c] + ruleIndex;
      return r < t.chainEnd[c] ? [t.packets[r], t.bytes[r]] : [0, 0];
    };
  }

  /** Per-chain policy counters for `iptables-save -c` (built-in chains; user chains read [0, 0]). */
  policyCounterLookup(): PolicyCounterLookup {
    return (table, chain) => {
      const t = this.tables[tableId(table)];
      const c = t?.chainIndex.get(chain);
      if (t === undefined || c === undefined) return [0, 0];
      return [t.policyPackets[c], t.policyBytes[c]];
    };
  }

  /** The `-m recent` list of that name, if any rule uses it. */
  recentList(name: string): RecentTable | undefined {
    const i = this.recentByName.get(name);
    return i === undefined ? undefined : this.recent[i];
  }

  /** Total rules per table, as `iptables-save | grep -c -- -A` would count them. */
  ruleCount(table: TableName): number {
    return this.tables[tableId(table)]?.rules.length ?? 0;
  }

  resetCounters(): void {
    for (const t of this.tables) {
      t?.packets.fill(0);
      t?.bytes.fill(0);
      t?.policyPackets.fill(0);
      t?.policyBytes.fill(0);
    }
  }
}
