/**
 * A simulated Linux host: the external client, a node, or a pod. It owns interfaces, a
 * routing table, a static neighbour table and its local addresses, and runs the IPv4
 * receive/forward/output path. Nodes add netfilter (conntrack + the proxy mode's program,
 * see netfilter-path.ts) and forwarding; pods and the client only deliver to their own
 * sockets. Applications (src/apps) reach the network through `HostTransport`.
 *
 * Per-packet work reads and rewrites the frame in its pool slot through src/wire and
 * reuses one FiveTuple: nothing is allocated on the forwarding path.
 */
import type { SctpReceiver } from '../apps/sctp-stack.js';
import { readQuotedTcpSegment, readTcpSegment, tcpSegmentFrameSpec } from '../apps/segment-codec.js';
import type { Errno, HostTransport, TcpSegment, TimerHandle } from '../apps/transport.js';
import type { QuotedUdp, UdpDatagram, UdpTransport } from '../apps/udp-stack.js';
import { TcAction, type TcProgram, TcResult } from '../proxy/common/datapath.js';
import { NF_HOOK_NAMES, NfHook } from '../proxy/common/packet-meta.js';
import { type SocketLb, SocketLbTranslations } from '../proxy/common/socket-lb.js';
import { DropCounters, DropReason, PATH_VERDICT_DROP_REASON, PathVerdict } from '../trace/drop-reasons.js';
import {
  decapsulatedText,
  deliverIcmpText,
  deliverSctpText,
  deliverTcpText,
  deliverUdpText,
  dropText,
  encapsulatedText,
  hookStepText,
  icmpSentText,
  ipvsRedirectText,
  routeText,
  socketLbNoBackendText,
} from '../trace/host-steps.js';
import type { PacketTracer } from '../trace/packet-trace.js';
import { Rng } from '../util/rng.js';
import { readU16, readU32 } from '../wire/bytes.js';
import {
  decodeSctpPacket,
  decrementTtl,
  type FiveTuple,
  newFiveTuple,
  PARSE_STATUS_TEXT,
  ParseStatus,
  parseFiveTuple,
  SctpDecodeError,
  type SctpPacket,
  verifyIpv4HeaderChecksum,
  verifyTcpChecksum,
  verifyUdpChecksum,
  writeIcmpUnreachableFrame,
  writeSctpFrame,
  writeTcpFrame,
  writeUdpFrame,
} from '../wire/index.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import { TcpFlag } from '../wire/tcp.js';
import { MAX_FRAME } from './frame-pool.js';
import type { Ipv6Stack } from './host6.js';
import { APP_IPV6_BASE } from './ipv6-address-table.js';
import { BROADCAST_MAC_KEY, macKey, NetInterface } from './net-interface.js';
import type { NodeNetfilter } from './netfilter-path.js';
import type { Network } from './network.js';
import { BLACKHOLE, RouteTable } from './routes.js';
import {
  NO_TUNNEL_PEER,
  NOT_TUNNEL_TRAFFIC,
  TUNNEL_MALFORMED,
  type TunnelConfig,
  TunnelEndpoint,
} from './tunnel.js';

export type HostKind = 'client' | 'router' | 'node' | 'pod';

/** What a host does with TCP segments and ICMP errors addressed to it (src/apps' TcpStack). */
export interface TcpReceiver {
  /** `segment.payload` views the received frame: valid during the call only (copy to keep). */
  receive(segment: TcpSegment): void;
  /** An ICMP destination-unreachable quoting a segment this host sent. */
  receiveIcmpError(type: number, code: number, quoted: TcpSegment): void;
}

/** What a host does with UDP datagrams and ICMP errors addressed to it (src/apps' UdpStack). */
export interface UdpReceiver {
  /** False when no socket wants the datagram: the host answers ICMP port unreachable. */
  receive(datagram: UdpDatagram): boolean;
  /** An ICMP destination-unreachable quoting a datagram this host sent; false when no socket took it. */
  receiveIcmpError(type: number, code: number, quoted: QuotedUdp): boolean;
}

const ICMP_DEST_UNREACH = 3;
const ICMP_PORT_UNREACH = 3;
const LOOPBACK_NET = 0x7f000000;

