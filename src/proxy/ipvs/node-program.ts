/**
 * IPVS mode on a node: kube-proxy's remaining iptables rules (run by the iptables
 * evaluator, `-m set` answered by the compiled ipsets) interleaved with the kernel's IPVS
 * hooks, in netfilter priority order:
 *
 *  PREROUTING   nat (-100, first packet)                  — KUBE-SERVICES marks for masquerade
 *  INPUT        filter (0) → ip_vs_reply4 (98) → ip_vs_remote_request4 (99)
 *               a request to a virtual service (VIP on kube-ipvs0, node IP:nodePort) is
 *               scheduled and answered with a DNAT to the real server: the node's path
 *               then re-routes the packet instead of delivering it (ip_vs_nat_xmit)
 *  FORWARD      filter (0) → ip_vs_reply4 (100): replies from real servers advance the IPVS
 *               connection; so do the client's later packets, which dpsim's conntrack has
 *               already translated (see IpvsDatapath.requestTranslated)
 *  OUTPUT       nat (-100, first packet) → ip_vs_local_reply4 (-99) → ip_vs_local_request4
 *               (-98) → filter (0), which sees the translated packet and `-m ipvs`
 *  POSTROUTING  nat (100, first packet)                   — KUBE-POSTROUTING masquerade
 *
 * The actual address rewriting — including un-NAT of replies — is done by the node's
 * conntrack from the DNAT binding IPVS asked for (kube-proxy runs IPVS with
 * net.ipv4.vs.conntrack=1, so conntrack holds the translation in the kernel too).
 */

import { CtState } from '../../conntrack/constants.js';
import { formatIPv4 } from '../../util/ipv4.js';
import type { Rng } from '../../util/rng.js';
import {
  type HookResult,
  HookVerdict,
  NatKind,
  type NetfilterProgram,
  type RuleTraceSink,
} from '../common/datapath.js';
import type { Ipv6AddressLookup } from '../common/ipv6-lookup.js';
import { NF_HOOK_NAMES, NfHook, type PacketMeta } from '../common/packet-meta.js';
// IpsetLookup / IpvsMatchState live in evaluate.ts (not re-exported by the iptables index).
import { type IpvsMatchState, newIpvsMatchState } from '../iptables/evaluate.js';
import {
  IptablesEvaluator,
  type IptablesResult,
  type IptablesTraceSink,
  NfTable,
  newIptablesResult,
} from '../iptables/index.js';
import { IptablesTraceBridge, runFilterAfterDnat, runIptablesTable } from '../iptables/node-program.js';
import type { IpvsNodeState } from './compile.js';
import { IpvsVerdict } from './datapath.js';
import { IpsetMatcher } from './ipsets.js';
import type { IpvsNode } from './node.js';
import { protocolName } from './render.js';

/** ip_vs_leave: "no destination available" answers port unreachable (ICMP code 3, ICMPv6 code 4). */
const ICMP_PORT_UNREACHABLE = 3;
const ICMPV6_PORT_UNREACHABLE = 4;

export interface IpvsNodeProgramOptions {
  /** Drives `-m statistic` should a rule use it (kube-proxy's IPVS rules do not). */
  readonly rng: Rng;
  /**
   * The node's own addresses (its interfaces). The kube-ipvs0 addresses of the state are
   * added for `-m addrtype LOCAL`, as the kernel's local table holds both.
   */
  readonly nodeAddresses: readonly string[];
  /**
   * The IPv6 proxier's program: packets' addresses are indices of this IPv6 address table
   * (the state's virtual servers, ipsets and ip6tables rules are IPv6).
   */
  readonly ipv6?: Ipv6AddressLookup;
}

export class IpvsNodeProgram implements NetfilterProgram {
  readonly evaluator: IptablesEvaluator;
  /** What `-m ipvs` sees of the packet in flight (skb->ipvs_property and its connection). */
  readonly ipvsMatch: IpvsMatchState = newIpvsMatchState();
  private readonly r: IptablesResult = newIptablesResult();
  private readonly bridge = new IptablesTraceBridge();
  private readonly rejectCode: number;
  private readonly addressText: (addr: number) => string;

