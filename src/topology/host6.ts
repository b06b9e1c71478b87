/**
 * A host's IPv6 layer: its addresses, `ip -6 route`, a static neighbour table (what NDP would
 * learn, filled ahead of time as the IPv4 side's static ARP table is), and the IPv6 receive,
 * forward and output paths — ip6_rcv, ip6_forward (hop limit, ICMPv6 time exceeded),
 * ip6_output — with a node's IPv6 netfilter (netfilter-path6.ts) at the same hooks as IPv4's.
 *
 * The Host hands it every frame whose ethertype is IPv6 and every TCP segment its apps send to
 * an IPv6 address; the IPv4 path never reaches this file. Addresses are address-table indices
 * here (ipv6-address-table.ts) and APP_IPV6_BASE + index towards the apps.
 *
 * TCP is carried; other upper layers arriving for a local address are counted drops
 * (UNHANDLED_PROTO), and ICMPv6 destination-unreachable errors quoting one of our TCP segments
 * reach the socket, as icmpv6_err_convert hands them to TCP.
 */
import { readTcpSegment6 } from '../apps/segment-codec6.js';
import type { TcpSegment } from '../apps/transport.js';
import type { QuotedUdp, UdpDatagram } from '../apps/udp-stack.js';
import type { TcProgram } from '../proxy/common/datapath.js';
import { NF_HOOK_NAMES, NfHook } from '../proxy/common/packet-meta.js';
import { DropReason, PATH_VERDICT_DROP_REASON, PathVerdict } from '../trace/drop-reasons.js';
import {
  deliverIcmpv6Text,
  deliverTcp6Text,
  deliverUdp6Text,
  hookStep6Text,
  icmpv6SentText,
  ipvsRedirect6Text,
  route6Text,
} from '../trace/host-steps6.js';
import { writeIcmpv6ErrorFrame, writeTcp6Frame, writeUdp6Frame } from '../wire/build6.js';
import { readU16, readU32 } from '../wire/bytes.js';
import { verifyIpv6L4Checksum } from '../wire/checksum6.js';
import {
  newIpv6FiveTuple,
  PARSE6_STATUS_TEXT,
  Parse6Status,
  parseIpv6FiveTuple,
} from '../wire/five-tuple6.js';
import { Icmpv6Type } from '../wire/icmpv6.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import { decrementHopLimit, IPV6_HEADER_LENGTH, Ipv6Field } from '../wire/ipv6.js';
import { TcpField } from '../wire/tcp.js';
import { MAX_FRAME } from './frame-pool.js';
import type { Host } from './host.js';
import { APP_IPV6_BASE, appIpv6, type Ipv6AddressTable } from './ipv6-address-table.js';
import type { NetInterface } from './net-interface.js';
import type { Ipv6Packet, NodeNetfilter6 } from './netfilter-path6.js';
import { BLACKHOLE, RouteTable6 } from './routes6.js';

const ICMPV6_HEADER = 8;
/** ICMPv6 destination-unreachable codes (RFC 4443). */
const UNREACH_NO_ROUTE = 0;
const UNREACH_PORT = 4;
const ZERO_MAC = new Uint8Array(6);

/**
 * The ICMPv4 (type, code) whose meaning the TCP socket layer knows for an ICMPv6 error, as
 * icmpv6_err_convert maps them: port unreachable → ECONNREFUSED (fatal), the other
 * unreachables → EHOSTUNREACH (fatal), time exceeded → EHOSTUNREACH (soft).
 */
function icmpv4Equivalent(type: number, code: number): [number, number] | null {
  if (type === Icmpv6Type.DEST_UNREACHABLE) return code === UNREACH_PORT ? [3, 3] : [3, 10];
  if (type === Icmpv6Type.TIME_EXCEEDED) return [11, 0];
  return null;
}

export class Ipv6Stack {
  readonly routes: RouteTable6;
  /** Static neighbour table: next-hop address index → MAC (NDP answered ahead of time). */
  readonly neighbours = new Map<number, Uint8Array>();
  /** The host's own IPv6 addresses (indices); ::1 is always local. */
  readonly localAddresses = new Set<number>();
  /** Each interface's IPv6 address index (topology-wide interface index → address), when it has one. */
  readonly interfaceAddresses = new Map<number, number>();
  /** net.ipv6.conf.all.forwarding. */
  forwarding = false;
  /** Set on nodes: IPv6 conntrack and the IPv6 proxier's rules. */
  netfilter: NodeNetfilter6 | null = null;
  /**
   * eBPF mode: the node's IPv6 tc ingress programs — Cilium's cil_from_netdev (eth0, the
   * tunnel device) and cil_from_container (pod veths) handle both families; the IPv4 half
   * passes IPv6 frames on, and they run here before ip6_rcv.
   */
  tc: { readonly netdev: TcProgram; readonly container: TcProgram } | null = null;
  readonly loopback: number;

