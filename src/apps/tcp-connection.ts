/**
 * One TCP endpoint (RFC 9293 state machine) that behaves like Linux 6.1 closely enough
 * that tshark's TCP analysis finds nothing to flag in its conversations:
 *
 * - ISN and timestamp offset drawn from the host's Rng; TSval = offset + simulated ms,
 *   TSecr echoes the peer's latest TSval; nop,nop,TS on every segment after the SYN.
 * - SYN `[mss 1460,sackOK,TS val X ecr 0,nop,wscale 7]`, window 64240; SYN-ACK with the
 *   options the peer offered, window 65160 (both from Linux's tcp_select_initial_window:
 *   65535 rounded down to a multiple of the MSS, the SYN-ACK's MSS net of the 12 bytes
 *   of timestamps); later windows scaled and rounded up to the scale unit (502 / 510).
 * - Data as ACK (PSH on the segment that empties the send queue), at most one MSS per
 *   segment; immediate ACKs, piggybacked on anything the app sends while it handles
 *   the segment (so a reply, or a FIN from an app that closes on EOF, carries the ACK).
 * - close() queues a FIN behind unsent data (Linux tcp_send_fin sets FIN on the last
 *   unsent segment); the active closer sits in TIME_WAIT for 60 s (Linux's fixed
 *   TCP_TIMEWAIT_LEN, not 2*MSL); FIN_WAIT_2 of a closed socket ends after tcp_fin_timeout.
 * - SYN retransmission 1 s, doubling (tcp_syn_linear_timeouts = 0, as before Linux 6.5),
 *   giving up after tcp_syn_retries = 6 retransmissions, at 127 s, with ETIMEDOUT (or
 *   the soft error an earlier non-fatal ICMP left, as tcp_write_err does).
 * - RST in SYN_SENT: ECONNREFUSED; in a synchronized state: ECONNRESET (EPIPE in
 *   CLOSE_WAIT); a RST or SYN at an in-window but unexpected sequence gets a challenge
 *   ACK (RFC 5961). ICMP destination unreachable follows Linux's icmp_err_convert table:
 *   fatal codes (port unreachable → ECONNREFUSED, …) abort a connection in SYN_SENT /
 *   SYN_RECEIVED, the others are remembered as soft errors.
 * - No congestion control, no SACK blocks, no out-of-order queue (an out-of-order
 *   segment is dropped and answered with a duplicate ACK); retransmission on RTO
 *   (srtt + 200 ms, doubling) resends everything unacknowledged.
 *
 * Per-connection state is plain fields; a segment allocates its option list and a
 * payload copy, which is fine for an application endpoint (the datapath never runs this).
 */
import { linuxSynOptions, linuxTimestampOptions, TcpFlag, type TcpOption } from '../wire/tcp.js';
import {
  APP_IPV6_BASE,
  type Errno,
  type HostTransport,
  socketError,
  type TcpSegment,
  type TcpSocketError,
  type TimerHandle,
} from './transport.js';

export type TcpStateName =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN_SENT'
  | 'SYN_RECEIVED'
  | 'ESTABLISHED'
  | 'FIN_WAIT_1'
  | 'FIN_WAIT_2'
  | 'CLOSE_WAIT'
  | 'CLOSING'
  | 'LAST_ACK'
  | 'TIME_WAIT';

/** Linux sysctls and constants the endpoint follows; override any of them per stack. */
export interface TcpConfig {
  /** MSS we advertise (MTU 1500 − 40). */
  mss: number;
  /** Our window scale shift (Linux picks 7 for the default tcp_rmem). */
  windowScale: number;
  /** net.ipv4.tcp_timestamps. */
  timestamps: boolean;
  /** net.ipv4.tcp_sack (we advertise sackOK; we never need to send SACK blocks). */
  sack: boolean;
  /** Largest receive space the initial window is drawn from (65535: no scaling in a SYN). */
  initialReceiveSpace: number;
  /** net.ipv4.tcp_syn_retries. */
  synRetries: number;
  /** net.ipv4.tcp_synack_retries. */
  synackRetries: number;
  /** net.ipv4.tcp_syn_linear_timeouts: 0 before Linux 6.5, 4 from 6.5 on. */
  synLinearTimeouts: number;
  /** TCP_TIMEOUT_INIT. */
  initialRtoNs: number;
  /** TCP_RTO_MIN, the floor (and variance term) of the data RTO. */
  minRtoNs: number;
  /** TCP_RTO_MAX. */
  maxRtoNs: number;
  /** net.ipv4.tcp_retries2: data retransmissions before ETIMEDOUT. */
  retries2: number;
  /** TCP_TIMEWAIT_LEN (60 s on Linux; shorten it to keep long simulations small). */
  timeWaitNs: number;
  /** net.ipv4.tcp_fin_timeout: how long a closed socket waits in FIN_WAIT_2. */
  finTimeoutNs: number;
}

