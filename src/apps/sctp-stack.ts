/**
 * A host's SCTP endpoint (RFC 9260), enough for one-request associations through a
 * Service: servers that answer each DATA message, and clients that open an association,
 * send one message, read the answer and shut down.
 *
 *   client                          server
 *   INIT (tag 0, initiate tag Tc) →
 *                                 ← INIT ACK (tag Tc, initiate tag Ts, State Cookie)
 *   COOKIE ECHO (tag Ts)          →
 *                                 ← COOKIE ACK (tag Tc)
 *   DATA (tag Ts, the request)    →
 *                                 ← SACK + DATA (tag Tc, the answer)
 *   SHUTDOWN (tag Ts, acks it)    →
 *                                 ← SHUTDOWN ACK (tag Tc)
 *   SHUTDOWN COMPLETE (tag Ts)    →
 *
 * The server keeps no state before the COOKIE ECHO (the cookie carries both tags and TSNs,
 * sealed with a CRC32c over a per-stack secret), as RFC 9260 section 5.1 intends. A packet
 * with the wrong verification tag is discarded silently (section 8.5); an out-of-the-blue
 * INIT to a port nobody listens on gets an ABORT carrying the INIT's initiate tag, anything
 * else out of the blue an ABORT with the T bit (section 8.4), except ABORT, SHUTDOWN
 * COMPLETE and COOKIE ACK, which are ignored.
 *
 * Simplifications, stated: one stream, one message per DATA chunk, no retransmission (a
 * client gives up after its timeout), no multi-homing, no congestion or receive window
 * accounting beyond a constant a_rwnd.
 */
import type { Rng } from '../util/rng.js';
import { readU32, writeU32 } from '../wire/bytes.js';
import { crc32c } from '../wire/crc32c.js';
import { SCTP_FLAG_T, type SctpChunk, type SctpPacket, SctpParamType } from '../wire/sctp.js';
import type { TimerHandle } from './transport.js';