  private readonly pkt: Ipv6Packet = { ft: newIpv6FiveTuple(), saddr: 0, daddr: 0 };
  private readonly src16 = new Uint8Array(16);
  private readonly dst16 = new Uint8Array(16);

  constructor(
    readonly host: Host,
    readonly addresses: Ipv6AddressTable,
  ) {
    this.routes = new RouteTable6(addresses);
    this.loopback = addresses.internText('::1');
  }

  addAddress(iface: NetInterface, index: number): void {
    this.localAddresses.add(index);
    if (!this.interfaceAddresses.has(iface.index)) this.interfaceAddresses.set(iface.index, index);
  }

  isLocal(index: number): boolean {
    return index === this.loopback || this.localAddresses.has(index);
  }

  /** The source address (index) a socket binds to for `dst` (index): the route's interface address; 0 for none. */
  sourceAddressFor(dst: number): number {
    if (this.isLocal(dst)) return dst;
    const route = this.routes.lookup(dst);
    if (route < 0 || this.routes.iface(route) === BLACKHOLE) return 0;
    return this.outAddress(this.routes.iface(route));
  }

  /** The MAC of the next hop towards the IPv6 frame's destination out of `iface` (a tc program's TX). */
  nextHopMacOf(iface: NetInterface, slot: number): Uint8Array | undefined {
    const pool = this.host.network.pool;
    const ft = this.pkt.ft;
    if (parseIpv6FiveTuple(pool.view(slot), ft, 0, pool.lengths[slot]) !== Parse6Status.OK) return undefined;
    const daddr = this.addresses.intern(pool.view(slot), ft.daddrAt);
    const route = this.routes.lookup(daddr);
    const nextHop =
      route >= 0 && this.routes.iface(route) === iface.index ? this.routes.nextHop(route, daddr) : daddr;
    return this.neighbours.get(nextHop);
  }

  /** An interface's address, or the host's first one for an unnumbered veth (as IPv4's outAddress). */
  private outAddress(ifaceIndex: number): number {
    const own = this.interfaceAddresses.get(ifaceIndex);
    if (own !== undefined) return own;
    for (const a of this.interfaceAddresses.values()) return a;
    return 0;
  }

  /** sourceAddressFor for an application's IPv6 handle (0: no route). */
  appSourceAddressFor(dst: number): number {
    const src = this.sourceAddressFor(dst - APP_IPV6_BASE);
    return src === 0 ? 0 : appIpv6(src);
  }

  // ---------------------------------------------------------------- output

  /**
   * A datagram from the host's UDP sockets to an IPv6 peer (a checksum always: IPv6 requires
   * one), to `dst`:`dport` when socket-LB translated the socket's Service.
   */
  sendUdp(d: UdpDatagram, dst = d.dst, dport = d.dport): void {
    const pool = this.host.network.pool;
    const slot = pool.acquire();
    this.addresses.write(d.src - APP_IPV6_BASE, this.src16, 0);
    this.addresses.write(dst - APP_IPV6_BASE, this.dst16, 0);
    pool.lengths[slot] = writeUdp6Frame(pool.view(slot), 0, {
      srcMac: ZERO_MAC,
      dstMac: ZERO_MAC,
      src: this.src16,
      dst: this.dst16,
      sport: d.sport,
      dport,
      payload: d.payload,
    });
    this.output(slot);
  }

  /**
   * A segment from the host's TCP stack to an IPv6 peer (addresses are APP_IPV6_BASE + index),
   * to `dst`:`dport` when socket-LB translated the socket's Service.
   */
  sendTcp(seg: TcpSegment, dst = seg.dst, dport = seg.dport): void {
    const pool = this.host.network.pool;
    const slot = pool.acquire();
    this.addresses.write(seg.src - APP_IPV6_BASE, this.src16, 0);
    this.addresses.write(dst - APP_IPV6_BASE, this.dst16, 0);
    pool.lengths[slot] = writeTcp6Frame(pool.view(slot), 0, {
      srcMac: ZERO_MAC,
      dstMac: ZERO_MAC,
      src: this.src16,
      dst: this.dst16,
      sport: seg.sport,
      dport,
      seq: seg.seq,
      ack: seg.ack,
      flags: seg.flags,
      window: seg.window,
      options: seg.options,
      payload: seg.payload,
    });
    this.output(slot);
  }

