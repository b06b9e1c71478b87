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
 * The table is flattened into typed arrays when the datapath is built (flatten.ts), so a
 * new connection's walk costs the same at 100 and at 30k Services; `evaluate` allocates
 * nothing (unless a trace sink is attached, whose texts are rendered on demand).
 */

import { CtState } from '../../conntrack/constants.js';
import { parseIPv4 } from '../../util/ipv4.js';
import type { Rng } from '../../util/rng.js';
import { HookVerdict, NatKind } from '../common/datapath.js';
import type { Ipv6AddressLookup } from '../common/ipv6-lookup.js';
import type { NfHook, PacketMeta } from '../common/packet-meta.js';
import {
  chainAtPc,
  chainOfRule,
  F_FULLY_RANDOM,
  F_NEGATE,
  F_SADDR,
  flattenTable,
  INLINE_SHIFT,
  KIND_MASK,
  NftEvaluateError,
  type NftProgram,
  OP_ADDR,
  OP_ADDR6,
  OP_CHAIN_END,
  OP_CT_STATE,
  OP_DNAT,
  OP_DYNAMIC_SET,
  OP_FIB_LOCAL,
  OP_L4PROTO,
  OP_MARK,
  OP_MARK_OR,
  OP_MARK_XOR,
  OP_MASK,
  OP_MASQUERADE,
  OP_NUMGEN,
  OP_REJECT,
  OP_SET_UPDATE,
  OP_STATIC_SET,
  OP_VERDICT,
  OP_VMAP_ADDR_PROTO_PORT,
  OP_VMAP_PROTO_PORT,
  protoPortKey,
  V_ACCEPT,
  V_CONTINUE,
  V_DROP,
  V_GOTO,
  V_JUMP,
  V_REJECT,
  V_RETURN,
  WIDTH,
} from './flatten.js';
import { NOT_FOUND, PairMap } from './lookup-tables.js';
import { renderRule, renderVerdict } from './render.js';
import type { NftTable } from './table.js';

export { NftEvaluateError };

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

export interface NftDatapathOptions {
  /** Source of `numgen random`. */
  readonly rng: Rng;
  /** Addresses `fib … type local` treats as the node's own, besides 127.0.0.0/8 (default: the node IP). */
  readonly localAddresses?: readonly string[];
  readonly trace?: NftTraceSink | null;
  /**
   * For an `ip6` table: the network's IPv6 address table, whose indices the packets carry
   * (the table's addresses are interned at load; `localAddresses` are then IPv6, ::1 always local).
   */
  readonly ipv6?: Ipv6AddressLookup;
}

/** kernel NFT_JUMP_STACK_SIZE. */
const JUMP_STACK_SIZE = 16;

export class NftDatapath {
  private readonly p: NftProgram;
  private readonly local = new PairMap();
  /** Return positions of the jumps taken (kernel NFT_JUMP_STACK_SIZE deep). */
  private readonly stack = new Int32Array(JUMP_STACK_SIZE);
  private readonly rng: Rng;
  private trace: NftTraceSink | null;
  private readonly v6: Ipv6AddressLookup | undefined;
  /** `ip kube-proxy` or `ip6 kube-proxy`, as traces name the table. */
  readonly tableName: string;

  constructor(table: NftTable, options: NftDatapathOptions) {
    this.rng = options.rng;
    this.trace = options.trace ?? null;
    this.tableName = `${table.family} ${table.name}`;
    this.p = flattenTable(table, options.ipv6);
    const v6 = table.family === 'ip6' ? options.ipv6 : undefined;
    this.v6 = v6;
    const locals = options.localAddresses ?? [table.node.ip];
    if (v6 === undefined) for (const a of locals) this.local.set(parseIPv4(a), 0, 1);
    else for (const a of ['::1', ...locals]) this.local.set(v6.internText(a), 0, 1);
  }

  setTraceSink(sink: NftTraceSink | null): void {
    this.trace = sink;
  }

  /** Name of chain `index` (for NftHookResult.chain). */
  chainName(index: number): string {
    return this.p.chainNames[index] ?? '';
  }

