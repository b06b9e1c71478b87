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

/** UDP (and, simplified, SCTP) connections have one state, IP_VS_UDP_S_NORMAL, shown as "UDP". */
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

/**
 * SCTP: dpsim does not model IPVS's SCTP state machine (ip_vs_proto_sctp.c); an SCTP
 * connection stays in one state with the ESTABLISHED timeout (15 min, sctp_timeouts).
 */
export const DEFAULT_SCTP_TIMEOUT_S = 900;

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