  /** ip6_local_out: OUTPUT (conntrack, nat, filter), then loopback or route, POSTROUTING. */
  output(slot: number): void {
    const net = this.host.network;
    const frame = net.pool.view(slot);
    if (!this.parse(slot)) return;
    const p = this.pkt;
    const nf = this.netfilter;
    if (nf !== null) {
      const route = this.routes.lookup(p.daddr);
      const outName =
        route < 0 || this.routes.iface(route) === BLACKHOLE
          ? ''
          : net.interfaces[this.routes.iface(route)].name;
      const seen = this.snapshot();
      const v = nf.trackAndRunDst(NfHook.OUTPUT, frame, p, '', outName, net.nowNs, net.tracer);
      if (seen !== null) this.traceHook(NfHook.OUTPUT, seen, v);
      if (v !== PathVerdict.CONTINUE) {
        this.refuse(slot, v);
        return;
      }
    }
    if (this.isLocal(p.daddr)) {
      if (nf !== null) {
        const v = nf.runPostrouting(frame, p, '', 'lo', p.daddr, net.nowNs, net.tracer);
        if (v !== PathVerdict.CONTINUE) {
          this.refuse(slot, v);
          return;
        }
        nf.trackAndRunDst(NfHook.PREROUTING, frame, p, 'lo', '', net.nowNs, null);
      }
      this.localIn(null, slot);
      return;
    }
    this.routeOut('', slot, false);
  }

  // ---------------------------------------------------------------- receive

  /** ip6_rcv: a frame whose ethertype is IPv6 arrived on `iface` (MAC already checked). Consumes the slot. */
  receive(iface: NetInterface, slot: number): void {
    const net = this.host.network;
    const tc = this.tc;
    if (tc !== null) {
      const prog =
        iface.name === 'eth0' || iface === this.host.tunnel?.device
          ? tc.netdev
          : iface.peer >= 0
            ? tc.container
            : null;
      if (prog !== null && !this.host.runTcIngress(iface, prog, slot)) return;
    }
    if (!this.parse(slot)) return;
    const p = this.pkt;
    const frame = net.pool.view(slot);
    const nf = this.netfilter;
    if (nf !== null) {
      const seen = this.snapshot();
      const v = nf.trackAndRunDst(NfHook.PREROUTING, frame, p, iface.name, '', net.nowNs, net.tracer);
      if (seen !== null) this.traceHook(NfHook.PREROUTING, seen, v);
      if (v !== PathVerdict.CONTINUE) {
        this.refuse(slot, v);
        return;
      }
    }
    if (this.isLocal(p.daddr)) {
      this.localIn(iface, slot);
      return;
    }
    if (!this.forwarding) {
      this.host.dropSlot(slot, DropReason.IP_NOT_FORWARDING);
      return;
    }
    // ip6_forward: a packet whose hop limit would reach 0 is answered with time exceeded.
    if (p.ft.hopLimit <= 1) {
      this.sendIcmpError(slot, Icmpv6Type.TIME_EXCEEDED, 0);
      this.host.dropSlot(slot, DropReason.IP_TTL_EXCEEDED);
      return;
    }
    decrementHopLimit(frame, p.ft.ipOffset);
    p.ft.hopLimit--;
    this.routeOut(iface.name, slot, true);
  }

  /** Parses the frame into this.pkt (addresses interned); false (and a counted drop) when malformed. */
  private parse(slot: number): boolean {
    const net = this.host.network;
    const frame = net.pool.view(slot);
    const p = this.pkt;
    const status = parseIpv6FiveTuple(frame, p.ft, 0, net.pool.lengths[slot]);
    if (status !== Parse6Status.OK) {
      if (net.tracer !== null) net.tracer.step(net.nowNs, this.host.name, 'drop', PARSE6_STATUS_TEXT[status]);
      this.host.dropSlot(
        slot,
        status === Parse6Status.FRAGMENT ? DropReason.UNHANDLED_PROTO : DropReason.PKT_TOO_SMALL,
      );
      return false;
    }
    p.saddr = this.addresses.intern(frame, p.ft.saddrAt);
    p.daddr = this.addresses.intern(frame, p.ft.daddrAt);
    return true;
  }

