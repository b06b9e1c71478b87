/**
 * IPVS per-protocol connection states, their default timeouts and the TCP transition table,
 * restated from net/netfilter/ipvs/ip_vs_proto_tcp.c and ip_vs_proto_udp.c (not
 * nf_conntrack's tables — IPVS keeps its own, coarser state machine).
 *
 * A connection is "active" (counted in ActiveConn, used by lc/wlc/sed/nq) only in the states
 * `tcp_state_active_table` marks: ESTABLISHED, SYN_SENT, SYN_RECV and SYNACK. Every new
 * connection starts INACTIVE (the destination's conn_flags always carry
 * IP_VS_CONN_F_INACTIVE) and the first state transition moves it.
 */
import { TcpFlag } from '../../wire/tcp.js';

/** IP_VS_TCP_S_* in kernel order (the table columns below use it). */
export const enum IpvsTcpState {
  NONE = 0,
  ESTABLISHED = 1,
  SYN_SENT = 2,
  SYN_RECV = 3,
  FIN_WAIT = 4,
  TIME_WAIT = 5,
  CLOSE = 6,
  CLOSE_WAIT = 7,
  LAST_ACK = 8,
  LISTEN = 9,
  SYNACK = 10,
}

/** UDP connections have one state, IP_VS_UDP_S_NORMAL, shown as "UDP". */
export const UDP_STATE_NORMAL = 0;

/** Template (persistence) connections: IP_VS_CTPL_S_NONE / IP_VS_CTPL_S_ASSURED. */
export const enum TemplateState {
  NONE = 0,
  ASSURED = 1,
}

export const TCP_STATE_NAMES: readonly string[] = [
  'NONE',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'SYNACK',
];

export const TEMPLATE_STATE_NAMES: readonly string[] = ['NONE', 'ASSURED'];

/** tcp_timeouts[] in seconds (ipvsadm --set changes ESTABLISHED and FIN_WAIT). */
export const DEFAULT_TCP_TIMEOUTS_S: readonly number[] = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120];

/** udp_timeouts[IP_VS_UDP_S_NORMAL]: 5 minutes (ipvsadm --set's third value). */
export const DEFAULT_UDP_TIMEOUT_S = 300;

/** IP_VS_SCTP_S_* in kernel order (ip_vs_proto_sctp.c; the table columns below use it). */
export const enum IpvsSctpState {
  NONE = 0,
  INIT1 = 1,
  INIT = 2,
  COOKIE_SENT = 3,
  COOKIE_REPLIED = 4,
  COOKIE_WAIT = 5,
  COOKIE = 6,
  COOKIE_ECHOED = 7,
  ESTABLISHED = 8,
  SHUTDOWN_SENT = 9,
  SHUTDOWN_RECEIVED = 10,
  SHUTDOWN_ACK_SENT = 11,
  REJECTED = 12,
  CLOSED = 13,
}

/** `sctp_state_name_table`: what `ipvsadm -Lnc` prints for an SCTP connection. */
export const SCTP_STATE_NAMES: readonly string[] = [
  'NONE',
  'INIT1',
  'INIT',
  'C-SENT',
  'C-REPLIED',
  'C-WAIT',
  'COOKIE',
  'C-ECHOED',
  'ESTABLISHED',
  'S-SENT',
  'S-RECEIVED',
  'S-ACK-SENT',
  'REJECTED',
  'CLOSED',
];

/** IP_VS_SCTP_MAX_RTO: (60 + 1) s. */
const SCTP_MAX_RTO_S = 61;

/** sctp_timeouts[] in seconds, by IpvsSctpState. */
export const DEFAULT_SCTP_TIMEOUTS_S: readonly number[] = [
  2, // NONE
  4, // INIT1
  SCTP_MAX_RTO_S, // INIT
  SCTP_MAX_RTO_S, // COOKIE_SENT
  SCTP_MAX_RTO_S, // COOKIE_REPLIED
  SCTP_MAX_RTO_S, // COOKIE_WAIT
  SCTP_MAX_RTO_S, // COOKIE
  SCTP_MAX_RTO_S, // COOKIE_ECHOED
  15 * 60, // ESTABLISHED
  SCTP_MAX_RTO_S, // SHUTDOWN_SENT
  SCTP_MAX_RTO_S, // SHUTDOWN_RECEIVED
  SCTP_MAX_RTO_S, // SHUTDOWN_ACK_SENT
  4, // REJECTED
  SCTP_MAX_RTO_S, // CLOSED
];

