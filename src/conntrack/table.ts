/**
 * An nf_conntrack-like connection table over the typed-array hash map.
 *
 * Each connection is a record (struct-of-arrays, indexed by a connection id) holding its
 * ORIGINAL and REPLY tuples, status bits, protocol state (TCP or SCTP), mark, use count and
 * expiry. SCTP's state follows the packet's chunks, so before `track` of an SCTP packet the
 * caller hands its bytes over with `setSctpPacket` (the other protocols need only the tuple). As in the
 * kernel, a confirmed connection has two hash nodes — one per tuple — in one table; each
 * node's value is a packet reference `(conn << 1) | dir`, so a single lookup of a packet's
 * own tuple yields the connection and the packet's direction. NAT is expressed by changing
 * the REPLY tuple before confirmation.
 *
 * Per-packet life cycle (mirrors nf_conntrack_in → NAT hooks → nf_conntrack_confirm):
 *   const ref = ct.track(saddr, daddr, sport, dport, proto, tcpFlags, now);  // PREROUTING/OUTPUT
 *   if (ref === CT_TRACK_DROP) drop; if (ref === CT_TRACK_INVALID) packet is ctstate INVALID;
 *   first packet of a connection (ct.isUnconfirmed(ref)): nat rules may call ct.setDnat(connOf(ref), …)
 *   at PREROUTING/OUTPUT and ct.setSnat(connOf(ref), …) at POSTROUTING;
 *   rewrite bytes with ct.needsDstRewrite / natDaddr / natDport (PREROUTING, OUTPUT) and
 *   ct.needsSrcRewrite / natSaddr / natSport (POSTROUTING, INPUT);
 *   leaving POSTROUTING or INPUT: ct.confirm(ref, now) (may return CT_TRACK_DROP on a clash);
 *   dropped on the way: ct.release(ref).
 * Every reference ≥ 0 returned by `track` must be finished by exactly one confirm or release
 * (it holds a use count, like the skb's reference on the kernel conntrack); both ignore the
 * negative results, so a datapath may call them unconditionally. The NAT accessors
 * (needs*Rewrite, nat*) need a reference ≥ 0.
 *
 * Nothing on these paths allocates (checked: zero GCs over millions of packets), except that
 * V8 may box a `nowNs` beyond 2^31 when passing it across a non-inlined call — the price of
 * nanosecond timestamps as plain numbers. Strings appear only in the dump formatter.
 */

import { BPF_NOEXIST } from '../maps/errno.js';
import { packPorts } from '../maps/flow-hash.js';
import { BpfHashMap } from '../maps/hash-map.js';
import type { Rng } from '../util/rng.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import { verifySctpChecksum } from '../wire/sctp.js';
import {
  type ClashResolution,
  CT_TRACK_DROP,
  CT_TRACK_INVALID,
  CtDropReason,
  CtStat,
  CtState,
  CtStatus,
  NAT_ERR_BAD_CONN,
  NAT_ERR_BAD_RANGE,
  NAT_ERR_CONFIRMED,
} from './constants.js';
import { selectSnatPort } from './nat.js';
import {
  SCTP_CT_ASSURE,
  SCTP_CT_INVALID,
  SCTP_CT_NO_REFRESH,
  SctpConntrack,
  sctpCanEarlyDrop,
} from './sctp-state.js';
import {
  TCP_CT_IGNORE,
  TCP_CT_INVALID,
  TcpCtState,
  TcpFlagIndex,
  tcpFlagIndex,
  tcpNextState,
} from './tcp-state.js';
import { type ConntrackTimeouts, defaultTimeouts, NS_PER_SECOND } from './timeouts.js';
import { icmpInverseType, icmpStartsConnection } from './tuple.js';

export interface ConntrackOptions {
  /** `nf_conntrack_max`: connections (not hash nodes) the table may hold. */
  max: number;
  /** Seeded generator for NAT port offsets (the kernel's get_random_u16). */
  rng: Rng;
  /** Timeouts in seconds; defaults to the kernel's. Copied at creation. */
  timeouts?: ConntrackTimeouts;
  /** `nf_conntrack_tcp_loose` (default true): an ACK may pick up a connection mid-stream. */
  tcpLoose?: boolean;
  /** Hash seed for the tuple table. */
  hashSeed?: number;
  /** What confirm does with a UDP clash (default `harder`, current kernels). */
  clashResolution?: ClashResolution;
  /** CPUs receiving packets (default 2): with one, packets are never processed in parallel. */
  cpus?: number;
}

/** How long a clash loser's reply-only entry lives (the kernel's HZ: 1 s). */
const NAT_CLASH_TIMEOUT_NS = NS_PER_SECOND;

export class ConntrackConfigError extends Error {
  override name = 'ConntrackConfigError';
}

/**
 * How many probe slots `early_drop` scans from the new tuple's home slot. The kernel scans
 * 8 buckets (NF_CT_EVICTION_RANGE) of a chained table holding about two tuple nodes per
 * bucket at its default sizing; 16 open-addressing slots cover a similar number of nodes.
 */
export const EARLY_DROP_SLOTS = 16;

/** UDP: a flow still active this long after creation counts as a stream (kernel: 2 s). */
const UDP_STREAM_AFTER_NS = 2 * NS_PER_SECOND;