export const LINUX_TCP_DEFAULTS: Readonly<TcpConfig> = Object.freeze({
  mss: 1460,
  windowScale: 7,
  timestamps: true,
  sack: true,
  initialReceiveSpace: 65535,
  synRetries: 6,
  synackRetries: 5,
  synLinearTimeouts: 0,
  initialRtoNs: 1e9,
  minRtoNs: 200e6,
  maxRtoNs: 120e9,
  retries2: 15,
  timeWaitNs: 60e9,
  finTimeoutNs: 60e9,
});

/** What the application hears from a connection. Every callback is optional. */
export interface TcpConnectionEvents {
  /** The handshake completed (active open) or the connection was accepted (passive). */
  onConnected?(connection: TcpConnection): void;
  /** In-order bytes from the peer (a copy the app may keep). */
  onData?(connection: TcpConnection, data: Uint8Array): void;
  /** The peer's FIN: no more data will arrive (read() would return 0). */
  onPeerClosed?(connection: TcpConnection): void;
  /** A fatal error; the connection is CLOSED when this runs. */
  onError?(connection: TcpConnection, error: TcpSocketError): void;
  /** The connection reached CLOSED (after TIME_WAIT, a last ACK, an error or abort). */
  onClosed?(connection: TcpConnection): void;
}

/** The stack-side hooks a connection needs; TcpStack provides them. */
export interface TcpConnectionHost {
  transport: HostTransport;
  config: TcpConfig;
  /** Called once when the connection reaches CLOSED, to remove it from the demux table. */
  release(connection: TcpConnection): void;
  /** Called when a passively opened connection completes its handshake. */
  accepted(connection: TcpConnection): void;
}

/** A programming error in the use of a connection (send after close, …). */
export class TcpUsageError extends Error {
  override readonly name = 'TcpUsageError';
}

const NO_OPTIONS: readonly TcpOption[] = [];
const EMPTY = new Uint8Array(0);
const NS_PER_MS = 1e6;
/** Bytes the timestamp option adds to every segment (nop,nop,TS). */
const TIMESTAMP_OPTION_BYTES = 12;
/** RFC 9293: the MSS to assume when a SYN carries none. */
const DEFAULT_PEER_MSS = 536;
/** RFC 7323: the largest window scale shift. */
const MAX_WINDOW_SCALE = 14;

/** Linux icmp_err_convert for ICMP destination unreachable, indexed by code. */
const UNREACHABLE_ERRORS: readonly { errno: Errno; fatal: boolean }[] = [
  { errno: 'ENETUNREACH', fatal: false },
  { errno: 'EHOSTUNREACH', fatal: false },
  { errno: 'ENOPROTOOPT', fatal: true },
  { errno: 'ECONNREFUSED', fatal: true },
  { errno: 'EMSGSIZE', fatal: false },
  { errno: 'EOPNOTSUPP', fatal: false },
  { errno: 'ENETUNREACH', fatal: true },
  { errno: 'EHOSTDOWN', fatal: true },
  { errno: 'ENONET', fatal: true },
  { errno: 'ENETUNREACH', fatal: true },
  { errno: 'EHOSTUNREACH', fatal: true },
  { errno: 'ENETUNREACH', fatal: false },
  { errno: 'EHOSTUNREACH', fatal: false },
  { errno: 'EHOSTUNREACH', fatal: true },
  { errno: 'EHOSTUNREACH', fatal: true },
  { errno: 'EHOSTUNREACH', fatal: true },
];

export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;
const ICMP_CODE_FRAG_NEEDED = 4;

/** a − b as a signed 32-bit distance (sequence-space comparison, RFC 1982). */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Number of sequence numbers a segment occupies (SYN and FIN count one each). */
export function segmentLength(segment: Pick<TcpSegment, 'flags' | 'payload'>): number {
  return (
    segment.payload.length + (segment.flags & TcpFlag.SYN ? 1 : 0) + (segment.flags & TcpFlag.FIN ? 1 : 0)
  );
}

/**
 * The reset Linux (tcp_v4_send_reset) answers a segment with when no socket wants it:
 * to a segment carrying ACK, `RST` with seq = its ack; otherwise `RST|ACK` with seq 0 and
 * ack = its seq + its length (so a SYN to a closed port gets seq 0, ack = seq + 1).
 * No options, window 0, IP ID 0. Returns undefined for a RST (a reset is never answered).
 */
