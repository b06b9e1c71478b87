/**
 * nf_conntrack's SCTP tracker (net/netfilter/nf_conntrack_proto_sctp.c, Linux 6.x): the
 * states, the per-direction transition table `sctp_conntracks[dir][chunk][state]`, the
 * verification-tag checks of RFC 9260 section 8.5 as the kernel applies them, and the
 * per-state timeouts. Unlike TCP, the state advances chunk by chunk: a packet's chunks are
 * walked in order and each one may move the state (DATA and SACK never do).
 *
 * Current kernels (since 6.3) put a connection whose first packet is an INIT in CLOSED,
 * not COOKIE_WAIT: COOKIE_WAIT needs the INIT ACK, ESTABLISHED the COOKIE ACK.
 */
import { readU32 } from '../wire/bytes.js';
import {
  SCTP_CHUNK_HEADER_LENGTH,
  SCTP_COMMON_HEADER_LENGTH,
  SCTP_FLAG_T,
  SCTP_SCAN_MALFORMED,
  SctpChunkType,
  SctpField,
  scanSctpChunks,
  sctpChunkBit,
} from '../wire/sctp.js';

/** `enum sctp_conntrack` (values are the kernel's). */
export const enum SctpCtState {
  NONE = 0,
  CLOSED = 1,
  COOKIE_WAIT = 2,
  COOKIE_ECHOED = 3,
  ESTABLISHED = 4,
  SHUTDOWN_SENT = 5,
  SHUTDOWN_RECD = 6,
  SHUTDOWN_ACK_SENT = 7,
  HEARTBEAT_SENT = 8,
}

export const SCTP_CT_STATE_COUNT = 9;

/** State names as libnetfilter_conntrack prints them in `conntrack -L`. */
export const SCTP_CT_STATE_NAMES: readonly string[] = [
  'NONE',
  'CLOSED',
  'COOKIE_WAIT',
  'COOKIE_ECHOED',
  'ESTABLISHED',
  'SHUTDOWN_SENT',
  'SHUTDOWN_RECD',
  'SHUTDOWN_ACK_SENT',
  'HEARTBEAT_SENT',
];

/** The kernel's default `nf_conntrack_sctp_timeout_*`, seconds, indexed by SctpCtState. */
export function defaultSctpTimeouts(): number[] {
  const t = new Array<number>(SCTP_CT_STATE_COUNT).fill(0);
  t[SctpCtState.CLOSED] = 10;
  t[SctpCtState.COOKIE_WAIT] = 3;
  t[SctpCtState.COOKIE_ECHOED] = 3;
  t[SctpCtState.ESTABLISHED] = 210;
  t[SctpCtState.SHUTDOWN_SENT] = 3;
  t[SctpCtState.SHUTDOWN_RECD] = 3;
  t[SctpCtState.SHUTDOWN_ACK_SENT] = 3;
  t[SctpCtState.HEARTBEAT_SENT] = 30;
  // timeouts[NONE] holds the "new connection" timeout, CLOSED's (nf_conntrack_sctp_init_net).
  t[SctpCtState.NONE] = t[SctpCtState.CLOSED];
  return t;
}

/** Table verdict: the chunk is invalid in this state (sIV, SCTP_CONNTRACK_MAX). */
const sIV = SCTP_CT_STATE_COUNT;
const sNO = SctpCtState.NONE;
const sCL = SctpCtState.CLOSED;
const sCW = SctpCtState.COOKIE_WAIT;
const sCE = SctpCtState.COOKIE_ECHOED;
const sES = SctpCtState.ESTABLISHED;
const sSS = SctpCtState.SHUTDOWN_SENT;
const sSR = SctpCtState.SHUTDOWN_RECD;
const sSA = SctpCtState.SHUTDOWN_ACK_SENT;
const sHS = SctpCtState.HEARTBEAT_SENT;

/** Rows of the table, in the kernel's order (`sctp_new_state`'s index). */
const ROW_OF_CHUNK = (() => {
  const rows = new Int8Array(256).fill(-1);
  rows[SctpChunkType.INIT] = 0;
  rows[SctpChunkType.INIT_ACK] = 1;
  rows[SctpChunkType.ABORT] = 2;
  rows[SctpChunkType.SHUTDOWN] = 3;
  rows[SctpChunkType.SHUTDOWN_ACK] = 4;
  rows[SctpChunkType.ERROR] = 5;
  rows[SctpChunkType.COOKIE_ECHO] = 6;
  rows[SctpChunkType.COOKIE_ACK] = 7;
  rows[SctpChunkType.SHUTDOWN_COMPLETE] = 8;
  rows[SctpChunkType.HEARTBEAT] = 9;
  rows[SctpChunkType.HEARTBEAT_ACK] = 10;
  return rows;
})();