  /**
   * Runs every base chain of `meta.hook` and returns the combined verdict in `out`.
   * Reads and writes `meta.mark`; after a DNAT also rewrites `meta.daddr`/`meta.dport`.
   */
  evaluate(meta: PacketMeta, out: NftHookResult): NftHookResult {
    out.reset();
    const list = this.p.hookChains[meta.hook];
    const isNat = this.p.chainIsNat;
    // nat base chains run for a NEW packet whose NAT binding is not set up (nf_nat_initialized).
    const runNat = (meta.ctState & CtState.NEW) !== 0 && meta.natDone !== true;
    for (let i = 0; i < list.length; i++) {
      const ci = list[i];
      if (isNat[ci] === 1 && !runNat) continue;
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
    const code = this.p.code;
    const stack = this.stack;
    let depth = 0;
    let pc = this.p.chainPc[start];
    for (;;) {
      if ((code[pc] & OP_MASK) === OP_CHAIN_END) {
        // End of chain: return to the caller of the last jump, or apply the base policy.
        if (depth === 0) {
          if (this.trace !== null) this.trace.policy(meta.hook, this.p.chainNames[start], 'accept');
          return V_ACCEPT;
        }
        pc = stack[--depth];
        continue;
      }
      // A rule: its header holds the position of the next rule.
      const next = code[pc + 1];
      const v = this.runRule(pc + WIDTH, next, meta, out);
      if (v === NOT_FOUND) {
        pc = next;
        continue;
      }
      if (this.trace !== null) this.traceRule(meta, code[pc + 2], v);
      switch (v & KIND_MASK) {
        case V_CONTINUE:
          pc = next;
          break;
        case V_ACCEPT:
          return V_ACCEPT;
        case V_DROP:
        case V_REJECT:
          this.reportRule(code[pc + 2], out);
          return v & KIND_MASK;
        case V_RETURN:
          if (depth === 0) return V_ACCEPT;
          pc = stack[--depth];
          break;
        case V_JUMP:
          if (depth >= JUMP_STACK_SIZE) {
            // The kernel drops when the jump stack overflows.
            this.reportRule(code[pc + 2], out);
            return V_DROP;
          }
          stack[depth++] = next;
          pc = v >>> 3;
          break;
        case V_GOTO:
          pc = v >>> 3;
          break;
      }
    }
  }

  /**
   * Runs the instructions of one rule, code[pc] up to code[stop]. NOT_FOUND when the rule does
   * not match (a failed match or a map miss), else its verdict code.
   */
  private runRule(pc: number, stop: number, meta: PacketMeta, out: NftHookResult): number {
    const p = this.p;
    const code = p.code;
    while (pc < stop) {
      const word = code[pc];
      switch (word & OP_MASK) {
        case OP_ADDR: {
          const addr = (word & F_SADDR) !== 0 ? meta.saddr : meta.daddr;
          let hit = (addr & code[pc + 2]) === code[pc + 1];
          // Further prefixes follow the instruction as (network, mask) pairs.
          for (let i = 0, at = pc + WIDTH; !hit && i < code[pc + 3]; i++, at += 2)
            hit = (addr & code[at + 1]) === code[at];
          if (hit === ((word & F_NEGATE) !== 0)) return NOT_FOUND;
          break;
        }
        case OP_ADDR6: {
          const addr = (word & F_SADDR) !== 0 ? meta.saddr : meta.daddr;
          const v6 = this.v6 as Ipv6AddressLookup;
          let hit = false;
          for (let i = code[pc + 1], end = i + code[pc + 2]; !hit && i < end; i++)
            hit = v6.inPrefix(addr, p.prefixes6, i * 16, p.prefixLengths6[i]);
          if (hit === ((word & F_NEGATE) !== 0)) return NOT_FOUND;
          break;
        }
        case OP_STATIC_SET:
          if (
            p.staticSets[code[pc + 1]].get((word & F_SADDR) !== 0 ? meta.saddr : meta.daddr, 0) === NOT_FOUND
          )
            return NOT_FOUND;
          break;
        case OP_DYNAMIC_SET:
          if (!p.dynamicSets[code[pc + 1]].has((word & F_SADDR) !== 0 ? meta.saddr : meta.daddr, meta.nowNs))
            return NOT_FOUND;
          break;
        case OP_CT_STATE:
          if ((meta.ctState & code[pc + 1]) === 0) return NOT_FOUND;
          break;
        case OP_FIB_LOCAL:
          if (!this.isLocal((word & F_SADDR) !== 0 ? meta.saddr : meta.daddr)) return NOT_FOUND;
          break;
        case OP_L4PROTO:
          if (meta.proto !== code[pc + 1]) return NOT_FOUND;
          break;
        case OP_MARK:
          if (((meta.mark & code[pc + 1]) === code[pc + 2]) === ((word & F_NEGATE) !== 0)) return NOT_FOUND;
          break;
        case OP_VERDICT:
          return code[pc + 1];
        case OP_VMAP_ADDR_PROTO_PORT:
          return p.vmaps[code[pc + 1]].get(meta.daddr, protoPortKey(meta.proto, meta.dport));
        case OP_VMAP_PROTO_PORT:
          return p.vmaps[code[pc + 1]].get(0, protoPortKey(meta.proto, meta.dport));
        case OP_NUMGEN:
          // nft_ng_random: reciprocal_scale(prandom_u32(), modulus); the targets follow inline.
          return code[pc + WIDTH + Math.floor((this.rng.nextU32() * code[pc + 1]) / 4294967296)];
        case OP_MARK_OR:
          meta.mark = (meta.mark | code[pc + 1]) >>> 0;
          break;
        case OP_MARK_XOR:
          meta.mark = (meta.mark ^ code[pc + 1]) >>> 0;
          break;
        case OP_MASQUERADE:
          out.nat = NatKind.MASQUERADE;
          out.natFullyRandom = (word & F_FULLY_RANDOM) !== 0;
          return V_ACCEPT;
        case OP_DNAT:
          out.nat = NatKind.DNAT;
          out.natAddr = code[pc + 1] >>> 0;
          out.natPort = code[pc + 2];
          // Later base chains at this hook see the translated destination.
          meta.daddr = out.natAddr;
          meta.dport = out.natPort;
          return V_ACCEPT;
        case OP_SET_UPDATE:
          if (
            !p.dynamicSets[code[pc + 1]].update((word & F_SADDR) !== 0 ? meta.saddr : meta.daddr, meta.nowNs)
          )
            return NOT_FOUND;
          break;
        case OP_REJECT:
          return V_REJECT;
      }
      pc += WIDTH + (word >>> INLINE_SHIFT);
    }
    return V_CONTINUE;
  }

  private isLocal(addr: number): boolean {
    if (this.v6 !== undefined) return this.local.get(addr, 0) !== NOT_FOUND;
    return addr >>> 24 === 127 || this.local.get(addr, 0) !== NOT_FOUND;
  }

  /** Chain and rule index of rule number `rule`, for a drop or reject. */
  private reportRule(rule: number, out: NftHookResult): void {
    const ci = chainOfRule(this.p, rule);
    out.chain = ci;
    out.rule = rule - this.p.chainRuleStart[ci];
  }

  private traceRule(meta: PacketMeta, rule: number, v: number): void {
    const p = this.p;
    const ci = chainOfRule(p, rule);
    (this.trace as NftTraceSink).rule(
      meta.hook,
      p.chainNames[ci],
      rule - p.chainRuleStart[ci],
      renderRule(p.rules[rule], this.v6 === undefined ? 'ip' : 'ip6'),
      this.verdictText(v),
    );
  }

  private verdictText(code: number): string {
    switch (code & KIND_MASK) {
      case V_CONTINUE:
        return 'continue';
      case V_ACCEPT:
        return 'accept';
      case V_DROP:
        return 'drop';
      case V_RETURN:
        return 'return';
      case V_REJECT:
        return 'reject';
      default:
        return renderVerdict({
          kind: (code & KIND_MASK) === V_JUMP ? 'jump' : 'goto',
          chain: this.p.chainNames[chainAtPc(this.p, code >>> 3)],
        });
    }
  }

  /** Live elements of a dynamic (affinity) set, like `nft list set`, with remaining timeouts. */
  dynamicSetElements(name: string, nowNs: number): { addr: number; expiresInNs: number }[] {
    const i = this.p.dynamicSetIndex.get(name);
    if (i === undefined) throw new NftEvaluateError(`no dynamic set named "${name}"`);
    return this.p.dynamicSets[i].entries(nowNs);
  }

  /** Names of the chains in table order (index = NftHookResult.chain). */
  chainNames(): string[] {
    return [...this.p.chainNames];
  }
}
