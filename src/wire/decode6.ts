/**
 * The IPv6 half of the structured decoder (decode.ts): the fixed header, the extension
 * headers it steps over (their next-header numbers are kept, in order), then TCP and UDP
 * through the shared decoder with the IPv6 pseudo-header for their checksums, or ICMPv6.
 * Never throws; malformed input gives a fault naming the layer.
 */
import { verifyIpv6L4Checksum } from './checksum6.js';
import type { DecodeFault, Decoder } from './decode.js';
import { ICMPV6_HEADER_LENGTH, type Icmpv6Repr, isIcmpv6Error, readIcmpv6 } from './icmpv6.js';
import { IpProtocol } from './ip-protocol.js';
import {
  IPV6_HEADER_LENGTH,
  Ipv6ExtHeader,
  type Ipv6Repr,
  isSkippedExtension,
  readIpv6Header,
} from './ipv6.js';

export type Ipv6DecodedLayer =
  | {
      kind: 'ipv6';
      repr: Ipv6Repr;
      payloadLength: number;
      /** Next-header numbers of the extension headers stepped over, in order. */
      extensions: number[];
      /** The upper-layer protocol after them. */
      upperProtocol: number;
    }
  | {
      kind: 'icmpv6';
      repr: Icmpv6Repr;
      length: number;
      payload: Uint8Array;
      checksum: number;
      checksumValid: boolean | null;
    };

export function decodeIpv6(decoder: Decoder, offset: number, end: number): DecodeFault | null {
  const frame = decoder.frame;
  const available = end - offset;
  if (available < IPV6_HEADER_LENGTH)
    return { layer: 'ipv6', reason: `truncated header: ${available} bytes captured, 40 needed` };
  const version = frame[offset] >>> 4;
  if (version !== 6) return { layer: 'ipv6', reason: `version ${version} != 6` };
  const payloadLength = (frame[offset + 4] << 8) | frame[offset + 5];
  if (IPV6_HEADER_LENGTH + payloadLength > available)
    return {
      layer: 'ipv6',
      reason: `payload length ${payloadLength} exceeds captured ${available - IPV6_HEADER_LENGTH} bytes`,
    };
  const repr = readIpv6Header(frame, offset);
  const payloadEnd = offset + IPV6_HEADER_LENGTH + payloadLength;
  const extensions: number[] = [];
  let next = repr.nextHeader;
  let at = offset + IPV6_HEADER_LENGTH;
  let firstFragment = true;
  let whole = true;
  while (isSkippedExtension(next)) {
    if (at + 8 > payloadEnd) return { layer: 'ipv6', reason: `extension header ${next} truncated` };
    extensions.push(next);
    if (next === Ipv6ExtHeader.FRAGMENT) {
      const word = (frame[at + 2] << 8) | frame[at + 3];
      if ((word & 0xfff8) !== 0) firstFragment = false;
      if ((word & 1) !== 0 || !firstFragment) whole = false;
      next = frame[at];
      at += 8;
      continue;
    }
    const length = (frame[at + 1] + 1) * 8;
    if (at + length > payloadEnd)
      return { layer: 'ipv6', reason: `extension header ${next} of ${length} bytes truncated` };
    next = frame[at];
    at += length;
  }
  decoder.layers.push({ kind: 'ipv6', repr, payloadLength, extensions, upperProtocol: next });
  if (!firstFragment) {
    decoder.layers.push({ kind: 'ipFragment', protocol: next, length: payloadEnd - at });
    return null;
  }
  switch (next) {
    case IpProtocol.TCP:
      return decoder.decodeTcp(at, payloadEnd, 0, 0, whole, offset);
    case IpProtocol.UDP:
      return decoder.decodeUdp(at, payloadEnd, 0, 0, whole, 0, offset);
    case IpProtocol.ICMPV6:
      return decodeIcmpv6(decoder, offset, at, payloadEnd, whole);
    case Ipv6ExtHeader.NO_NEXT:
      return null;
    default:
      decoder.layers.push({ kind: 'unknownIpProtocol', protocol: next, length: payloadEnd - at });
      return null;
  }
}

function decodeIcmpv6(
  decoder: Decoder,
  ip: number,
  offset: number,
  end: number,
  whole: boolean,
): DecodeFault | null {
  const frame = decoder.frame;
  const length = end - offset;
  if (length < ICMPV6_HEADER_LENGTH)
    return { layer: 'icmpv6', reason: `truncated header: ${length} bytes, 8 needed` };
  const payload = frame.subarray(offset + ICMPV6_HEADER_LENGTH, end);
  decoder.layers.push({
    kind: 'icmpv6',
    repr: readIcmpv6(frame, offset),
    length,
    payload,
    checksum: (frame[offset + 2] << 8) | frame[offset + 3],
    checksumValid: whole ? verifyIpv6L4Checksum(frame, ip, offset, length, IpProtocol.ICMPV6) : null,
  });
  if (isIcmpv6Error(frame[offset]) && payload.length < IPV6_HEADER_LENGTH)
    return {
      layer: 'icmpv6',
      reason: `quoted packet of ${payload.length} bytes is shorter than an IPv6 header`,
    };
  return null;
}
