/**
 * Conversions between the stack's TcpSegment and frame bytes, for a host that puts
 * segments on the wire and takes them off again: a TcpFrameSpec for src/wire's
 * builders, and a parser from an Ethernet/IPv4/TCP frame back to a TcpSegment
 * (checksum verified, options parsed, payload a view into the frame), and the readers a
 * host's receive path uses once parseFiveTuple has validated the headers.
 */
import type { TcpFrameSpec } from '../wire/build.js';
import { readU16, readU32 } from '../wire/bytes.js';
import { verifyTcpChecksum } from '../wire/checksum.js';
import {
  type FiveTuple,
  newFiveTuple,
  PARSE_STATUS_TEXT,
  ParseStatus,
  parseFiveTuple,
} from '../wire/five-tuple.js';
import { ICMP_HEADER_LENGTH } from '../wire/icmp.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import { IPV4_MIN_HEADER_LENGTH, Ipv4Field } from '../wire/ipv4.js';
import { parseTcpOptions, TcpField, TcpView } from '../wire/tcp.js';
import type { TcpSegment } from './transport.js';

/** The frame spec for `segment` between two MACs (IP defaults are Linux's: TTL 64, DF). */
export function tcpSegmentFrameSpec(
  segment: TcpSegment,
  srcMac: Uint8Array,
  dstMac: Uint8Array,
): TcpFrameSpec {
  return {
    srcMac,
    dstMac,
    src: segment.src,
    dst: segment.dst,
    id: segment.ipId ?? 0,
    sport: segment.sport,
    dport: segment.dport,
    seq: segment.seq,
    ack: segment.ack,
    flags: segment.flags,
    window: segment.window,
    options: segment.options,
    payload: segment.payload,
  };
}

export type TcpSegmentParse = { ok: true; segment: TcpSegment } | { ok: false; reason: string };

/** Parses an Ethernet frame holding an IPv4 TCP segment; never throws. */
export function parseTcpSegmentFrame(frame: Uint8Array): TcpSegmentParse {
  const tuple = newFiveTuple();
  const status = parseFiveTuple(frame, tuple);
  if (status !== ParseStatus.OK) return { ok: false, reason: PARSE_STATUS_TEXT[status] };
  if (tuple.proto !== IpProtocol.TCP) return { ok: false, reason: `IP protocol ${tuple.proto} is not TCP` };
  if (!verifyTcpChecksum(frame, tuple.l4Offset, tuple.l4Length, tuple.saddr, tuple.daddr)) {
    return { ok: false, reason: 'bad TCP checksum' };
  }
  const view = new TcpView().attach(frame, tuple.l4Offset);
  const options = parseTcpOptions(frame, tuple.l4Offset + 20, tuple.l4Offset + view.headerLength);
  if (!options.ok) return { ok: false, reason: options.reason };
  return {
    ok: true,
    segment: {
      src: tuple.saddr,
      dst: tuple.daddr,
      sport: view.srcPort,
      dport: view.dstPort,
      seq: view.seq,
      ack: view.ack,
      flags: view.flags,
      window: view.window,
      options: options.options,
      payload: frame.subarray(view.payloadOffset, tuple.l4Offset + tuple.l4Length),
    },
  };
}

const NO_PAYLOAD = new Uint8Array(0);

// One TcpView per process: the readers below fill a fresh TcpSegment, the view only reads.
const headerView = new TcpView();

/**
 * The TCP segment of a frame whose headers parseFiveTuple already validated (checksum
 * checked by the caller's path), as a receiving host hands it to its apps: the payload is a
 * view of the frame, valid while the receiver runs (the host keeps the pool slot until it
 * returns; a stack copies what it keeps, see TcpSegment), and options that do not parse read
 * as none (the segment is still delivered, as before).
 */
export function readTcpSegment(frame: Uint8Array, ft: FiveTuple): TcpSegment {
  const view = headerView.attach(frame, ft.l4Offset);
  const headerEnd = ft.l4Offset + view.headerLength;
  const options = parseTcpOptions(frame, ft.l4Offset + TcpField.OPTIONS, headerEnd);
  const payloadEnd = ft.l4Offset + ft.l4Length;
  return {
    src: ft.saddr,
    dst: ft.daddr,
    sport: ft.sport,
    dport: ft.dport,
    seq: view.seq,
    ack: view.ack,
    flags: view.flags,
    window: view.window,
    options: options.ok ? options.options : [],
    // Most segments (SYN, ACK, FIN, RST) carry nothing: one shared empty array.
    payload: payloadEnd > headerEnd ? frame.subarray(headerEnd, payloadEnd) : NO_PAYLOAD,
  };
}

/**
 * The TCP header quoted in an ICMP error whose outer headers parseFiveTuple validated
 * (ICMP header of 8 bytes, then the original IPv4 header and at least 8 bytes of TCP:
 * ports and sequence number, RFC 792), or null when the quote is too short or not TCP.
 */
export function readQuotedTcpSegment(frame: Uint8Array, ft: FiveTuple): TcpSegment | null {
  const inner = ft.l4Offset + ICMP_HEADER_LENGTH;
  const end = ft.ipOffset + ft.ipTotalLength;
  if (inner + IPV4_MIN_HEADER_LENGTH > end || frame[inner] >>> 4 !== 4) return null;
  const ihl = (frame[inner] & 0x0f) * 4;
  if (frame[inner + Ipv4Field.PROTOCOL] !== IpProtocol.TCP || inner + ihl + 8 > end) return null;
  const l4 = inner + ihl;
  return {
    src: readU32(frame, inner + Ipv4Field.SRC),
    dst: readU32(frame, inner + Ipv4Field.DST),
    sport: readU16(frame, l4 + TcpField.SRC_PORT),
    dport: readU16(frame, l4 + TcpField.DST_PORT),
    seq: readU32(frame, l4 + TcpField.SEQ),
    ack: 0,
    flags: 0,
    window: 0,
    options: [],
    payload: new Uint8Array(0),
  };
}
