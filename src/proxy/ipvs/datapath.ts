/**
 * What IPVS does to a packet (net/netfilter/ipvs/ip_vs_core.c), for NAT ("Masq") services:
 *
 * - `request()` is ip_vs_in: at LOCAL_IN for packets from other hosts/pods to a VIP bound on
 *   kube-ipvs0 (or a node IP:nodePort), and at LOCAL_OUT for node-originated packets. It
 *   finds or schedules the connection, updates the state machine and counters, and returns
 *   the DNAT target (real server addr:port).
 * - `reply()` is ip_vs_out: replies from the real server (FORWARD, or LOCAL_IN when the
 *   client is the node) get their source rewritten back to the VIP.
 * - `requestTranslated()` is ip_vs_in for a client packet the node's conntrack already
 *   translated to the real server (dpsim keeps IPVS's DNAT as a conntrack binding).
 *
 * Kernel behaviours kept, with kube-proxy's sysctls (conntrack=1, expire_nodest_conn=1,
 * expire_quiescent_template=1; conn_reuse_mode left at its default 1):
 * - TCP schedules only on SYN without RST; other TCP packets with no connection continue
 *   up the stack untouched (NOT_IPVS). UDP schedules on any packet, SCTP on an INIT.
 * - "no destination available" (no real servers, all weight 0) answers ICMP port unreachable.
 * - a SYN hitting an entry in TIME_WAIT/CLOSE (not persistence-controlled), or whose
 *   destination has weight 0, expires it and schedules afresh. (The kernel may drop that
 *   first SYN when the old nf_conntrack entry is still there; dpsim reschedules directly.)
 * - a packet for a connection whose destination was deleted is dropped and the entry expired.
 *
 * Per packet: numbers and typed arrays only; the verdict's NAT fields are written into the
 * reusable `result` object.
 */

import { IpProtocol } from '../../wire/ip-protocol.js';
import { TcpFlag } from '../../wire/tcp.js';
import type { PacketMeta } from '../common/packet-meta.js';
import type { IpvsConnTable } from './conn-table.js';
import {
  DEFAULT_SCTP_TIMEOUTS_S,
  DEFAULT_TCP_TIMEOUTS_S,
  DEFAULT_UDP_TIMEOUT_S,
  IpvsSctpState,
  IpvsTcpState,
  NEW_CONN_TIMEOUT_S,
  nextSctpState,
  nextTcpState,
  TCP_ACTIVE,
  TcpDir,
  TemplateState,
  UDP_STATE_NORMAL,
} from './proto-states.js';
import type { IpvsDest, IpvsService, IpvsServiceTable } from './service-table.js';

const SCTP_CHUNK_INIT = 1;

export const enum IpvsVerdict {
  /** Not an IPVS packet (no service / no connection): continue through the stack unchanged. */
  NOT_IPVS = 0,
  /** NAT applied: send to the rewritten destination (request) or source (reply). */
  FORWARD = 1,
  /** Silently dropped (destination deleted, or a malformed packet). */
  DROP = 2,
  /** Dropped and answered with ICMP port unreachable (no destination available). */
  REJECT = 3,
}

export interface IpvsResult {
  verdict: IpvsVerdict;
  /** Request: new destination (real server). Reply: unchanged. */
  daddr: number;
  dport: number;
  /** Reply: new source (the VIP). Request: unchanged. */
  saddr: number;
  sport: number;
  /** Connection-table index of the entry used, or -1. */
  conn: number;
}

/** Timeouts the node uses (`ipvsadm --set tcp tcpfin udp`, kube-proxy --ipvs-*-timeout). */
export interface IpvsTimeouts {
  tcpEstablishedS: number;
  tcpFinWaitS: number;
  udpS: number;
}

export const DEFAULT_IPVS_TIMEOUTS: IpvsTimeouts = {
  tcpEstablishedS: DEFAULT_TCP_TIMEOUTS_S[IpvsTcpState.ESTABLISHED],
  tcpFinWaitS: DEFAULT_TCP_TIMEOUTS_S[IpvsTcpState.FIN_WAIT],
  udpS: DEFAULT_UDP_TIMEOUT_S,
};

export interface IpvsSysctls {
  /** net.ipv4.vs.expire_nodest_conn (kube-proxy sets 1). */
  expireNodestConn: boolean;
  /** net.ipv4.vs.expire_quiescent_template (kube-proxy sets 1). */
  expireQuiescentTemplate: boolean;
  /** net.ipv4.vs.conn_reuse_mode (kernel default 1; kube-proxy leaves it on kernels ≥ 5.9). */
  connReuseMode: number;
}