const enum TcpPacketVerdict {
  ACCEPT = 0,
  INVALID = 1,
  /** An old connection is reopened: kill it and track the packet as new. */
  REOPEN = 2,
  /** Accepted, but the connection is killed (RST before any reply). */
  ACCEPT_AND_KILL = 3,
}

/**
 * A packet reference: `(conn << 1) | dir` (>= 0), or a negative `track` result
 * (CT_TRACK_INVALID / CT_TRACK_DROP). Branded so it cannot be confused with a ConnId:
 * both are plain numbers at run time, so the brand costs nothing on the hot path.
 */
export type ConnRef = number & { readonly __brand: 'ConnRef' };

/** A connection id: the slot of one connection in the table's arrays. */
export type ConnId = number & { readonly __brand: 'ConnId' };

/**
 * Asserts that `n` is a packet reference. Only for values that came from `track`/`find`
 * and were stored as plain numbers (typed arrays, packet metadata).
 */
export function asConnRef(n: number): ConnRef {
  return n as ConnRef;
}

/** Asserts that `n` is a connection id (a slot index, e.g. while walking the table). */
export function asConnId(n: number): ConnId {
  return n as ConnId;
}

/** The connection id of a packet reference. */
export function connOf(ref: ConnRef): ConnId {
  return (ref >>> 1) as ConnId;
}

/** The direction (CtDir) of a packet reference. */
export function dirOf(ref: ConnRef): number {
  return ref & 1;
}

/** A confirmed connection to put back into the table (a `conntrack -L` line, parsed). */
export interface RestoredConnection {
  readonly proto: number;
  readonly orig: {
    readonly saddr: number;
    readonly daddr: number;
    readonly sport: number;
    readonly dport: number;
  };
  readonly reply: {
    readonly saddr: number;
    readonly daddr: number;
    readonly sport: number;
    readonly dport: number;
  };
  /** TcpCtState (0 for other protocols). */
  readonly tcpState: number;
  /** CtStatus bits (CONFIRMED is added). */
  readonly status: number;
  readonly mark: number;
  readonly secondsLeft: number;
}

export class ConntrackTable {
  readonly max: number;
  readonly timeouts: ConntrackTimeouts;
  readonly tcpLoose: boolean;
  /** Tuple → `(conn << 1) | dir`; two nodes per confirmed connection. */
  readonly tuples: BpfHashMap;

  // Connection records, indexed by connection id.
  readonly origSaddr: Uint32Array;
  readonly origDaddr: Uint32Array;
  /** `sport << 16 | dport` of the ORIGINAL tuple (ICMP: id << 16 | type << 8 | code). */
  readonly origPorts: Uint32Array;
  readonly replySaddr: Uint32Array;
  readonly replyDaddr: Uint32Array;
  readonly replyPorts: Uint32Array;
  readonly proto: Uint8Array;
  /** The protocol's state byte (the kernel's `ct->proto` union): TcpCtState, or SctpCtState for SCTP. */
  readonly tcpState: Uint8Array;
  /** SCTP verification tags and INIT bookkeeping per connection. */
  readonly sctp: SctpConntrack;
  /** CtStatus bits. */
  readonly status: Uint16Array;
  /** ct mark (`-j CONNMARK`, `ct mark set`). */
  readonly mark: Uint32Array;
  /** References: 1 for the table once confirmed, +1 per packet in flight. */
  readonly use: Uint32Array;
  /** Absolute expiry on the simulated clock, ns. */
  readonly expiresNs: Float64Array;
  readonly allocated: Uint8Array;

  /** Allocated connections (confirmed, unconfirmed and dying), compared with `max`. */
  count = 0;
  /** Counters indexed by CtStat. */
  readonly stats = new Float64Array(9);
  readonly clashResolution: ClashResolution;
  /** More than one CPU: packets of one flow arriving at the same instant race (trackConcurrent). */
  readonly parallel: boolean;
  /**
   * When each connection was confirmed. A UDP packet arriving from an interface at the very
   * instant another packet of its flow confirmed the flow's entry was processed in parallel
   * on another CPU: `trackConcurrent` does not see that entry (the A/AAAA race).
   */
  private readonly confirmedNs: Float64Array;
  /** Packet drops indexed by CtDropReason. */
  readonly drops = new Float64Array(2);
  /** CtState bits of the packet most recently passed to `track` (NEW/ESTABLISHED/INVALID). */
  ctState = 0;
  /** CtDropReason of the most recent CT_TRACK_DROP (valid only right after one). */
  lastDropReason = 0;

  private readonly rng: Rng;
  private readonly udpStreamNs: Float64Array;
  private readonly origEntry: Int32Array;
  private readonly replyEntry: Int32Array;
  private readonly freeStack: Int32Array;
  private freeTop: number;
  private readonly tcpTimeoutNs: Float64Array;
  private readonly udpNs: number;
  private readonly udpStreamTimeoutNs: number;
  private readonly icmpNs: number;
  private readonly genericNs: number;
  private readonly sctpTimeoutNs: Float64Array;
  /** The SCTP packet handed over by `setSctpPacket` for the next `track`. */
  private sctpBuf: Uint8Array = new Uint8Array(0);
  private sctpL4 = 0;
  private sctpLength = 0;
  private sctpVerifyCrc = false;