export class Host implements HostTransport, UdpTransport {
  readonly interfaces: NetInterface[] = [];
  readonly routes = new RouteTable();
  /** Static neighbour table: next-hop address → MAC (ARP answered ahead of time). */
  readonly neighbours = new Map<number, Uint8Array>();
  readonly localAddresses = new Set<number>();
  /**
   * Per-host scratch and counters, allocated on first use: most of a large cluster's pods never
   * see a frame, and every small object a pod keeps is live heap the garbage collector walks.
   */
  private dropsStorage: DropCounters | null = null;
  private ftStorage: FiveTuple | null = null;
  private tcStorage: TcResult | null = null;
  /** Set on nodes: conntrack and the proxy mode's rules. */
  netfilter: NodeNetfilter | null = null;
  /** net.ipv4.ip_forward. */
  ipForward = false;
  tcp: TcpReceiver | null = null;
  /**
   * Powered off or cut off from the network (a node going NotReady in `dpsim rollout`): every
   * frame reaching it is dropped (DEV_READY), so neither it nor the pods behind it answer.
   */
  down = false;
  /** The host's UDP sockets; null: every datagram gets ICMP port unreachable. */
  udp: UdpReceiver | null = null;
  /** The host's SCTP endpoint (src/apps/sctp-stack.ts), or null: no SCTP module loaded. */
  sctp: SctpReceiver | null = null;
  /** The host's IPv6 layer on a dual-stack cluster (host6.ts), or null: IPv6 frames are dropped. */
  v6: Ipv6Stack | null = null;
  private tunnelEnd: TunnelEndpoint | null = null;
  /** Set in eBPF mode on nodes: the host's connects to Service addresses are translated. */
  private sockets: SocketLbTranslations | null = null;

  /** This host's drop counters (all zero until the first drop or delivery). */
  get drops(): DropCounters {
    if (this.dropsStorage === null) this.dropsStorage = new DropCounters();
    return this.dropsStorage;
  }

  /** Scratch five-tuple the receive path parses into (one per host, reused for every frame). */
  private get ft(): FiveTuple {
    if (this.ftStorage === null) this.ftStorage = newFiveTuple();
    return this.ftStorage;
  }

  /** Scratch result of this host's tc programs (one per host, reused for every frame). */
  private get tc(): TcResult {
    if (this.tcStorage === null) this.tcStorage = new TcResult();
    return this.tcStorage;
  }

  private rngStorage: Rng | null;
  private readonly rngSeed: number;

  /**
   * `rng` is the host's generator, or the seed of one (`Rng.forkSeed()`) made on first use: a
   * pod that never sends a packet never needs one, and the stream is the same either way.
   */
  constructor(
    readonly network: Network,
    readonly name: string,
    readonly kind: HostKind,
    rng: Rng | number,
  ) {
    this.rngStorage = typeof rng === 'number' ? null : rng;
    this.rngSeed = typeof rng === 'number' ? rng : 0;
    network.addHost(this);
  }

  get rng(): Rng {
    if (this.rngStorage === null) this.rngStorage = new Rng(this.rngSeed);
    return this.rngStorage;
  }

  addInterface(
    name: string,
    mac: Uint8Array,
    addr: number,
    prefixLen: number,
    description: string,
  ): NetInterface {
    const iface = new NetInterface(
      this.network.interfaces.length,
      this,
      name,
      mac,
      addr,
      prefixLen,
      description,
    );
    this.network.registerInterface(iface);
    this.interfaces.push(iface);
    if (addr !== 0) this.localAddresses.add(addr);
    return iface;
  }

  interfaceByName(name: string): NetInterface | undefined {
    return this.interfaces.find((i) => i.name === name);
  }

  isLocal(addr: number): boolean {
    return this.localAddresses.has(addr) || (addr & 0xff000000) >>> 0 === LOOPBACK_NET;
  }

  /** The address a socket binds to when talking to `dst` (the route's interface address). */
  sourceAddressFor(dst: number): number {
    if (dst >= APP_IPV6_BASE) return this.v6 === null ? 0 : this.v6.appSourceAddressFor(dst);
    // A local destination (a VIP bound on kube-ipvs0, the node’s own IP, 127.0.0.0/8) is reached over lo
    // and the kernel picks the destination itself as the source.
    if (this.isLocal(dst)) return dst;
    const route = this.routes.lookup(dst);
    if (route < 0 || this.routes.iface(route) === BLACKHOLE) return 0;
    const iface = this.network.interfaces[this.routes.iface(route)];
    return iface.addr !== 0 ? iface.addr : (this.interfaces.find((i) => i.addr !== 0)?.addr ?? 0);
  }

  // ---------------------------------------------------------------- HostTransport

  nowNs(): number {
    return this.network.nowNs;
  }

  setTimer(delayNs: number, fn: () => void): TimerHandle {
    return this.network.setTimer(delayNs, fn);
  }

  clearTimer(handle: TimerHandle): void {
    this.network.clearTimer(handle);
  }

  /** Set on nodes of an overlay cluster (`--overlay ipip|vxlan`): the tunnel device and its peers. */
  get tunnel(): TunnelConfig | null {
    return this.tunnelEnd === null ? null : this.tunnelEnd.config;
  }

  set tunnel(config: TunnelConfig | null) {
    this.tunnelEnd = config === null ? null : new TunnelEndpoint(config);
  }

  /**
   * recvmsg/getpeername under socket-LB: a peer that is a socket's backend shows as the Service
   * it connected to (also used by the IPv6 layer, whose sockets share the translations).
   */
  untranslatePeer(peer: { src: number; sport: number }, localPort: number): void {
    if (this.sockets !== null) this.sockets.untranslate(peer, localPort);
  }

