/**
 * nftables mode on a node: the `ip kube-proxy` table's base chains (the `ip6 kube-proxy`
 * table's on a dual-stack node's IPv6 path) run by NftDatapath at each hook (it orders chains by priority and skips nat chains for established
 * connections), answering the node's netfilter path.
 */
import {
  type HookResult,
  HookVerdict,
  NatKind,
  type NetfilterProgram,
  type RuleTraceSink,
} from '../common/datapath.js';
import { NF_HOOK_NAMES, type NfHook, type PacketMeta } from '../common/packet-meta.js';
import { type NftDatapath, NftHookResult, type NftTraceSink } from './evaluate.js';

const ICMP_PORT_UNREACHABLE = 3;
const ICMPV6_PORT_UNREACHABLE = 4;

class TraceBridge implements NftTraceSink {
  target: RuleTraceSink | null = null;
  constructor(private readonly table: string) {}
  rule(hook: NfHook, chain: string, ruleIndex: number, ruleText: string): void {
    this.target?.record({ hook: NF_HOOK_NAMES[hook], table: this.table, chain, ruleIndex, ruleText });
  }
  policy(hook: NfHook, chain: string, verdict: string): void {
    this.target?.record({
      hook: NF_HOOK_NAMES[hook],
      table: this.table,
      chain,
      ruleIndex: -1,
      ruleText: `policy ${verdict}`,
    });
  }
}

export class NftablesNodeProgram implements NetfilterProgram {
  private readonly r = new NftHookResult();
  private readonly bridge: TraceBridge;
  private tracing = false;
  /** A plain `reject`'s ICMP code: port unreachable, 3 in ICMP, 4 in ICMPv6 (an ip6 table). */
  private readonly rejectCode: number;

  constructor(readonly datapath: NftDatapath) {
    this.bridge = new TraceBridge(datapath.tableName);
    this.rejectCode = datapath.tableName.startsWith('ip6 ') ? ICMPV6_PORT_UNREACHABLE : ICMP_PORT_UNREACHABLE;
  }

  runHook(meta: PacketMeta, out: HookResult, trace: RuleTraceSink | null): void {
    if ((trace !== null) !== this.tracing) {
      this.tracing = trace !== null;
      this.datapath.setTraceSink(trace === null ? null : this.bridge);
    }
    this.bridge.target = trace;
    // The evaluator rewrites meta's destination after a dnat; the node rewrites the bytes itself.
    const daddr = meta.daddr;
    const dport = meta.dport;
    const r = this.datapath.evaluate(meta, this.r);
    meta.daddr = daddr;
    meta.dport = dport;
    if (r.verdict === HookVerdict.DROP) {
      out.verdict = HookVerdict.DROP;
      return;
    }
    if (r.verdict === HookVerdict.REJECT) {
      out.verdict = HookVerdict.REJECT;
      out.rejectCode = this.rejectCode;
      return;
    }
    if (r.nat === NatKind.DNAT) {
      out.nat = NatKind.DNAT;
      out.natAddr = r.natAddr;
      out.natPortMin = r.natPort;
      out.natPortMax = r.natPort;
    } else if (r.nat === NatKind.MASQUERADE) {
      out.nat = NatKind.MASQUERADE;
      out.natRandomFully = r.natFullyRandom;
    }
  }
}