/** `sctp_events[]`: the event row for a chunk type (DATA, SACK, HEARTBEATs and unknown types: 0). */
export function sctpEvent(chunkType: number): number {
  switch (chunkType) {
    case 1: // INIT
      return 1;
    case 2: // INIT ACK
      return 2;
    case 10: // COOKIE ECHO
      return 3;
    case 11: // COOKIE ACK
      return 4;
    case 7: // SHUTDOWN
      return 5;
    case 8: // SHUTDOWN ACK
      return 6;
    case 14: // SHUTDOWN COMPLETE
      return 7;
    case 9: // ERROR
      return 8;
    case 6: // ABORT
      return 9;
    default:
      return 0;
  }
}

const SCTP_EVENTS = 10;
const SCTP_STATES = 14;
const xI1 = IpvsSctpState.INIT1;
const xIN = IpvsSctpState.INIT;
const xCS = IpvsSctpState.COOKIE_SENT;
const xCR = IpvsSctpState.COOKIE_REPLIED;
const xCW = IpvsSctpState.COOKIE_WAIT;
const xCO = IpvsSctpState.COOKIE;
const xCE = IpvsSctpState.COOKIE_ECHOED;
const xES = IpvsSctpState.ESTABLISHED;
const xSS = IpvsSctpState.SHUTDOWN_SENT;
const xSR = IpvsSctpState.SHUTDOWN_RECEIVED;
const xSA = IpvsSctpState.SHUTDOWN_ACK_SENT;
const xRJ = IpvsSctpState.REJECTED;
const xCL = IpvsSctpState.CLOSED;

// sctp_states[dir][event][state] for the INPUT (client → real server) and OUTPUT (replies)
// directions; INPUT_ONLY (direct routing / tunnels) is not used by kube-proxy's masquerading.
// Columns: NONE, INIT1, INIT, C-SENT, C-REPLIED, C-WAIT, COOKIE, C-ECHOED, ESTABLISHED,
// S-SENT, S-RECEIVED, S-ACK-SENT, REJECTED, CLOSED.
// biome-ignore format: keep the kernel's table layout readable
const SCTP_TRANSITIONS = Uint8Array.from([
  // INPUT
  /* data */ xES, xI1, xIN, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL,
  /* i    */ xI1, xIN, xIN, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xIN, xIN,
  /* i_a  */ xCW, xCW, xCW, xCS, xCR, xCO, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL,
  /* c_e  */ xCR, xIN, xIN, xCR, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL,
  /* c_a  */ xES, xI1, xIN, xCS, xCR, xCW, xCO, xES, xES, xSS, xSR, xSA, xRJ, xCL,
  /* s    */ xSR, xI1, xIN, xCS, xCR, xCW, xCO, xCE, xSR, xSS, xSR, xSA, xRJ, xCL,
  /* s_a  */ xCL, xIN, xIN, xCS, xCR, xCW, xCO, xCE, xES, xCL, xSR, xCL, xRJ, xCL,
  /* s_c  */ xCL, xCL, xCL, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xCL, xRJ, xCL,
  /* err  */ xCL, xI1, xIN, xCS, xCR, xCW, xCO, xCL, xES, xSS, xSR, xSA, xRJ, xCL,
  /* ab   */ xCL, xCL, xCL, xCL, xCL, xRJ, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL,
  // OUTPUT
  /* data */ xES, xI1, xIN, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL,
  /* i    */ xCW, xCW, xCW, xCW, xCW, xCW, xCW, xCW, xES, xCW, xCW, xCW, xCW, xCW,
  /* i_a  */ xCS, xCS, xCS, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL,
  /* c_e  */ xCE, xCE, xCE, xCE, xCE, xCE, xCE, xCE, xES, xSS, xSR, xSA, xRJ, xCL,
  /* c_a  */ xES, xES, xES, xES, xES, xES, xES, xES, xES, xSS, xSR, xSA, xRJ, xCL,
  /* s    */ xSS, xSS, xSS, xSS, xSS, xSS, xSS, xSS, xSS, xSS, xSR, xSA, xRJ, xCL,
  /* s_a  */ xSA, xSA, xSA, xSA, xSA, xCW, xCO, xCE, xES, xSA, xSA, xSA, xRJ, xCL,
  /* s_c  */ xCL, xI1, xIN, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL,
  /* err  */ xCL, xCL, xCL, xCL, xCL, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL,
  /* ab   */ xCL, xRJ, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL,
]);