  constructor(options: ConntrackOptions) {
    const max = options.max;
    if (!Number.isInteger(max) || max < 1 || max > 1 << 22) {
      throw new ConntrackConfigError(`nf_conntrack_max must be an integer in 1..${1 << 22}, got ${max}`);
    }
    this.max = max;
    this.rng = options.rng;
    this.tcpLoose = options.tcpLoose ?? true;
    this.clashResolution = options.clashResolution ?? 'harder';
    this.parallel = (options.cpus ?? 2) > 1;
    const t = options.timeouts ?? defaultTimeouts();
    this.timeouts = { ...t, tcp: [...t.tcp], sctp: [...t.sctp] };
    this.tcpTimeoutNs = Float64Array.from(this.timeouts.tcp, (s) => s * NS_PER_SECOND);
    this.udpNs = this.timeouts.udp * NS_PER_SECOND;
    this.udpStreamTimeoutNs = this.timeouts.udpStream * NS_PER_SECOND;
    this.icmpNs = this.timeouts.icmp * NS_PER_SECOND;
    this.genericNs = this.timeouts.generic * NS_PER_SECOND;
    this.sctpTimeoutNs = Float64Array.from(this.timeouts.sctp, (s) => s * NS_PER_SECOND);
    this.tuples = new BpfHashMap({ keyWords: 4, valueWords: 1, maxEntries: 2 * max, seed: options.hashSeed });
    this.origSaddr = new Uint32Array(max);
    this.origDaddr = new Uint32Array(max);
    this.origPorts = new Uint32Array(max);
    this.replySaddr = new Uint32Array(max);
    this.replyDaddr = new Uint32Array(max);
    this.replyPorts = new Uint32Array(max);
    this.proto = new Uint8Array(max);
    this.tcpState = new Uint8Array(max);
    this.sctp = new SctpConntrack(max);
    this.status = new Uint16Array(max);
    this.mark = new Uint32Array(max);
    this.use = new Uint32Array(max);
    this.expiresNs = new Float64Array(max);
    this.udpStreamNs = new Float64Array(max);
    this.confirmedNs = new Float64Array(max).fill(-1);
    this.allocated = new Uint8Array(max);
    this.origEntry = new Int32Array(max).fill(-1);
    this.replyEntry = new Int32Array(max).fill(-1);
    this.freeStack = new Int32Array(max);
    for (let i = 0; i < max; i++) this.freeStack[i] = max - 1 - i;
    this.freeTop = max;
  }

  /** Bytes of typed-array storage (records + tuple hash). */
  get byteLength(): number {
    const perConn =
      4 * 6 + // tuples
      1 + // proto
      1 + // tcpState
      2 + // status
      4 + // mark
      4 + // use
      8 + // expiresNs
      8 + // udpStreamNs
      8 + // confirmedNs
      1 + // allocated
      4 * 3; // entries + free stack
    return this.max * perConn + this.tuples.byteLength + this.sctp.byteLength;
  }

  // ------------------------------------------------------------------ per packet

  /**
   * The SCTP packet `buf[l4 .. l4+length)` the next `track` call is about. `verifyCrc`: check
   * its CRC32c first (`sctp_error` at PREROUTING with nf_conntrack_checksum on); a bad one
   * makes the packet INVALID.
   */
  setSctpPacket(buf: Uint8Array, l4: number, length: number, verifyCrc: boolean): void {
    this.sctpBuf = buf;
    this.sctpL4 = l4;
    this.sctpLength = length;
    this.sctpVerifyCrc = verifyCrc;
  }

  /**
   * nf_conntrack_in for one packet. Returns a packet reference `(conn << 1) | dir` (≥ 0)
   * and sets `ctState`, or CT_TRACK_INVALID (packet is INVALID, no connection) or
   * CT_TRACK_DROP (table full; see `lastDropReason`). `tcpFlags` is the TCP flags byte
   * (ignored for other protocols). ICMP: sport = echo id, dport = type << 8 | code.
   */
  track(
    saddr: number,
    daddr: number,
    sport: number,
    dport: number,
    proto: number,
    tcpFlags: number,
    nowNs: number,
  ): ConnRef {
    const ports = packPorts(sport, dport);
    const e = this.tuples.lookupWords(saddr, daddr, ports, proto);
    if (e >= 0) {
      const ref = this.tuples.values[e];
      const conn = ref >>> 1;
      if (this.expiresNs[conn] <= nowNs) {
        this.stats[CtStat.EXPIRED]++;
        this.kill(conn);
      } else {
        this.stats[CtStat.FOUND]++;
        const dir = ref & 1;
        if (this.status[conn] & CtStatus.NAT_CLASH) return this.clashReply(conn, ref);
        const verdict = this.handlePacket(conn, dir, tcpFlags, nowNs);
        if (verdict === TcpPacketVerdict.INVALID) return this.invalid() as ConnRef;
        if (verdict !== TcpPacketVerdict.REOPEN) {
          this.ctState =
            dir === 1 || this.status[conn] & CtStatus.SEEN_REPLY ? CtState.ESTABLISHED : CtState.NEW;
          if (dir === 1) this.status[conn] |= CtStatus.SEEN_REPLY;
          this.use[conn]++;
          if (verdict === TcpPacketVerdict.ACCEPT_AND_KILL) this.kill(conn);
          return ref as ConnRef;
        }
        this.kill(conn);
      }
    }
    return this.trackNew(saddr, daddr, ports, proto, tcpFlags, nowNs) as ConnRef;
  }

