/**
 * nf_conntrack's TCP state machine (net/netfilter/nf_conntrack_proto_tcp.c): states,
 * the packet-flag index (`get_conntrack_index`) and the two per-direction transition
 * tables `tcp_conntracks[dir][index][state]`, as in current kernels (6.x). They differ from
 * some older published copies in two cells: an original-direction SYN/ACK in SYN_RECV stays
 * SYN_RECV (older: ignored) and is invalid in later states, and a reply-direction SYN in
 * TIME_WAIT reopens to SYN_SENT.
 */
import { TcpFlag } from '../wire/tcp.js';

/** `enum tcp_conntrack` (values are the kernel's, shown by `conntrack -L`). */
export const enum TcpCtState {
  NONE = 0,
  SYN_SENT = 1,
  SYN_RECV = 2,
  ESTABLISHED = 3,
  FIN_WAIT = 4,
  CLOSE_WAIT = 5,
  LAST_ACK = 6,
  TIME_WAIT = 7,
  CLOSE = 8,
  SYN_SENT2 = 9,
}

/** Number of real states (TCP_CONNTRACK_MAX). */
export const TCP_CT_STATE_COUNT = 10;
/** Table verdict: the packet is invalid for the current state (sIV). */
export const TCP_CT_INVALID = 10;
/** Table verdict: the packet is ignored; the state is unchanged (sIG). */
export const TCP_CT_IGNORE = 11;

/** State names exactly as libnetfilter_conntrack prints them. */
export const TCP_CT_STATE_NAMES: readonly string[] = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
];

/** Row of the transition table chosen by the packet's dominant flag. */
export const enum TcpFlagIndex {
  SYN = 0,
  SYNACK = 1,
  FIN = 2,
  ACK = 3,
  RST = 4,
  NONE = 5,
}

/** `get_conntrack_index`: RST > SYN (SYN/ACK if ACK too) > FIN > ACK > none. */
export function tcpFlagIndex(flags: number): number {
  if (flags & TcpFlag.RST) return TcpFlagIndex.RST;
  if (flags & TcpFlag.SYN) return flags & TcpFlag.ACK ? TcpFlagIndex.SYNACK : TcpFlagIndex.SYN;
  if (flags & TcpFlag.FIN) return TcpFlagIndex.FIN;
  if (flags & TcpFlag.ACK) return TcpFlagIndex.ACK;
  return TcpFlagIndex.NONE;
}

const sSS = TcpCtState.SYN_SENT;
const sSR = TcpCtState.SYN_RECV;
const sES = TcpCtState.ESTABLISHED;
const sFW = TcpCtState.FIN_WAIT;
const sCW = TcpCtState.CLOSE_WAIT;
const sLA = TcpCtState.LAST_ACK;
const sTW = TcpCtState.TIME_WAIT;
const sCL = TcpCtState.CLOSE;
const sS2 = TcpCtState.SYN_SENT2;
const sIV = TCP_CT_INVALID;
const sIG = TCP_CT_IGNORE;

// Columns: current state NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT,
// LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2 (no transition ever leads back to NONE).
// biome-ignore format: keep the kernel's table layout readable
const TRANSITIONS = Uint8Array.from([
  // ORIGINAL direction
  /* syn    */ sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2,
  /* synack */ sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR,
  /* fin    */ sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
  /* ack    */ sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV,
  /* rst    */ sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
  /* none   */ sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
  // REPLY direction
  /* syn    */ sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2,
  /* synack */ sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR,
  /* fin    */ sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
  /* ack    */ sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG,
  /* rst    */ sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
  /* none   */ sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
]);

/**
 * `tcp_conntracks[dir][index][state]`: the next state, or TCP_CT_INVALID / TCP_CT_IGNORE.
 * `dir` is 0 (original) or 1 (reply); `index` from `tcpFlagIndex`.
 */
export function tcpNextState(dir: number, index: number, state: number): number {
  return TRANSITIONS[(dir * 6 + index) * TCP_CT_STATE_COUNT + state];
}