  /** The mode's socket-LB hook for this host's own sockets (eBPF mode's nodes), or null. */
  get socketLb(): SocketLb | null {
    return this.sockets === null ? null : this.sockets.lb;
  }

  set socketLb(lb: SocketLb | null) {
    this.sockets = lb === null ? null : new SocketLbTranslations(lb);
  }

  /**
   * The connect4 hook: socket-LB picks the backend when the app connects (recorded for the
   * socket's segments), and a Service with no backend to pick fails the connect() with
   * EHOSTUNREACH before any SYN exists, as Cilium's `__sock4_xlate_fwd` does.
   */
  connectError(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
  ): Errno | undefined {
    if (this.sockets === null) return undefined;
    const verdict = this.sockets.connect(localPort, remoteAddr, remotePort, IpProtocol.TCP);
    if (verdict.kind === 'no-backend') {
      if (this.network.tracer !== null)
        this.network.tracer.step(
          this.network.nowNs,
          this.name,
          'socket-lb',
          socketLbNoBackendText(localAddr, localPort, remoteAddr, remotePort),
        );
      return 'EHOSTUNREACH';
    }
    return undefined;
  }

  sendTcp(seg: TcpSegment): void {
    let dst = seg.dst;
    let dport = seg.dport;
    if (this.sockets !== null) {
      const x = this.sockets.outgoing(seg.sport, seg.dst, seg.dport, seg.flags, IpProtocol.TCP);
      if (x !== undefined) {
        dst = x.addr;
        dport = x.port;
      }
    }
    if (dst >= APP_IPV6_BASE) {
      if (this.v6 !== null) this.v6.sendTcp(seg, dst, dport);
      return;
    }
    const pool = this.network.pool;
    const slot = pool.acquire();
    const frame = pool.view(slot);
    // MACs are filled after routing; write placeholders now. The socket-LB may have
    // changed the destination; IP defaults (TTL 64) come from the wire builder.
    const spec = tcpSegmentFrameSpec(seg, ZERO_MAC, ZERO_MAC);
    spec.dst = dst;
    spec.dport = dport;
    const len = writeTcpFrame(frame, 0, spec);
    pool.lengths[slot] = len;
    this.output(slot);
  }

  /**
   * Sends a UDP datagram (UdpTransport): IP defaults are Linux's (TTL 64, DF), the checksum
   * is computed unless the socket asked for none. In eBPF mode a datagram to a Service from
   * the host's own socket is translated by socket-LB (Cilium's sendmsg4), once per socket
   * and Service, as a connected socket is.
   */
  sendUdp(d: UdpDatagram): void {
    let dst = d.dst;
    let dport = d.dport;
    if (this.sockets !== null) {
      const x = this.sockets.outgoing(d.sport, d.dst, d.dport, TcpFlag.SYN, IpProtocol.UDP);
      if (x !== undefined) {
        dst = x.addr;
        dport = x.port;
      }
    }
    if (dst >= APP_IPV6_BASE) {
      if (this.v6 !== null) this.v6.sendUdp(d, dst, dport);
      return;
    }
    const pool = this.network.pool;
    const slot = pool.acquire();
    const len = writeUdpFrame(pool.view(slot), 0, {
      srcMac: ZERO_MAC,
      dstMac: ZERO_MAC,
      src: d.src,
      dst,
      sport: d.sport,
      dport,
      payload: d.payload,
      checksum: d.noChecksum !== true,
    });
    pool.lengths[slot] = len;
    this.output(slot);
  }

  /** Sends an SCTP packet from `src` to `dst` (CRC32c computed here, as the kernel does on output). */
  sendSctp(src: number, dst: number, packet: SctpPacket): void {
    const pool = this.network.pool;
    const slot = pool.acquire();
    const spec = { srcMac: ZERO_MAC, dstMac: ZERO_MAC, src, dst, sctp: packet };
    pool.lengths[slot] = writeSctpFrame(pool.view(slot), 0, spec);
    this.output(slot);
  }

  // ---------------------------------------------------------------- receive path