  /**
   * `track` for a UDP packet that arrived from an interface while other packets may be in
   * flight on other CPUs: an entry confirmed at this very instant by another packet of the
   * flow, not yet replied, is not found — the packet creates its own connection, walks the
   * nat rules itself and meets the other at confirm (the clash `clashResolution` decides).
   */
  trackConcurrent(saddr: number, daddr: number, sport: number, dport: number, nowNs: number): ConnRef {
    const e = this.tuples.peekWords(saddr, daddr, packPorts(sport, dport), IpProtocol.UDP);
    if (e >= 0 && this.parallel) {
      const ref = this.tuples.values[e];
      const conn = ref >>> 1;
      if (
        (ref & 1) === 0 &&
        this.confirmedNs[conn] === nowNs &&
        (this.status[conn] & (CtStatus.SEEN_REPLY | CtStatus.NAT_CLASH)) === 0
      ) {
        return this.trackNew(saddr, daddr, packPorts(sport, dport), IpProtocol.UDP, 0, nowNs) as ConnRef;
      }
    }
    return this.track(saddr, daddr, sport, dport, IpProtocol.UDP, 0, nowNs);
  }

  /**
   * An ICMP error (icmp_error_message): the quoted datagram's tuple, inverted, is looked up;
   * when it belongs to a live connection the error is RELATED to it and travels in the
   * direction of the matched tuple. Returns that packet reference (holding a use count,
   * like `track`, to be finished by confirm or release) and sets `ctState` to RELATED, or
   * CT_TRACK_INVALID when no connection matches. The connection's timeout is not refreshed.
   */
  trackRelated(
    quotedSaddr: number,
    quotedDaddr: number,
    quotedSport: number,
    quotedDport: number,
    quotedProto: number,
    nowNs: number,
  ): ConnRef {
    const e = this.tuples.lookupWords(
      quotedDaddr,
      quotedSaddr,
      packPorts(quotedDport, quotedSport),
      quotedProto,
    );
    if (e < 0) return this.invalid() as ConnRef;
    const ref = this.tuples.values[e];
    const conn = ref >>> 1;
    if (this.expiresNs[conn] <= nowNs) return this.invalid() as ConnRef;
    this.stats[CtStat.FOUND]++;
    this.use[conn]++;
    this.ctState = CtState.RELATED;
    return ref as ConnRef;
  }

  /**
   * nf_conntrack_confirm: the packet leaves POSTROUTING/INPUT. A new connection gets both
   * tuples inserted and CONFIRMED set; returns 0, or CT_TRACK_DROP when a tuple is already
   * taken (counted as insert_failed; the connection is discarded). Releases the packet's reference.
   * A negative `ref` (INVALID/DROP result of `track`) is accepted as a no-op returning 0.
   */
  confirm(ref: ConnRef, nowNs: number): number {
    if (!this.holdsConnection(ref)) return 0;
    const conn = ref >>> 1;
    const st = this.status[conn];
    if (st & (CtStatus.CONFIRMED | CtStatus.DYING)) {
      this.put(conn);
      return 0;
    }
    const p = this.proto[conn];
    const o = this.tuples.insertWords(
      BPF_NOEXIST,
      this.origSaddr[conn],
      this.origDaddr[conn],
      this.origPorts[conn],
      p,
    );
    const r =
      o < 0
        ? o
        : this.tuples.insertWords(
            BPF_NOEXIST,
            this.replySaddr[conn],
            this.replyDaddr[conn],
            this.replyPorts[conn],
            p,
          );
    if (o < 0 || r < 0) {
      if (o >= 0) this.tuples.deleteEntry(o);
      if (p === IpProtocol.UDP && this.resolveClash(conn, o < 0, nowNs)) return 0;
      this.stats[CtStat.INSERT_FAILED]++;
      this.stats[CtStat.DROP]++;
      this.drops[CtDropReason.INSERT_FAILED]++;
      this.lastDropReason = CtDropReason.INSERT_FAILED;
      this.status[conn] |= CtStatus.DYING;
      this.put(conn);
      return CT_TRACK_DROP;
    }
    this.tuples.values[o] = conn << 1;
    this.tuples.values[r] = (conn << 1) | 1;
    this.origEntry[conn] = o;
    this.replyEntry[conn] = r;
    this.status[conn] |= CtStatus.CONFIRMED;
    this.confirmedNs[conn] = nowNs;
    this.stats[CtStat.INSERT]++;
    // The packet's reference becomes the table's reference: `use` stays as it is.
    return 0;
  }

