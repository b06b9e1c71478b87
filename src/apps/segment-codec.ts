/**
 * Conversions between the stack's TcpSegment and frame bytes, for a host that puts
 * segments on the wire and takes them off again: a TcpFrameSpec for src/wire's
 * builders, and a parser from an Ethernet/IPv4/TCP frame back to a TcpSegment
 * (checksum verified, options parsed, payload a view into the frame).
 */
import type { TcpFrameSpec } from '../wire/build.js';
import { verifyTcpChecksum } from '../wire/checksum.js';
import { newFiveTuple, PARSE_STATUS_TEXT, ParseStatus, parseFiveTuple } from '../wire/five-tuple.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import { parseTcpOptions, TcpView } from '../wire/tcp.js';
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