  constructor(
    readonly ipvs: IpvsNode,
    readonly state: IpvsNodeState,
    options: IpvsNodeProgramOptions,
  ) {
    const ipv6 = options.ipv6;
    this.evaluator = new IptablesEvaluator(state.iptables, {
      rng: options.rng,
      localAddresses: [...options.nodeAddresses, ...state.boundAddresses],
      ipsets: new IpsetMatcher(state.ipsets, ipv6),
      ipvs: this.ipvsMatch,
      ...(ipv6 !== undefined ? { ipv6 } : {}),
    });
    this.rejectCode = ipv6 === undefined ? ICMP_PORT_UNREACHABLE : ICMPV6_PORT_UNREACHABLE;
    this.addressText = ipv6 === undefined ? formatIPv4 : (addr) => `[${ipv6.text(addr)}]`;
  }

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
        // A packet entering the stack starts unmarked and unseen by IPVS (looped-back
        // packets keep theirs).
        if (meta.inIface !== 'lo') this.startPacket(meta);
        if (runNat) this.runTable(NfTable.NAT, meta, out, sink);
        return;
      case NfHook.INPUT:
        if (this.runTable(NfTable.FILTER, meta, out, sink)) this.ipvsLocalIn(meta, out, trace);
        return;
      case NfHook.FORWARD:
        if (this.runTable(NfTable.FILTER, meta, out, sink)) this.ipvsForward(meta, out, trace);
        return;
      case NfHook.OUTPUT:
        this.startPacket(meta);
        if (runNat && !this.runTable(NfTable.NAT, meta, out, sink)) return;
        if (out.nat !== NatKind.DNAT) this.ipvsLocalOut(meta, out, trace);
        if (out.verdict === HookVerdict.ACCEPT) this.runFilterAfterDnat(meta, out, sink);
        return;
      case NfHook.POSTROUTING:
        if (runNat) this.runTable(NfTable.NAT, meta, out, sink);
        return;
    }
  }

  private startPacket(meta: PacketMeta): void {
    meta.mark = 0;
    this.ipvsMatch.property = false;
    this.ipvsMatch.reply = false;
  }

  /** ip_vs_reply4 then ip_vs_remote_request4 at LOCAL_IN. */
  private ipvsLocalIn(meta: PacketMeta, out: HookResult, trace: RuleTraceSink | null): void {
    const dp = this.ipvs.datapath;
    if (dp.reply(meta, meta.tcpFlags) === IpvsVerdict.FORWARD) {
      // A reply to a connection the node opened: conntrack restores the virtual source.
      this.claim(true, trace, 'ip_vs_out');
      return;
    }
    this.answerRequest(dp.request(meta, meta.tcpFlags), out, trace);
  }

  /** ip_vs_local_reply4 then ip_vs_local_request4 at LOCAL_OUT. */
  private ipvsLocalOut(meta: PacketMeta, out: HookResult, trace: RuleTraceSink | null): void {
    const dp = this.ipvs.datapath;
    if (dp.reply(meta, meta.tcpFlags) === IpvsVerdict.FORWARD) {
      this.claim(true, trace, 'ip_vs_out');
      return;
    }
    this.answerRequest(dp.request(meta, meta.tcpFlags), out, trace);
  }

  /** ip_vs_reply4 at FORWARD, and the translated client packets of IPVS connections. */
  private ipvsForward(meta: PacketMeta, out: HookResult, trace: RuleTraceSink | null): void {
    const dp = this.ipvs.datapath;
    if (dp.reply(meta, meta.tcpFlags) === IpvsVerdict.FORWARD) {
      this.claim(true, trace, 'ip_vs_out');
      return;
    }
    const v = dp.requestTranslated(meta, meta.tcpFlags);
    if (v === IpvsVerdict.FORWARD) this.claim(false, trace, 'ip_vs_in');
    else if (v === IpvsVerdict.DROP) out.verdict = HookVerdict.DROP;
  }

  private answerRequest(v: IpvsVerdict, out: HookResult, trace: RuleTraceSink | null): void {
    const res = this.ipvs.datapath.result;
    switch (v) {
      case IpvsVerdict.FORWARD:
        out.nat = NatKind.DNAT;
        out.natAddr = res.daddr;
        out.natPortMin = res.dport;
        out.natPortMax = res.dport;
        this.claim(false, trace, 'ip_vs_in');
        return;
      case IpvsVerdict.REJECT:
        out.verdict = HookVerdict.REJECT;
        out.rejectCode = this.rejectCode;
        return;
      case IpvsVerdict.DROP:
        out.verdict = HookVerdict.DROP;
        return;
    }
  }

  /** Marks the packet as IPVS's (skb->ipvs_property) with the connection just used. */
  private claim(reply: boolean, trace: RuleTraceSink | null, fn: string): void {
    const res = this.ipvs.datapath.result;
    const conns = this.ipvs.conns;
    const m = this.ipvsMatch;
    m.property = true;
    m.reply = reply;
    m.vaddr = conns.vaddr[res.conn];
    m.vport = conns.vport[res.conn];
    if (trace !== null) {
      const c = res.conn;
      trace.record({
        hook: this.bridge.hook,
        table: 'ipvs',
        chain: fn,
        ruleIndex: c,
        ruleText: `${protocolName(conns.proto[c])} ${this.addressText(conns.caddr[c])}:${conns.cport[c]} → ${this.addressText(conns.vaddr[c])}:${conns.vport[c]} → ${this.addressText(conns.daddr[c])}:${conns.dport[c]}`,
      });
    }
  }

  /** Runs one table; copies its verdict and NAT into `out`; false when the packet is gone. */
  private runTable(
    table: number,
    meta: PacketMeta,
    out: HookResult,
    sink: IptablesTraceSink | undefined,
  ): boolean {
    return runIptablesTable(this.evaluator, this.r, table, meta, out, sink);
  }

  private runFilterAfterDnat(meta: PacketMeta, out: HookResult, sink: IptablesTraceSink | undefined): void {
    runFilterAfterDnat(this.evaluator, this.r, meta, out, sink);
  }
}
