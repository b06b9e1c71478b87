/**
 * The eBPF datapath's connection tracking (Cilium's `bpf/lib/conntrack.h` for IPv4): the
 * CT value words, lifetimes, the regular `ct_lookup4` and the CT_SERVICE entry refresh. The
 * tc programs (datapath.ts) and the benchmark's batch path both call these, so the number
 * `dpsim bench hotpath --mode ebpf` reports measures the simulator's own CT code.
 *
 * CT value layout (4 u32 words, see lbmaps.ts): [lifetime, ct flags | rev_nat << 16,
 * backend_id (SERVICE entries) or rx_packets, tx_packets].
 */
import type { BpfInlineHashMap } from '../../maps/index.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import { TcpFlag } from '../../wire/tcp.js';
import { CtEntryFlag, TupleFlag } from './layouts.js';

/** CT lifetimes (seconds), current Cilium defaults. */
export const CT_SYN_TIMEOUT = 60;
export const CT_CONNECTION_LIFETIME_TCP = 8000;
export const CT_SERVICE_LIFETIME_TCP = 8000;
export const CT_CONNECTION_LIFETIME_NONTCP = 60;
export const CT_SERVICE_LIFETIME_NONTCP = 60;
export const CT_CLOSE_TIMEOUT = 10;

/** Cilium's CT lookup results (`CT_NEW` …): what a lookup found, not the IPS_* status bits. */
export const enum CtLookupResult {
  NEW = 0,
  ESTABLISHED = 1,
  REPLY = 2,
  RELATED = 3,
  REOPENED = 4,
}

/** Word indexes of a CT value. */
export const enum CtValue {
  LIFETIME = 0,
  /** ct flags (CtEntryFlag) in the low 16 bits, rev_nat index in the high 16. */
  FLAGS_REV_NAT = 1,
  /** backend_id in CT_SERVICE entries (Cilium reuses rx_bytes), rx_packets otherwise. */
  BACKEND_OR_RX = 2,
  TX_PACKETS = 3,
}

export function ctRevNat(cv: Uint32Array, eo: number): number {
  return cv[eo + CtValue.FLAGS_REV_NAT] >>> 16;
}

export function ctSetRevNat(cv: Uint32Array, eo: number, revNat: number): void {
  cv[eo + CtValue.FLAGS_REV_NAT] = (cv[eo + CtValue.FLAGS_REV_NAT] & 0xffff) | (revNat << 16);
}

const CLOSING = CtEntryFlag.RX_CLOSING | CtEntryFlag.TX_CLOSING;
// The per-packet refresh below reads these as module constants: with isolatedModules the
// compilers emit every `Enum.MEMBER` as a property load on the enum object, which the hot
// path would pay on each packet.
const FLAGS_WORD = CtValue.FLAGS_REV_NAT;
const TX_WORD = CtValue.TX_PACKETS;
const SEEN_NON_SYN = CtEntryFlag.SEEN_NON_SYN;
const CLOSING_OR_SEEN = CLOSING | SEEN_NON_SYN;

/**
 * Sets the entry's lifetime from the packet (`ct_update_timeout`): closing in both
 * directions ⇒ the close timeout; TCP before any non-SYN packet ⇒ the SYN timeout (and the
 * first non-SYN packet marks the entry SEEN_NON_SYN); else the connection or service lifetime.
 */
export function ctRefreshLifetime(
  cv: Uint32Array,
  eo: number,
  tcp: boolean,
  service: boolean,
  tcpFlags: number,
  now: number,
): void {
  const flags = cv[eo + CtValue.FLAGS_REV_NAT];
  if ((flags & CLOSING) === CLOSING) {
    cv[eo] = now + CT_CLOSE_TIMEOUT;
    return;
  }
  if (!tcp) {
    cv[eo] = now + (service ? CT_SERVICE_LIFETIME_NONTCP : CT_CONNECTION_LIFETIME_NONTCP);
    return;
  }
  let seen = flags & CtEntryFlag.SEEN_NON_SYN;
  if (seen === 0 && (tcpFlags & TcpFlag.SYN) === 0) {
    seen = CtEntryFlag.SEEN_NON_SYN;
    cv[eo + CtValue.FLAGS_REV_NAT] = flags | seen;
  }
  cv[eo] =
    now + (seen === 0 ? CT_SYN_TIMEOUT : service ? CT_SERVICE_LIFETIME_TCP : CT_CONNECTION_LIFETIME_TCP);
}

/** A packet of the flow hit its CT_SERVICE entry: lifetime refreshed, packet counted. */
export function ctServiceHit(cv: Uint32Array, eo: number, tcp: boolean, tcpFlags: number, now: number): void {
  // The common case first, small enough to inline into the per-packet loops: an open TCP
  // flow past its SYN gets the service lifetime (what ctRefreshLifetime computes for it).
  if (tcp && (cv[eo + FLAGS_WORD] & CLOSING_OR_SEEN) === SEEN_NON_SYN) cv[eo] = now + CT_SERVICE_LIFETIME_TCP;
  else ctRefreshLifetime(cv, eo, tcp, true, tcpFlags, now);
  cv[eo + TX_WORD] = (cv[eo + TX_WORD] + 1) >>> 0;
}

/** `ct_lookup4` with its answer in fields (no allocation): call `lookup`, read `entry`. */
export class CtLookup {
  /** Handle of the entry found (−1 on NEW). */
  entry = -1;

  /**
   * Regular CT lookup for a packet saddr:sport → daddr:dport. `ingress` selects the
   * direction (the first key tried is the reply-direction key). Refreshes the entry's
   * lifetime, closing flags and packet counters.
   */
  lookup(
    ct: BpfInlineHashMap,
    proto: number,
    saddr: number,
    daddr: number,
    sport: number,
    dport: number,
    tcpFlags: number,
    ingress: boolean,
    now: number,
  ): CtLookupResult {
    const cv = ct.values;
    const tcp = proto === IpProtocol.TCP;
    const first = ingress ? TupleFlag.OUT : TupleFlag.IN;
    let e = ct.lookupWords(daddr, saddr, ((sport << 16) | dport) >>> 0, proto | (first << 8));
    let status = CtLookupResult.REPLY;
    if (e < 0) {
      e = ct.lookupWords(saddr, daddr, ((dport << 16) | sport) >>> 0, proto | ((first ^ TupleFlag.IN) << 8));
      status = CtLookupResult.ESTABLISHED;
    }
    this.entry = e;
    if (e < 0) return CtLookupResult.NEW;
    const eo = ct.valueOffset(e);
    const fw = eo + CtValue.FLAGS_REV_NAT;
    if (tcp && (tcpFlags & TcpFlag.SYN) !== 0 && (cv[fw] & CLOSING) !== 0) {
      cv[fw] &= ~CLOSING;
      status = CtLookupResult.REOPENED;
    }
    if (tcp && (tcpFlags & (TcpFlag.RST | TcpFlag.FIN)) !== 0) {
      cv[fw] |= status === CtLookupResult.REPLY ? CtEntryFlag.RX_CLOSING : CtEntryFlag.TX_CLOSING;
    }
    ctRefreshLifetime(cv, eo, tcp, false, tcpFlags, now);
    if (status === CtLookupResult.REPLY)
      cv[eo + CtValue.BACKEND_OR_RX] = (cv[eo + CtValue.BACKEND_OR_RX] + 1) >>> 0;
    else cv[eo + CtValue.TX_PACKETS] = (cv[eo + CtValue.TX_PACKETS] + 1) >>> 0;
    return status;
  }
}