  /** A frame arrived on `iface` (called by the pump). Consumes the pool slot. */
  receive(iface: NetInterface, slot: number): void {
    const net = this.network;
    const pool = net.pool;
    const frame = pool.view(slot);
    const tracer = net.tracer;
    if (tracer !== null) tracer.step(net.nowNs, this.name, `rx ${iface.name}`, '');
    if (this.down) {
      this.dropSlot(slot, DropReason.DEV_READY);
      return;
    }

    if (iface.tcIngress !== null && !this.runTcIngress(iface, iface.tcIngress, slot)) return;

    const dstMac = macKey(frame, 0);
    if (dstMac !== macKey(iface.mac) && dstMac !== BROADCAST_MAC_KEY) {
      this.dropSlot(slot, DropReason.OTHERHOST);
      return;
    }
    const ft = this.ft;
    const status = parseFiveTuple(frame, ft, 0, pool.lengths[slot]);
    if (status !== ParseStatus.OK) {
      if (status === ParseStatus.NOT_IPV4 && this.v6 !== null && readU16(frame, 12) === ETHERTYPE_IPV6) {
        this.v6.receive(iface, slot);
        return;
      }
      if (tracer !== null) tracer.step(net.nowNs, this.name, 'drop', PARSE_STATUS_TEXT[status]);
      this.dropSlot(
        slot,
        status === ParseStatus.NOT_IPV4 ? DropReason.UNHANDLED_PROTO : DropReason.PKT_TOO_SMALL,
      );
      return;
    }
    if (!verifyIpv4HeaderChecksum(frame, ft.ipOffset)) {
      this.dropSlot(slot, DropReason.IP_CSUM);
      return;
    }
    if (this.tunnelEnd !== null && this.isLocal(ft.daddr) && this.decapsulate(this.tunnelEnd, slot)) return;
    this.ipRcv(iface, slot);
  }

  /** Runs the interface's tc ingress program; false when it consumed the frame (also used by the IPv6 layer). */
  runTcIngress(iface: NetInterface, prog: TcProgram, slot: number): boolean {
    const net = this.network;
    const pool = net.pool;
    const tc = this.tc;
    tc.reset(pool.lengths[slot]);
    prog.run(pool.view(slot), pool.lengths[slot], net.nowNs, tc, net.tracer);
    pool.lengths[slot] = tc.length;
    switch (tc.action) {
      case TcAction.PASS:
        return true;
      case TcAction.DROP: {
        const reason = prog.dropReasonName(tc.dropReason);
        this.drops.tcReasons.set(reason, (this.drops.tcReasons.get(reason) ?? 0) + 1);
        net.drops.tcReasons.set(reason, (net.drops.tcReasons.get(reason) ?? 0) + 1);
        if (net.tracer !== null) net.tracer.step(net.nowNs, this.name, 'drop', `${prog.name}: ${reason}`);
        this.dropSlot(slot, DropReason.TC_PROGRAM);
        return false;
      }
      case TcAction.TX: {
        const mac = this.peerMacOf(iface, slot);
        if (mac === undefined) {
          this.dropSlot(slot, DropReason.NEIGH_FAILED);
          return false;
        }
        this.transmitTo(iface, slot, mac);
        return false;
      }
      case TcAction.REDIRECT: {
        const out = net.interfaces[tc.ifindex];
        const ft = this.ft;
        if (parseFiveTuple(pool.view(slot), ft, 0, pool.lengths[slot]) !== ParseStatus.OK) {
          this.dropSlot(slot, DropReason.PKT_TOO_SMALL);
          return false;
        }
        const mac = this.neighbours.get(tc.nextHop !== 0 ? tc.nextHop : ft.daddr);
        if (mac === undefined) {
          this.dropSlot(slot, DropReason.NEIGH_FAILED);
          return false;
        }
        if (net.tracer !== null)
          net.tracer.step(net.nowNs, this.name, 'redirect', `${prog.name} → ${out.name}`);
        this.transmitTo(out, slot, mac);
        return false;
      }
    }
    return true;
  }

  /** ip_rcv_finish: PREROUTING, the routing decision, then INPUT or FORWARD. */
  private ipRcv(iface: NetInterface, slot: number): void {
    const net = this.network;
    const frame = net.pool.view(slot);
    const ft = this.ft;
    const nf = this.netfilter;
    if (nf !== null) {
      const v = nf.trackAndRunDst(NfHook.PREROUTING, frame, ft, iface.name, '', net.nowNs, net.tracer);
      if (net.tracer !== null) this.traceHook(net.tracer, nf, NfHook.PREROUTING, v);
      if (v !== PathVerdict.CONTINUE) {
        this.refuse(slot, v, iface);
        return;
      }
    }
    if (this.isLocal(ft.daddr)) {
      this.localIn(iface, slot);
      return;
    }
    if (!this.ipForward) {
      this.dropSlot(slot, DropReason.IP_NOT_FORWARDING);
      return;
    }
    this.forward(iface.name, slot);
  }

  /** INPUT, then either local delivery or (IPVS) a rewrite and re-route. */
  private localIn(iface: NetInterface | null, slot: number): void {
    const net = this.network;
    const frame = net.pool.view(slot);
    const ft = this.ft;
    const nf = this.netfilter;
    if (nf !== null) {
      const inName = iface === null ? 'lo' : iface.name;
      const v = nf.runHook(NfHook.INPUT, frame, ft, inName, '', net.nowNs, net.tracer);
      if (net.tracer !== null) this.traceHook(net.tracer, nf, NfHook.INPUT, v);
      if (v !== PathVerdict.CONTINUE) {
        this.refuse(slot, v, iface);
        return;
      }
      if (nf.redirected && !this.isLocal(ft.daddr)) {
        // IPVS (ip_vs_nat_xmit): the packet now goes to a real server.
        if (net.tracer !== null)
          net.tracer.step(net.nowNs, this.name, 'ipvs', ipvsRedirectText(ft.daddr, ft.dport));
        this.routeOut(inName, slot, false);
        return;
      }
      if (nf.finishInput(frame, ft, net.nowNs) !== PathVerdict.CONTINUE) {
        this.dropSlot(slot, DropReason.NAT_FAILED);
        return;
      }
    }
    this.deliverLocal(slot);
  }