export function rstForUnexpected(segment: TcpSegment): TcpSegment | undefined {
  if (segment.flags & TcpFlag.RST) return undefined;
  const hasAck = (segment.flags & TcpFlag.ACK) !== 0;
  return {
    src: segment.dst,
    dst: segment.src,
    sport: segment.dport,
    dport: segment.sport,
    seq: hasAck ? segment.ack : 0,
    ack: hasAck ? 0 : seqAdd(segment.seq, segmentLength(segment)),
    flags: hasAck ? TcpFlag.RST : TcpFlag.RST | TcpFlag.ACK,
    window: 0,
    options: NO_OPTIONS,
    payload: EMPTY,
    ipId: 0,
  };
}

interface SentSegment {
  seq: number;
  /** Sequence number after this segment. */
  end: number;
  flags: number;
  payload: Uint8Array;
  sentNs: number;
  retransmitted: boolean;
}

export class TcpConnection {
  /** Application callbacks; replace them at any time (e.g. in the listener's onAccept). */
  events: TcpConnectionEvents = {};

  private stateName: TcpStateName = 'CLOSED';
  private readonly transport: HostTransport;
  private readonly config: TcpConfig;

  // Send side (RFC 9293 names).
  private iss = 0;
  private sndUna = 0;
  private sndNxt = 0;
  /** The peer's receive window in bytes (scaled). */
  private sndWnd = 0;
  private readonly unsent: Uint8Array[] = [];
  private unsentBytes = 0;
  private readonly inFlight: SentSegment[] = [];
  private finQueued = false;
  private finSent = false;

  // Receive side.
  private irs = 0;
  private rcvNxt = 0;
  /** Our receive window in bytes (constant: the app consumes data as it arrives). */
  private rcvWnd = 0;

  // Negotiated options.
  private peerMss = DEFAULT_PEER_MSS;
  private sendMss = DEFAULT_PEER_MSS;
  /** Shift applied to the peer's window field; -1 until the handshake says. */
  private peerWindowScale = -1;
  private ourWindowScale = 0;
  private timestampsOn = false;
  private sackOn = false;
  private tsOffset = 0;
  private tsRecent = 0;
  private peerOfferedTimestamps = false;
  private peerOfferedWindowScale = -1;
  private peerOfferedSack = false;
  private ipId = 0;

  // Timers and retransmission.
  private rtoTimer: TimerHandle | undefined;
  private lingerTimer: TimerHandle | undefined;
  private retransmits = 0;
  private srttNs = -1;
  private softError: Errno | undefined;

  // Application-facing flags.
  private appClosed = false;
  private ackOwed = false;
  private released = false;

  constructor(
    private readonly host: TcpConnectionHost,
    readonly localAddr: number,
    readonly localPort: number,
    readonly remoteAddr: number,
    readonly remotePort: number,
  ) {
    this.transport = host.transport;
    this.config = host.config;
  }

  get state(): TcpStateName {
    return this.stateName;
  }
  /** Our initial sequence number. */
  get initialSendSequence(): number {
    return this.iss;
  }
  /** The peer's initial sequence number (valid once its SYN arrived). */
  get initialReceiveSequence(): number {
    return this.irs;
  }
  /** The next sequence number we will send. */
  get sendNext(): number {
    return this.sndNxt;
  }
  /** The next sequence number we expect from the peer. */
  get receiveNext(): number {
    return this.rcvNxt;
  }
  /** The largest payload we put in one segment (peer's MSS net of options). */
  get effectiveMss(): number {
    return this.sendMss;
  }
  /** Bytes accepted by send() not yet acknowledged by the peer. */
  get bufferedBytes(): number {
    return this.unsentBytes + seqDiff(this.sndNxt, this.sndUna);
  }

  // -------------------------------------------------------------------------------------
  // Opening

  /**
   * The MSS this end advertises: the configured one (1460, an IPv4 path's 1500 − 40) less the
   * 20 more bytes an IPv6 header takes (1440 on the same link, as Linux's tcp_v6 advertises).
   */
  private get ownMss(): number {
    return this.localAddr >= APP_IPV6_BASE ? this.config.mss - 20 : this.config.mss;
  }

  /** Active open: sends the SYN (the stack calls this right after construction). */
  openActive(): void {
    this.initSendSide();
    this.rcvWnd = this.initialWindow(this.ownMss);
    this.stateName = 'SYN_SENT';
    this.sendSyn();
  }

