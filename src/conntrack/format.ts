/**
 * `conntrack -L` output (conntrack-tools 1.4.7 / libnetfilter_conntrack default format),
 * checked against the real tool on Linux 6.18:
 *
 *   tcp      6 431999 ESTABLISHED src=… dst=… sport=… dport=… src=… dst=… sport=… dport=… [ASSURED] mark=0 use=1
 *   udp      17 28 src=… dst=… sport=… dport=… [UNREPLIED] src=… dst=… sport=… dport=… mark=0 use=1
 *   icmp     1 29 src=… dst=… type=8 code=0 id=4660 src=… dst=… type=0 code=0 id=4660 mark=0 use=1
 *   sctp     132 209 ESTABLISHED src=… dst=… sport=… dport=… src=… dst=… sport=… dport=… [ASSURED] mark=0 use=1
 *
 * Fields: protocol name left-justified in 8 columns, a space, the protocol number; seconds
 * left (rounded down); the TCP or SCTP state (libnetfilter_conntrack prints both protocols' protoinfo); the original tuple; `[UNREPLIED]` when no
 * reply was seen; the reply tuple; `[ASSURED]`; `mark=`; `use=`. The summary line goes to stderr.
 */

import { formatIPv4 } from '../util/ipv4.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import { CtStatus } from './constants.js';
import { SCTP_CT_STATE_NAMES } from './sctp-state.js';
import { asConnId, type ConntrackTable } from './table.js';
import { TCP_CT_STATE_NAMES } from './tcp-state.js';
import { protoName } from './tuple.js';

export const CONNTRACK_TOOLS_VERSION = '1.4.7';

/** How a table's addresses print: IPv4 dotted quads, or (an IPv6 table's indices) IPv6 text. */
export type AddressFormatter = (addr: number) => string;

function tupleText(
  saddr: number,
  daddr: number,
  ports: number,
  proto: number,
  fmt: AddressFormatter,
): string {
  const addrs = `src=${fmt(saddr)} dst=${fmt(daddr)} `;
  if (proto === IpProtocol.ICMP) {
    return `${addrs}type=${(ports >>> 8) & 0xff} code=${ports & 0xff} id=${ports >>> 16} `;
  }
  return `${addrs}sport=${ports >>> 16} dport=${ports & 0xffff} `;
}

/** One `conntrack -L` line (no newline) for a connection, at simulated time `nowNs`. */
export function formatConntrackEntry(
  ct: ConntrackTable,
  conn: number,
  nowNs: number,
  fmt: AddressFormatter = formatIPv4,
): string {
  const proto = ct.proto[conn];
  const st = ct.status[conn];
  const secondsLeft = Math.max(0, Math.floor((ct.expiresNs[conn] - nowNs) / 1e9));
  let line = `${protoName(proto).padEnd(8)} ${proto} ${secondsLeft} `;
  if (proto === IpProtocol.TCP) line += `${TCP_CT_STATE_NAMES[ct.tcpState[conn]]} `;
  else if (proto === IpProtocol.SCTP) line += `${SCTP_CT_STATE_NAMES[ct.tcpState[conn]]} `;
  line += tupleText(ct.origSaddr[conn], ct.origDaddr[conn], ct.origPorts[conn], proto, fmt);
  if (!(st & CtStatus.SEEN_REPLY)) line += '[UNREPLIED] ';
  line += tupleText(ct.replySaddr[conn], ct.replyDaddr[conn], ct.replyPorts[conn], proto, fmt);
  if (st & CtStatus.ASSURED) line += '[ASSURED] ';
  line += `mark=${ct.mark[conn]} use=${ct.use[conn]}`;
  return line;
}

/**
 * What `conntrack -L` prints: `stdout` has one line per listed connection (confirmed, not
 * expired; in connection-id order — the kernel's order is its hash-bucket order, which
 * differs), `stderr` the summary line. `fmt` prints the table's addresses: an IPv6 table (`conntrack
 * -L -f ipv6`) prints them as inet_ntop does, the same default format otherwise.
 */
export function formatConntrackList(
  ct: ConntrackTable,
  nowNs: number,
  fmt: AddressFormatter = formatIPv4,
): { stdout: string; stderr: string } {
  let stdout = '';
  let shown = 0;
  for (let c = 0; c < ct.max; c++) {
    if (!ct.isListed(asConnId(c), nowNs)) continue;
    stdout += `${formatConntrackEntry(ct, c, nowNs, fmt)}\n`;
    shown++;
  }
  const stderr = `conntrack v${CONNTRACK_TOOLS_VERSION} (conntrack-tools): ${shown} flow entries have been shown.\n`;
  return { stdout, stderr };
}