const ROWS = 11;

// Columns: current state NONE, CLOSED, COOKIE_WAIT, COOKIE_ECHOED, ESTABLISHED,
// SHUTDOWN_SENT, SHUTDOWN_RECD, SHUTDOWN_ACK_SENT, HEARTBEAT_SENT.
// biome-ignore format: keep the kernel's table layout readable
const TRANSITIONS = Uint8Array.from([
  // ORIGINAL direction
  /* init          */ sCL, sCL, sCW, sCE, sES, sCL, sCL, sSA, sCW,
  /* init_ack      */ sCL, sCL, sCW, sCE, sES, sSS, sSR, sSA, sCL,
  /* abort         */ sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
  /* shutdown      */ sCL, sCL, sCW, sCE, sSS, sSS, sSR, sSA, sCL,
  /* shutdown_ack  */ sSA, sCL, sCW, sCE, sES, sSA, sSA, sSA, sSA,
  /* error         */ sCL, sCL, sCW, sCE, sES, sSS, sSR, sSA, sCL,
  /* cookie_echo   */ sCL, sCL, sCE, sCE, sES, sSS, sSR, sSA, sCL,
  /* cookie_ack    */ sCL, sCL, sCW, sES, sES, sSS, sSR, sSA, sCL,
  /* shutdown_comp */ sCL, sCL, sCW, sCE, sES, sSS, sSR, sCL, sCL,
  /* heartbeat     */ sHS, sCL, sCW, sCE, sES, sSS, sSR, sSA, sHS,
  /* heartbeat_ack */ sCL, sCL, sCW, sCE, sES, sSS, sSR, sSA, sHS,
  // REPLY direction
  /* init          */ sIV, sCL, sCW, sCE, sES, sSS, sSR, sSA, sIV,
  /* init_ack      */ sIV, sCW, sCW, sCE, sES, sSS, sSR, sSA, sIV,
  /* abort         */ sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sIV,
  /* shutdown      */ sIV, sCL, sCW, sCE, sSR, sSS, sSR, sSA, sIV,
  /* shutdown_ack  */ sIV, sCL, sCW, sCE, sES, sSA, sSA, sSA, sIV,
  /* error         */ sIV, sCL, sCW, sCL, sES, sSS, sSR, sSA, sIV,
  /* cookie_echo   */ sIV, sCL, sCE, sCE, sES, sSS, sSR, sSA, sIV,
  /* cookie_ack    */ sIV, sCL, sCW, sES, sES, sSS, sSR, sSA, sIV,
  /* shutdown_comp */ sIV, sCL, sCW, sCE, sES, sSS, sSR, sCL, sIV,
  /* heartbeat     */ sIV, sCL, sCW, sCE, sES, sSS, sSR, sSA, sHS,
  /* heartbeat_ack */ sIV, sCL, sCW, sCE, sES, sSS, sSR, sSA, sES,
]);

/**
 * `sctp_new_state`: the state after a chunk of `type` in direction `dir` (0 original,
 * 1 reply), SCTP_CT_STATE_COUNT when the chunk is invalid there; chunks without a row
 * (DATA, SACK, …) keep the state.
 */
export function sctpNextState(dir: number, state: number, type: number): number {
  const row = ROW_OF_CHUNK[type & 0xff];
  if (row < 0) return state;
  return TRANSITIONS[(dir * ROWS + row) * SCTP_CT_STATE_COUNT + state];
}

/** `sctpPacket` result: the packet is invalid for the connection (-NF_ACCEPT). */
export const SCTP_CT_INVALID = -1;
/** `sctpPacket` result bit: accept but do not refresh the timeout (an INIT retransmitted in CLOSED). */
export const SCTP_CT_NO_REFRESH = 0x100;
/** `sctpPacket` result bit: the connection just became ESTABLISHED (set ASSURED). */
export const SCTP_CT_ASSURE = 0x200;

const INIT_ORIG = 1;
const INIT_REPLY = 2;
const HEARTBEAT_VTAG_FAILED = 4;
const LAST_DIR_REPLY = 8;

const EXEMPT_FROM_VTAG_CHECK =
  sctpChunkBit(SctpChunkType.INIT) |
  sctpChunkBit(SctpChunkType.SHUTDOWN_COMPLETE) |
  sctpChunkBit(SctpChunkType.COOKIE_ECHO) |
  sctpChunkBit(SctpChunkType.ABORT) |
  sctpChunkBit(SctpChunkType.SHUTDOWN_ACK) |
  sctpChunkBit(SctpChunkType.HEARTBEAT) |
  sctpChunkBit(SctpChunkType.HEARTBEAT_ACK);

