/**
 * The nftables datapath: runs a compiled `ip kube-proxy` table at a netfilter hook for one
 * packet, the way nf_tables does — base chains of the hook in priority order, rules in order,
 * jump/goto/return with a 16-deep jump stack, verdict maps looked up by key in O(1),
 * `numgen random mod N` from a seeded Rng, dynamic affinity sets with timeouts on the
 * simulated clock.
 *
 * NAT is reported, not performed: the caller (the node datapath) binds it in conntrack and
 * rewrites the bytes. nat-type chains only run for a connection's first packet (ct state
 * new), as in the kernel. After a `dnat` in a nat chain, the evaluator writes the new
 * destination into `meta` so later base chains at the same hook (e.g. filter-output at
 * priority 0 after nat-output at -100) see the translated packet, as they would in the kernel.
 *
 * Everything is resolved to numbers and typed arrays when the datapath is built; `evaluate`
 * allocates nothing (unless a trace sink is attached).
 */

import { CtState } from '../../conntrack/constants.js';
import { parseCidr, parseIPv4, prefixMask } from '../../util/ipv4.js';
import type { Rng } from '../../util/rng.js';
import { HookVerdict, NatKind } from '../common/datapath.js';
import { NfHook, type PacketMeta } from '../common/packet-meta.js';
import { NOT_FOUND, PairMap, TimeoutAddrSet } from './lookup-tables.js';
import { PROTO_NUMBER, renderRule, renderVerdict } from './render.js';
import type { NftHookName, NftMatch, NftStatement, NftTable, NftVerdict } from './table.js';

/** ICMP type/code nft's plain `reject` sends for IPv4 (the same as iptables' `-j REJECT`). */
export const REJECT_ICMP_TYPE = 3;
export const REJECT_ICMP_CODE = 3;

/** Reusable result of one hook evaluation (fill with `evaluate`, read the fields). */
export class NftHookResult {
  verdict: HookVerdict = HookVerdict.ACCEPT;
  nat: NatKind = NatKind.NONE;
  /** DNAT destination (u32 address and port) when nat is DNAT. */
  natAddr = 0;
  natPort = 0;
  /** `masquerade fully-random`: the caller picks the source port at random. */
  natFullyRandom = false;
  /** Chain and rule index that gave the final drop/reject (rule -1: chain policy). */
  chain = -1;
  rule = -1;

  reset(): void {
    this.verdict = HookVerdict.ACCEPT;
    this.nat = NatKind.NONE;
    this.natAddr = 0;
    this.natPort = 0;
    this.natFullyRandom = false;
    this.chain = -1;
    this.rule = -1;
  }
}

/** Receives one call per rule whose matches all held, like `nft monitor trace`. */
export interface NftTraceSink {
  rule(hook: NfHook, chain: string, ruleIndex: number, ruleText: string, verdict: string): void;
  /** A base chain ran to its end and its policy applied. */
  policy(hook: NfHook, chain: string, verdict: string): void;
}

export interface NftRuleCounter {
  readonly chain: string;
  readonly index: number;
  readonly text: string;
  readonly packets: number;
  readonly bytes: number;
}

export interface NftDatapathOptions {
  /** Source of `numgen random`. */
  readonly rng: Rng;
  /** Addresses `fib … type local` treats as the node's own, besides 127.0.0.0/8 (default: the node IP). */
  readonly localAddresses?: readonly string[];
  readonly trace?: NftTraceSink | null;
}

export class NftEvaluateError extends Error {
  override name = 'NftEvaluateError';
}

// Internal verdict codes: kind in the low 3 bits, target chain index above.
const V_CONTINUE = 0;
const V_ACCEPT = 1;
const V_DROP = 2;
const V_RETURN = 3;
const V_JUMP = 4;
const V_GOTO = 5;
const V_REJECT = 6;
const KIND_MASK = 7;

const M_ADDR = 0;
const M_STATIC_SET = 1;
const M_DYNAMIC_SET = 2;
const M_CT_STATE = 3;
const M_FIB_LOCAL = 4;
const M_L4PROTO = 5;
const M_MARK = 6;

const S_VERDICT = 0;
const S_VMAP_ADDR_PROTO_PORT = 1;
const S_VMAP_PROTO_PORT = 2;
const S_NUMGEN = 3;
const S_MARK_OR = 4;
const S_MARK_XOR = 5;
const S_MASQUERADE = 6;
const S_DNAT = 7;
const S_SET_UPDATE = 8;
const S_REJECT = 9;