  /** Passive open from a listener: records the peer's SYN and answers with a SYN-ACK. */
  openPassive(syn: TcpSegment): void {
    this.initSendSide();
    this.readSynOptions(syn);
    this.irs = syn.seq;
    this.rcvNxt = seqAdd(syn.seq, 1);
    if (this.peerOfferedTimestamps) this.tsRecent = this.peerTimestamp(syn);
    this.negotiate();
    // tcp_openreq_init_rwin: the SYN-ACK window comes from the MSS net of timestamps.
    this.rcvWnd = this.initialWindow(this.ownMss - (this.timestampsOn ? TIMESTAMP_OPTION_BYTES : 0));
    this.sndWnd = syn.window;
    this.stateName = 'SYN_RECEIVED';
    this.sendSyn();
  }

  private initSendSide(): void {
    const rng = this.transport.rng;
    this.iss = rng.nextU32();
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.tsOffset = rng.nextU32();
    this.ipId = rng.nextInt(0x10000);
  }

  /** Linux tcp_select_initial_window: the space rounded down to a multiple of the MSS. */
  private initialWindow(mss: number): number {
    const space = Math.min(this.config.initialReceiveSpace, 0xffff);
    return space > mss ? space - (space % mss) : space;
  }

  // -------------------------------------------------------------------------------------
  // Application calls

  /** Queues bytes for sending (copied). Throws TcpUsageError once the app has closed. */
  send(data: Uint8Array): void {
    if (this.appClosed || this.finQueued) throw new TcpUsageError('send() after close()');
    const s = this.stateName;
    if (s !== 'SYN_SENT' && s !== 'SYN_RECEIVED' && s !== 'ESTABLISHED' && s !== 'CLOSE_WAIT') {
      throw new TcpUsageError(`send() in state ${s}`);
    }
    if (data.length === 0) return;
    this.unsent.push(data.slice());
    this.unsentBytes += data.length;
    this.transmitQueued();
  }

  /**
   * close(): a FIN after whatever is still queued. In SYN_SENT the attempt is dropped
   * without a packet (Linux sends no RST from SYN_SENT). Idempotent.
   */
  close(): void {
    if (this.appClosed) return;
    this.appClosed = true;
    switch (this.stateName) {
      case 'SYN_SENT':
        this.release();
        return;
      case 'SYN_RECEIVED':
      case 'ESTABLISHED':
        this.stateName = 'FIN_WAIT_1';
        break;
      case 'CLOSE_WAIT':
        this.stateName = 'LAST_ACK';
        break;
      default:
        return;
    }
    this.finQueued = true;
    this.transmitQueued();
  }

  /** Abortive close (SO_LINGER 0): RST|ACK to the peer if synchronized, then CLOSED. */
  abort(): void {
    if (this.released) return;
    this.appClosed = true;
    const s = this.stateName;
    if (
      s === 'ESTABLISHED' ||
      s === 'FIN_WAIT_1' ||
      s === 'FIN_WAIT_2' ||
      s === 'CLOSE_WAIT' ||
      s === 'SYN_RECEIVED'
    ) {
      this.emit(this.sndNxt, TcpFlag.RST | TcpFlag.ACK, EMPTY);
    }
    this.release();
  }

  // -------------------------------------------------------------------------------------
  // Segment arrival (the stack has matched the 4-tuple)

  receive(segment: TcpSegment): void {
    if (this.released) return;
    if (this.stateName === 'SYN_SENT') {
      this.receiveInSynSent(segment);
      return;
    }
    this.receiveSynchronized(segment);
  }

  private receiveInSynSent(seg: TcpSegment): void {
    const flags = seg.flags;
    if (flags & TcpFlag.ACK && seg.ack !== this.sndNxt) {
      // An ACK for something we never sent: reset it (unless it is a reset itself).
      if (!(flags & TcpFlag.RST)) this.emitBare(seg.ack, 0, TcpFlag.RST);
      return;
    }
    if (flags & TcpFlag.RST) {
      if (flags & TcpFlag.ACK) this.fail('ECONNREFUSED');
      return;
    }
    if (!(flags & TcpFlag.SYN)) return;
    this.readSynOptions(seg);
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.negotiate();
    if (this.timestampsOn) this.tsRecent = this.peerTimestamp(seg);
    if (flags & TcpFlag.ACK) {
      this.sndUna = seg.ack;
      this.inFlight.length = 0;
      this.sampleRtt(this.peerEcho(seg), -1);
      this.clearRto();
      this.sndWnd = seg.window; // never scaled in a SYN
      this.stateName = 'ESTABLISHED';
      this.sendAck();
      this.events.onConnected?.(this);
      this.transmitQueued();
      return;
    }
    // Simultaneous open: our SYN crossed theirs.
    this.stateName = 'SYN_RECEIVED';
    this.sndWnd = seg.window;
    this.clearRto();
    this.retransmits = 0;
    this.sndNxt = this.iss;
    this.sendSyn();
  }