  /**
   * Inserts a confirmed connection as `conntrack -L` listed it (src/conntrack/restore.ts reads
   * the text): both tuples, the TCP state, status bits, mark and the seconds it has left.
   * Returns its id, or CT_TRACK_DROP when the table is full or a tuple is already taken.
   */
  restore(c: RestoredConnection, nowNs: number): number {
    if (this.count >= this.max) return CT_TRACK_DROP;
    const orig = packPorts(c.orig.sport, c.orig.dport);
    const reply = packPorts(c.reply.sport, c.reply.dport);
    if (
      this.tuples.peekWords(c.orig.saddr, c.orig.daddr, orig, c.proto) >= 0 ||
      this.tuples.peekWords(c.reply.saddr, c.reply.daddr, reply, c.proto) >= 0
    )
      return CT_TRACK_DROP;
    const conn = this.freeStack[--this.freeTop];
    this.allocated[conn] = 1;
    this.count++;
    this.origSaddr[conn] = c.orig.saddr >>> 0;
    this.origDaddr[conn] = c.orig.daddr >>> 0;
    this.origPorts[conn] = orig;
    this.replySaddr[conn] = c.reply.saddr >>> 0;
    this.replyDaddr[conn] = c.reply.daddr >>> 0;
    this.replyPorts[conn] = reply;
    this.proto[conn] = c.proto;
    this.tcpState[conn] = c.tcpState;
    this.status[conn] = c.status | CtStatus.CONFIRMED;
    this.mark[conn] = c.mark >>> 0;
    this.use[conn] = 1;
    this.expiresNs[conn] = nowNs + c.secondsLeft * NS_PER_SECOND;
    this.udpStreamNs[conn] = nowNs;
    const o = this.tuples.insertWords(BPF_NOEXIST, c.orig.saddr, c.orig.daddr, orig, c.proto);
    const r = this.tuples.insertWords(BPF_NOEXIST, c.reply.saddr, c.reply.daddr, reply, c.proto);
    this.tuples.values[o] = conn << 1;
    this.tuples.values[r] = (conn << 1) | 1;
    this.origEntry[conn] = o;
    this.replyEntry[conn] = r;
    this.confirmedNs[conn] = nowNs;
    return conn;
  }

  /**
   * nf_ct_resolve_clash for a UDP connection whose insert failed: true when the packet may
   * go on (joined to the identical existing entry, or inserted for its reply direction only),
   * false for insert_failed. `origTaken` says the original tuple was the one in use.
   */
  private resolveClash(conn: number, origTaken: boolean, nowNs: number): boolean {
    if (this.clashResolution === 'none' || !origTaken) return false;
    const e = this.tuples.peekWords(
      this.origSaddr[conn],
      this.origDaddr[conn],
      this.origPorts[conn],
      IpProtocol.UDP,
    );
    if (e < 0) return false;
    const winner = this.tuples.values[e] >>> 1;
    if (this.status[winner] & CtStatus.DYING) return false;
    const sameReply =
      this.replySaddr[winner] === this.replySaddr[conn] &&
      this.replyDaddr[winner] === this.replyDaddr[conn] &&
      this.replyPorts[winner] === this.replyPorts[conn];
    if (sameReply) {
      // Identical entries: the packet continues on the one already in the table.
      this.status[conn] |= CtStatus.DYING;
      this.put(conn);
      this.stats[CtStat.CLASH_RESOLVE]++;
      return true;
    }
    if (this.clashResolution !== 'harder') return false;
    // Different NAT (another backend): keep the loser for its replies only, briefly.
    const r = this.tuples.insertWords(
      BPF_NOEXIST,
      this.replySaddr[conn],
      this.replyDaddr[conn],
      this.replyPorts[conn],
      IpProtocol.UDP,
    );
    if (r < 0) return false;
    this.tuples.values[r] = (conn << 1) | 1;
    this.origEntry[conn] = -1;
    this.replyEntry[conn] = r;
    this.status[conn] |= CtStatus.CONFIRMED | CtStatus.NAT_CLASH | CtStatus.FIXED_TIMEOUT;
    this.expiresNs[conn] = nowNs + NAT_CLASH_TIMEOUT_NS;
    this.confirmedNs[conn] = nowNs;
    this.stats[CtStat.CLASH_RESOLVE]++;
    return true;
  }

  /** A reply reached a clash loser's entry: it is translated once, and the entry goes away. */
  private clashReply(conn: number, ref: number): ConnRef {
    this.stats[CtStat.FOUND]++;
    this.ctState = CtState.ESTABLISHED;
    this.use[conn]++;
    this.kill(conn);
    return ref as ConnRef;
  }

  /** The packet holding `ref` was dropped (or consumed) before confirmation. */
  release(ref: ConnRef): void {
    if (this.holdsConnection(ref)) this.put(ref >>> 1);
  }

  /** False for the negative `track` results (and stale references), which confirm/release ignore. */
  private holdsConnection(ref: number): boolean {
    return ref >= 0 && ref >>> 1 < this.max && this.allocated[ref >>> 1] === 1;
  }

  // ------------------------------------------------------------------ NAT bindings

