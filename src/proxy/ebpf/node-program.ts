/**
 * The eBPF mode's programs as tc ingress attachments: `cil_from_netdev` on the node's
 * eth0 and `cil_from_container` on each pod's host-side veth, both sharing the node's
 * EbpfDatapath (and so its maps).
 */
import { type RuleTraceSink, TcAction, type TcProgram, type TcResult } from '../common/datapath.js';
import type { EbpfDatapath } from './datapath.js';
import { dropReasonName } from './drop.js';

const NS_PER_S = 1e9;
/** Trace text per TcAction. */
const ACTION_TEXT: Record<TcAction, string> = {
  [TcAction.PASS]: 'TC_ACT_OK (pass to the stack)',
  [TcAction.DROP]: 'TC_ACT_SHOT (drop)',
  [TcAction.REDIRECT]: 'bpf_redirect_neigh',
  [TcAction.TX]: 'bpf_redirect back out (TX)',
};

function finish(dp: EbpfDatapath, v: TcAction, out: TcResult): void {
  out.action = v;
  if (v === TcAction.DROP) out.dropReason = dp.dropReason;
}

/** Which of the node's two programs an attachment runs. */
type Attachment = 'netdev' | 'container';

class EbpfTcIngress implements TcProgram {
  readonly name: string;
  constructor(
    readonly datapath: EbpfDatapath,
    private readonly attachment: Attachment,
  ) {
    this.name = attachment === 'netdev' ? 'cil_from_netdev' : 'cil_from_container';
  }

  run(frame: Uint8Array, length: number, nowNs: number, out: TcResult, trace: RuleTraceSink | null): void {
    const now = nowNs / NS_PER_S;
    const v =
      this.attachment === 'netdev'
        ? this.datapath.tcIngressNode(frame, 0, length, now)
        : this.datapath.tcIngressPod(frame, 0, length, now);
    finish(this.datapath, v, out);
    if (trace !== null)
      trace.record({
        hook: 'tc ingress',
        table: 'bpf',
        chain: this.name,
        ruleIndex: 0,
        ruleText: ACTION_TEXT[v] ?? String(v),
      });
  }

  dropReasonName(code: number): string {
    return dropReasonName(code);
  }
}

/** `cil_from_netdev` on the node's eth0. */
export class EbpfNodeIngress extends EbpfTcIngress {
  constructor(datapath: EbpfDatapath) {
    super(datapath, 'netdev');
  }
}

/** `cil_from_container` on a pod's host-side veth. */
export class EbpfPodIngress extends EbpfTcIngress {
  constructor(datapath: EbpfDatapath) {
    super(datapath, 'container');
  }
}