  /** Routing, FORWARD (forwarded packets), POSTROUTING, neighbour, transmit. */
  private routeOut(inName: string, slot: number, forwarded: boolean): void {
    const host = this.host;
    const net = host.network;
    const frame = net.pool.view(slot);
    const p = this.pkt;
    const route = this.routes.lookup(p.daddr);
    if (route < 0) {
      if (forwarded) this.sendIcmpError(slot, Icmpv6Type.DEST_UNREACHABLE, UNREACH_NO_ROUTE);
      host.dropSlot(slot, DropReason.IP_NOROUTE);
      return;
    }
    if (this.routes.iface(route) === BLACKHOLE) {
      host.dropSlot(slot, DropReason.IP_NOROUTE);
      return;
    }
    const out = net.interfaces[this.routes.iface(route)];
    const nextHop = this.routes.nextHop(route, p.daddr);
    if (net.tracer !== null)
      net.tracer.step(
        net.nowNs,
        host.name,
        'route',
        route6Text(this.addresses.text(p.daddr), this.addresses.text(nextHop), out.name),
      );
    const nf = this.netfilter;
    if (nf !== null) {
      if (forwarded) {
        const seen = this.snapshot();
        const v = nf.runHook(NfHook.FORWARD, frame, p, inName, out.name, net.nowNs, net.tracer);
        if (seen !== null) this.traceHook(NfHook.FORWARD, seen, v);
        if (v !== PathVerdict.CONTINUE) {
          this.refuse(slot, v);
          return;
        }
      }
      const seen = this.snapshot();
      const v = nf.runPostrouting(
        frame,
        p,
        inName,
        out.name,
        this.outAddress(out.index),
        net.nowNs,
        net.tracer,
      );
      if (seen !== null) this.traceHook(NfHook.POSTROUTING, seen, v);
      if (v !== PathVerdict.CONTINUE) {
        this.refuse(slot, v);
        return;
      }
    }
    const mac = this.neighbours.get(nextHop);
    if (mac === undefined) {
      host.dropSlot(slot, DropReason.NEIGH_FAILED);
      return;
    }
    host.transmitTo(out, slot, mac);
  }

  /** INPUT, source manip and confirm, then the upper layer. */
  private localIn(iface: NetInterface | null, slot: number): void {
    const net = this.host.network;
    const frame = net.pool.view(slot);
    const p = this.pkt;
    const nf = this.netfilter;
    if (nf !== null) {
      const inName = iface === null ? 'lo' : iface.name;
      const seen = this.snapshot();
      let v = nf.runHook(NfHook.INPUT, frame, p, inName, '', net.nowNs, net.tracer);
      if (seen !== null) this.traceHook(NfHook.INPUT, seen, v);
      if (v === PathVerdict.CONTINUE && nf.redirected && !this.isLocal(p.daddr)) {
        // IPVS (ip_vs_nat_xmit): the packet now goes to a real server.
        if (net.tracer !== null)
          net.tracer.step(
            net.nowNs,
            this.host.name,
            'ipvs',
            ipvsRedirect6Text(this.addresses.text(p.daddr), p.ft.dport),
          );
        this.routeOut(inName, slot, false);
        return;
      }
      if (v === PathVerdict.CONTINUE) v = nf.finishInput(frame, p, net.nowNs);
      if (v !== PathVerdict.CONTINUE) {
        this.refuse(slot, v);
        return;
      }
    }
    this.deliverLocal(slot);
  }

  private deliverLocal(slot: number): void {
    const host = this.host;
    const net = host.network;
    const pool = net.pool;
    const frame = pool.view(slot);
    const p = this.pkt;
    const ft = p.ft;
    if (ft.proto === IpProtocol.TCP) {
      if (!verifyIpv6L4Checksum(frame, ft.ipOffset, ft.l4Offset, ft.l4Length, IpProtocol.TCP)) {
        host.dropSlot(slot, DropReason.TCP_CSUM);
        return;
      }
      const seg = readTcpSegment6(frame, ft, appIpv6(p.saddr), appIpv6(p.daddr));
      host.untranslatePeer(seg, seg.dport);
      pool.release(slot);
      host.countDelivered();
      if (net.tracer !== null)
        net.tracer.step(
          net.nowNs,
          host.name,
          'deliver',
          deliverTcp6Text(this.addresses.text(p.daddr), ft.dport, this.addresses.text(p.saddr), ft.sport),
        );
      host.tcp?.receive(seg);
      return;
    }
    if (ft.proto === IpProtocol.UDP) {
      this.deliverUdp(slot);
      return;
    }
    if (ft.proto === IpProtocol.ICMPV6 && icmpv4Equivalent(ft.icmpType, ft.icmpCode) !== null) {
      this.deliverIcmpError(slot);
      return;
    }
    host.dropSlot(slot, DropReason.UNHANDLED_PROTO);
  }

