/**
 * The eBPF mode's programs as tc ingress attachments: `cil_from_netdev` on the node's
 * eth0 and `cil_from_container` on each pod's host-side veth, both sharing the node's
 * EbpfDatapath (and so its maps).
 */
import { type RuleTraceSink, TcAction, type TcProgram, type TcResult } from '../common/datapath.js';
import type { EbpfDatapath } from './datapath.js';
import { dropReasonName, Verdict } from './drop.js';

const NS_PER_S = 1e9;
const VERDICT_TEXT = ['TC_ACT_OK (pass to the stack)', 'TC_ACT_SHOT (drop)', 'bpf_redirect back out (TX)'];

function finish(dp: EbpfDatapath, v: Verdict, out: TcResult): void {
  if (v === Verdict.PASS) out.action = TcAction.PASS;
  else if (v === Verdict.TX) out.action = TcAction.TX;
  else {
    out.action = TcAction.DROP;
    out.dropReason = dp.dropReason;
  }
}

export class EbpfNodeIngress implements TcProgram {
  readonly name = 'cil_from_netdev';
  constructor(readonly datapath: EbpfDatapath) {}
  run(frame: Uint8Array, length: number, nowNs: number, out: TcResult, trace: RuleTraceSink | null): void {
    const v = this.datapath.tcIngressNode(frame, 0, length, nowNs / NS_PER_S);
    finish(this.datapath, v, out);
    if (trace !== null)
      trace.record({
        hook: 'tc ingress',
        table: 'bpf',
        chain: this.name,
        ruleIndex: 0,
        ruleText: VERDICT_TEXT[v] ?? String(v),
      });
  }
  dropReasonName(code: number): string {
    return dropReasonName(code);
  }
}

export class EbpfPodIngress implements TcProgram {
  readonly name = 'cil_from_container';
  constructor(readonly datapath: EbpfDatapath) {}
  run(frame: Uint8Array, length: number, nowNs: number, out: TcResult, trace: RuleTraceSink | null): void {
    const v = this.datapath.tcIngressPod(frame, 0, length, nowNs / NS_PER_S);
    finish(this.datapath, v, out);
    if (trace !== null)
      trace.record({
        hook: 'tc ingress',
        table: 'bpf',
        chain: this.name,
        ruleIndex: 0,
        ruleText: VERDICT_TEXT[v] ?? String(v),
      });
  }
  dropReasonName(code: number): string {
    return dropReasonName(code);
  }
}
