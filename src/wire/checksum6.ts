/**
 * Upper-layer checksums over the IPv6 pseudo-header (RFC 8200 §8.1): source and destination
 * address (16 bytes each), the upper-layer packet length as 32 bits, three zero bytes and
 * the next-header value of the upper layer (not of an extension header). TCP, UDP and —
 * unlike ICMPv4 — ICMPv6 all cover it, so a NAT of an IPv6 address patches the ICMPv6
 * checksum too (rewrite6.ts). UDP over IPv6 must carry a checksum: a computed 0 is sent as
 * 0xffff and a received 0 is invalid (RFC 8200 §8.1).
 *
 * Per-packet code: offsets in, numbers out; addresses are read from the frame in place.
 */
import { finishChecksum, foldSum, sumWords } from './checksum.js';
import { IpProtocol } from './ip-protocol.js';
import { Ipv6Field } from './ipv6.js';

const TCP_CHECK = 16;
const UDP_CHECK = 6;
const ICMPV6_CHECK = 2;

/** Unfolded sum of the pseudo-header for the IPv6 header at `ipOffset` (addresses read from it). */
export function ipv6PseudoHeaderSum(
  buf: Uint8Array,
  ipOffset: number,
  protocol: number,
  l4Length: number,
): number {
  // Source and destination are 32 contiguous bytes.
  const sum = sumWords(buf, ipOffset + Ipv6Field.SRC, 32);
  return sum + Math.floor(l4Length / 0x10000) + (l4Length & 0xffff) + protocol;
}

function checksumAt(
  buf: Uint8Array,
  ipOffset: number,
  l4Offset: number,
  l4Length: number,
  protocol: number,
  checkField: number,
): number {
  const field = (buf[l4Offset + checkField] << 8) | buf[l4Offset + checkField + 1];
  return finishChecksum(
    sumWords(buf, l4Offset, l4Length, ipv6PseudoHeaderSum(buf, ipOffset, protocol, l4Length)) - field,
  );
}

/** TCP checksum of the segment at `l4Offset` (`l4Length` bytes) under the IPv6 header at `ipOffset`. */
export function tcp6Checksum(buf: Uint8Array, ipOffset: number, l4Offset: number, l4Length: number): number {
  return checksumAt(buf, ipOffset, l4Offset, l4Length, IpProtocol.TCP, TCP_CHECK);
}

/** UDP checksum over IPv6 (never 0: a computed 0 is sent as 0xffff). */
export function udp6Checksum(buf: Uint8Array, ipOffset: number, l4Offset: number, l4Length: number): number {
  const check = checksumAt(buf, ipOffset, l4Offset, l4Length, IpProtocol.UDP, UDP_CHECK);
  return check === 0 ? 0xffff : check;
}

/** ICMPv6 checksum (pseudo-header included, next header 58). */
export function icmpv6Checksum(
  buf: Uint8Array,
  ipOffset: number,
  l4Offset: number,
  l4Length: number,
): number {
  return checksumAt(buf, ipOffset, l4Offset, l4Length, IpProtocol.ICMPV6, ICMPV6_CHECK);
}

/** True when the upper-layer checksum of `protocol` verifies (a UDP checksum of 0 does not: it is mandatory in IPv6). */
export function verifyIpv6L4Checksum(
  buf: Uint8Array,
  ipOffset: number,
  l4Offset: number,
  l4Length: number,
  protocol: number,
): boolean {
  if (protocol === IpProtocol.UDP && ((buf[l4Offset + UDP_CHECK] << 8) | buf[l4Offset + UDP_CHECK + 1]) === 0)
    return false;
  return (
    foldSum(sumWords(buf, l4Offset, l4Length, ipv6PseudoHeaderSum(buf, ipOffset, protocol, l4Length))) ===
    0xffff
  );
}

/** Offset of the checksum field inside the upper-layer header of `protocol`, or −1 when it has none we patch. */
export function ipv6L4ChecksumField(protocol: number): number {
  if (protocol === IpProtocol.TCP) return TCP_CHECK;
  if (protocol === IpProtocol.UDP) return UDP_CHECK;
  if (protocol === IpProtocol.ICMPV6) return ICMPV6_CHECK;
  return -1;
}