  /** ip_forward: TTL, FORWARD, then out. */
  private forward(inName: string, slot: number): void {
    const net = this.network;
    const frame = net.pool.view(slot);
    const ft = this.ft;
    if (ft.ttl <= 1) {
      this.netfilter?.abandon();
      this.dropSlot(slot, DropReason.IP_TTL_EXCEEDED);
      return;
    }
    decrementTtl(frame, ft.ipOffset);
    ft.ttl--;
    this.routeOut(inName, slot, true);
  }

  /** Route lookup, FORWARD (when forwarding), POSTROUTING, neighbour, transmit. */
  private routeOut(inName: string, slot: number, forwarding: boolean): void {
    const net = this.network;
    const frame = net.pool.view(slot);
    const ft = this.ft;
    const nf = this.netfilter;
    const route = this.routes.lookup(ft.daddr);
    if (route < 0) {
      nf?.abandon();
      this.dropSlot(slot, DropReason.IP_NOROUTE);
      return;
    }
    if (this.routes.iface(route) === BLACKHOLE) {
      nf?.abandon();
      this.dropSlot(slot, DropReason.IP_NOROUTE);
      return;
    }
    const out = net.interfaces[this.routes.iface(route)];
    const nextHop = this.routes.nextHop(route, ft.daddr);
    if (net.tracer !== null)
      net.tracer.step(net.nowNs, this.name, 'route', routeText(ft.daddr, nextHop, out.name));
    if (nf !== null) {
      if (forwarding) {
        const v = nf.runHook(NfHook.FORWARD, frame, ft, inName, out.name, net.nowNs, net.tracer);
        if (net.tracer !== null) this.traceHook(net.tracer, nf, NfHook.FORWARD, v);
        if (v !== PathVerdict.CONTINUE) {
          this.refuse(slot, v, null);
          return;
        }
      }
      const v = nf.runPostrouting(frame, ft, inName, out.name, this.outAddress(out), net.nowNs, net.tracer);
      if (net.tracer !== null) this.traceHook(net.tracer, nf, NfHook.POSTROUTING, v);
      if (v !== PathVerdict.CONTINUE) {
        this.refuse(slot, v, null);
        return;
      }
    }
    if (this.tunnelEnd !== null && out === this.tunnelEnd.config.device) {
      this.encapsulate(this.tunnelEnd, slot, nextHop);
      return;
    }
    const mac = this.neighbours.get(nextHop);
    if (mac === undefined) {
      this.dropSlot(slot, DropReason.NEIGH_FAILED);
      return;
    }
    this.transmitTo(out, slot, mac);
  }

  /** Locally generated packet (ip_local_out): route, OUTPUT, re-route after DNAT, POSTROUTING. */
  output(slot: number): void {
    const net = this.network;
    const frame = net.pool.view(slot);
    const ft = this.ft;
    if (parseFiveTuple(frame, ft, 0, net.pool.lengths[slot]) !== ParseStatus.OK) {
      this.dropSlot(slot, DropReason.PKT_TOO_SMALL);
      return;
    }
    const nf = this.netfilter;
    if (nf !== null) {
      const route = this.routes.lookup(ft.daddr);
      const outName =
        route < 0 || this.routes.iface(route) === BLACKHOLE
          ? ''
          : net.interfaces[this.routes.iface(route)].name;
      const v = nf.trackAndRunDst(NfHook.OUTPUT, frame, ft, '', outName, net.nowNs, net.tracer);
      if (net.tracer !== null) this.traceHook(net.tracer, nf, NfHook.OUTPUT, v);
      if (v !== PathVerdict.CONTINUE) {
        this.refuse(slot, v, null);
        return;
      }
    }
    if (this.isLocal(ft.daddr)) {
      // Loopback: POSTROUTING on lo, then straight back in through INPUT.
      if (nf !== null) {
        const v = nf.runPostrouting(frame, ft, '', 'lo', ft.daddr, net.nowNs, net.tracer);
        if (v !== PathVerdict.CONTINUE) {
          this.refuse(slot, v, null);
          return;
        }
        nf.trackAndRunDst(NfHook.PREROUTING, frame, ft, 'lo', '', net.nowNs, null);
      }
      this.localIn(null, slot);
      return;
    }
    this.routeOut('', slot, false);
  }