  private receiveSynchronized(seg: TcpSegment): void {
    const flags = seg.flags;
    let seq = seg.seq;
    let payload = seg.payload;

    if (flags & TcpFlag.RST) {
      if (seq === this.rcvNxt) this.onReset();
      else if (this.inReceiveWindow(seq)) this.sendAck(); // RFC 5961 challenge ACK
      return;
    }
    if (flags & TcpFlag.SYN) {
      if (this.stateName === 'SYN_RECEIVED' && seq === this.irs && !(flags & TcpFlag.ACK)) {
        this.retransmitSynAck();
      } else {
        this.sendAck(); // RFC 5961 challenge ACK for a SYN in a synchronized state
      }
      return;
    }
    if (!(flags & TcpFlag.ACK)) return;

    // RFC 7323: remember the peer's TSval if this segment is not beyond what we ACKed.
    if (this.timestampsOn && seqDiff(seq, this.rcvNxt) <= 0) {
      const ts = findTimestamp(seg.options);
      if (ts) this.tsRecent = ts.tsval;
    }

    if (this.stateName === 'SYN_RECEIVED') {
      if (seg.ack !== this.sndNxt) {
        this.emitBare(seg.ack, 0, TcpFlag.RST);
        return;
      }
      this.sndUna = seg.ack;
      this.inFlight.length = 0;
      this.sampleRtt(this.peerEcho(seg), -1);
      this.clearRto();
      this.retransmits = 0;
      this.stateName = 'ESTABLISHED';
      this.host.accepted(this);
      this.events.onConnected?.(this);
      if (this.released) return;
    }

    if (!this.processAck(seg)) return;
    if (this.released) return;

    // Sequence check for the data and FIN.
    let fin = (flags & TcpFlag.FIN) !== 0;
    const occupied = payload.length + (fin ? 1 : 0);
    if (occupied > 0) {
      const behind = seqDiff(this.rcvNxt, seq);
      if (behind > 0) {
        // Starts before what we have: an old duplicate, or a partial overlap to trim.
        if (behind >= occupied) {
          if (this.stateName === 'TIME_WAIT' && fin) this.startLinger(this.config.timeWaitNs, 'TIME_WAIT');
          this.sendAck();
          return;
        }
        payload = payload.subarray(behind);
        seq = this.rcvNxt;
      } else if (behind < 0) {
        this.sendAck(); // out of order: no reassembly queue, ask again (duplicate ACK)
        return;
      }
    } else {
      this.transmitQueued();
      return;
    }

    let delivered: Uint8Array | undefined;
    let peerClosed = false;
    const s = this.stateName;
    const receiving = s === 'ESTABLISHED' || s === 'FIN_WAIT_1' || s === 'FIN_WAIT_2';
    if (payload.length > 0) {
      if (!receiving) {
        // Data after the peer's FIN: nothing can legitimately carry it; ignore.
        fin = false;
      } else if (this.appClosed) {
        // Linux: new data for a socket the app has closed is answered with a reset.
        this.emit(this.sndNxt, TcpFlag.RST | TcpFlag.ACK, EMPTY);
        this.release();
        return;
      } else {
        this.rcvNxt = seqAdd(this.rcvNxt, payload.length);
        delivered = payload.slice();
        this.ackOwed = true;
      }
    }
    if (fin && receiving) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.ackOwed = true;
      peerClosed = true;
      if (s === 'ESTABLISHED') this.stateName = 'CLOSE_WAIT';
      else if (s === 'FIN_WAIT_2' || (s === 'FIN_WAIT_1' && this.ourFinAcked())) this.enterTimeWait();
      else this.stateName = 'CLOSING';
    }

