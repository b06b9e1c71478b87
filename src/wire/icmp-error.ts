/**
 * ICMP errors and the datagram they quote (RFC 792: the original IPv4 header and at least
 * its first 8 bytes of payload — the ports). Conntrack relates an error to the connection of
 * the quoted datagram, and NAT must then rewrite the quote as well as the outer header
 * (the kernel's nf_nat_icmp_reply_translation): these are the byte-level pieces.
 */
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import {
  checksumReplace16,
  checksumReplace32,
  icmpChecksum,
  udpChecksumReplace16,
  udpChecksumReplace32,
} from './checksum.js';
import type { FiveTuple } from './five-tuple.js';
import { ICMP_HEADER_LENGTH, IcmpField } from './icmp.js';
import { IpProtocol } from './ip-protocol.js';
import { IPV4_MIN_HEADER_LENGTH, Ipv4Field } from './ipv4.js';
import { TcpField } from './tcp.js';
import { UdpField } from './udp.js';

/** The ICMP types that are errors about another datagram (unreachable, quench, redirect, time exceeded, parameter problem). */
export function isIcmpError(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** The quoted datagram's tuple, filled in place (no allocation on the forwarding path). */
export interface QuotedTuple {
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  proto: number;
  /** Frame offset of the quoted IPv4 header. */
  ipOffset: number;
}

export function newQuotedTuple(): QuotedTuple {
  return { saddr: 0, daddr: 0, sport: 0, dport: 0, proto: 0, ipOffset: 0 };
}

/**
 * Reads the datagram an ICMP error (already parsed into `ft`) quotes. False when the quote is
 * shorter than an IPv4 header plus 8 bytes, or not IPv4. Ports are read for TCP, UDP and SCTP.
 */
export function readQuotedTuple(frame: Uint8Array, ft: FiveTuple, out: QuotedTuple): boolean {
  const inner = ft.l4Offset + ICMP_HEADER_LENGTH;
  const end = ft.ipOffset + ft.ipTotalLength;
  if (inner + IPV4_MIN_HEADER_LENGTH > end || frame[inner] >>> 4 !== 4) return false;
  const ihl = (frame[inner] & 0x0f) * 4;
  if (ihl < IPV4_MIN_HEADER_LENGTH || inner + ihl + 8 > end) return false;
  out.ipOffset = inner;
  out.saddr = readU32(frame, inner + Ipv4Field.SRC);
  out.daddr = readU32(frame, inner + Ipv4Field.DST);
  out.proto = frame[inner + Ipv4Field.PROTOCOL];
  const l4 = inner + ihl;
  // TCP, UDP and SCTP all start with the two ports.
  const ports = out.proto === IpProtocol.TCP || out.proto === IpProtocol.UDP || out.proto === IpProtocol.SCTP;
  out.sport = ports ? readU16(frame, l4) : 0;
  out.dport = ports ? readU16(frame, l4 + 2) : 0;
  return true;
}

/**
 * Rewrites one endpoint of the quoted datagram (`source`: its source, else its destination):
 * address with the quoted IP header checksum, and for TCP/UDP the port, with the quoted L4
 * checksum when the quote holds it (a 0 UDP checksum stays 0); then the ICMP checksum is
 * recomputed over the whole message, as the kernel does after translating the quote.
 */
export function rewriteQuotedEndpoint(
  frame: Uint8Array,
  ft: FiveTuple,
  q: QuotedTuple,
  source: boolean,
  addr: number,
  port: number,
): void {
  const inner = q.ipOffset;
  const end = ft.ipOffset + ft.ipTotalLength;
  const at = inner + (source ? Ipv4Field.SRC : Ipv4Field.DST);
  const oldAddr = readU32(frame, at);
  writeU32(frame, at, addr);
  const ipCheck = inner + Ipv4Field.CHECKSUM;
  writeU16(frame, ipCheck, checksumReplace32(readU16(frame, ipCheck), oldAddr, addr >>> 0));
  const l4 = inner + (frame[inner] & 0x0f) * 4;
  const portAt = l4 + (source ? 0 : 2);
  if (q.proto === IpProtocol.TCP || q.proto === IpProtocol.UDP) {
    const oldPort = readU16(frame, portAt);
    writeU16(frame, portAt, port);
    if (q.proto === IpProtocol.TCP && l4 + TcpField.CHECKSUM + 2 <= end) {
      const c = l4 + TcpField.CHECKSUM;
      writeU16(
        frame,
        c,
        checksumReplace16(checksumReplace32(readU16(frame, c), oldAddr, addr >>> 0), oldPort, port),
      );
    } else if (q.proto === IpProtocol.UDP) {
      const c = l4 + UdpField.CHECKSUM;
      const old = readU16(frame, c);
      if (old !== 0)
        writeU16(
          frame,
          c,
          udpChecksumReplace16(udpChecksumReplace32(old, oldAddr, addr >>> 0), oldPort, port),
        );
    }
    if (source) q.sport = port;
    else q.dport = port;
  }
  if (source) q.saddr = addr >>> 0;
  else q.daddr = addr >>> 0;
  writeU16(frame, ft.l4Offset + IcmpField.CHECKSUM, icmpChecksum(frame, ft.l4Offset, ft.l4Length));
}