  /** udpv6_rcv: checksum (0 is invalid over IPv6), socket lookup, else ICMPv6 port unreachable. */
  private deliverUdp(slot: number): void {
    const host = this.host;
    const net = host.network;
    const frame = net.pool.view(slot);
    const p = this.pkt;
    const ft = p.ft;
    if (!verifyIpv6L4Checksum(frame, ft.ipOffset, ft.l4Offset, ft.l4Length, IpProtocol.UDP)) {
      host.dropSlot(slot, DropReason.UDP_CSUM);
      return;
    }
    const datagram: UdpDatagram = {
      src: appIpv6(p.saddr),
      dst: appIpv6(p.daddr),
      sport: ft.sport,
      dport: ft.dport,
      payload: frame.slice(ft.l4Offset + 8, ft.l4Offset + ft.l4Length),
    };
    host.untranslatePeer(datagram, datagram.dport);
    if (host.udp === null || !host.udp.receive(datagram)) {
      this.sendIcmpError(slot, Icmpv6Type.DEST_UNREACHABLE, UNREACH_PORT);
      host.dropSlot(slot, DropReason.NO_SOCKET);
      return;
    }
    net.pool.release(slot);
    host.countDelivered();
    if (net.tracer !== null)
      net.tracer.step(
        net.nowNs,
        host.name,
        'deliver',
        deliverUdp6Text(this.addresses.text(p.daddr), ft.dport, this.addresses.text(p.saddr), ft.sport),
      );
  }

  /** An ICMPv6 error quoting one of our TCP segments or UDP datagrams: to its socket (tcp_v6_err, __udp6_lib_err). */
  private deliverIcmpError(slot: number): void {
    const host = this.host;
    const net = host.network;
    const frame = net.pool.view(slot);
    const ft = this.pkt.ft;
    const inner = ft.l4Offset + ICMPV6_HEADER;
    const end = ft.l4Offset + ft.l4Length;
    const mapped = icmpv4Equivalent(ft.icmpType, ft.icmpCode)!;
    const type = ft.icmpType;
    const code = ft.icmpCode;
    if (!verifyIpv6L4Checksum(frame, ft.ipOffset, ft.l4Offset, ft.l4Length, IpProtocol.ICMPV6)) {
      host.dropSlot(slot, DropReason.PKT_TOO_SMALL);
      return;
    }
    const quoted6 = inner + IPV6_HEADER_LENGTH + 8 <= end && frame[inner] >>> 4 === 6;
    const quotedProto = quoted6 ? frame[inner + Ipv6Field.NEXT_HEADER] : -1;
    if (quotedProto === IpProtocol.UDP && host.udp !== null) {
      const l4u = inner + IPV6_HEADER_LENGTH;
      const q: QuotedUdp = {
        src: appIpv6(this.addresses.intern(frame, inner + Ipv6Field.SRC)),
        dst: appIpv6(this.addresses.intern(frame, inner + Ipv6Field.DST)),
        sport: readU16(frame, l4u),
        dport: readU16(frame, l4u + 2),
      };
      net.pool.release(slot);
      if (!host.udp.receiveIcmpError(mapped[0], mapped[1], q)) {
        host.drops.add(DropReason.ICMP_NO_SOCKET);
        net.drops.add(DropReason.ICMP_NO_SOCKET);
        return;
      }
      host.countDelivered();
      if (net.tracer !== null)
        net.tracer.step(net.nowNs, host.name, 'deliver', deliverIcmpv6Text(type, code));
      return;
    }
    if (quotedProto !== IpProtocol.TCP || host.tcp === null) {
      net.pool.release(slot);
      host.drops.add(DropReason.ICMP_NO_SOCKET);
      net.drops.add(DropReason.ICMP_NO_SOCKET);
      return;
    }
    const l4 = inner + IPV6_HEADER_LENGTH;
    const quoted: TcpSegment = {
      src: appIpv6(this.addresses.intern(frame, inner + Ipv6Field.SRC)),
      dst: appIpv6(this.addresses.intern(frame, inner + Ipv6Field.DST)),
      sport: readU16(frame, l4 + TcpField.SRC_PORT),
      dport: readU16(frame, l4 + TcpField.DST_PORT),
      seq: readU32(frame, l4 + TcpField.SEQ),
      ack: 0,
      flags: 0,
      window: 0,
      options: [],
      payload: new Uint8Array(0),
    };
    // The quoted header carries the backend as destination: show the app its Service.
    const q = { src: quoted.dst, sport: quoted.dport };
    host.untranslatePeer(q, quoted.sport);
    quoted.dst = q.src;
    quoted.dport = q.sport;
    net.pool.release(slot);
    host.countDelivered();
    if (net.tracer !== null) net.tracer.step(net.nowNs, host.name, 'deliver', deliverIcmpv6Text(type, code));
    host.tcp.receiveIcmpError(mapped[0], mapped[1], quoted);
  }

