/**
 * The per-packet parser: validates an Ethernet/IPv4 frame just enough to read its flow
 * key and fills a caller-owned, reusable FiveTuple. Returns a numeric ParseStatus and
 * never throws or allocates, so a datapath can call it for every packet.
 */
import { readU16, readU32 } from './bytes.js';
import { ETHERNET_HEADER_LENGTH, EtherType } from './ethernet.js';
import { ICMP_HEADER_LENGTH } from './icmp.js';
import { IpProtocol } from './ip-protocol.js';
import { IPV4_FRAG_OFFSET_MASK, IPV4_MIN_HEADER_LENGTH, Ipv4Field } from './ipv4.js';
import { SCTP_COMMON_HEADER_LENGTH, SctpField } from './sctp.js';
import { TCP_MIN_HEADER_LENGTH, TcpField } from './tcp.js';
import { UDP_HEADER_LENGTH, UdpField } from './udp.js';

export const enum ParseStatus {
  OK = 0,
  /** Fewer than 14 bytes. */
  TRUNCATED_ETHERNET = 1,
  /** Ethertype is not IPv4 (ARP, IPv6, …): nothing to parse, not a malformed frame. */
  NOT_IPV4 = 2,
  /** Fewer than 20 bytes after the Ethernet header. */
  TRUNCATED_IPV4 = 3,
  BAD_IP_VERSION = 4,
  /** IHL below 5 or the header longer than the captured bytes. */
  BAD_IHL = 5,
  /** Total length below the header length or above the captured bytes. */
  BAD_TOTAL_LENGTH = 6,
  /** A non-first fragment: addresses and protocol are valid, ports are 0 (no L4 header). */
  FRAGMENT = 7,
  /** The IP payload is shorter than the minimal L4 header (TCP 20, UDP 8, ICMP 8, SCTP 12). */
  TRUNCATED_L4 = 8,
  /** TCP data offset below 5 or beyond the IP payload. */
  BAD_TCP_DATA_OFFSET = 9,
  /** UDP length below 8 or beyond the IP payload. */
  BAD_UDP_LENGTH = 10,
}

/** Human-readable text per ParseStatus, for traces and drop reasons (not for the hot path). */
export const PARSE_STATUS_TEXT: readonly string[] = [
  'ok',
  'truncated ethernet header',
  'not IPv4',
  'truncated IPv4 header',
  'bad IP version',
  'bad IPv4 header length',
  'bad IPv4 total length',
  'non-first IPv4 fragment',
  'truncated L4 header',
  'bad TCP data offset',
  'bad UDP length',
];

export interface FiveTuple {
  saddr: number;
  daddr: number;
  proto: number;
  /** TCP/UDP/SCTP ports; 0 for ICMP and other protocols. */
  sport: number;
  dport: number;
  /** Frame offsets of the IPv4 and L4 headers. */
  ipOffset: number;
  l4Offset: number;
  /** IPv4 total length (header + payload, excluding Ethernet padding). */
  ipTotalLength: number;
  /** L4 bytes (IPv4 total length − header length). */
  l4Length: number;
  ttl: number;
  /** TCP flag bits (TcpFlag), 0 for non-TCP. */
  tcpFlags: number;
  /** ICMP type/code/identifier, 0 for non-ICMP (identifier only for echo). */
  icmpType: number;
  icmpCode: number;
  icmpId: number;
  /** SCTP: the type of the packet's first chunk (what IPVS keys its SCTP state on); −1 otherwise. */
  sctpChunk: number;
}

export function newFiveTuple(): FiveTuple {
  return {
    saddr: 0,
    daddr: 0,
    proto: 0,
    sport: 0,
    dport: 0,
    ipOffset: 0,
    l4Offset: 0,
    ipTotalLength: 0,
    l4Length: 0,
    ttl: 0,
    tcpFlags: 0,
    icmpType: 0,
    icmpCode: 0,
    icmpId: 0,
    sctpChunk: -1,
  };
}

/**
 * Parses the frame `frame[offset .. offset+length)` into `out`. On any status other
 * than OK or FRAGMENT the contents of `out` are unspecified.
 */