  /**
   * DNAT binding for a new (unconfirmed) connection: replies will come from addr:port.
   * `port` 0 keeps the original destination port (`--to-destination addr`). ICMP ignores
   * the port. Returns 0, NAT_ERR_CONFIRMED or NAT_ERR_BAD_CONN.
   */
  setDnat(conn: ConnId, addr: number, port: number): number {
    const err = this.checkNatTarget(conn);
    if (err < 0) return err;
    this.replySaddr[conn] = addr >>> 0;
    if (this.proto[conn] !== IpProtocol.ICMP && port !== 0) {
      this.replyPorts[conn] = ((port & 0xffff) << 16) | (this.replyPorts[conn] & 0xffff);
    }
    this.status[conn] |= CtStatus.DST_NAT;
    return 0;
  }

  /**
   * SNAT/MASQUERADE binding for a new connection: the source becomes `addr` and a source
   * port chosen as nf_nat's get_unique_tuple does (keep the original port when the
   * resulting reply tuple is free and no random flag is set; else search the range from a
   * random offset). `minPort`/`maxPort` = 0/0 means no `--to-ports` (the kernel's default
   * ranges). `flags`: NAT_RANGE_PROTO_RANDOM / NAT_RANGE_PROTO_RANDOM_FULLY.
   * Call after any DNAT. Returns the chosen port (ICMP: id), or a NAT_ERR_* code (NAT_ERR_BAD_RANGE for an empty range).
   */
  setSnat(conn: ConnId, addr: number, minPort: number, maxPort: number, flags: number): number {
    const err = this.checkNatTarget(conn);
    if (err < 0) return err;
    const specified = !(minPort === 0 && maxPort === 0);
    if (
      specified &&
      !(
        Number.isInteger(minPort) &&
        Number.isInteger(maxPort) &&
        minPort >= 0 &&
        minPort <= maxPort &&
        maxPort <= 0xffff
      )
    ) {
      return NAT_ERR_BAD_RANGE;
    }
    const a = addr >>> 0;
    const port = selectSnatPort(this, conn, a, minPort, maxPort, flags, this.rng);
    this.replyDaddr[conn] = a;
    if (this.proto[conn] === IpProtocol.ICMP) {
      this.replyPorts[conn] = (port << 16) | (this.replyPorts[conn] & 0xffff);
    } else {
      this.replyPorts[conn] = ((this.replyPorts[conn] & 0xffff0000) | port) >>> 0;
    }
    this.status[conn] |= CtStatus.SRC_NAT;
    return port;
  }

  /**
   * True while the packet's connection is unconfirmed, i.e. this is the first packet of a
   * new connection: only then do the nat chains run (and setDnat/setSnat apply).
   */
  isUnconfirmed(ref: ConnRef): boolean {
    return ref >= 0 && (this.status[ref >>> 1] & CtStatus.CONFIRMED) === 0;
  }

  /** True when some confirmed connection already owns this tuple (either direction). */
  tupleInUse(saddr: number, daddr: number, sport: number, dport: number, proto: number): boolean {
    return this.tuples.peekWords(saddr, daddr, packPorts(sport, dport), proto) >= 0;
  }

  /** At a destination-manip hook (PREROUTING, OUTPUT): must this packet's destination be rewritten? */
  needsDstRewrite(ref: ConnRef): boolean {
    const st = this.status[ref >>> 1];
    return (ref & 1) === 0 ? (st & CtStatus.DST_NAT) !== 0 : (st & CtStatus.SRC_NAT) !== 0;
  }

  /** At a source-manip hook (POSTROUTING, INPUT): must this packet's source be rewritten? */
  needsSrcRewrite(ref: ConnRef): boolean {
    const st = this.status[ref >>> 1];
    return (ref & 1) === 0 ? (st & CtStatus.SRC_NAT) !== 0 : (st & CtStatus.DST_NAT) !== 0;
  }

  /** Destination address the packet carries after NAT (the other direction's tuple, inverted). */
  natDaddr(ref: ConnRef): number {
    const c = ref >>> 1;
    return (ref & 1) === 0 ? this.replySaddr[c] : this.origSaddr[c];
  }

  /** Destination port after NAT (ICMP: the echo id). */
  natDport(ref: ConnRef): number {
    const c = ref >>> 1;
    const otherPorts = (ref & 1) === 0 ? this.replyPorts[c] : this.origPorts[c];
    return otherPorts >>> 16;
  }

  /** Source address after NAT. */
  natSaddr(ref: ConnRef): number {
    const c = ref >>> 1;
    return (ref & 1) === 0 ? this.replyDaddr[c] : this.origDaddr[c];
  }

  /** Source port after NAT (ICMP: the echo id). */
  natSport(ref: ConnRef): number {
    const c = ref >>> 1;
    const otherPorts = (ref & 1) === 0 ? this.replyPorts[c] : this.origPorts[c];
    return this.proto[c] === IpProtocol.ICMP ? otherPorts >>> 16 : otherPorts & 0xffff;
  }

  // ------------------------------------------------------------------ control

  setMark(conn: ConnId, mark: number): void {
    this.mark[conn] = mark >>> 0;
  }

  /** True for a confirmed, live connection that `conntrack -L` would list at `nowNs`. */
  isListed(conn: ConnId, nowNs: number): boolean {
    return (
      this.allocated[conn] === 1 &&
      (this.status[conn] & (CtStatus.CONFIRMED | CtStatus.DYING | CtStatus.NAT_CLASH)) ===
        CtStatus.CONFIRMED &&
      this.expiresNs[conn] > nowNs
    );
  }