/**
 * `set_sctp_state`'s table lookup: the next state after a packet whose first chunk is
 * `chunkType`, in direction `dir` (0 input, 1 output). Only ESTABLISHED counts as active.
 * (The kernel also reads an ABORT bundled right after a leading COOKIE ECHO/ACK; dpsim keys
 * on the first chunk only.)
 */
export function nextSctpState(dir: number, chunkType: number, state: number): number {
  return SCTP_TRANSITIONS[(dir * SCTP_EVENTS + sctpEvent(chunkType)) * SCTP_STATES + state];
}

/** Newly created connections live 3 s until the first state transition (ip_vs_conn_new). */
export const NEW_CONN_TIMEOUT_S = 3;

/** A connection whose timer fires while it still controls others is re-armed for 60 s. */
export const EXPIRE_LATER_S = 60;

export const TCP_ACTIVE: readonly boolean[] = [
  false, // NONE
  true, // ESTABLISHED
  true, // SYN_SENT
  true, // SYN_RECV
  false, // FIN_WAIT
  false, // TIME_WAIT
  false, // CLOSE
  false, // CLOSE_WAIT
  false, // LAST_ACK
  false, // LISTEN
  true, // SYNACK
];

/** Direction offsets into the transition table (TCP_DIR_INPUT / OUTPUT / INPUT_ONLY). */
export const enum TcpDir {
  INPUT = 0,
  OUTPUT = 4,
  INPUT_ONLY = 8,
}

// Row = dir + flag index (syn 0, fin 1, ack 2, rst 3); column = current state.
const sES = IpvsTcpState.ESTABLISHED;
const sSS = IpvsTcpState.SYN_SENT;
const sSR = IpvsTcpState.SYN_RECV;
const sFW = IpvsTcpState.FIN_WAIT;
const sTW = IpvsTcpState.TIME_WAIT;
const sCL = IpvsTcpState.CLOSE;
const sCW = IpvsTcpState.CLOSE_WAIT;
const sLA = IpvsTcpState.LAST_ACK;
const sLI = IpvsTcpState.LISTEN;

/** tcp_states[] (secure_tcp off): rows INPUT syn/fin/ack/rst, OUTPUT …, INPUT-ONLY …; columns = state. */
const TCP_STATE_ROWS: readonly (readonly number[])[] = [
  [sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR],
  [sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW],
  [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES],
  [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR],
  [sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR],
  [sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW],
  [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES],
  [sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL],
  [sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR],
  [sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW],
  [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES],
  [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL],
];

/** The same table flattened row-major (12 rows × 11 states) for allocation-free lookups. */
export const TCP_TRANSITIONS = Uint8Array.from(TCP_STATE_ROWS.flat());

/** tcp_state_idx(): RST wins, then SYN, FIN, ACK; -1 when none is set. */
export function tcpFlagIndex(flags: number): number {
  if (flags & TcpFlag.RST) return 3;
  if (flags & TcpFlag.SYN) return 0;
  if (flags & TcpFlag.FIN) return 1;
  if (flags & TcpFlag.ACK) return 2;
  return -1;
}

/**
 * set_tcp_state()'s next state: a packet with none of SYN/FIN/ACK/RST moves the
 * connection to CLOSE, as the kernel does.
 */
export function nextTcpState(dir: number, flags: number, state: number): number {
  const idx = tcpFlagIndex(flags);
  if (idx < 0) return IpvsTcpState.CLOSE;
  return TCP_TRANSITIONS[(dir + idx) * 11 + state];
}