/** kernel NFT_JUMP_STACK_SIZE. */
const JUMP_STACK_SIZE = 16;

/** One match, flattened to numbers (one class so every instance has the same shape). */
class ExecMatch {
  op = 0;
  saddr = false;
  negate = false;
  /** First prefix inline (the common case), the rest in the arrays. */
  net0 = 0;
  mask0 = 0;
  nets: Uint32Array = EMPTY_U32;
  masks: Uint32Array = EMPTY_U32;
  staticSet: PairMap | null = null;
  dynamicSet: TimeoutAddrSet | null = null;
  value = 0;
  mask = 0;
}

/** One statement, flattened to numbers. */
class ExecStatement {
  op = 0;
  verdict = 0;
  vmap: PairMap | null = null;
  targets: Int32Array = EMPTY_I32;
  value = 0;
  port = 0;
  fullyRandom = false;
  dynamicSet: TimeoutAddrSet | null = null;
  saddr = false;
}

interface ExecRule {
  readonly counter: number;
  readonly text: string;
  readonly matches: readonly ExecMatch[];
  readonly statements: readonly ExecStatement[];
}

interface ExecChain {
  readonly name: string;
  readonly isNat: boolean;
  readonly rules: readonly ExecRule[];
}

const HOOK_OF: Record<NftHookName, NfHook> = {
  prerouting: NfHook.PREROUTING,
  input: NfHook.INPUT,
  forward: NfHook.FORWARD,
  output: NfHook.OUTPUT,
  postrouting: NfHook.POSTROUTING,
};

const CT_STATE_BITS = {
  new: CtState.NEW,
  established: CtState.ESTABLISHED,
  related: CtState.RELATED,
  invalid: CtState.INVALID,
  untracked: CtState.UNTRACKED,
};

const EMPTY_U32 = new Uint32Array(0);
const EMPTY_I32 = new Int32Array(0);

export class NftDatapath {
  private readonly chains: ExecChain[] = [];
  private readonly hookChains: Int32Array[] = [];
  private readonly staticSets = new Map<string, PairMap>();
  private readonly dynamicSets = new Map<string, TimeoutAddrSet>();
  private readonly vmaps = new Map<string, PairMap>();
  /** Verdict code → text, for traces of map lookups. */
  private readonly verdictTexts = new Map<number, string>();
  private readonly local = new PairMap();
  private readonly stack = new Int32Array(JUMP_STACK_SIZE * 2);
  private readonly packets: Float64Array;
  private readonly bytes: Float64Array;
  private readonly counterRules: { chain: string; index: number; text: string }[] = [];
  private readonly rng: Rng;
  private trace: NftTraceSink | null;

  constructor(table: NftTable, options: NftDatapathOptions) {
    this.rng = options.rng;
    this.trace = options.trace ?? null;
    for (const a of options.localAddresses ?? [table.node.ip]) this.local.set(parseIPv4(a), 0, 1);

    const chainIndex = new Map<string, number>();
    for (const [i, c] of table.chains.entries()) chainIndex.set(c.name, i);
    const encode = (v: NftVerdict): number => {
      let code: number;
      switch (v.kind) {
        case 'accept':
          code = V_ACCEPT;
          break;
        case 'drop':
          code = V_DROP;
          break;
        case 'return':
          code = V_RETURN;
          break;
        default: {
          const target = chainIndex.get(v.chain);
          if (target === undefined) throw new NftEvaluateError(`${v.kind} to undefined chain "${v.chain}"`);
          code = (v.kind === 'jump' ? V_JUMP : V_GOTO) | (target << 3);
        }
      }
      this.verdictTexts.set(code, renderVerdict(v));
      return code;
    };

    for (const s of table.sets) {
      if (s.kind === 'set') {
        if (s.flags?.includes('timeout')) {
          this.dynamicSets.set(s.name, new TimeoutAddrSet((s.timeoutSeconds ?? 0) * 1e9));
        } else {
          const set = new PairMap();
          for (const e of s.elements) set.set(parseIPv4(e), 0, 1);
          this.staticSets.set(s.name, set);
        }
      } else {
        const map = new PairMap();
        for (const e of s.elements) {
          const k1 = e.addr === undefined ? 0 : parseIPv4(e.addr);
          map.set(k1, protoPortKey(PROTO_NUMBER[e.proto], e.port), encode(e.verdict));
        }
        this.vmaps.set(s.name, map);
      }
    }

    let counter = 0;
    const hookLists: { chain: number; priority: number }[][] = [[], [], [], [], []];
    table.chains.forEach((c, ci) => {
      const rules = c.rules.map((r, index): ExecRule => {
        const text = renderRule(r);
        this.counterRules.push({ chain: c.name, index, text });
        return {
          counter: counter++,
          text,
          matches: r.matches.map((m) => this.compileMatch(m)),
          statements: r.statements.map((s) => this.compileStatement(s, encode)),
        };
      });
      this.chains.push({ name: c.name, isNat: c.base?.type === 'nat', rules });
      if (c.base !== undefined)
        hookLists[HOOK_OF[c.base.hook]].push({ chain: ci, priority: c.base.priority });
    });
    for (const list of hookLists) {
      list.sort((a, b) => a.priority - b.priority || a.chain - b.chain);
      this.hookChains.push(Int32Array.from(list.map((l) => l.chain)));
    }
    this.packets = new Float64Array(counter);
    this.bytes = new Float64Array(counter);
  }