  /** Address MASQUERADE uses on `out`: its own, or the host's primary address for unnumbered veths. */
  private outAddress(out: NetInterface): number {
    if (out.addr !== 0) return out.addr;
    for (const i of this.interfaces) if (i.addr !== 0) return i.addr;
    return 0;
  }

  /** Writes the Ethernet addresses and hands the frame to the pump (also used by the IPv6 layer). */
  transmitTo(out: NetInterface, slot: number, dstMac: Uint8Array): void {
    const frame = this.network.pool.view(slot);
    frame.set(dstMac, 0);
    frame.set(out.mac, 6);
    if (this.network.tracer !== null)
      this.network.tracer.step(this.network.nowNs, this.name, `tx ${out.name}`, '');
    this.network.transmit(out, slot);
  }

  /**
   * Where a frame sent back out of its ingress device goes (tc TX): the far end of a
   * veth, or on a segment the next hop the FIB gives for the (rewritten) destination — the
   * destination itself when on-link, else its gateway (Cilium's fib lookup before the
   * redirect), so a reply reaches a client behind a router.
   */
  private peerMacOf(iface: NetInterface, slot: number): Uint8Array | undefined {
    if (iface.peer >= 0) return this.network.interfaces[iface.peer].mac;
    const pool = this.network.pool;
    if (this.v6 !== null && readU16(pool.view(slot), 12) === ETHERTYPE_IPV6)
      return this.v6.nextHopMacOf(iface, slot);
    if (parseFiveTuple(pool.view(slot), this.ft, 0, pool.lengths[slot]) !== ParseStatus.OK) return undefined;
    const route = this.routes.lookup(this.ft.daddr);
    const nextHop =
      route >= 0 && this.routes.iface(route) === iface.index
        ? this.routes.nextHop(route, this.ft.daddr)
        : this.ft.daddr;
    return this.neighbours.get(nextHop);
  }

  // ---------------------------------------------------------------- overlay

  /**
   * Wraps the packet for the tunnel to `remoteNode` (the route's next hop) and sends the
   * outer packet out of the underlay interface that reaches it.
   */
  private encapsulate(tunnel: TunnelEndpoint, slot: number, remoteNode: number): void {
    const net = this.network;
    const pool = net.pool;
    const route = this.routes.lookup(remoteNode);
    const underlay =
      route < 0 || this.routes.iface(route) === BLACKHOLE
        ? undefined
        : net.interfaces[this.routes.iface(route)];
    const mac = this.neighbours.get(remoteNode);
    if (underlay === undefined || underlay === tunnel.config.device || mac === undefined) {
      this.dropSlot(slot, DropReason.NEIGH_FAILED);
      return;
    }
    const out = tunnel.encapsulate(pool, slot, this.ft, underlay, mac, remoteNode);
    if (out === NO_TUNNEL_PEER) {
      this.dropSlot(slot, DropReason.NEIGH_FAILED);
      return;
    }
    pool.releaseReplaced(slot);
    if (net.tracer !== null)
      net.tracer.step(net.nowNs, this.name, tunnel.config.kind, encapsulatedText(remoteNode, underlay.name));
    this.transmitTo(underlay, out, mac);
  }

  /**
   * Unwraps an overlay packet addressed to this node and feeds the inner packet to the
   * stack as received on the tunnel device. False when the packet is not tunnel traffic.
   */
  private decapsulate(tunnel: TunnelEndpoint, slot: number): boolean {
    const net = this.network;
    const pool = net.pool;
    const inner = tunnel.decapsulate(pool, slot, this.ft);
    if (inner === NOT_TUNNEL_TRAFFIC) return false;
    if (inner === TUNNEL_MALFORMED) {
      this.dropSlot(slot, DropReason.TUNNEL_DECAP);
      return true;
    }
    // Not counted as delivered: the inner packet is the same packet, still on its way.
    pool.releaseReplaced(slot);
    if (net.tracer !== null)
      net.tracer.step(net.nowNs, this.name, tunnel.config.kind, decapsulatedText(tunnel.config.device.name));
    this.receive(tunnel.config.device, inner);
    return true;
  }

  // ---------------------------------------------------------------- local delivery

