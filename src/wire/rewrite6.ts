/**
 * In-place NAT of IPv6 packets: the IPv6 counterparts of rewrite.ts. There is no IP header
 * checksum to patch; the 128-bit address is in the TCP, UDP and ICMPv6 pseudo-headers, so
 * an address rewrite patches that one checksum with RFC 1624 over eight 16-bit words
 * (checksumReplaceAddress, width 16) — byte-identical to a full recomputation. Per-packet
 * code: offsets and bytes only, nothing allocated.
 */

import { ipv6L4ChecksumField } from './checksum6.js';
import { IpProtocol } from './ip-protocol.js';
import { NO_CHECKSUM, rewriteAddrAt, rewriteL4PortAt } from './rewrite.js';

/** Pass as `l4` when the packet carries no upper-layer header (a non-first fragment). */
export const NO_L4_HEADER = -1;

/**
 * Sets the address at `ip + field` (Ipv6Field.SRC or DST) to the 16 bytes at `addr[addrAt..)`,
 * patching the TCP/UDP/ICMPv6 checksum of the upper-layer header at `l4` (NO_L4_HEADER for none).
 */
export function rewriteIpv6AddrAt(
  frame: Uint8Array,
  ip: number,
  field: number,
  l4: number,
  protocol: number,
  addr: Uint8Array,
  addrAt: number,
): void {
  const checkField = l4 === NO_L4_HEADER ? -1 : ipv6L4ChecksumField(protocol);
  rewriteAddrAt(
    frame,
    ip + field,
    addr,
    addrAt,
    16,
    NO_CHECKSUM,
    checkField < 0 ? NO_CHECKSUM : l4 + checkField,
    protocol,
  );
}

/** DNAT/SNAT of an IPv6 endpoint: the address (see rewriteIpv6AddrAt) and, for TCP/UDP, the port at `l4 + portField`. */
export function rewriteIpv6Endpoint(
  frame: Uint8Array,
  ip: number,
  addrField: number,
  l4: number,
  portField: number,
  protocol: number,
  addr: Uint8Array,
  addrAt: number,
  port: number,
): void {
  rewriteIpv6AddrAt(frame, ip, addrField, l4, protocol, addr, addrAt);
  if (l4 !== NO_L4_HEADER && (protocol === IpProtocol.TCP || protocol === IpProtocol.UDP))
    rewriteL4PortAt(frame, l4, portField, protocol, port);
}
