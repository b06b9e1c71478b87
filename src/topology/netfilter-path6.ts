/**
 * A node's IPv6 netfilter: the IPv6 twin of netfilter-path.ts, with the same hook order and
 * the same connection-tracking and NAT rules (a connection's bindings are made on its first
 * packet and applied from its conntrack entry to every later packet, both directions).
 *
 * Its conntrack table is a separate ConntrackTable whose tuples hold address-table indices
 * (ipv6-address-table.ts) — one index per 128-bit address, so the table's tuples are IPv6
 * tuples — and its program is the IPv6 proxier's (ip6tables rules), as kube-proxy runs one
 * proxier per family. Rewrites patch the 128-bit address and the port with RFC 1624 over the
 * upper-layer checksum (rewrite6.ts). The IPv4 path is untouched by any of this.
 *
 * An ICMPv6 error quoting a TCP or UDP packet of a tracked connection is RELATED to it and
 * NATed with it: the outer address and the quoted packet's address and port are translated
 * back (nf_nat_icmpv6_reply_translation), the quote's own checksum patched, the ICMPv6
 * checksum recomputed. Other ICMPv6 (echo, errors quoting nothing tracked) passes UNTRACKED.
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
import { icmpv6Checksum } from '../wire/checksum6.js';
import type { Ipv6FiveTuple } from '../wire/five-tuple6.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import { Ipv6Field } from '../wire/ipv6.js';
import { rewriteIpv6Endpoint } from '../wire/rewrite6.js';
import type { Ipv6AddressTable } from './ipv6-address-table.js';

const TCP_SPORT = 0;
const TCP_DPORT = 2;

/** A parsed IPv6 packet with its addresses as address-table indices. */
export interface Ipv6Packet {
  readonly ft: Ipv6FiveTuple;
  saddr: number;
  daddr: number;
}

export class NodeNetfilter6 {
  readonly meta: PacketMeta = newPacketMeta();
  readonly result = new HookResult();
  ref: ConnRef = asConnRef(CT_TRACK_INVALID);
  firstPacket = false;
  /** The current packet is an ICMPv6 error RELATED to a connection (its quote is NATed too). */
  private related = false;
  /** The quoted packet's IPv6 header offset (valid while `related`). */
  private quoteIp = 0;

  constructor(
    readonly conntrack: ConntrackTable,
    readonly program: NetfilterProgram,
    readonly addresses: Ipv6AddressTable,
  ) {}

  /** Conntrack in + the hook's rules + destination manip (PREROUTING, OUTPUT). */
  trackAndRunDst(
    hook: NfHook,
    frame: Uint8Array,
    p: Ipv6Packet,
    inIface: string,
    outIface: string,
    nowNs: number,
    trace: RuleTraceSink | null,
  ): PathVerdict {
    const ct = this.conntrack;
    const ft = p.ft;
    this.related = ft.proto === IpProtocol.ICMPV6 && ft.icmpType < 128 && this.findQuote(frame, ft);
    const tracked = ft.proto === IpProtocol.TCP || ft.proto === IpProtocol.UDP || this.related;
    const ref = this.related
      ? this.trackRelated(frame, nowNs)
      : tracked
        ? ct.track(p.saddr, p.daddr, ft.sport, ft.dport, ft.proto, ft.tcpFlags, nowNs)
        : asConnRef(CT_TRACK_INVALID);
    if (ref < 0) this.related = false;
    if (ref === CT_TRACK_DROP) return PathVerdict.CT_FULL;
    this.ref = ref;
    this.firstPacket = ref >= 0 && (ct.status[connOf(ref)] & CtStatus.CONFIRMED) === 0;
    const meta = this.fillMeta(hook, p, inIface, outIface, nowNs);
    if (inIface !== 'lo') meta.mark = 0;
    meta.ctState = !tracked ? CtState.UNTRACKED : ref === CT_TRACK_INVALID ? CtState.INVALID : ct.ctState;
    this.refreshNatState();
    meta.natDone = ref < 0 || (ct.status[connOf(ref)] & CtStatus.DST_NAT_DONE) !== 0;
    const v = this.runProgram(trace);
    if (v !== PathVerdict.CONTINUE) return v;
    if (!meta.natDone) {
      this.applyDnat(hook);
      ct.status[connOf(ref)] |= CtStatus.DST_NAT_DONE;
    }
    if (ref >= 0 && ct.needsDstRewrite(ref)) this.rewriteDst(frame, p);
    return PathVerdict.CONTINUE;
  }

