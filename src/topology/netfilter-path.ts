/**
 * A node's netfilter: conntrack plus the proxy mode's program at each hook, and the byte
 * rewrites NAT implies — the part of the Linux IPv4 path between "a frame arrived" and
 * "a frame leaves" that kube-proxy's modes act on.
 *
 * Order per hook, as in the kernel:
 *  PREROUTING  conntrack in (-200) → mode (nat dstnat -100, only while the connection's
 *              destination binding is not set up) → destination manip (DNAT, or un-SNAT
 *              for replies)
 *  INPUT       mode (filter; IPVS at LOCAL_IN may claim the packet) → source manip → confirm
 *  FORWARD     mode (filter)
 *  OUTPUT      conntrack in → mode (nat, then filter) → destination manip (→ reroute)
 *  POSTROUTING mode (nat srcnat 100, source binding not set up) → source manip (SNAT/MASQUERADE, or
 *              un-DNAT for replies) → confirm
 * A connection's NAT bindings live in its conntrack entry; later packets (both
 * directions) are rewritten from the entry without consulting the rules again — a
 * retransmitted SYN included, though its ctstate is still NEW (nf_nat_inet_fn checks
 * nf_nat_initialized(), not the ctstate).
 */

import { CtState } from '../conntrack/constants.js';
import {
  asConnRef,
  type ConnRef,
  type ConntrackTable,
  CT_TRACK_DROP,
  CT_TRACK_INVALID,
  CtStatus,
  connOf,
  NAT_RANGE_PROTO_RANDOM_FULLY,
} from '../conntrack/index.js';
import {
  HookResult,
  HookVerdict,
  NatKind,
  type NetfilterProgram,
  type RuleTraceSink,
} from '../proxy/common/datapath.js';
import { NfHook, newPacketMeta, type PacketMeta } from '../proxy/common/packet-meta.js';
import { PathVerdict } from '../trace/drop-reasons.js';
import {
  type FiveTuple,
  isIcmpError,
  newQuotedTuple,
  readQuotedTuple,
  rewriteDestination,
  rewriteIcmpEchoId,
  rewriteIpv4Dst,
  rewriteIpv4Src,
  rewriteQuotedEndpoint,
  rewriteSource,
} from '../wire/index.js';
import { IpProtocol } from '../wire/ip-protocol.js';

const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;

export class NodeNetfilter {
  readonly meta: PacketMeta = newPacketMeta();
  readonly result = new HookResult();
  /** Conntrack reference of the packet being processed (or CT_TRACK_INVALID). */
  ref: ConnRef = asConnRef(CT_TRACK_INVALID);
  /** True when the current packet created its connection (nat rules apply). */
  firstPacket = false;
  /** Rules examined for the current packet across hooks (iptables' linear cost). */
  rulesEvaluated = 0;
  /** The current packet is an ICMP error RELATED to a connection: NAT rewrites its quote too. */
  private related = false;
  private readonly quoted = newQuotedTuple();

  constructor(
    readonly conntrack: ConntrackTable,
    readonly program: NetfilterProgram,
  ) {}

  /** Conntrack in + the hook's rules + destination manip. Used at PREROUTING and OUTPUT. */
  trackAndRunDst(
    hook: NfHook,
    frame: Uint8Array,
    ft: FiveTuple,
    inIface: string,
    outIface: string,
    nowNs: number,
    trace: RuleTraceSink | null,
  ): PathVerdict {
    const ct = this.conntrack;
    const isIcmp = ft.proto === IpProtocol.ICMP;
    // ICMP echo: the identifier is the "port"; type<<8|code identifies the message.
    const sport = isIcmp ? ft.icmpId : ft.sport;
    const dport = isIcmp ? (ft.icmpType << 8) | ft.icmpCode : ft.dport;
    // SCTP's state follows its chunks; its CRC32c is checked on the way in (sctp_error).
    if (ft.proto === IpProtocol.SCTP) {
      ct.setSctpPacket(frame, ft.l4Offset, ft.l4Length, hook === NfHook.PREROUTING);
    }
    const q = this.quoted;
    // An ICMP error belongs to the connection of the datagram it quotes (RELATED), not to one of its own.
    this.related = isIcmp && isIcmpError(ft.icmpType) && readQuotedTuple(frame, ft, q);
    const ref = this.related
      ? ct.trackRelated(q.saddr, q.daddr, q.sport, q.dport, q.proto, nowNs)
      : ft.proto === IpProtocol.UDP && hook === NfHook.PREROUTING && inIface !== 'lo'
        ? ct.trackConcurrent(ft.saddr, ft.daddr, sport, dport, nowNs)
        : ct.track(ft.saddr, ft.daddr, sport, dport, ft.proto, ft.tcpFlags, nowNs);
    if (ref < 0) this.related = false;
    if (ref === CT_TRACK_DROP) return PathVerdict.CT_FULL;
    this.ref = ref;
    this.firstPacket = ref >= 0 && (ct.status[connOf(ref)] & CtStatus.CONFIRMED) === 0;
    this.rulesEvaluated = 0;
    const meta = this.fillMeta(hook, ft, inIface, outIface, nowNs);
    // skb->mark starts at 0 for every packet entering the stack or leaving a socket; a
    // looped-back packet keeps the mark it got on its way out.
    if (inIface !== 'lo') meta.mark = 0;
    meta.ctState = ref === CT_TRACK_INVALID ? CtState.INVALID : ct.ctState;
    this.refreshNatState();
    meta.natDone = ref < 0 || (ct.status[connOf(ref)] & CtStatus.DST_NAT_DONE) !== 0;
    const v = this.runProgram(trace);
    if (v !== PathVerdict.CONTINUE) return v;
    if (!meta.natDone) {
      this.applyNatRequest(hook);
      // The destination binding is now set up, a null one if the rules asked for none.
      ct.status[connOf(ref)] |= CtStatus.DST_NAT_DONE;
    }
    if (ref >= 0 && ct.needsDstRewrite(ref)) this.rewriteDst(frame, ft);
    return PathVerdict.CONTINUE;
  }