  /** Packet reference for a tuple without touching state or counters, or −1 (control plane, tests). */
  find(saddr: number, daddr: number, sport: number, dport: number, proto: number, nowNs: number): ConnRef {
    const e = this.tuples.peekWords(saddr, daddr, packPorts(sport, dport), proto);
    if (e < 0) return -1 as ConnRef;
    const ref = this.tuples.values[e];
    return (this.expiresNs[ref >>> 1] > nowNs ? ref : -1) as ConnRef;
  }

  /** The kernel's GC worker: removes every expired confirmed connection; returns how many. */
  gc(nowNs: number): number {
    let reaped = 0;
    for (let c = 0; c < this.max; c++) {
      if (this.allocated[c] === 1 && this.status[c] & CtStatus.CONFIRMED && this.expiresNs[c] <= nowNs) {
        if (this.kill(c)) {
          reaped++;
          this.stats[CtStat.EXPIRED]++;
        }
      }
    }
    return reaped;
  }

  /** `conntrack -F`: deletes every confirmed connection. Returns how many. */
  flush(): number {
    let n = 0;
    for (let c = 0; c < this.max; c++) {
      if (this.allocated[c] === 1 && this.status[c] & CtStatus.CONFIRMED && this.kill(c)) n++;
    }
    return n;
  }

  /** `conntrack -D` for one connection: unhash it now (it is freed once no packet holds it). */
  delete(conn: ConnId): boolean {
    return this.allocated[conn] === 1 && this.kill(conn);
  }

  // ------------------------------------------------------------------ internals

  private invalid(): number {
    this.stats[CtStat.INVALID]++;
    this.ctState = CtState.INVALID;
    return CT_TRACK_INVALID;
  }

  private trackNew(
    saddr: number,
    daddr: number,
    ports: number,
    proto: number,
    tcpFlags: number,
    nowNs: number,
  ): number {
    // The kernel allocates (and enforces nf_conntrack_max) before the protocol's "new" check.
    if (this.count >= this.max && !this.earlyDrop(saddr, daddr, ports, proto, nowNs)) {
      this.stats[CtStat.DROP]++;
      this.drops[CtDropReason.TABLE_FULL]++;
      this.lastDropReason = CtDropReason.TABLE_FULL;
      this.ctState = CtState.INVALID;
      return CT_TRACK_DROP;
    }
    if (proto === IpProtocol.TCP) {
      if (!this.tcpLoose && tcpFlagIndex(tcpFlags) !== TcpFlagIndex.SYN) return this.invalid();
    } else if (proto === IpProtocol.ICMP) {
      if (!icmpStartsConnection((ports >>> 8) & 0xff)) return this.invalid();
    }
    const conn = this.freeStack[--this.freeTop];
    this.allocated[conn] = 1;
    this.count++;
    this.origSaddr[conn] = saddr >>> 0;
    this.origDaddr[conn] = daddr >>> 0;
    this.origPorts[conn] = ports;
    this.replySaddr[conn] = daddr >>> 0;
    this.replyDaddr[conn] = saddr >>> 0;
    if (proto === IpProtocol.ICMP) {
      const typeCode = ports & 0xffff;
      const replyType = icmpInverseType(typeCode >>> 8);
      this.replyPorts[conn] = ((ports & 0xffff0000) | (replyType << 8) | (typeCode & 0xff)) >>> 0;
    } else {
      this.replyPorts[conn] = (((ports & 0xffff) << 16) | (ports >>> 16)) >>> 0;
    }
    this.proto[conn] = proto;
    this.tcpState[conn] = TcpCtState.NONE;
    this.status[conn] = 0;
    this.mark[conn] = 0;
    this.use[conn] = 1;
    this.origEntry[conn] = -1;
    this.replyEntry[conn] = -1;
    this.udpStreamNs[conn] = nowNs + UDP_STREAM_AFTER_NS;
    if (this.handlePacket(conn, 0, tcpFlags, nowNs) !== TcpPacketVerdict.ACCEPT) {
      this.put(conn);
      return this.invalid();
    }
    this.stats[CtStat.NEW]++;
    this.ctState = CtState.NEW;
    return conn << 1;
  }

  /** The protocol's packet handler: state machine, ASSURED, timeout refresh. */
  private handlePacket(conn: number, dir: number, tcpFlags: number, nowNs: number): number {
    const proto = this.proto[conn];
    if (proto === IpProtocol.TCP) return this.tcpPacket(conn, dir, tcpFlags, nowNs);
    if (proto === IpProtocol.SCTP) return this.sctpPacket(conn, dir, nowNs);
    if (proto === IpProtocol.UDP) {
      if (this.status[conn] & CtStatus.SEEN_REPLY) {
        // Traffic seen both ways: once the flow outlives its first 2 s it is a stream.
        if (nowNs > this.udpStreamNs[conn]) {
          this.expiresNs[conn] = nowNs + this.udpStreamTimeoutNs;
          this.status[conn] |= CtStatus.ASSURED;
        } else {
          this.expiresNs[conn] = nowNs + this.udpNs;
        }
      } else {
        this.expiresNs[conn] = nowNs + this.udpNs;
      }
      return TcpPacketVerdict.ACCEPT;
    }
    this.expiresNs[conn] = nowNs + (proto === IpProtocol.ICMP ? this.icmpNs : this.genericNs);
    return TcpPacketVerdict.ACCEPT;
  }