const OOTB_DISCARD =
  sctpChunkBit(SctpChunkType.ABORT) |
  sctpChunkBit(SctpChunkType.SHUTDOWN_COMPLETE) |
  sctpChunkBit(SctpChunkType.COOKIE_ACK);

/**
 * The SCTP part of conntrack entries (`struct ip_ct_sctp`): both directions' verification
 * tags and the INIT/heartbeat bookkeeping, per connection id, in typed arrays. The state
 * itself lives in the table's per-connection protocol-state byte.
 */
export class SctpConntrack {
  /** vtag[conn * 2 + dir]: the tag packets in direction `dir` must carry. */
  readonly vtag: Uint32Array;
  private readonly info: Uint8Array;

  constructor(max: number) {
    this.vtag = new Uint32Array(2 * max);
    this.info = new Uint8Array(max);
  }

  get byteLength(): number {
    return this.vtag.byteLength + this.info.byteLength;
  }

  /**
   * `nf_conntrack_sctp_packet` minus the checksum check (the caller does `sctp_error`):
   * walks the chunks of `buf[l4 .. l4+length)` seen in direction `dir` and updates
   * `states[conn]`. Returns the final state, with SCTP_CT_NO_REFRESH / SCTP_CT_ASSURE bits,
   * or SCTP_CT_INVALID. `confirmed`: the entry is in the table (false for a new connection).
   */
  packet(
    states: Uint8Array,
    conn: number,
    dir: number,
    confirmed: boolean,
    buf: Uint8Array,
    l4: number,
    length: number,
  ): number {
    if (length < SCTP_COMMON_HEADER_LENGTH) return SCTP_CT_INVALID;
    const map = scanSctpChunks(buf, l4, length);
    if (map === SCTP_SCAN_MALFORMED) return SCTP_CT_INVALID;
    const vtag = readU32(buf, l4 + SctpField.VERIFICATION_TAG);
    const v = conn * 2;
    const end = l4 + length;
    if (!confirmed) {
      // An out-of-the-blue packet with these chunks never starts a connection (RFC 9260 8.4).
      if (map & OOTB_DISCARD) return SCTP_CT_INVALID;
      if (!this.newConnection(states, conn, buf, l4, end, vtag)) return SCTP_CT_INVALID;
    }
    if (!(map & EXEMPT_FROM_VTAG_CHECK) && vtag !== this.vtag[v + dir]) return SCTP_CT_INVALID;

    let ignore = false;
    let assure = 0;
    let next: number = SctpCtState.NONE;
    for (let p = l4 + SCTP_COMMON_HEADER_LENGTH; p + SCTP_CHUNK_HEADER_LENGTH <= end; ) {
      const type = buf[p];
      const flags = buf[p + 1];
      const step = (((buf[p + 2] << 8) | buf[p + 3]) + 3) & ~3;
      const own = this.vtag[v + dir];
      const peer = this.vtag[v + (dir ^ 1)];
      if (type === SctpChunkType.INIT) {
        if (vtag !== 0) return SCTP_CT_INVALID;
      } else if (type === SctpChunkType.ABORT || type === SctpChunkType.SHUTDOWN_COMPLETE) {
        if (flags & SCTP_FLAG_T ? vtag !== peer : vtag !== own) return SCTP_CT_INVALID;
      } else if (type === SctpChunkType.COOKIE_ECHO) {
        if (vtag !== own) return SCTP_CT_INVALID;
      } else if (type === SctpChunkType.COOKIE_ACK) {
        this.info[conn] &= ~(INIT_ORIG | INIT_REPLY);
      } else if (type === SctpChunkType.HEARTBEAT || type === SctpChunkType.HEARTBEAT_ACK) {
        const r = this.heartbeatTag(conn, dir, type, vtag, map, ignore);
        if (r === HB_INVALID) return SCTP_CT_INVALID;
        if (r === HB_IGNORE) {
          ignore = true;
          p += step;
          continue;
        }
      }
      const old = states[conn];
      next = sctpNextState(dir, old, type);
      if (next === sIV) return SCTP_CT_INVALID;
      if (type === SctpChunkType.INIT) {
        if (p + SCTP_CHUNK_HEADER_LENGTH + 4 > end) return SCTP_CT_INVALID;
        const initFlag = dir === 0 ? INIT_ORIG : INIT_REPLY;
        const otherFlag = dir === 0 ? INIT_REPLY : INIT_ORIG;
        if (this.info[conn] & initFlag && this.info[conn] & otherFlag) this.info[conn] &= ~otherFlag;
        this.info[conn] |= initFlag;
        this.vtag[v + (dir ^ 1)] = readU32(buf, p + SCTP_CHUNK_HEADER_LENGTH);
        // An INIT retransmitted in CLOSED must not keep the entry (and its NAT) alive.
        if (next === sCL && old === sCL && confirmed) ignore = true;
      } else if (type === SctpChunkType.INIT_ACK) {
        if (p + SCTP_CHUNK_HEADER_LENGTH + 4 > end) return SCTP_CT_INVALID;
        const initTag = readU32(buf, p + SCTP_CHUNK_HEADER_LENGTH);
        const initOwn = this.info[conn] & (dir === 0 ? INIT_ORIG : INIT_REPLY);
        const initPeer = this.info[conn] & (dir === 0 ? INIT_REPLY : INIT_ORIG);
        const tag = this.vtag[v + (dir ^ 1)];
        if (!initPeer && tag !== 0 && tag !== initTag) return SCTP_CT_INVALID;
        if (initOwn && initPeer && tag !== initTag) return SCTP_CT_INVALID; // collision
        this.vtag[v + (dir ^ 1)] = initTag;
      }
      states[conn] = next;
      if (old !== next && next === sES) assure = SCTP_CT_ASSURE;
      p += step;
    }
    return next | assure | (ignore ? SCTP_CT_NO_REFRESH : 0);
  }