  /**
   * INPUT or FORWARD: the hook's rules only. At INPUT a DNAT request means IPVS claimed
   * the packet (it rewrites and re-routes it instead of delivering it).
   */
  runHook(
    hook: NfHook,
    frame: Uint8Array,
    ft: FiveTuple,
    inIface: string,
    outIface: string,
    nowNs: number,
    trace: RuleTraceSink | null,
  ): PathVerdict {
    const meta = this.fillMeta(hook, ft, inIface, outIface, nowNs);
    this.refreshNatState();
    // No mode walks a nat table at INPUT or FORWARD (IPVS's claim at INPUT is not nf_nat).
    meta.natDone = true;
    const v = this.runProgram(trace);
    if (v !== PathVerdict.CONTINUE) return v;
    if (this.result.nat === NatKind.DNAT) {
      this.applyNatRequest(hook);
      if (this.ref >= 0 && this.conntrack.needsDstRewrite(this.ref)) this.rewriteDst(frame, ft);
    }
    return PathVerdict.CONTINUE;
  }

  /** True when the last runHook redirected the packet (IPVS DNAT at INPUT). */
  get redirected(): boolean {
    return this.result.nat === NatKind.DNAT;
  }

  /** POSTROUTING: rules, source manip, confirm. `outAddr` is the out-interface address for MASQUERADE. */
  runPostrouting(
    frame: Uint8Array,
    ft: FiveTuple,
    inIface: string,
    outIface: string,
    outAddr: number,
    nowNs: number,
    trace: RuleTraceSink | null,
  ): PathVerdict {
    const meta = this.fillMeta(NfHook.POSTROUTING, ft, inIface, outIface, nowNs);
    this.refreshNatState();
    const ct = this.conntrack;
    const ref = this.ref;
    meta.natDone = ref < 0 || (ct.status[connOf(ref)] & CtStatus.SRC_NAT_DONE) !== 0;
    const v = this.runProgram(trace);
    if (v !== PathVerdict.CONTINUE) return v;
    const r = this.result;
    if (!meta.natDone) {
      if (this.firstPacket && (r.nat === NatKind.SNAT || r.nat === NatKind.MASQUERADE)) {
        const addr = r.nat === NatKind.MASQUERADE ? outAddr : r.natAddr;
        const flags = r.natRandomFully ? NAT_RANGE_PROTO_RANDOM_FULLY : 0;
        if (ct.setSnat(connOf(ref), addr, r.natPortMin, r.natPortMax, flags) < 0) {
          ct.release(ref);
          this.ref = asConnRef(CT_TRACK_INVALID);
          return PathVerdict.NAT_FAILED;
        }
      }
      ct.status[connOf(ref)] |= CtStatus.SRC_NAT_DONE;
    }
    if (ref >= 0 && ct.needsSrcRewrite(ref)) this.rewriteSrc(frame, ft);
    return this.confirm(nowNs);
  }

  /** Local delivery after INPUT: source manip for replies, then confirm. */
  finishInput(frame: Uint8Array, ft: FiveTuple, nowNs: number): PathVerdict {
    const ref = this.ref;
    if (ref >= 0 && this.conntrack.needsSrcRewrite(ref)) this.rewriteSrc(frame, ft);
    return this.confirm(nowNs);
  }

  /** The packet was dropped or consumed before confirmation: release its conntrack reference. */
  abandon(): void {
    if (this.ref >= 0) this.conntrack.release(this.ref);
    this.ref = asConnRef(CT_TRACK_INVALID);
  }

