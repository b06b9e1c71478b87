/**
 * nftables mode on a node: the `ip kube-proxy` table's base chains run by NftDatapath at
 * each hook (it orders chains by priority and skips nat chains for established
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

class TraceBridge implements NftTraceSink {
  target: RuleTraceSink | null = null;
  rule(hook: NfHook, chain: string, ruleIndex: number, ruleText: string): void {
    this.target?.record({ hook: NF_HOOK_NAMES[hook], table: 'ip kube-proxy', chain, ruleIndex, ruleText });
  }
  policy(hook: NfHook, chain: string, verdict: string): void {
    this.target?.record({
      hook: NF_HOOK_NAMES[hook],
      table: 'ip kube-proxy',
      chain,
      ruleIndex: -1,
      ruleText: `policy ${verdict}`,
    });
  }
}

export class NftablesNodeProgram implements NetfilterProgram {
  private readonly r = new NftHookResult();
  private readonly bridge = new TraceBridge();
  private tracing = false;

  constructor(readonly datapath: NftDatapath) {}

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
      out.rejectCode = 3;
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