export const KUBE_PROXY_SYSCTLS: IpvsSysctls = {
  expireNodestConn: true,
  expireQuiescentTemplate: true,
  connReuseMode: 1,
};

/** FTP control port: persistent templates for port 21 services use vport 0 (FTP data). */
const FTPPORT = 21;

export class IpvsDatapath {
  readonly result: IpvsResult = {
    verdict: IpvsVerdict.NOT_IPVS,
    daddr: 0,
    dport: 0,
    saddr: 0,
    sport: 0,
    conn: -1,
  };
  private readonly tcpTimeouts: Float64Array;
  private readonly udpTimeoutS: number;

  constructor(
    readonly services: IpvsServiceTable,
    readonly conns: IpvsConnTable,
    timeouts: IpvsTimeouts = DEFAULT_IPVS_TIMEOUTS,
    readonly sysctls: IpvsSysctls = KUBE_PROXY_SYSCTLS,
  ) {
    this.tcpTimeouts = Float64Array.from(DEFAULT_TCP_TIMEOUTS_S);
    this.tcpTimeouts[IpvsTcpState.ESTABLISHED] = timeouts.tcpEstablishedS;
    this.tcpTimeouts[IpvsTcpState.FIN_WAIT] = timeouts.tcpFinWaitS;
    this.udpTimeoutS = timeouts.udpS;
  }

  /** ip_vs_in: client → virtual service. `tcpFlags` is TCP header byte 13 (0 for UDP/SCTP). */
  request(meta: PacketMeta, tcpFlags: number): IpvsVerdict {
    const r = this.result;
    r.conn = -1;
    r.saddr = meta.saddr;
    r.sport = meta.sport;
    r.daddr = meta.daddr;
    r.dport = meta.dport;
    const proto = meta.proto;
    if (proto !== IpProtocol.TCP && proto !== IpProtocol.UDP && proto !== IpProtocol.SCTP)
      return this.done(IpvsVerdict.NOT_IPVS);
    const now = meta.nowNs;
    const ct = this.conns;
    let cp = this.liveIn(proto, meta.saddr, meta.sport, meta.daddr, meta.dport, now);

    const isSyn = proto === IpProtocol.TCP && (tcpFlags & TcpFlag.SYN) !== 0;
    if (cp >= 0 && isSyn && this.shouldReschedule(cp)) {
      ct.expire(cp, now);
      cp = -1;
    }

    if (cp < 0) {
      const svc = this.services.find(proto, meta.daddr, meta.dport);
      if (svc === undefined) return this.done(IpvsVerdict.NOT_IPVS);
      if (proto === IpProtocol.TCP && (!isSyn || (tcpFlags & TcpFlag.RST) !== 0))
        return this.done(IpvsVerdict.NOT_IPVS);
      // sctp_conn_schedule: only an INIT opens a connection (sloppy_sctp off, the default).
      if (proto === IpProtocol.SCTP && meta.sctpChunk !== SCTP_CHUNK_INIT)
        return this.done(IpvsVerdict.NOT_IPVS);
      cp = svc.persistent
        ? this.schedulePersistent(svc, meta.saddr, meta.sport, meta.daddr, meta.dport, now)
        : this.scheduleOne(svc, meta.saddr, meta.sport, meta.daddr, meta.dport, now);
      if (cp < 0) return this.done(IpvsVerdict.REJECT);
    }
    return this.forwardIn(cp, meta, tcpFlags);
  }

  /**
   * ip_vs_in for a client packet whose destination was already rewritten to the real
   * server. In the kernel IPVS rewrites every packet itself; in dpsim the first packet's
   * DNAT becomes a conntrack binding, so the connection's later client packets arrive
   * already translated and are forwarded instead of going through LOCAL_IN. This finds
   * their IPVS connection by the translated tuple (as xt_ipvs does) and advances its
   * state and counters exactly like `request`. A SYN that the kernel would reschedule
   * (TIME_WAIT reuse) keeps conntrack's binding here.
   */
  requestTranslated(meta: PacketMeta, tcpFlags: number): IpvsVerdict {
    if (!this.beginPacket(meta)) return this.done(IpvsVerdict.NOT_IPVS);
    const cp = this.liveConnection(meta.proto, meta.daddr, meta.dport, meta.saddr, meta.sport, meta.nowNs);
    if (cp < 0) return this.done(IpvsVerdict.NOT_IPVS);
    return this.forwardIn(cp, meta, tcpFlags);
  }