  private compileMatch(m: NftMatch): ExecMatch {
    const x = new ExecMatch();
    switch (m.kind) {
      case 'addr': {
        const cidrs = m.prefixes.map((p) => parseCidr(p));
        if (cidrs.length === 0) throw new NftEvaluateError('address match with no prefixes');
        x.op = M_ADDR;
        x.saddr = m.field === 'saddr';
        x.negate = m.negate;
        x.net0 = cidrs[0].network;
        x.mask0 = prefixMask(cidrs[0].prefixLength);
        x.nets = Uint32Array.from(cidrs.slice(1).map((c) => c.network));
        x.masks = Uint32Array.from(cidrs.slice(1).map((c) => prefixMask(c.prefixLength)));
        return x;
      }
      case 'addrInSet': {
        x.dynamicSet = this.dynamicSets.get(m.set) ?? null;
        x.staticSet = this.staticSets.get(m.set) ?? null;
        if (x.dynamicSet === null && x.staticSet === null)
          throw new NftEvaluateError(`rule refers to undefined set @${m.set}`);
        x.op = x.dynamicSet !== null ? M_DYNAMIC_SET : M_STATIC_SET;
        x.saddr = m.field === 'saddr';
        return x;
      }
      case 'ctState':
        x.op = M_CT_STATE;
        x.value = m.states.reduce((bits, s) => bits | CT_STATE_BITS[s], 0);
        return x;
      case 'fibLocal':
        x.op = M_FIB_LOCAL;
        x.saddr = m.field === 'saddr';
        return x;
      case 'l4proto':
        x.op = M_L4PROTO;
        x.value = PROTO_NUMBER[m.proto];
        return x;
      case 'markMask':
        x.op = M_MARK;
        x.negate = m.negate;
        x.mask = m.mask >>> 0;
        x.value = m.value >>> 0;
        return x;
    }
  }

  private compileStatement(s: NftStatement, encode: (v: NftVerdict) => number): ExecStatement {
    const x = new ExecStatement();
    switch (s.kind) {
      case 'verdict':
        x.op = S_VERDICT;
        x.verdict = encode(s.verdict);
        return x;
      case 'vmap': {
        const vmap = this.vmaps.get(s.map);
        if (vmap === undefined) throw new NftEvaluateError(`rule refers to undefined map @${s.map}`);
        x.op = s.key === 'daddr.l4proto.dport' ? S_VMAP_ADDR_PROTO_PORT : S_VMAP_PROTO_PORT;
        x.vmap = vmap;
        return x;
      }
      case 'numgenVmap':
        if (s.targets.length === 0) throw new NftEvaluateError('numgen random mod 0');
        x.op = S_NUMGEN;
        x.targets = Int32Array.from(s.targets.map(encode));
        return x;
      case 'markSet':
        x.op = s.op === 'or' ? S_MARK_OR : S_MARK_XOR;
        x.value = s.value >>> 0;
        return x;
      case 'masquerade':
        x.op = S_MASQUERADE;
        x.fullyRandom = s.fullyRandom;
        return x;
      case 'dnat':
        x.op = S_DNAT;
        x.value = parseIPv4(s.addr);
        x.port = s.port;
        return x;
      case 'setUpdate': {
        const dynamicSet = this.dynamicSets.get(s.set);
        if (dynamicSet === undefined)
          throw new NftEvaluateError(`update of undefined or non-dynamic set @${s.set}`);
        x.op = S_SET_UPDATE;
        x.dynamicSet = dynamicSet;
        x.saddr = s.field === 'saddr';
        return x;
      }
      case 'reject':
        x.op = S_REJECT;
        return x;
    }
  }