    this.transmitQueued();
    if (delivered) this.events.onData?.(this, delivered);
    if (peerClosed && !this.released) this.events.onPeerClosed?.(this);
    if (this.ackOwed && !this.released) this.sendAck();
  }

  /** ACK processing; returns false when the segment must be dropped. */
  private processAck(seg: TcpSegment): boolean {
    const ack = seg.ack;
    if (seqDiff(ack, this.sndNxt) > 0) {
      this.sendAck(); // acknowledges something we never sent
      return false;
    }
    const scale = Math.max(this.peerWindowScale, 0);
    this.sndWnd = seg.window * 2 ** scale;
    if (seqDiff(ack, this.sndUna) <= 0) return true; // duplicate or old ACK
    this.sndUna = ack;
    let sentNs = -1;
    while (this.inFlight.length > 0 && seqDiff(this.inFlight[0].end, ack) <= 0) {
      const done = this.inFlight.shift()!;
      if (!done.retransmitted) sentNs = done.sentNs;
    }
    this.sampleRtt(this.peerEcho(seg), sentNs);
    this.retransmits = 0;
    this.clearRto();
    if (this.inFlight.length > 0) this.armRto();

    if (this.ourFinAcked()) {
      switch (this.stateName) {
        case 'FIN_WAIT_1':
          this.stateName = 'FIN_WAIT_2';
          // An orphaned socket does not wait in FIN_WAIT_2 forever (tcp_fin_timeout).
          if (this.appClosed) this.startLinger(this.config.finTimeoutNs, 'FIN_WAIT_2');
          break;
        case 'CLOSING':
          this.enterTimeWait();
          break;
        case 'LAST_ACK':
          this.release();
          return false;
      }
    }
    return true;
  }

  private onReset(): void {
    switch (this.stateName) {
      case 'SYN_RECEIVED':
      case 'CLOSING':
      case 'LAST_ACK':
      case 'TIME_WAIT':
        this.release();
        return;
      case 'CLOSE_WAIT':
        this.fail('EPIPE');
        return;
      default:
        this.fail('ECONNRESET');
    }
  }

  /**
   * An ICMP error quoting one of our segments (the stack matched the quoted 4-tuple).
   * `type`/`code` are the ICMP header's; see the file comment for the rules.
   */
  receiveIcmpError(type: number, code: number): void {
    if (this.released) return;
    let errno: Errno;
    let fatal: boolean;
    if (type === ICMP_DEST_UNREACHABLE) {
      if (code === ICMP_CODE_FRAG_NEEDED) return; // PMTU discovery: nothing to do at MTU 1500
      const entry = UNREACHABLE_ERRORS[code];
      if (!entry) return;
      errno = entry.errno;
      fatal = entry.fatal;
    } else if (type === ICMP_TIME_EXCEEDED) {
      errno = 'EHOSTUNREACH';
      fatal = false;
    } else if (type === ICMP_PARAMETER_PROBLEM) {
      errno = 'EPROTO';
      fatal = true;
    } else {
      return;
    }
    const s = this.stateName;
    if (fatal && (s === 'SYN_SENT' || s === 'SYN_RECEIVED')) {
      if (s === 'SYN_RECEIVED') this.release();
      else this.fail(errno);
      return;
    }
    // Without IP_RECVERR an established socket only records the error.
    this.softError = errno;
  }

  // -------------------------------------------------------------------------------------
  // Transmission

  private sendSyn(): void {
    const flags = this.stateName === 'SYN_SENT' ? TcpFlag.SYN : TcpFlag.SYN | TcpFlag.ACK;
    const active = flags === TcpFlag.SYN;
    const options = linuxSynOptions({
      mss: this.ownMss,
      sackPermitted: active ? this.config.sack : this.sackOn,
      windowScale: active
        ? this.config.windowScale
        : this.peerOfferedWindowScale >= 0
          ? this.config.windowScale
          : undefined,
      timestamp:
        active && this.config.timestamps
          ? { tsval: this.tsval(), tsecr: 0 }
          : !active && this.timestampsOn
            ? { tsval: this.tsval(), tsecr: this.tsRecent }
            : undefined,
    });
    const segment: TcpSegment = {
      src: this.localAddr,
      dst: this.remoteAddr,
      sport: this.localPort,
      dport: this.remotePort,
      seq: this.iss,
      ack: active ? 0 : this.rcvNxt,
      flags,
      window: Math.min(this.rcvWnd, 0xffff),
      options,
      payload: EMPTY,
      // Linux builds the SYN-ACK from a request socket: IP ID 0 (ip_build_and_send_pkt).
      ipId: active ? this.nextIpId() : 0,
    };
    this.sndNxt = seqAdd(this.iss, 1);
    if (!active) this.ackOwed = false;
    this.transport.sendTcp(segment);
    this.armSynTimer();
  }

  private retransmitSynAck(): void {
    this.sendSyn();
  }

  private armSynTimer(): void {
    this.clearRto();
    const k = this.retransmits;
    const linear = this.config.synLinearTimeouts;
    const delay = k < linear ? this.config.initialRtoNs : this.config.initialRtoNs * 2 ** (k - linear);
    this.rtoTimer = this.transport.setTimer(Math.min(delay, this.config.maxRtoNs), () => this.onRto());
  }

  /** Sends what the peer's window allows, then a queued FIN once nothing else waits. */
  private transmitQueued(): void {
    const s = this.stateName;
    if (s === 'CLOSED' || s === 'SYN_SENT' || s === 'SYN_RECEIVED' || this.released) return;
    while (this.unsentBytes > 0) {
      const room = this.sndWnd - seqDiff(this.sndNxt, this.sndUna);
      if (room <= 0) break;
      const size = Math.min(this.sendMss, room, this.unsentBytes);
      const payload = this.takeUnsent(size);
      let flags = TcpFlag.ACK;
      if (this.unsentBytes === 0) {
        flags |= TcpFlag.PSH;
        if (this.finQueued && !this.finSent) {
          flags |= TcpFlag.FIN;
          this.finSent = true;
        }
      }
      this.transmitNew(flags, payload);
    }
    if (this.unsentBytes === 0 && this.finQueued && !this.finSent) {
      this.finSent = true;
      this.transmitNew(TcpFlag.FIN | TcpFlag.ACK, EMPTY);
    }
  }

  private transmitNew(flags: number, payload: Uint8Array): void {
    const seq = this.sndNxt;
    const end = seqAdd(seq, payload.length + (flags & TcpFlag.FIN ? 1 : 0));
    this.inFlight.push({ seq, end, flags, payload, sentNs: this.transport.nowNs(), retransmitted: false });
    this.sndNxt = end;
    this.emit(seq, flags, payload);
    this.armRto();
  }

  private takeUnsent(size: number): Uint8Array {
    const first = this.unsent[0];
    let out: Uint8Array;
    if (first.length === size) {
      out = first;
      this.unsent.shift();
    } else if (first.length > size) {
      out = first.slice(0, size);
      this.unsent[0] = first.subarray(size);
    } else {
      out = new Uint8Array(size);
      let filled = 0;
      while (filled < size) {
        const chunk = this.unsent[0];
        const n = Math.min(chunk.length, size - filled);
        out.set(chunk.subarray(0, n), filled);
        filled += n;
        if (n === chunk.length) this.unsent.shift();
        else this.unsent[0] = chunk.subarray(n);
      }
    }
    this.unsentBytes -= size;
    return out;
  }

  private sendAck(): void {
    this.emit(this.sndNxt, TcpFlag.ACK, EMPTY);
  }

  /** A segment of this connection: current ACK, window and timestamps. */
  private emit(seq: number, flags: number, payload: Uint8Array): void {
    const hasAck = (flags & TcpFlag.ACK) !== 0;
    if (hasAck) this.ackOwed = false;
    this.transport.sendTcp({
      src: this.localAddr,
      dst: this.remoteAddr,
      sport: this.localPort,
      dport: this.remotePort,
      seq,
      ack: hasAck ? this.rcvNxt : 0,
      flags,
      window: this.advertisedWindow(),
      options: this.timestampsOn ? linuxTimestampOptions(this.tsval(), this.tsRecent) : NO_OPTIONS,
      payload,
      ipId: this.nextIpId(),
    });
  }

  /** A segment with no window, options or ACK number (a reset for a stray ACK). */
  private emitBare(seq: number, ack: number, flags: number): void {
    this.transport.sendTcp({
      src: this.localAddr,
      dst: this.remoteAddr,
      sport: this.localPort,
      dport: this.remotePort,
      seq,
      ack,
      flags,
      window: 0,
      options: NO_OPTIONS,
      payload: EMPTY,
      ipId: 0,
    });
  }

  /** Linux tcp_select_window: the window rounded up to the scale unit, then shifted. */
  private advertisedWindow(): number {
    if (this.peerWindowScale < 0) return Math.min(this.rcvWnd, 0xffff);
    const unit = 2 ** this.ourWindowScale;
    return Math.min(Math.ceil(this.rcvWnd / unit), 0xffff);
  }

  // -------------------------------------------------------------------------------------
  // Timers

  private armRto(): void {
    if (this.rtoTimer !== undefined) return;
    const base = this.srttNs < 0 ? this.config.initialRtoNs : this.srttNs + this.config.minRtoNs;
    // Whole nanoseconds: the simulated clock stays an integer.
    const delay = Math.ceil(Math.min(base * 2 ** this.retransmits, this.config.maxRtoNs));
    this.rtoTimer = this.transport.setTimer(delay, () => this.onRto());
  }

  private clearRto(): void {
    if (this.rtoTimer !== undefined) {
      this.transport.clearTimer(this.rtoTimer);
      this.rtoTimer = undefined;
    }
  }

  private onRto(): void {
    this.rtoTimer = undefined;
    if (this.released) return;
    switch (this.stateName) {
      case 'SYN_SENT':
        if (this.retransmits >= this.config.synRetries) {
          this.fail(this.softError ?? 'ETIMEDOUT');
          return;
        }
        this.retransmits++;
        this.sendSyn();
        return;
      case 'SYN_RECEIVED':
        if (this.retransmits >= this.config.synackRetries) {
          this.release();
          return;
        }
        this.retransmits++;
        this.sendSyn();
        return;
    }
    if (this.inFlight.length === 0) return;
    if (this.retransmits >= this.config.retries2) {
      this.fail(this.softError ?? 'ETIMEDOUT');
      return;
    }
    this.retransmits++;
    for (const sent of this.inFlight) {
      sent.retransmitted = true;
      this.emit(sent.seq, sent.flags, sent.payload);
    }
    this.armRto();
  }

  private startLinger(delayNs: number, expected: TcpStateName): void {
    if (this.lingerTimer !== undefined) this.transport.clearTimer(this.lingerTimer);
    this.lingerTimer = this.transport.setTimer(delayNs, () => {
      this.lingerTimer = undefined;
      if (this.stateName === expected) this.release();
    });
  }

  private enterTimeWait(): void {
    this.stateName = 'TIME_WAIT';
    this.clearRto();
    this.inFlight.length = 0;
    this.startLinger(this.config.timeWaitNs, 'TIME_WAIT');
  }

  // -------------------------------------------------------------------------------------
  // Helpers

  private ourFinAcked(): boolean {
    return this.finSent && this.sndUna === this.sndNxt;
  }

  private inReceiveWindow(seq: number): boolean {
    const offset = seqDiff(seq, this.rcvNxt);
    return offset >= 0 && offset < Math.max(this.rcvWnd, 1);
  }

  private readSynOptions(syn: TcpSegment): void {
    let mss = DEFAULT_PEER_MSS;
    for (const option of syn.options) {
      switch (option.kind) {
        case 'mss':
          mss = option.value;
          break;
        case 'windowScale':
          this.peerOfferedWindowScale = Math.min(option.shift, MAX_WINDOW_SCALE);
          break;
        case 'sackPermitted':
          this.peerOfferedSack = true;
          break;
        case 'timestamp':
          this.peerOfferedTimestamps = true;
          break;
      }
    }
    this.peerMss = mss;
  }

  /** Settles the options both sides offered (called once the peer's SYN is known). */
  private negotiate(): void {
    const c = this.config;
    this.timestampsOn = c.timestamps && this.peerOfferedTimestamps;
    this.sackOn = c.sack && this.peerOfferedSack;
    if (this.peerOfferedWindowScale >= 0) {
      this.peerWindowScale = this.peerOfferedWindowScale;
      this.ourWindowScale = c.windowScale;
    } else {
      this.peerWindowScale = -1;
      this.ourWindowScale = 0;
    }
    const mss = Math.min(this.peerMss, this.ownMss);
    this.sendMss = Math.max(1, mss - (this.timestampsOn ? TIMESTAMP_OPTION_BYTES : 0));
  }

  private peerTimestamp(seg: TcpSegment): number {
    return findTimestamp(seg.options)?.tsval ?? 0;
  }

  /** The peer's TSecr, or -1 without timestamps. */
  private peerEcho(seg: TcpSegment): number {
    if (!this.timestampsOn) return -1;
    const ts = findTimestamp(seg.options);
    return ts && ts.tsecr !== 0 ? ts.tsecr : -1;
  }

  /** RTT from the timestamp echo (preferred) or from a never-retransmitted segment. */
  private sampleRtt(tsecr: number, sentNs: number): void {
    const now = this.transport.nowNs();
    let rttNs = -1;
    if (tsecr >= 0) rttNs = ((this.tsval() - tsecr) >>> 0) * NS_PER_MS;
    else if (sentNs >= 0) rttNs = now - sentNs;
    if (rttNs < 0 || rttNs > this.config.maxRtoNs) return;
    this.srttNs = this.srttNs < 0 ? rttNs : (7 * this.srttNs + rttNs) / 8;
  }

  private tsval(): number {
    return (Math.floor(this.transport.nowNs() / NS_PER_MS) + this.tsOffset) >>> 0;
  }

  private nextIpId(): number {
    const id = this.ipId;
    this.ipId = (this.ipId + 1) & 0xffff;
    return id;
  }

  private fail(errno: Errno): void {
    if (this.released) return;
    this.release(socketError(errno));
  }

  private release(error?: TcpSocketError): void {
    if (this.released) return;
    this.released = true;
    this.stateName = 'CLOSED';
    this.clearRto();
    if (this.lingerTimer !== undefined) {
      this.transport.clearTimer(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    this.unsent.length = 0;
    this.unsentBytes = 0;
    this.inFlight.length = 0;
    this.host.release(this);
    if (error) this.events.onError?.(this, error);
    this.events.onClosed?.(this);
  }
}

function findTimestamp(options: readonly TcpOption[]): { tsval: number; tsecr: number } | undefined {
  for (const option of options) if (option.kind === 'timestamp') return option;
  return undefined;
}