  // ---------------------------------------------------------------- drops and errors

  private refuse(slot: number, v: Exclude<PathVerdict, PathVerdict.CONTINUE>): void {
    const nf = this.netfilter;
    const code = nf === null ? UNREACH_PORT : nf.result.rejectCode;
    nf?.abandon();
    if (v === PathVerdict.REJECT) this.sendIcmpError(slot, Icmpv6Type.DEST_UNREACHABLE, code);
    this.host.dropSlot(slot, PATH_VERDICT_DROP_REASON[v]);
  }

  /**
   * icmp6_send: quotes the offending packet (up to the 1280-byte minimum MTU) back to its
   * source, from the address it was sent to when that is ours, else from our address towards
   * the sender. Never about an ICMPv6 error (RFC 4443 2.4 e).
   */
  private sendIcmpError(slot: number, type: number, code: number): void {
    const host = this.host;
    const net = host.network;
    const pool = net.pool;
    const frame = pool.view(slot);
    const p = this.pkt;
    const ft = p.ft;
    if (ft.proto === IpProtocol.ICMPV6 && ft.icmpType < 128) return;
    const dst = p.saddr;
    const src = this.isLocal(p.daddr) ? p.daddr : this.sourceAddressFor(dst);
    if (src === 0) return;
    const original = frame.subarray(ft.ipOffset, ft.l4Offset + ft.l4Length);
    const out = pool.acquire();
    this.addresses.write(src, this.src16, 0);
    this.addresses.write(dst, this.dst16, 0);
    const len = writeIcmpv6ErrorFrame(pool.view(out), 0, {
      srcMac: ZERO_MAC,
      dstMac: ZERO_MAC,
      src: this.src16,
      dst: this.dst16,
      error:
        type === Icmpv6Type.TIME_EXCEEDED
          ? { kind: 'timeExceeded', code }
          : { kind: 'destUnreachable', code },
      original,
    });
    if (len > MAX_FRAME) throw new Error('ICMPv6 error larger than a frame slot');
    pool.lengths[out] = len;
    if (net.tracer !== null)
      net.tracer.step(net.nowNs, host.name, 'icmp6', icmpv6SentText(type, code, this.addresses.text(dst)));
    // The error is a packet of its own: the offending packet's parse is saved and restored.
    const saved = { ...p.ft };
    const savedS = p.saddr;
    const savedD = p.daddr;
    this.output(out);
    Object.assign(p.ft, saved);
    p.saddr = savedS;
    p.daddr = savedD;
  }

  /** The packet's tuple as text before a hook, when tracing (null otherwise: no per-packet work). */
  private snapshot(): TupleText | null {
    if (this.host.network.tracer === null) return null;
    const p = this.pkt;
    const a = this.addresses;
    return { s: a.text(p.saddr), sport: p.ft.sport, d: a.text(p.daddr), dport: p.ft.dport };
  }

  /** Records one hook in the trace: verdict, the tuple after it and the NAT it did (as the IPv4 path does). */
  private traceHook(hook: NfHook, seen: TupleText, v: PathVerdict): void {
    const net = this.host.network;
    const after = this.snapshot()!;
    const nf = this.netfilter!;
    net.tracer!.step(
      net.nowNs,
      this.host.name,
      NF_HOOK_NAMES[hook],
      hookStep6Text(v, seen, after, nf.meta.ctState, nf.firstPacket),
    );
  }
}

interface TupleText {
  s: string;
  sport: number;
  d: string;
  dport: number;
}