  /** The part of ip_vs_in after the connection is known: destination check, counters, state. */
  private forwardIn(cp: number, meta: PacketMeta, tcpFlags: number): IpvsVerdict {
    const r = this.result;
    const ct = this.conns;
    const now = meta.nowNs;
    const dest = ct.dest[cp];
    if (dest !== null && !dest.available) {
      if (this.sysctls.expireNodestConn) ct.expireNow(cp, now);
      if (ct.expiresNs[cp] <= now) ct.expire(cp, now);
      return this.done(IpvsVerdict.DROP);
    }
    if (dest !== null) {
      dest.stats.inPkts++;
      dest.stats.inBytes += meta.length;
      dest.service.stats.inPkts++;
      dest.service.stats.inBytes += meta.length;
    }
    this.transition(cp, meta.proto, TcpDir.INPUT, meta.proto === IpProtocol.SCTP ? meta.sctpChunk : tcpFlags);
    ct.touch(cp, now);
    r.conn = cp;
    r.daddr = ct.daddr[cp];
    r.dport = ct.dport[cp];
    return this.done(IpvsVerdict.FORWARD);
  }

  /** ip_vs_out: real server → client; rewrites the source back to the virtual address. */
  reply(meta: PacketMeta, tcpFlags: number): IpvsVerdict {
    if (!this.beginPacket(meta)) return this.done(IpvsVerdict.NOT_IPVS);
    const r = this.result;
    const ct = this.conns;
    const proto = meta.proto;
    const now = meta.nowNs;
    const cp = this.liveConnection(proto, meta.saddr, meta.sport, meta.daddr, meta.dport, now);
    if (cp < 0) return this.done(IpvsVerdict.NOT_IPVS);
    const dest = ct.dest[cp];
    if (dest !== null) {
      dest.stats.outPkts++;
      dest.stats.outBytes += meta.length;
      dest.service.stats.outPkts++;
      dest.service.stats.outBytes += meta.length;
    }
    this.transition(cp, proto, TcpDir.OUTPUT, proto === IpProtocol.SCTP ? meta.sctpChunk : tcpFlags);
    ct.touch(cp, now);
    r.conn = cp;
    r.saddr = ct.vaddr[cp];
    r.sport = ct.vport[cp];
    return this.done(IpvsVerdict.FORWARD);
  }

  /** Resets the result to the packet's own tuple; false for protocols IPVS does not handle. */
  private beginPacket(meta: PacketMeta): boolean {
    const r = this.result;
    r.conn = -1;
    r.saddr = meta.saddr;
    r.sport = meta.sport;
    r.daddr = meta.daddr;
    r.dport = meta.dport;
    const proto = meta.proto;
    return proto === IpProtocol.TCP || proto === IpProtocol.UDP || proto === IpProtocol.SCTP;
  }

  /** The real-server-side connection (server ip:port → client ip:port), unless it has expired; -1 otherwise. */
  private liveConnection(
    proto: number,
    raddr: number,
    rport: number,
    caddr: number,
    cport: number,
    now: number,
  ): number {
    const ct = this.conns;
    const cp = ct.findOut(proto, raddr, rport, caddr, cport);
    if (cp >= 0 && ct.expiresNs[cp] <= now && ct.expire(cp, now)) return -1;
    return cp;
  }

  private done(v: IpvsVerdict): IpvsVerdict {
    this.result.verdict = v;
    return v;
  }

  /** Lookup that honours timers which fired before `now` (the kernel's timers run on their own). */
  private liveIn(
    proto: number,
    caddr: number,
    cport: number,
    vaddr: number,
    vport: number,
    now: number,
  ): number {
    const ct = this.conns;
    const cp = ct.findIn(proto, caddr, cport, vaddr, vport);
    if (cp >= 0 && ct.expiresNs[cp] <= now && ct.expire(cp, now)) return -1;
    return cp;
  }

  private shouldReschedule(cp: number): boolean {
    const ct = this.conns;
    const dest = ct.dest[cp];
    if (this.sysctls.expireNodestConn && dest !== null && dest.weight === 0) return ct.nControl[cp] === 0;
    if (this.sysctls.connReuseMode === 0 || ct.control[cp] >= 0) return false;
    const s = ct.state[cp];
    return ct.nControl[cp] === 0 && (s === IpvsTcpState.TIME_WAIT || s === IpvsTcpState.CLOSE);
  }