  /**
   * INPUT or FORWARD: the hook's rules only. At INPUT a DNAT request means IPVS claimed the
   * packet (ip_vs_nat_xmit rewrites and re-routes it instead of delivering it): the binding
   * is made and the bytes rewritten here, and `redirected` tells the host.
   */
  runHook(
    hook: NfHook,
    frame: Uint8Array,
    p: Ipv6Packet,
    inIface: string,
    outIface: string,
    nowNs: number,
    trace: RuleTraceSink | null,
  ): PathVerdict {
    const meta = this.fillMeta(hook, p, inIface, outIface, nowNs);
    this.refreshNatState();
    meta.natDone = true;
    const v = this.runProgram(trace);
    if (v !== PathVerdict.CONTINUE || this.result.nat !== NatKind.DNAT) return v;
    this.applyDnat(hook);
    if (this.ref >= 0 && this.conntrack.needsDstRewrite(this.ref)) this.rewriteDst(frame, p);
    return v;
  }

  /** True when the last runHook redirected the packet (IPVS DNAT at INPUT). */
  get redirected(): boolean {
    return this.result.nat === NatKind.DNAT;
  }

  /** POSTROUTING: rules, source manip (SNAT/MASQUERADE to `outAddr`, an address index), confirm. */
  runPostrouting(
    frame: Uint8Array,
    p: Ipv6Packet,
    inIface: string,
    outIface: string,
    outAddr: number,
    nowNs: number,
    trace: RuleTraceSink | null,
  ): PathVerdict {
    const meta = this.fillMeta(NfHook.POSTROUTING, p, inIface, outIface, nowNs);
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
        if (addr === 0 || ct.setSnat(connOf(ref), addr, r.natPortMin, r.natPortMax, flags) < 0) {
          ct.release(ref);
          this.ref = asConnRef(CT_TRACK_INVALID);
          return PathVerdict.NAT_FAILED;
        }
      }
      ct.status[connOf(ref)] |= CtStatus.SRC_NAT_DONE;
    }
    if (ref >= 0 && ct.needsSrcRewrite(ref)) this.rewriteSrc(frame, p);
    return this.confirm(nowNs);
  }

  /** Local delivery after INPUT: source manip for replies, then confirm. */
  finishInput(frame: Uint8Array, p: Ipv6Packet, nowNs: number): PathVerdict {
    const ref = this.ref;
    if (ref >= 0 && this.conntrack.needsSrcRewrite(ref)) this.rewriteSrc(frame, p);
    return this.confirm(nowNs);
  }

  /** The error quotes an IPv6 TCP/UDP packet with its ports: remember where. */
  private findQuote(frame: Uint8Array, ft: Ipv6Packet['ft']): boolean {
    const inner = ft.l4Offset + 8;
    if (inner + 40 + 8 > ft.l4Offset + ft.l4Length || frame[inner] >>> 4 !== 6) return false;
    const proto = frame[inner + Ipv6Field.NEXT_HEADER];
    if (proto !== IpProtocol.TCP && proto !== IpProtocol.UDP) return false;
    this.quoteIp = inner;
    return true;
  }

  /** icmpv6_error_message: the quoted tuple's connection, the error RELATED to it. */
  private trackRelated(frame: Uint8Array, nowNs: number): ConnRef {
    const q = this.quoteIp;
    const a = this.addresses;
    const l4 = q + 40;
    return this.conntrack.trackRelated(
      a.intern(frame, q + Ipv6Field.SRC),
      a.intern(frame, q + Ipv6Field.DST),
      (frame[l4] << 8) | frame[l4 + 1],
      (frame[l4 + 2] << 8) | frame[l4 + 3],
      frame[q + Ipv6Field.NEXT_HEADER],
      nowNs,
    );
  }

  /**
   * NAT of a RELATED error: the outer address (`outerField`) becomes `addr`, and the quoted
   * packet's opposite endpoint (`quoteField`, its port at `portField`) becomes `addr`:`port`;
   * then the ICMPv6 checksum, which covers all of it, is recomputed.
   */
  private rewriteRelated(
    frame: Uint8Array,
    p: Ipv6Packet,
    outerField: number,
    quoteField: number,
    portField: number,
    addr: number,
    port: number,
  ): void {
    const ft = p.ft;
    const q = this.quoteIp;
    const store = this.addresses.storeOf();
    rewriteIpv6Endpoint(
      frame,
      q,
      quoteField,
      q + 40,
      portField,
      frame[q + Ipv6Field.NEXT_HEADER],
      store,
      addr * 16,
      port,
    );
    this.addresses.write(addr, frame, ft.ipOffset + outerField);
    frame[ft.l4Offset + 2] = 0;
    frame[ft.l4Offset + 3] = 0;
    const sum = icmpv6Checksum(frame, ft.ipOffset, ft.l4Offset, ft.l4Length);
    frame[ft.l4Offset + 2] = sum >>> 8;
    frame[ft.l4Offset + 3] = sum & 0xff;
  }

  abandon(): void {
    if (this.ref >= 0) this.conntrack.release(this.ref);
    this.ref = asConnRef(CT_TRACK_INVALID);
  }

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
    p: Ipv6Packet,
    inIface: string,
    outIface: string,
    nowNs: number,
  ): PacketMeta {
    const m = this.meta;
    const ft = p.ft;
    m.hook = hook;
    m.saddr = p.saddr;
    m.daddr = p.daddr;
    m.proto = ft.proto;
    m.sport = ft.sport;
    m.dport = ft.dport;
    m.tcpFlags = ft.tcpFlags;
    m.sctpChunk = -1;
    // ip6tables counts the whole packet: the 40-byte header plus its payload.
    m.length = 40 + ft.l4Length + (ft.l4Offset - ft.ipOffset - 40);
    m.inIface = inIface;
    m.outIface = outIface;
    m.nowNs = nowNs;
    return m;
  }

  private runProgram(trace: RuleTraceSink | null): PathVerdict {
    const r = this.result;
    r.reset();
    this.program.runHook(this.meta, r, trace);
    if (r.verdict === HookVerdict.ACCEPT) return PathVerdict.CONTINUE;
    if (this.meta.ctState & CtState.INVALID) return PathVerdict.INVALID;
    return r.verdict === HookVerdict.REJECT ? PathVerdict.REJECT : PathVerdict.DROP;
  }

  private applyDnat(hook: NfHook): void {
    const r = this.result;
    if (r.nat !== NatKind.DNAT || !this.firstPacket || this.ref < 0) return;
    if (hook !== NfHook.PREROUTING && hook !== NfHook.OUTPUT && hook !== NfHook.INPUT) return;
    this.conntrack.setDnat(connOf(this.ref), r.natAddr, r.natPortMin);
  }

  private rewriteDst(frame: Uint8Array, p: Ipv6Packet): void {
    const ct = this.conntrack;
    const daddr = ct.natDaddr(this.ref);
    const dport = ct.natDport(this.ref);
    if (this.related) {
      // At a destination-manip hook the quote's source is translated back (the opposite manip).
      this.rewriteRelated(frame, p, Ipv6Field.DST, Ipv6Field.SRC, TCP_SPORT, daddr, dport);
      p.daddr = daddr;
      return;
    }
    if (daddr === p.daddr && dport === p.ft.dport) return;
    const ft = p.ft;
    rewriteIpv6Endpoint(
      frame,
      ft.ipOffset,
      Ipv6Field.DST,
      ft.l4Offset,
      TCP_DPORT,
      ft.proto,
      this.addresses.storeOf(),
      daddr * 16,
      dport,
    );
    p.daddr = daddr;
    ft.dport = dport;
  }

  private rewriteSrc(frame: Uint8Array, p: Ipv6Packet): void {
    const ct = this.conntrack;
    const saddr = ct.natSaddr(this.ref);
    const sport = ct.natSport(this.ref);
    if (this.related) {
      this.rewriteRelated(frame, p, Ipv6Field.SRC, Ipv6Field.DST, TCP_DPORT, saddr, sport);
      p.saddr = saddr;
      return;
    }
    if (saddr === p.saddr && sport === p.ft.sport) return;
    const ft = p.ft;
    rewriteIpv6Endpoint(
      frame,
      ft.ipOffset,
      Ipv6Field.SRC,
      ft.l4Offset,
      TCP_SPORT,
      ft.proto,
      this.addresses.storeOf(),
      saddr * 16,
      sport,
    );
    p.saddr = saddr;
    ft.sport = sport;
  }
}