  setTraceSink(sink: NftTraceSink | null): void {
    this.trace = sink;
  }

  /** Name of chain `index` (for NftHookResult.chain). */
  chainName(index: number): string {
    return this.chains[index]?.name ?? '';
  }

  /**
   * Runs every base chain of `meta.hook` and returns the combined verdict in `out`.
   * Reads and writes `meta.mark`; after a DNAT also rewrites `meta.daddr`/`meta.dport`.
   */
  evaluate(meta: PacketMeta, out: NftHookResult): NftHookResult {
    out.reset();
    const list = this.hookChains[meta.hook];
    // nat base chains run for a NEW packet whose NAT binding is not set up (nf_nat_initialized).
    const runNat = (meta.ctState & CtState.NEW) !== 0 && meta.natDone !== true;
    for (let i = 0; i < list.length; i++) {
      const ci = list[i];
      if (this.chains[ci].isNat && !runNat) continue;
      const v = this.runBaseChain(ci, meta, out);
      if (v === V_DROP || v === V_REJECT) {
        out.verdict = v === V_DROP ? HookVerdict.DROP : HookVerdict.REJECT;
        return out;
      }
    }
    return out;
  }

  /** Returns V_ACCEPT, V_DROP or V_REJECT. */
  private runBaseChain(start: number, meta: PacketMeta, out: NftHookResult): number {
    let depth = 0;
    let ci = start;
    let ri = 0;
    for (;;) {
      const chain = this.chains[ci];
      if (ri >= chain.rules.length) {
        // End of chain: return to the caller of the last jump, or apply the base policy.
        if (depth === 0) {
          if (this.trace !== null) this.trace.policy(meta.hook, this.chains[start].name, 'accept');
          return V_ACCEPT;
        }
        depth--;
        ci = this.stack[depth * 2];
        ri = this.stack[depth * 2 + 1];
        continue;
      }
      const rule = chain.rules[ri];
      const v = this.runRule(rule, meta, out);
      if (v === NOT_FOUND) {
        ri++;
        continue;
      }
      this.packets[rule.counter]++;
      this.bytes[rule.counter] += meta.length;
      if (this.trace !== null) this.trace.rule(meta.hook, chain.name, ri, rule.text, this.verdictText(v));
      switch (v & KIND_MASK) {
        case V_CONTINUE:
          ri++;
          break;
        case V_ACCEPT:
          return V_ACCEPT;
        case V_DROP:
        case V_REJECT:
          out.chain = ci;
          out.rule = ri;
          return v & KIND_MASK;
        case V_RETURN:
          if (depth === 0) return V_ACCEPT;
          depth--;
          ci = this.stack[depth * 2];
          ri = this.stack[depth * 2 + 1];
          break;
        case V_JUMP:
          if (depth >= JUMP_STACK_SIZE) {
            // The kernel drops when the jump stack overflows.
            out.chain = ci;
            out.rule = ri;
            return V_DROP;
          }
          this.stack[depth * 2] = ci;
          this.stack[depth * 2 + 1] = ri + 1;
          depth++;
          ci = v >>> 3;
          ri = 0;
          break;
        case V_GOTO:
          ci = v >>> 3;
          ri = 0;
          break;
      }
    }
  }