export function parseFiveTuple(
  frame: Uint8Array,
  out: FiveTuple,
  offset = 0,
  length = frame.length - offset,
): ParseStatus {
  if (length < ETHERNET_HEADER_LENGTH) return ParseStatus.TRUNCATED_ETHERNET;
  if (readU16(frame, offset + 12) !== EtherType.IPV4) return ParseStatus.NOT_IPV4;
  const ip = offset + ETHERNET_HEADER_LENGTH;
  const captured = length - ETHERNET_HEADER_LENGTH;
  if (captured < IPV4_MIN_HEADER_LENGTH) return ParseStatus.TRUNCATED_IPV4;
  const verIhl = frame[ip];
  if (verIhl >>> 4 !== 4) return ParseStatus.BAD_IP_VERSION;
  const headerLength = (verIhl & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH || headerLength > captured) return ParseStatus.BAD_IHL;
  const totalLength = readU16(frame, ip + Ipv4Field.TOTAL_LENGTH);
  if (totalLength < headerLength || totalLength > captured) return ParseStatus.BAD_TOTAL_LENGTH;

  const proto = frame[ip + Ipv4Field.PROTOCOL];
  const l4 = ip + headerLength;
  const l4Length = totalLength - headerLength;
  out.saddr = readU32(frame, ip + Ipv4Field.SRC);
  out.daddr = readU32(frame, ip + Ipv4Field.DST);
  out.proto = proto;
  out.ipOffset = ip;
  out.l4Offset = l4;
  out.ipTotalLength = totalLength;
  out.l4Length = l4Length;
  out.ttl = frame[ip + Ipv4Field.TTL];
  out.sport = 0;
  out.dport = 0;
  out.tcpFlags = 0;
  out.icmpType = 0;
  out.icmpCode = 0;
  out.icmpId = 0;
  out.sctpChunk = -1;
  if ((readU16(frame, ip + Ipv4Field.FLAGS_FRAG) & IPV4_FRAG_OFFSET_MASK) !== 0) return ParseStatus.FRAGMENT;

  if (proto === IpProtocol.TCP) {
    if (l4Length < TCP_MIN_HEADER_LENGTH) return ParseStatus.TRUNCATED_L4;
    const dataOffset = (frame[l4 + TcpField.DATA_OFFSET] >>> 4) * 4;
    if (dataOffset < TCP_MIN_HEADER_LENGTH || dataOffset > l4Length) return ParseStatus.BAD_TCP_DATA_OFFSET;
    out.sport = readU16(frame, l4 + TcpField.SRC_PORT);
    out.dport = readU16(frame, l4 + TcpField.DST_PORT);
    out.tcpFlags = ((frame[l4 + TcpField.DATA_OFFSET] & 0x01) << 8) | frame[l4 + TcpField.FLAGS];
  } else if (proto === IpProtocol.UDP) {
    if (l4Length < UDP_HEADER_LENGTH) return ParseStatus.TRUNCATED_L4;
    const udpLength = readU16(frame, l4 + UdpField.LENGTH);
    if (udpLength < UDP_HEADER_LENGTH || udpLength > l4Length) return ParseStatus.BAD_UDP_LENGTH;
    out.sport = readU16(frame, l4 + UdpField.SRC_PORT);
    out.dport = readU16(frame, l4 + UdpField.DST_PORT);
  } else if (proto === IpProtocol.SCTP) {
    // Only the common header is read here; chunks are checked by conntrack and the socket.
    if (l4Length < SCTP_COMMON_HEADER_LENGTH) return ParseStatus.TRUNCATED_L4;
    out.sport = readU16(frame, l4 + SctpField.SRC_PORT);
    out.dport = readU16(frame, l4 + SctpField.DST_PORT);
    if (l4Length > SCTP_COMMON_HEADER_LENGTH) out.sctpChunk = frame[l4 + SCTP_COMMON_HEADER_LENGTH];
  } else if (proto === IpProtocol.ICMP) {
    if (l4Length < ICMP_HEADER_LENGTH) return ParseStatus.TRUNCATED_L4;
    const type = frame[l4];
    out.icmpType = type;
    out.icmpCode = frame[l4 + 1];
    if (type === 0 || type === 8) out.icmpId = readU16(frame, l4 + 4);
  }
  return ParseStatus.OK;
}