/** What a host offers an SCTP endpoint. */
export interface SctpTransport {
  readonly rng: Rng;
  nowNs(): number;
  /** Sends the packet in an IPv4 datagram from `src` to `dst` (the host fills in the CRC32c). */
  sendSctp(src: number, dst: number, packet: SctpPacket): void;
  setTimer(delayNs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** What a host hands every SCTP packet addressed to it (checksum already verified). */
export interface SctpReceiver {
  receive(src: number, dst: number, packet: SctpPacket): void;
}

/** A server's answer to one message. */
export type SctpResponder = (request: Uint8Array, peer: { addr: number; port: number }) => Uint8Array;

export interface SctpClientResult {
  /** 'ok', or why the association failed. */
  readonly status: 'ok' | 'aborted' | 'timeout';
  /** The server's answer (empty unless ok). */
  readonly reply: Uint8Array;
}

export interface SctpClientOptions {
  readonly localAddr: number;
  readonly remoteAddr: number;
  readonly remotePort: number;
  readonly message: Uint8Array;
  /** Give up after this long without finishing (default 10 s). */
  readonly timeoutNs?: number;
  readonly onDone: (result: SctpClientResult) => void;
}

/** The a_rwnd Linux advertises by default (sctp_rmem's initial value / 2). */
export const SCTP_DEFAULT_RWND = 106496;
const STREAMS = 10;
const EPHEMERAL_MIN = 32768;
const EPHEMERAL_MAX = 60999;
const COOKIE_LENGTH = 24;
const EMPTY = new Uint8Array(0);

const enum AssocState {
  COOKIE_WAIT = 1,
  COOKIE_ECHOED = 2,
  ESTABLISHED = 3,
  SHUTDOWN_SENT = 4,
  SHUTDOWN_ACK_SENT = 5,
}

interface Association {
  readonly localAddr: number;
  readonly localPort: number;
  readonly remoteAddr: number;
  readonly remotePort: number;
  state: AssocState;
  /** Our tag (what the peer puts on its packets) and the peer's (what we put on ours). */
  readonly ownTag: number;
  peerTag: number;
  /** Next TSN we send; last TSN we received from the peer. */
  nextTsn: number;
  peerTsn: number;
  cookie: Uint8Array;
  /** Client side only. */
  client: SctpClientOptions | null;
  reply: Uint8Array;
  timer: TimerHandle | null;
}

function key(localPort: number, remoteAddr: number, remotePort: number): string {
  return `${localPort}|${remoteAddr}|${remotePort}`;
}

function nonZeroTag(rng: Rng): number {
  let t = rng.nextU32();
  while (t === 0) t = rng.nextU32();
  return t;
}

export class SctpStack implements SctpReceiver {
  private readonly listeners = new Map<number, SctpResponder>();
  private readonly associations = new Map<string, Association>();
  private readonly secret: number;
  private nextEphemeral: number;
  /** Packets discarded (wrong tag, bad cookie, unexpected chunk), for tests and reports. */
  discarded = 0;

  constructor(private readonly host: SctpTransport) {
    this.secret = host.rng.nextU32();
    this.nextEphemeral = EPHEMERAL_MIN + host.rng.nextInt(EPHEMERAL_MAX - EPHEMERAL_MIN + 1);
  }

  hasListener(port: number): boolean {
    return this.listeners.has(port);
  }

  /** Serves `port`: every DATA message gets `respond`'s answer. */
  listen(port: number, respond: SctpResponder): void {
    this.listeners.set(port, respond);
  }

  /** Associations currently open (any state). */
  get associationCount(): number {
    return this.associations.size;
  }

  /** Opens an association, sends one message, reads the answer, shuts down; reports through `onDone`. */
  associate(options: SctpClientOptions): void {
    const localPort = this.ephemeralPort(options.remoteAddr, options.remotePort);
    const a: Association = {
      localAddr: options.localAddr,
      localPort,
      remoteAddr: options.remoteAddr,
      remotePort: options.remotePort,
      state: AssocState.COOKIE_WAIT,
      ownTag: nonZeroTag(this.host.rng),
      peerTag: 0,
      nextTsn: this.host.rng.nextU32(),
      peerTsn: 0,
      cookie: EMPTY,
      client: options,
      reply: EMPTY,
      timer: null,
    };
    this.associations.set(key(localPort, a.remoteAddr, a.remotePort), a);
    a.timer = this.host.setTimer(options.timeoutNs ?? 10e9, () => {
      a.timer = null;
      this.finish(a, 'timeout');
    });
    this.send(a, 0, [
      {
        kind: 'init',
        flags: 0,
        initiateTag: a.ownTag,
        aRwnd: SCTP_DEFAULT_RWND,
        outboundStreams: STREAMS,
        inboundStreams: STREAMS,
        initialTsn: a.nextTsn,
        params: [],
      },
    ]);
  }

  // ------------------------------------------------------------------ receive

  receive(src: number, dst: number, packet: SctpPacket): void {
    const a = this.associations.get(key(packet.dport, src, packet.sport));
    if (a === undefined) {
      this.outOfTheBlue(src, dst, packet);
      return;
    }
    if (!this.tagAccepted(a, packet)) {
      this.discarded++;
      return;
    }
    for (const chunk of packet.chunks) {
      if (!this.associations.has(key(a.localPort, a.remoteAddr, a.remotePort))) return;
      this.onChunk(a, chunk);
    }
  }

  private tagAccepted(a: Association, packet: SctpPacket): boolean {
    const c = packet.chunks[0];
    if ((c.kind === 'abort' || c.kind === 'shutdown-complete') && c.flags & SCTP_FLAG_T) {
      return packet.verificationTag === a.peerTag;
    }
    if (c.kind === 'init') return packet.verificationTag === 0;
    return packet.verificationTag === a.ownTag;
  }

  private onChunk(a: Association, c: SctpChunk): void {
    switch (c.kind) {
      case 'init-ack':
        if (a.state !== AssocState.COOKIE_WAIT) return;
        a.peerTag = c.initiateTag;
        a.peerTsn = (c.initialTsn - 1) >>> 0;
        a.cookie = c.params.find((p) => p.type === SctpParamType.STATE_COOKIE)?.value ?? EMPTY;
        a.state = AssocState.COOKIE_ECHOED;
        this.send(a, a.peerTag, [{ kind: 'cookie-echo', flags: 0, cookie: a.cookie }]);
        return;
      case 'cookie-ack':
        if (a.state !== AssocState.COOKIE_ECHOED || a.client === null) return;
        a.state = AssocState.ESTABLISHED;
        this.send(a, a.peerTag, [this.dataChunk(a, a.client.message)]);
        return;
      case 'data': {
        if (a.state !== AssocState.ESTABLISHED) return;
        a.peerTsn = c.tsn;
        if (a.client !== null) {
          // The answer: acknowledged by the SHUTDOWN's cumulative TSN.
          a.reply = c.payload;
          a.state = AssocState.SHUTDOWN_SENT;
          this.send(a, a.peerTag, [{ kind: 'shutdown', flags: 0, cumulativeTsnAck: a.peerTsn }]);
          return;
        }
        const respond = this.listeners.get(a.localPort);
        const answer =
          respond === undefined ? EMPTY : respond(c.payload, { addr: a.remoteAddr, port: a.remotePort });
        this.send(a, a.peerTag, [this.sack(a), this.dataChunk(a, answer)]);
        return;
      }
      case 'heartbeat':
        this.send(a, a.peerTag, [{ kind: 'heartbeat-ack', flags: 0, info: c.info }]);
        return;
      case 'shutdown':
        a.state = AssocState.SHUTDOWN_ACK_SENT;
        this.send(a, a.peerTag, [{ kind: 'shutdown-ack', flags: 0 }]);
        return;
      case 'shutdown-ack':
        this.send(a, a.peerTag, [{ kind: 'shutdown-complete', flags: 0 }]);
        this.finish(a, 'ok');
        return;
      case 'shutdown-complete':
        this.finish(a, 'ok');
        return;
      case 'abort':
        this.finish(a, 'aborted');
        return;
      default:
        return;
    }
  }

  /** A packet for no association: a server's INIT / COOKIE ECHO, or section 8.4's answers. */
  private outOfTheBlue(src: number, dst: number, packet: SctpPacket): void {
    const c = packet.chunks[0];
    const respond = this.listeners.get(packet.dport);
    if (c.kind === 'init' && packet.verificationTag === 0) {
      if (respond === undefined) {
        this.host.sendSctp(dst, src, {
          sport: packet.dport,
          dport: packet.sport,
          verificationTag: c.initiateTag,
          chunks: [{ kind: 'abort', flags: 0, causes: EMPTY }],
        });
        return;
      }
      const ownTag = nonZeroTag(this.host.rng);
      const ownTsn = this.host.rng.nextU32();
      this.host.sendSctp(dst, src, {
        sport: packet.dport,
        dport: packet.sport,
        verificationTag: c.initiateTag,
        chunks: [
          {
            kind: 'init-ack',
            flags: 0,
            initiateTag: ownTag,
            aRwnd: SCTP_DEFAULT_RWND,
            outboundStreams: Math.min(STREAMS, c.inboundStreams),
            inboundStreams: STREAMS,
            initialTsn: ownTsn,
            params: [
              {
                type: SctpParamType.STATE_COOKIE,
                value: this.sealCookie(ownTag, c.initiateTag, ownTsn, c.initialTsn, src, packet.sport),
              },
            ],
          },
        ],
      });
      return;
    }
    if (c.kind === 'cookie-echo' && respond !== undefined) {
      const cookie = this.openCookie(c.cookie, src, packet.sport);
      if (cookie === null || packet.verificationTag !== cookie.ownTag) {
        this.discarded++;
        return;
      }
      const a: Association = {
        localAddr: dst,
        localPort: packet.dport,
        remoteAddr: src,
        remotePort: packet.sport,
        state: AssocState.ESTABLISHED,
        ownTag: cookie.ownTag,
        peerTag: cookie.peerTag,
        nextTsn: cookie.ownTsn,
        peerTsn: (cookie.peerTsn - 1) >>> 0,
        cookie: EMPTY,
        client: null,
        reply: EMPTY,
        timer: null,
      };
      this.associations.set(key(a.localPort, src, a.remotePort), a);
      this.send(a, a.peerTag, [{ kind: 'cookie-ack', flags: 0 }]);
      // A DATA bundled after the COOKIE ECHO belongs to the new association.
      for (const rest of packet.chunks.slice(1)) this.onChunk(a, rest);
      return;
    }
    if (c.kind === 'abort' || c.kind === 'shutdown-complete' || c.kind === 'cookie-ack') return;
    if (c.kind === 'shutdown-ack') {
      // Section 8.4 (5): answer with a SHUTDOWN COMPLETE, T bit set, the packet's own tag.
      this.host.sendSctp(dst, src, {
        sport: packet.dport,
        dport: packet.sport,
        verificationTag: packet.verificationTag,
        chunks: [{ kind: 'shutdown-complete', flags: SCTP_FLAG_T }],
      });
      return;
    }
    this.host.sendSctp(dst, src, {
      sport: packet.dport,
      dport: packet.sport,
      verificationTag: packet.verificationTag,
      chunks: [{ kind: 'abort', flags: SCTP_FLAG_T, causes: EMPTY }],
    });
  }

  // ------------------------------------------------------------------ helpers

  private send(a: Association, vtag: number, chunks: SctpChunk[]): void {
    this.host.sendSctp(a.localAddr, a.remoteAddr, {
      sport: a.localPort,
      dport: a.remotePort,
      verificationTag: vtag,
      chunks,
    });
  }

  private dataChunk(a: Association, payload: Uint8Array): SctpChunk {
    const tsn = a.nextTsn;
    a.nextTsn = (tsn + 1) >>> 0;
    // B and E: the whole message in one chunk; stream 0, sequence 0 (one message per association).
    return { kind: 'data', flags: 0x03, tsn, streamId: 0, streamSeq: 0, ppid: 0, payload };
  }

  private sack(a: Association): SctpChunk {
    return {
      kind: 'sack',
      flags: 0,
      cumulativeTsnAck: a.peerTsn,
      aRwnd: SCTP_DEFAULT_RWND,
      gapBlocks: [],
      duplicateTsns: [],
    };
  }

  private finish(a: Association, status: SctpClientResult['status']): void {
    this.associations.delete(key(a.localPort, a.remoteAddr, a.remotePort));
    if (a.timer !== null) {
      this.host.clearTimer(a.timer);
      a.timer = null;
    }
    const client = a.client;
    if (client !== null) {
      a.client = null;
      client.onDone({ status, reply: status === 'ok' ? a.reply : EMPTY });
    }
  }

  private ephemeralPort(remoteAddr: number, remotePort: number): number {
    for (let i = 0; i <= EPHEMERAL_MAX - EPHEMERAL_MIN; i++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p === EPHEMERAL_MAX ? EPHEMERAL_MIN : p + 1;
      if (!this.listeners.has(p) && !this.associations.has(key(p, remoteAddr, remotePort))) return p;
    }
    throw new Error('no free SCTP port');
  }

  /** Both tags and initial TSNs, then a seal binding them to the peer and this stack's secret. */
  private sealCookie(
    ownTag: number,
    peerTag: number,
    ownTsn: number,
    peerTsn: number,
    peerAddr: number,
    peerPort: number,
  ): Uint8Array {
    const c = new Uint8Array(COOKIE_LENGTH);
    writeU32(c, 0, ownTag);
    writeU32(c, 4, peerTag);
    writeU32(c, 8, ownTsn);
    writeU32(c, 12, peerTsn);
    writeU32(c, 16, (peerAddr ^ peerPort) >>> 0);
    writeU32(c, 20, this.seal(c));
    return c;
  }

  private openCookie(
    c: Uint8Array,
    peerAddr: number,
    peerPort: number,
  ): { ownTag: number; peerTag: number; ownTsn: number; peerTsn: number } | null {
    if (c.length !== COOKIE_LENGTH) return null;
    if (readU32(c, 16) !== (peerAddr ^ peerPort) >>> 0 || readU32(c, 20) !== this.seal(c)) return null;
    return { ownTag: readU32(c, 0), peerTag: readU32(c, 4), ownTsn: readU32(c, 8), peerTsn: readU32(c, 12) };
  }

  private seal(c: Uint8Array): number {
    const b = new Uint8Array(24);
    b.set(c.subarray(0, 20));
    writeU32(b, 20, this.secret);
    return crc32c(b);
  }
}