  /** `--ctstate DNAT/SNAT` reflect the bindings made at earlier hooks (KUBE-FIREWALL tests `! --ctstate DNAT`). */
  private refreshNatState(): void {
    const ref = this.ref;
    if (ref < 0) return;
    const status = this.conntrack.status[connOf(ref)];
    let state = this.meta.ctState & ~(CtState.SNAT | CtState.DNAT);
    if (status & CtStatus.DST_NAT) state |= CtState.DNAT;
    if (status & CtStatus.SRC_NAT) state |= CtState.SNAT;
    this.meta.ctState = state;
  }

  private confirm(nowNs: number): PathVerdict {
    const ref = this.ref;
    this.ref = asConnRef(CT_TRACK_INVALID);
    if (ref < 0) return PathVerdict.CONTINUE;
    return this.conntrack.confirm(ref, nowNs) === CT_TRACK_DROP
      ? PathVerdict.NAT_FAILED
      : PathVerdict.CONTINUE;
  }

  private fillMeta(
    hook: NfHook,
    ft: FiveTuple,
    inIface: string,
    outIface: string,
    nowNs: number,
  ): PacketMeta {
    const m = this.meta;
    m.hook = hook;
    m.saddr = ft.saddr;
    m.daddr = ft.daddr;
    m.proto = ft.proto;
    m.sport = ft.sport;
    m.dport = ft.dport;
    m.tcpFlags = ft.tcpFlags;
    m.sctpChunk = ft.sctpChunk;
    m.length = ft.ipTotalLength;
    m.inIface = inIface;
    m.outIface = outIface;
    m.nowNs = nowNs;
    return m;
  }

  private runProgram(trace: RuleTraceSink | null): PathVerdict {
    const r = this.result;
    r.reset();
    this.program.runHook(this.meta, r, trace);
    this.rulesEvaluated += r.rulesEvaluated;
    if (r.verdict === HookVerdict.ACCEPT) return PathVerdict.CONTINUE;
    if (this.meta.ctState & CtState.INVALID) return PathVerdict.INVALID;
    return r.verdict === HookVerdict.REJECT ? PathVerdict.REJECT : PathVerdict.DROP;
  }

  private applyNatRequest(hook: NfHook): void {
    const r = this.result;
    if (r.nat !== NatKind.DNAT || !this.firstPacket || this.ref < 0) return;
    if (hook !== NfHook.PREROUTING && hook !== NfHook.OUTPUT && hook !== NfHook.INPUT) return;
    this.conntrack.setDnat(connOf(this.ref), r.natAddr, r.natPortMin);
  }

  private rewriteDst(frame: Uint8Array, ft: FiveTuple): void {
    const ct = this.conntrack;
    const ref = this.ref;
    const daddr = ct.natDaddr(ref);
    const dport = ct.natDport(ref);
    if (this.related) {
      // nf_nat_icmp_reply_translation at a destination-manip hook: the quote's source is
      // translated back (the opposite manip), the outer destination as for a reply.
      rewriteQuotedEndpoint(frame, ft, this.quoted, true, daddr, dport);
      if (daddr !== ft.daddr) rewriteIpv4Dst(frame, ft.ipOffset, daddr);
    } else if (ft.proto === IpProtocol.ICMP) {
      if (daddr !== ft.daddr) rewriteIpv4Dst(frame, ft.ipOffset, daddr);
      // Echo replies carry the identifier the requester chose: un-NAT it on the way back.
      if (ft.icmpType === ICMP_ECHO_REPLY && dport !== ft.icmpId) {
        rewriteIcmpEchoId(frame, ft.ipOffset, dport);
        ft.icmpId = dport;
      }
    } else if (daddr !== ft.daddr || dport !== ft.dport) {
      // One pass over address and port: one checksum fold instead of two.
      rewriteDestination(frame, ft.ipOffset, daddr, dport);
      ft.dport = dport;
    }
    ft.daddr = daddr;
  }

  private rewriteSrc(frame: Uint8Array, ft: FiveTuple): void {
    const ct = this.conntrack;
    const ref = this.ref;
    const saddr = ct.natSaddr(ref);
    const sport = ct.natSport(ref);
    if (this.related) {
      rewriteQuotedEndpoint(frame, ft, this.quoted, false, saddr, sport);
      if (saddr !== ft.saddr) rewriteIpv4Src(frame, ft.ipOffset, saddr);
    } else if (ft.proto === IpProtocol.ICMP) {
      if (saddr !== ft.saddr) rewriteIpv4Src(frame, ft.ipOffset, saddr);
      if (ft.icmpType === ICMP_ECHO_REQUEST && sport !== ft.icmpId) {
        rewriteIcmpEchoId(frame, ft.ipOffset, sport);
        ft.icmpId = sport;
      }
    } else if (saddr !== ft.saddr || sport !== ft.sport) {
      rewriteSource(frame, ft.ipOffset, saddr, sport);
      ft.sport = sport;
    }
    ft.saddr = saddr;
  }
}
