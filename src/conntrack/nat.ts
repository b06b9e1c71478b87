/**
 * Source-port choice for SNAT/MASQUERADE, after nf_nat_core.c (`get_unique_tuple` and
 * `nf_nat_l4proto_unique_tuple`, current kernels):
 *
 * 1. Without a random flag, keep the original source port if it lies in the range (or no
 *    range was given) and the resulting reply tuple is not used by any confirmed entry.
 * 2. Otherwise search the range — `--to-ports`, or by default 1–511 for original ports
 *    below 512, 600–1023 below 1024, else 1024–65535 (ICMP ids: 0–65535) — starting at
 *    `min + off % size` with a random 16-bit offset `off` and stepping by one, for
 *    min(size, 128) attempts; if all are taken and the attempt count was ≥ 16 and below the
 *    range size, halve it, draw a new offset and retry. If nothing is free the last
 *    candidate is kept and the clash surfaces when the connection is confirmed.
 *
 * Current kernels use a random offset for every SNAT search; `--random`/`--random-fully`
 * only skip step 1 (kernels before ~4.19 used a per-protocol rover, and a keyed hash for
 * `--random`). Reusing an existing mapping of the same source (`find_appropriate_src`)
 * and evicting closed TCP entries during the search (`nf_nat_used_tuple_harder`) are not modelled.
 */
import type { Rng } from '../util/rng.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import { NAT_RANGE_PROTO_RANDOM_ALL } from './constants.js';
import type { ConntrackTable } from './table.js';

const MAX_ATTEMPTS = 128;

/** Would the connection's reply tuple, with destination `addr` and NATed port `port`, clash? */
function replyTaken(ct: ConntrackTable, conn: number, addr: number, port: number): boolean {
  const proto = ct.proto[conn];
  const rs = ct.replySaddr[conn];
  const rp = ct.replyPorts[conn];
  // TCP/UDP: the new port is the reply's destination port. ICMP: the id (source part).
  return proto === IpProtocol.ICMP
    ? ct.tupleInUse(rs, addr, port, rp & 0xffff, proto)
    : ct.tupleInUse(rs, addr, rp >>> 16, port, proto);
}

/** Chooses the source port (ICMP: echo id) for an SNAT binding of `conn` to `addr`. */
export function selectSnatPort(
  ct: ConntrackTable,
  conn: number,
  addr: number,
  minPort: number,
  maxPort: number,
  flags: number,
  rng: Rng,
): number {
  const origPort = ct.origPorts[conn] >>> 16;
  const specified = !(minPort === 0 && maxPort === 0);
  if (!(flags & NAT_RANGE_PROTO_RANDOM_ALL)) {
    if (specified) {
      if (
        origPort >= minPort &&
        origPort <= maxPort &&
        (minPort === maxPort || !replyTaken(ct, conn, addr, origPort))
      ) {
        return origPort;
      }
    } else if (!replyTaken(ct, conn, addr, origPort)) {
      return origPort;
    }
  }

  let min: number;
  let size: number;
  if (specified) {
    min = minPort;
    size = maxPort - minPort + 1;
  } else if (ct.proto[conn] === IpProtocol.ICMP) {
    min = 0;
    size = 65536;
  } else if (origPort < 512) {
    min = 1;
    size = 511;
  } else if (origPort < 1024) {
    min = 600;
    size = 424;
  } else {
    min = 1024;
    size = 64512;
  }

  let attempts = Math.min(size, MAX_ATTEMPTS);
  let off = rng.nextU32() & 0xffff;
  let candidate = min;
  for (;;) {
    for (let i = 0; i < attempts; i++) {
      candidate = min + (off % size);
      off = (off + 1) & 0xffff;
      if (!replyTaken(ct, conn, addr, candidate)) return candidate;
    }
    if (attempts >= size || attempts < 16) return candidate;
    attempts >>= 1;
    off = rng.nextU32() & 0xffff;
  }
}