  private newConn(
    svc: IpvsService,
    dest: IpvsDest,
    caddr: number,
    cport: number,
    vaddr: number,
    vport: number,
    now: number,
  ): number {
    const dport = dest.port !== 0 ? dest.port : vport;
    const cp = this.conns.create(
      svc.protocol,
      caddr,
      cport,
      vaddr,
      vport,
      dest.addr,
      dport,
      false,
      dest,
      NEW_CONN_TIMEOUT_S,
      now,
    );
    // ip_vs_conn_stats
    dest.stats.conns++;
    svc.stats.conns++;
    return cp;
  }

  private scheduleOne(
    svc: IpvsService,
    saddr: number,
    sport: number,
    daddr: number,
    dport: number,
    now: number,
  ): number {
    const dest = svc.scheduler.schedule(svc, saddr, sport, daddr);
    if (dest === null) return -1;
    return this.newConn(svc, dest, saddr, sport, daddr, dport, now);
  }

  /** ip_vs_sched_persist: reuse the client's template (same real server) or make one. */
  private schedulePersistent(
    svc: IpvsService,
    saddr: number,
    sport: number,
    daddr: number,
    dport: number,
    now: number,
  ): number {
    const ct = this.conns;
    const snet = (saddr & svc.netmask) >>> 0;
    const tplVport = svc.port === FTPPORT ? 0 : dport;
    let tpl = ct.findTemplate(svc.protocol, snet, daddr, tplVport);
    if (tpl >= 0 && ct.expiresNs[tpl] <= now && ct.nControl[tpl] > 0) {
      // In the kernel every entry's timer fires on its own; here entries are reaped when a
      // lookup meets them, and the connections a due template controls (TIME_WAIT ones
      // nobody sends to) may be past their timers. Reap them first, or the template could
      // never lapse. (Only when a template is due: not on the per-packet path.)
      ct.expireDue(now);
      tpl = ct.findTemplate(svc.protocol, snet, daddr, tplVport);
    }
    if (tpl >= 0 && ct.expiresNs[tpl] <= now && ct.expire(tpl, now)) tpl = -1;
    let dest: IpvsDest | null = null;
    if (tpl >= 0) {
      const d = ct.dest[tpl];
      if (d === null || !d.available || (this.sysctls.expireQuiescentTemplate && d.weight === 0)) {
        ct.invalidateTemplate(tpl);
        tpl = -1;
      } else {
        dest = d;
      }
    }
    if (tpl < 0) {
      dest = svc.scheduler.schedule(svc, saddr, sport, daddr);
      if (dest === null) return -1;
      const tplDport = svc.port === FTPPORT ? 0 : dest.port;
      tpl = ct.create(
        svc.protocol,
        snet,
        0,
        daddr,
        tplVport,
        dest.addr,
        tplDport,
        true,
        dest,
        svc.timeoutS,
        now,
      );
    }
    const cp = this.newConn(svc, dest as IpvsDest, saddr, sport, daddr, dport, now);
    ct.addControl(cp, tpl);
    ct.touch(tpl, now);
    return cp;
  }

  /**
   * ip_vs_set_state: TCP follows tcp_states[] (`flags`: the TCP flags), SCTP sctp_states[]
   * (`flags`: the first chunk's type), UDP refreshes its one timeout.
   */
  private transition(cp: number, proto: number, dir: number, tcpFlags: number): void {
    const ct = this.conns;
    if (proto === IpProtocol.TCP) {
      const next = nextTcpState(dir, tcpFlags, ct.state[cp]);
      ct.setState(cp, next, TCP_ACTIVE[next], this.tcpTimeouts[next]);
      if (next === IpvsTcpState.ESTABLISHED) {
        // ip_vs_control_assure_ct: the controlling template becomes ASSURED.
        const tpl = ct.control[cp];
        if (tpl >= 0) ct.state[tpl] |= TemplateState.ASSURED;
      }
    } else if (proto === IpProtocol.SCTP) {
      const next = nextSctpState(dir === TcpDir.OUTPUT ? 1 : 0, tcpFlags, ct.state[cp]);
      ct.setState(cp, next, next === IpvsSctpState.ESTABLISHED, DEFAULT_SCTP_TIMEOUTS_S[next]);
    } else {
      ct.setState(cp, UDP_STATE_NORMAL, false, this.udpTimeoutS);
    }
  }
}
