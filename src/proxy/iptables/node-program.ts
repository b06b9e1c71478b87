/**
 * iptables mode on a node: the parsed/compiled ruleset run by the evaluator at each
 * netfilter hook in the kernel's table order (nat before filter at OUTPUT; nat only for
 * a connection's NEW packets whose NAT binding is not set up yet), answering the node's netfilter path.
 */

import { CtState } from '../../conntrack/constants.js';
import {
  type HookResult,
  HookVerdict,
  NatKind,
  type NetfilterProgram,
  type RuleTraceSink,
} from '../common/datapath.js';
import { NF_HOOK_NAMES, NfHook, type PacketMeta } from '../common/packet-meta.js';
import {
  type IptablesEvaluator,
  type IptablesResult,
  type IptablesTraceEvent,
  type IptablesTraceSink,
  NatFlag,
  NfTable,
  newIptablesResult,
} from './evaluate.js';
import { REJECT_WITH_NAMES } from './types.js';

/** ICMP destination-unreachable codes per `--reject-with`; TCP_RESET_CODE asks for a RST. */
export const TCP_RESET_CODE = 256;
export const REJECT_CODES: Record<(typeof REJECT_WITH_NAMES)[number], number> = {
  'icmp-net-unreachable': 0,
  'icmp-host-unreachable': 1,
  'icmp-port-unreachable': 3,
  'icmp-proto-unreachable': 2,
  'icmp-net-prohibited': 9,
  'icmp-host-prohibited': 10,
  'tcp-reset': TCP_RESET_CODE,
  'icmp-admin-prohibited': 13,
  // ICMPv6 destination-unreachable codes (RFC 4443), for the IPv6 proxier's REJECT.
  'icmp6-no-route': 0,
  'icmp6-adm-prohibited': 1,
  'icmp6-addr-unreachable': 3,
  'icmp6-port-unreachable': 4,
};

/** Forwards the evaluator's rule events to the node's trace sink, adding the hook name. */
export class IptablesTraceBridge implements IptablesTraceSink {
  target: RuleTraceSink | null = null;
  hook = '';
  record(e: IptablesTraceEvent): void {
    this.target?.record({
      hook: this.hook,
      table: e.table,
      chain: e.chain,
      ruleIndex: e.ruleIndex,
      ruleText: e.ruleText,
    });
  }
}

export class IptablesNodeProgram implements NetfilterProgram {
  private readonly r: IptablesResult = newIptablesResult();
  private readonly bridge = new IptablesTraceBridge();

  constructor(readonly evaluator: IptablesEvaluator) {}

  runHook(meta: PacketMeta, out: HookResult, trace: RuleTraceSink | null): void {
    // nf_nat_inet_fn: the nat table runs for IP_CT_NEW only while the binding is not set up.
    const runNat = (meta.ctState & CtState.NEW) !== 0 && meta.natDone !== true;
    const sink = trace === null ? undefined : this.bridge;
    if (trace !== null) {
      this.bridge.target = trace;
      this.bridge.hook = NF_HOOK_NAMES[meta.hook];
    }
    switch (meta.hook) {
      case NfHook.PREROUTING:
      case NfHook.POSTROUTING:
        if (runNat) this.run(NfTable.NAT, meta, out, sink);
        return;
      case NfHook.INPUT:
      case NfHook.FORWARD:
        this.run(NfTable.FILTER, meta, out, sink);
        return;
      case NfHook.OUTPUT:
        if (runNat && !this.run(NfTable.NAT, meta, out, sink)) return;
        this.runFilterKeepingNat(meta, out, sink);
        return;
    }
  }

  private run(
    table: number,
    meta: PacketMeta,
    out: HookResult,
    sink: IptablesTraceSink | undefined,
  ): boolean {
    return runIptablesTable(this.evaluator, this.r, table, meta, out, sink);
  }

  private runFilterKeepingNat(meta: PacketMeta, out: HookResult, sink: IptablesTraceSink | undefined): void {
    runFilterAfterDnat(this.evaluator, this.r, meta, out, sink);
  }
}

/**
 * Runs one iptables table for a hook and copies its verdict and NAT into the node's
 * HookResult; false when the packet is gone (DROP/REJECT). Shared by iptables mode and
 * the remaining iptables rules of IPVS mode. `scratch` is the caller's reusable result.
 */
export function runIptablesTable(
  evaluator: IptablesEvaluator,
  scratch: IptablesResult,
  table: number,
  meta: PacketMeta,
  out: HookResult,
  sink: IptablesTraceSink | undefined,
): boolean {
  const r = scratch;
  evaluator.evaluate(table, meta, r, sink);
  out.rulesEvaluated += r.rulesEvaluated;
  if (r.verdict === HookVerdict.DROP) {
    out.verdict = HookVerdict.DROP;
    return false;
  }
  if (r.verdict === HookVerdict.REJECT) {
    out.verdict = HookVerdict.REJECT;
    out.rejectCode = REJECT_CODES[REJECT_WITH_NAMES[r.rejectWith]];
    return false;
  }
  if (r.natKind === NatKind.NONE) return true;
  out.nat = r.natKind;
  // The kernel picks within the range; kube-proxy's ranges are single addresses.
  out.natAddr = r.natAddrMin;
  out.natPortMin = r.natPortMin;
  out.natPortMax = r.natPortMax;
  out.natRandomFully = (r.natFlags & NatFlag.RANDOM_FULLY) !== 0;
  return true;
}

/** filter OUTPUT sees the packet after nat OUTPUT's (or IPVS's) DNAT, as the kernel's hook order gives. */
export function runFilterAfterDnat(
  evaluator: IptablesEvaluator,
  scratch: IptablesResult,
  meta: PacketMeta,
  out: HookResult,
  sink: IptablesTraceSink | undefined,
): void {
  if (out.nat !== NatKind.DNAT) {
    runIptablesTable(evaluator, scratch, NfTable.FILTER, meta, out, sink);
    return;
  }
  const { natAddr, natPortMin, natPortMax } = out;
  const savedDaddr = meta.daddr;
  const savedDport = meta.dport;
  meta.daddr = natAddr;
  if (natPortMin !== 0) meta.dport = natPortMin;
  out.nat = NatKind.NONE;
  runIptablesTable(evaluator, scratch, NfTable.FILTER, meta, out, sink);
  meta.daddr = savedDaddr;
  meta.dport = savedDport;
  if (out.verdict === HookVerdict.ACCEPT) {
    out.nat = NatKind.DNAT;
    out.natAddr = natAddr;
    out.natPortMin = natPortMin;
    out.natPortMax = natPortMax;
  }
}