  /** NOT_FOUND when the rule does not match (a failed match or a map miss), else its verdict code. */
  private runRule(rule: ExecRule, meta: PacketMeta, out: NftHookResult): number {
    const matches = rule.matches;
    for (let i = 0; i < matches.length; i++) if (!this.matchHolds(matches[i], meta)) return NOT_FOUND;
    const statements = rule.statements;
    for (let i = 0; i < statements.length; i++) {
      const s = statements[i];
      switch (s.op) {
        case S_VERDICT:
          return s.verdict;
        case S_VMAP_ADDR_PROTO_PORT:
        case S_VMAP_PROTO_PORT: {
          const k1 = s.op === S_VMAP_ADDR_PROTO_PORT ? meta.daddr : 0;
          const v = (s.vmap as PairMap).get(k1, protoPortKey(meta.proto, meta.dport));
          if (v === NOT_FOUND) return NOT_FOUND;
          return v;
        }
        case S_NUMGEN: {
          // nft_ng_random: reciprocal_scale(prandom_u32(), modulus).
          const n = s.targets.length;
          return s.targets[Math.floor((this.rng.nextU32() * n) / 4294967296)];
        }
        case S_MARK_OR:
          meta.mark = (meta.mark | s.value) >>> 0;
          break;
        case S_MARK_XOR:
          meta.mark = (meta.mark ^ s.value) >>> 0;
          break;
        case S_MASQUERADE:
          out.nat = NatKind.MASQUERADE;
          out.natFullyRandom = s.fullyRandom;
          return V_ACCEPT;
        case S_DNAT:
          out.nat = NatKind.DNAT;
          out.natAddr = s.value;
          out.natPort = s.port;
          // Later base chains at this hook see the translated destination.
          meta.daddr = s.value;
          meta.dport = s.port;
          return V_ACCEPT;
        case S_SET_UPDATE:
          if (!(s.dynamicSet as TimeoutAddrSet).update(s.saddr ? meta.saddr : meta.daddr, meta.nowNs))
            return NOT_FOUND;
          break;
        case S_REJECT:
          return V_REJECT;
      }
    }
    return V_CONTINUE;
  }

  private matchHolds(m: ExecMatch, meta: PacketMeta): boolean {
    switch (m.op) {
      case M_ADDR: {
        const addr = m.saddr ? meta.saddr : meta.daddr;
        let hit = (addr & m.mask0) >>> 0 === m.net0;
        for (let i = 0; !hit && i < m.nets.length; i++) {
          if ((addr & m.masks[i]) >>> 0 === m.nets[i]) {
            hit = true;
            break;
          }
        }
        return hit !== m.negate;
      }
      case M_STATIC_SET:
        return (m.staticSet as PairMap).get(m.saddr ? meta.saddr : meta.daddr, 0) !== NOT_FOUND;
      case M_DYNAMIC_SET:
        return (m.dynamicSet as TimeoutAddrSet).has(m.saddr ? meta.saddr : meta.daddr, meta.nowNs);
      case M_CT_STATE:
        return (meta.ctState & m.value) !== 0;
      case M_FIB_LOCAL:
        return this.isLocal(m.saddr ? meta.saddr : meta.daddr);
      case M_L4PROTO:
        return meta.proto === m.value;
      case M_MARK:
        return ((meta.mark & m.mask) >>> 0 === m.value) !== m.negate;
      default:
        return false;
    }
  }

  private isLocal(addr: number): boolean {
    return addr >>> 24 === 127 || this.local.get(addr, 0) !== NOT_FOUND;
  }

  private verdictText(code: number): string {
    switch (code & KIND_MASK) {
      case V_CONTINUE:
        return 'continue';
      case V_REJECT:
        return 'reject';
      default:
        return this.verdictTexts.get(code) ?? 'accept';
    }
  }

  /** Per-rule packet/byte counters (like `nft -a list` with counters), in table order. */
  ruleCounters(): NftRuleCounter[] {
    return this.counterRules.map((r, i) => ({ ...r, packets: this.packets[i], bytes: this.bytes[i] }));
  }

  resetCounters(): void {
    this.packets.fill(0);
    this.bytes.fill(0);
  }

  /** Live elements of a dynamic (affinity) set, like `nft list set`, with remaining timeouts. */
  dynamicSetElements(name: string, nowNs: number): { addr: number; expiresInNs: number }[] {
    const set = this.dynamicSets.get(name);
    if (set === undefined) throw new NftEvaluateError(`no dynamic set named "${name}"`);
    return set.entries(nowNs);
  }

  /** Names of the chains in table order (index = NftHookResult.chain). */
  chainNames(): string[] {
    return this.chains.map((c: ExecChain) => c.name);
  }
}

function protoPortKey(proto: number, port: number): number {
  return ((proto & 0xff) << 16) | (port & 0xffff);
}