  private deliverLocal(slot: number): void {
    const net = this.network;
    const pool = net.pool;
    const frame = pool.view(slot);
    const ft = this.ft;
    if (ft.proto === IpProtocol.TCP) {
      if (!verifyTcpChecksum(frame, ft.l4Offset, ft.l4Length, ft.saddr, ft.daddr)) {
        this.dropSlot(slot, DropReason.TCP_CSUM);
        return;
      }
      const seg = readTcpSegment(frame, ft);
      if (this.sockets !== null) this.sockets.untranslate(seg, seg.dport);
      this.countDelivered();
      if (net.tracer !== null)
        net.tracer.step(
          net.nowNs,
          this.name,
          'deliver',
          deliverTcpText(ft.daddr, ft.dport, ft.saddr, ft.sport),
        );
      // The payload is a view of the frame: the slot is recycled only once the stack has
      // copied what it keeps.
      if (this.tcp !== null) this.tcp.receive(seg);
      pool.release(slot);
      return;
    }
    if (ft.proto === IpProtocol.UDP) {
      this.deliverUdp(slot);
      return;
    }
    if (
      ft.proto === IpProtocol.ICMP &&
      ft.icmpType === ICMP_DEST_UNREACH &&
      quotedProtocol(frame, ft) === IpProtocol.UDP
    ) {
      this.deliverIcmpForUdp(slot);
      return;
    }
    if (ft.proto === IpProtocol.ICMP && ft.icmpType === ICMP_DEST_UNREACH) {
      const quoted = readQuotedTcpSegment(frame, ft);
      pool.release(slot);
      if (quoted === null || this.tcp === null) {
        this.drops.add(DropReason.ICMP_NO_SOCKET);
        net.drops.add(DropReason.ICMP_NO_SOCKET);
        return;
      }
      this.countDelivered();
      if (this.sockets !== null) {
        // The quoted header carries the backend as destination: show the app its Service.
        const q = { src: quoted.dst, sport: quoted.dport };
        this.sockets.untranslate(q, quoted.sport);
        quoted.dst = q.src;
        quoted.dport = q.sport;
      }
      if (net.tracer !== null) net.tracer.step(net.nowNs, this.name, 'deliver', deliverIcmpText(ft.icmpCode));
      this.tcp.receiveIcmpError(ft.icmpType, ft.icmpCode, quoted);
      return;
    }
    if (ft.proto === IpProtocol.SCTP) {
      this.deliverSctp(slot);
      return;
    }
    this.dropSlot(slot, DropReason.UNHANDLED_PROTO);
  }

  /** udp_rcv: checksum (0 = none sent), socket lookup, else ICMP port unreachable. */
  private deliverUdp(slot: number): void {
    const net = this.network;
    const pool = net.pool;
    const frame = pool.view(slot);
    const ft = this.ft;
    if (!verifyUdpChecksum(frame, ft.l4Offset, ft.l4Length, ft.saddr, ft.daddr)) {
      this.dropSlot(slot, DropReason.UDP_CSUM);
      return;
    }
    const datagram: UdpDatagram = {
      src: ft.saddr,
      dst: ft.daddr,
      sport: ft.sport,
      dport: ft.dport,
      payload: frame.slice(ft.l4Offset + UDP_HEADER_BYTES, ft.l4Offset + ft.l4Length),
    };
    if (this.sockets !== null) this.sockets.untranslate(datagram, datagram.dport);
    if (this.udp === null || !this.udp.receive(datagram)) {
      // No socket on the port: answer as Linux does for a closed port.
      this.sendIcmpUnreachable(slot, ICMP_PORT_UNREACH, null);
      this.dropSlot(slot, DropReason.NO_SOCKET);
      return;
    }
    pool.release(slot);
    this.countDelivered();
    if (net.tracer !== null)
      net.tracer.step(
        net.nowNs,
        this.name,
        'deliver',
        deliverUdpText(ft.daddr, ft.dport, ft.saddr, ft.sport),
      );
  }

  /** An ICMP unreachable quoting one of our datagrams: to the connected socket that sent it (__udp4_lib_err). */
  private deliverIcmpForUdp(slot: number): void {
    const net = this.network;
    const pool = net.pool;
    const frame = pool.view(slot);
    const ft = this.ft;
    const inner = ft.l4Offset + ICMP_HEADER_BYTES;
    const l4 = inner + (frame[inner] & 0x0f) * 4;
    const quoted: QuotedUdp = {
      src: readU32(frame, inner + 12),
      dst: readU32(frame, inner + 16),
      sport: readU16(frame, l4),
      dport: readU16(frame, l4 + 2),
    };
    const type = ft.icmpType;
    const code = ft.icmpCode;
    pool.release(slot);
    if (this.sockets !== null) {
      // The quoted header carries the backend as destination: show the app its Service.
      const q = { src: quoted.dst, sport: quoted.dport };
      this.sockets.untranslate(q, quoted.sport);
      quoted.dst = q.src;
      quoted.dport = q.sport;
    }
    if (this.udp === null || !this.udp.receiveIcmpError(type, code, quoted)) {
      this.drops.add(DropReason.ICMP_NO_SOCKET);
      net.drops.add(DropReason.ICMP_NO_SOCKET);
      return;
    }
    this.countDelivered();
    if (net.tracer !== null) net.tracer.step(net.nowNs, this.name, 'deliver', deliverIcmpText(code));
  }