  /** `sctp_new`: a new connection's tags from its first packet; false if it cannot start one. */
  private newConnection(
    states: Uint8Array,
    conn: number,
    buf: Uint8Array,
    l4: number,
    end: number,
    vtag: number,
  ): boolean {
    const v = conn * 2;
    this.vtag[v] = 0;
    this.vtag[v + 1] = 0;
    this.info[conn] = 0;
    for (let p = l4 + SCTP_COMMON_HEADER_LENGTH; p + SCTP_CHUNK_HEADER_LENGTH <= end; ) {
      const type = buf[p];
      const s = sctpNextState(0, sNO, type);
      if (s === sNO || s === sIV) return false;
      if (type === SctpChunkType.INIT) {
        if (vtag !== 0 || p + SCTP_CHUNK_HEADER_LENGTH + 4 > end) return false;
        this.vtag[v + 1] = readU32(buf, p + SCTP_CHUNK_HEADER_LENGTH);
      } else if (type === SctpChunkType.HEARTBEAT) {
        this.vtag[v] = vtag;
      } else {
        // An OOTB SHUTDOWN ACK expects a SHUTDOWN COMPLETE back, anything else an ABORT.
        this.vtag[v + 1] = vtag;
      }
      states[conn] = sNO;
      p += (((buf[p + 2] << 8) | buf[p + 3]) + 3) & ~3;
    }
    return true;
  }

  /** The heartbeat special cases of the vtag check (a secondary path's conntrack entry). */
  private heartbeatTag(
    conn: number,
    dir: number,
    type: number,
    vtag: number,
    map: number,
    ignore: boolean,
  ): number {
    const v = conn * 2;
    const info = this.info[conn];
    if (this.vtag[v + dir] === 0) {
      this.vtag[v + dir] = vtag;
      return HB_OK;
    }
    if (vtag !== this.vtag[v + dir]) {
      if (map & sctpChunkBit(SctpChunkType.DATA) || ignore) return HB_INVALID;
      if (type === SctpChunkType.HEARTBEAT) {
        this.info[conn] = (info | HEARTBEAT_VTAG_FAILED) & ~LAST_DIR_REPLY;
        if (dir === 1) this.info[conn] |= LAST_DIR_REPLY;
        return HB_IGNORE;
      }
      const lastDir = info & LAST_DIR_REPLY ? 1 : 0;
      if (!(info & HEARTBEAT_VTAG_FAILED) || lastDir === dir) return HB_INVALID;
      this.info[conn] = info & ~HEARTBEAT_VTAG_FAILED;
      this.vtag[v + dir] = vtag;
      this.vtag[v + (dir ^ 1)] = 0;
      return HB_OK;
    }
    if (info & HEARTBEAT_VTAG_FAILED) this.info[conn] = info & ~HEARTBEAT_VTAG_FAILED;
    return HB_OK;
  }
}

const HB_OK = 0;
const HB_INVALID = 1;
const HB_IGNORE = 2;

/** `sctp_can_early_drop`: an entry in a SHUTDOWN state may be evicted even when ASSURED. */
export function sctpCanEarlyDrop(state: number): boolean {
  return state === sSS || state === sSR || state === sSA;
}