  private tcpPacket(conn: number, dir: number, tcpFlags: number, nowNs: number): number {
    const old = this.tcpState[conn];
    const index = tcpFlagIndex(tcpFlags);
    const next = tcpNextState(dir, index, old);
    if (next === TCP_CT_INVALID) return TcpPacketVerdict.INVALID;
    if (next === TCP_CT_IGNORE) return TcpPacketVerdict.ACCEPT;
    if (next === TcpCtState.SYN_SENT && (old === TcpCtState.TIME_WAIT || old === TcpCtState.CLOSE)) {
      return TcpPacketVerdict.REOPEN;
    }
    this.tcpState[conn] = next;
    const timeout =
      index === TcpFlagIndex.RST ? this.tcpTimeoutNs[TcpCtState.CLOSE] : this.tcpTimeoutNs[next];
    this.expiresNs[conn] = nowNs + timeout;
    const st = this.status[conn];
    if (!(st & CtStatus.SEEN_REPLY)) {
      // An RST before any reply: nothing was established, drop the entry at once.
      if (index === TcpFlagIndex.RST) return TcpPacketVerdict.ACCEPT_AND_KILL;
    } else if (
      !(st & CtStatus.ASSURED) &&
      (old === TcpCtState.SYN_RECV || old === TcpCtState.ESTABLISHED) &&
      next === TcpCtState.ESTABLISHED
    ) {
      this.status[conn] = st | CtStatus.ASSURED;
    }
    return TcpPacketVerdict.ACCEPT;
  }

  /** nf_conntrack_sctp_packet: checksum, chunk checks, vtags, the chunk-driven state. */
  private sctpPacket(conn: number, dir: number, nowNs: number): number {
    const buf = this.sctpBuf;
    if (this.sctpVerifyCrc && !verifySctpChecksum(buf, this.sctpL4, this.sctpLength)) {
      return TcpPacketVerdict.INVALID;
    }
    const confirmed = (this.status[conn] & CtStatus.CONFIRMED) !== 0;
    const r = this.sctp.packet(this.tcpState, conn, dir, confirmed, buf, this.sctpL4, this.sctpLength);
    if (r === SCTP_CT_INVALID) return TcpPacketVerdict.INVALID;
    if (r & SCTP_CT_ASSURE) this.status[conn] |= CtStatus.ASSURED;
    if (!(r & SCTP_CT_NO_REFRESH)) this.expiresNs[conn] = nowNs + this.sctpTimeoutNs[r & 0xff];
    return TcpPacketVerdict.ACCEPT;
  }

  /**
   * early_drop: scan EARLY_DROP_SLOTS slots from the new tuple's home slot; reap expired
   * entries on the way and evict the first one that is not ASSURED. True if one was evicted.
   */
  private earlyDrop(saddr: number, daddr: number, ports: number, proto: number, nowNs: number): boolean {
    const start = this.tuples.homeSlotWords(saddr, daddr, ports, proto);
    let i = 0;
    while (i < EARLY_DROP_SLOTS) {
      const e = this.tuples.entryAtSlot(start + i);
      if (e < 0) {
        i++;
        continue;
      }
      const conn = this.tuples.values[e] >>> 1;
      if (this.expiresNs[conn] <= nowNs) {
        this.stats[CtStat.EXPIRED]++;
        this.kill(conn); // backward-shift may move a later node into this slot: look again
        continue;
      }
      if (
        this.status[conn] & CtStatus.ASSURED &&
        !(this.proto[conn] === IpProtocol.SCTP && sctpCanEarlyDrop(this.tcpState[conn]))
      ) {
        i++;
        continue;
      }
      this.kill(conn);
      this.stats[CtStat.EARLY_DROP]++;
      return true;
    }
    return false;
  }

  private checkNatTarget(conn: number): number {
    if (!(conn >= 0 && conn < this.max) || this.allocated[conn] !== 1 || this.status[conn] & CtStatus.DYING) {
      return NAT_ERR_BAD_CONN;
    }
    return this.status[conn] & CtStatus.CONFIRMED ? NAT_ERR_CONFIRMED : 0;
  }

  /** Unhash a connection and drop the table's reference. False if already dying. */
  private kill(conn: number): boolean {
    const st = this.status[conn];
    if (st & CtStatus.DYING) return false;
    this.status[conn] = st | CtStatus.DYING;
    if (st & CtStatus.CONFIRMED) {
      if (this.origEntry[conn] >= 0) this.tuples.deleteEntry(this.origEntry[conn]);
      if (this.replyEntry[conn] >= 0) this.tuples.deleteEntry(this.replyEntry[conn]);
      this.origEntry[conn] = -1;
      this.replyEntry[conn] = -1;
      this.put(conn);
    }
    return true;
  }

  private put(conn: number): void {
    if (--this.use[conn] > 0) return;
    this.allocated[conn] = 0;
    this.status[conn] = 0;
    this.count--;
    this.freeStack[this.freeTop++] = conn;
  }
}