  /** sctp_rcv: checksum, chunks, then the endpoint; no SCTP endpoint means protocol unreachable. */
  private deliverSctp(slot: number): void {
    const net = this.network;
    const pool = net.pool;
    const ft = this.ft;
    if (this.sctp === null) {
      // No handler for the protocol: ip_local_deliver_finish answers ICMP protocol unreachable.
      this.sendIcmpUnreachable(slot, 2, null);
      this.dropSlot(slot, DropReason.NO_SOCKET);
      return;
    }
    const d = decodeSctpPacket(pool.view(slot), ft.l4Offset, ft.l4Length, true);
    if (!d.ok) {
      this.dropSlot(
        slot,
        d.error === SctpDecodeError.BAD_CHECKSUM ? DropReason.SCTP_CSUM : DropReason.SCTP_MALFORMED,
      );
      return;
    }
    pool.release(slot);
    this.countDelivered();
    if (net.tracer !== null)
      net.tracer.step(
        net.nowNs,
        this.name,
        'deliver',
        deliverSctpText(ft.daddr, ft.dport, ft.saddr, ft.sport),
      );
    this.sctp.receive(ft.saddr, ft.daddr, d.packet);
  }

  /** Counts a packet handed to a local socket (also used by the IPv6 layer). */
  countDelivered(): void {
    this.drops.delivered++;
    this.network.drops.delivered++;
  }

  // ---------------------------------------------------------------- drops and rejects

  private refuse(
    slot: number,
    v: Exclude<PathVerdict, PathVerdict.CONTINUE>,
    inIface: NetInterface | null,
  ): void {
    const nf = this.netfilter;
    const rejectCode = nf === null ? 3 : nf.result.rejectCode;
    // Release the offending packet's conntrack reference before the ICMP error, which is
    // a new packet of its own through OUTPUT and POSTROUTING.
    nf?.abandon();
    if (v === PathVerdict.REJECT) this.sendIcmpUnreachable(slot, rejectCode, inIface);
    this.dropSlot(slot, PATH_VERDICT_DROP_REASON[v]);
  }

  /** Releases the frame and counts its drop with `reason` (also used by the IPv6 layer). */
  dropSlot(slot: number, reason: DropReason): void {
    const net = this.network;
    if (net.tracer !== null) net.tracer.step(net.nowNs, this.name, 'drop', dropText(reason));
    net.pool.release(slot);
    net.drop(this, reason);
  }

  /**
   * icmp_send(ICMP_DEST_UNREACH): quotes the offending datagram back to its sender. The
   * source is the address the sender called when it is ours, else our address on the
   * route back (icmp_errors_use_inbound_ifaddr = 0).
   */
  private sendIcmpUnreachable(slot: number, code: number, _inIface: NetInterface | null): void {
    const net = this.network;
    const pool = net.pool;
    const frame = pool.view(slot);
    const ft = this.ft;
    const original = frame.subarray(ft.ipOffset, ft.ipOffset + ft.ipTotalLength);
    const dst = ft.saddr;
    const src = this.isLocal(ft.daddr) ? ft.daddr : this.sourceAddressFor(dst);
    const out = pool.acquire();
    const len = writeIcmpUnreachableFrame(pool.view(out), 0, {
      srcMac: ZERO_MAC,
      dstMac: ZERO_MAC,
      src,
      dst,
      code,
      original,
      ttl: 64,
    });
    pool.lengths[out] = len;
    if (len > MAX_FRAME) throw new Error('ICMP error larger than a frame slot');
    if (net.tracer !== null) net.tracer.step(net.nowNs, this.name, 'icmp', icmpSentText(code, dst));
    // The error is a new locally generated packet; the offending one's state is saved and restored.
    const saved = saveTuple(ft);
    this.output(out);
    restoreTuple(ft, saved);
  }

  private traceHook(tracer: PacketTracer, nf: NodeNetfilter, hook: NfHook, v: PathVerdict): void {
    const net = this.network;
    // nf.meta holds the tuple the rules saw, before this hook's NAT.
    const text = hookStepText(v, nf.meta, this.ft, nf.meta.ctState, nf.firstPacket);
    tracer.step(net.nowNs, this.name, NF_HOOK_NAMES[hook], text);
  }
}

const ZERO_MAC = new Uint8Array(6);
const ETHERTYPE_IPV6 = 0x86dd;
const UDP_HEADER_BYTES = 8;
const ICMP_HEADER_BYTES = 8;

/**
 * The protocol of the datagram an ICMP error quotes, or -1 when the quote is too short to
 * hold the original IPv4 header and the 8 bytes of its transport header (RFC 792).
 */
function quotedProtocol(frame: Uint8Array, ft: FiveTuple): number {
  const inner = ft.l4Offset + ICMP_HEADER_BYTES;
  const end = ft.ipOffset + ft.ipTotalLength;
  if (inner + 20 > end || frame[inner] >>> 4 !== 4) return -1;
  const ihl = (frame[inner] & 0x0f) * 4;
  if (ihl < 20 || inner + ihl + 8 > end) return -1;
  return frame[inner + 9];
}

function saveTuple(ft: FiveTuple): FiveTuple {
  return { ...ft };
}

function restoreTuple(ft: FiveTuple, saved: FiveTuple): void {
  Object.assign(ft, saved);
}
