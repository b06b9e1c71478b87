/**
 * The per-packet parser for IPv6 frames: the counterpart of parseFiveTuple, which stays the
 * IPv4 hot path untouched. Validates the fixed header, walks the extension headers
 * (ipv6.ts), reads the flow key into a caller-owned, reusable Ipv6FiveTuple and never throws
 * or allocates. Addresses are not copied: `saddrAt`/`daddrAt` are their offsets in the frame.
 */
import { readU16 } from './bytes.js';
import { ETHERNET_HEADER_LENGTH, EtherType } from './ethernet.js';
import { ICMPV6_HEADER_LENGTH } from './icmpv6.js';
import { IpProtocol } from './ip-protocol.js';
import {
  IPV6_HEADER_LENGTH,
  Ipv6Field,
  type Ipv6Upper,
  Ipv6WalkStatus,
  newIpv6Upper,
  walkIpv6Extensions,
} from './ipv6.js';
import { TCP_MIN_HEADER_LENGTH, TcpField } from './tcp.js';
import { UDP_HEADER_LENGTH, UdpField } from './udp.js';

export const enum Parse6Status {
  OK = 0,
  TRUNCATED_ETHERNET = 1,
  /** Ethertype is not IPv6. */
  NOT_IPV6 = 2,
  /** Fewer than 40 bytes after the Ethernet header. */
  TRUNCATED_IPV6 = 3,
  BAD_IP_VERSION = 4,
  /** Payload length beyond the captured bytes. */
  BAD_PAYLOAD_LENGTH = 5,
  /** An extension header runs past the payload. */
  BAD_EXTENSION_HEADER = 6,
  /** A non-first fragment: addresses and protocol are valid, ports 0. */
  FRAGMENT = 7,
  TRUNCATED_L4 = 8,
  BAD_TCP_DATA_OFFSET = 9,
  BAD_UDP_LENGTH = 10,
}

export const PARSE6_STATUS_TEXT: readonly string[] = [
  'ok',
  'truncated ethernet header',
  'not IPv6',
  'truncated IPv6 header',
  'bad IP version',
  'bad IPv6 payload length',
  'truncated IPv6 extension header',
  'non-first IPv6 fragment',
  'truncated L4 header',
  'bad TCP data offset',
  'bad UDP length',
];

export interface Ipv6FiveTuple {
  /** Frame offsets of the 16-byte source and destination addresses. */
  saddrAt: number;
  daddrAt: number;
  /** The upper-layer protocol (after extension headers). */
  proto: number;
  sport: number;
  dport: number;
  ipOffset: number;
  l4Offset: number;
  /** Upper-layer bytes (payload length − extension headers). */
  l4Length: number;
  hopLimit: number;
  tcpFlags: number;
  icmpType: number;
  icmpCode: number;
  /** Echo identifier for ICMPv6 echo request/reply, else 0. */
  icmpId: number;
}

export function newIpv6FiveTuple(): Ipv6FiveTuple {
  return {
    saddrAt: 0,
    daddrAt: 0,
    proto: 0,
    sport: 0,
    dport: 0,
    ipOffset: 0,
    l4Offset: 0,
    l4Length: 0,
    hopLimit: 0,
    tcpFlags: 0,
    icmpType: 0,
    icmpCode: 0,
    icmpId: 0,
  };
}

/** Scratch for the extension walk: per-packet parsing must not allocate. */
const upper: Ipv6Upper = newIpv6Upper();

export function parseIpv6FiveTuple(
  frame: Uint8Array,
  out: Ipv6FiveTuple,
  offset = 0,
  length = frame.length - offset,
): Parse6Status {
  if (length < ETHERNET_HEADER_LENGTH) return Parse6Status.TRUNCATED_ETHERNET;
  if (readU16(frame, offset + 12) !== EtherType.IPV6) return Parse6Status.NOT_IPV6;
  const ip = offset + ETHERNET_HEADER_LENGTH;
  const captured = length - ETHERNET_HEADER_LENGTH;
  if (captured < IPV6_HEADER_LENGTH) return Parse6Status.TRUNCATED_IPV6;
  if (frame[ip] >>> 4 !== 6) return Parse6Status.BAD_IP_VERSION;
  const payloadLength = readU16(frame, ip + Ipv6Field.PAYLOAD_LENGTH);
  if (IPV6_HEADER_LENGTH + payloadLength > captured) return Parse6Status.BAD_PAYLOAD_LENGTH;
  const end = ip + IPV6_HEADER_LENGTH + payloadLength;
  out.saddrAt = ip + Ipv6Field.SRC;
  out.daddrAt = ip + Ipv6Field.DST;
  out.ipOffset = ip;
  out.hopLimit = frame[ip + Ipv6Field.HOP_LIMIT];
  out.sport = 0;
  out.dport = 0;
  out.tcpFlags = 0;
  out.icmpType = 0;
  out.icmpCode = 0;
  out.icmpId = 0;
  const walk = walkIpv6Extensions(frame, ip, end, upper);
  if (walk === Ipv6WalkStatus.TRUNCATED) return Parse6Status.BAD_EXTENSION_HEADER;
  const l4 = upper.offset;
  const l4Length = end - l4;
  out.proto = upper.protocol;
  out.l4Offset = l4;
  out.l4Length = l4Length;
  if (walk === Ipv6WalkStatus.NON_FIRST_FRAGMENT) return Parse6Status.FRAGMENT;

  const proto = upper.protocol;
  if (proto === IpProtocol.TCP) {
    if (l4Length < TCP_MIN_HEADER_LENGTH) return Parse6Status.TRUNCATED_L4;
    const dataOffset = (frame[l4 + TcpField.DATA_OFFSET] >>> 4) * 4;
    if (dataOffset < TCP_MIN_HEADER_LENGTH || dataOffset > l4Length) return Parse6Status.BAD_TCP_DATA_OFFSET;
    out.sport = readU16(frame, l4 + TcpField.SRC_PORT);
    out.dport = readU16(frame, l4 + TcpField.DST_PORT);
    out.tcpFlags = ((frame[l4 + TcpField.DATA_OFFSET] & 0x01) << 8) | frame[l4 + TcpField.FLAGS];
  } else if (proto === IpProtocol.UDP) {
    if (l4Length < UDP_HEADER_LENGTH) return Parse6Status.TRUNCATED_L4;
    const udpLength = readU16(frame, l4 + UdpField.LENGTH);
    if (udpLength < UDP_HEADER_LENGTH || udpLength > l4Length) return Parse6Status.BAD_UDP_LENGTH;
    out.sport = readU16(frame, l4 + UdpField.SRC_PORT);
    out.dport = readU16(frame, l4 + UdpField.DST_PORT);
  } else if (proto === IpProtocol.ICMPV6) {
    if (l4Length < ICMPV6_HEADER_LENGTH) return Parse6Status.TRUNCATED_L4;
    const type = frame[l4];
    out.icmpType = type;
    out.icmpCode = frame[l4 + 1];
    if (type === 128 || type === 129) out.icmpId = readU16(frame, l4 + 4);
  }
  return Parse6Status.OK;
}
