/**
 * In-place NAT and forwarding rewrites with incremental checksum updates (RFC 1624),
 * as a datapath does them: DNAT/SNAT of an address or port, TTL decrement.
 *
 * Per-packet code: numbers and the frame's bytes only. Every function expects a frame
 * already validated by parseFiveTuple (IPv4 header at `ipOffset`, L4 header present);
 * results are byte-identical to a full checksum recomputation (see checksum.ts).
 *
 * Because IPv4 addresses are in the TCP/UDP pseudo-header, an address rewrite patches
 * both the IP header checksum and the L4 checksum (BPF: l3_csum_replace +
 * l4_csum_replace with BPF_F_PSEUDO_HDR); a port rewrite patches only the L4 checksum.
 * A UDP checksum of 0 ("none") stays 0. ICMP has no pseudo-header, so an address rewrite
 * leaves the ICMP checksum alone. Non-first fragments carry no L4 header: only the IP
 * header is touched. SCTP has no pseudo-header either, and its CRC32c cannot be patched: a
 * port rewrite recomputes it over the whole SCTP packet (Linux's sctp_manip_pkt does the same).
 */
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import {
  type AddressWidth,
  checksumAfterTtlDecrement,
  checksumReplace16,
  checksumReplace32,
  checksumReplaceAddress,
  udpChecksumReplace16,
  udpChecksumReplace32,
  udpChecksumReplaceAddress,
} from './checksum.js';
import { IcmpField } from './icmp.js';
import { IpProtocol } from './ip-protocol.js';
import { IPV4_FRAG_OFFSET_MASK, Ipv4Field } from './ipv4.js';
import { fillSctpChecksum, SCTP_COMMON_HEADER_LENGTH } from './sctp.js';
import { TcpField } from './tcp.js';
import { UdpField } from './udp.js';

function l4Offset(frame: Uint8Array, ipOffset: number): number {
  return ipOffset + (frame[ipOffset] & 0x0f) * 4;
}

function carriesL4Header(frame: Uint8Array, ipOffset: number): boolean {
  return (readU16(frame, ipOffset + Ipv4Field.FLAGS_FRAG) & IPV4_FRAG_OFFSET_MASK) === 0;
}

/** Recomputes the CRC32c of the (whole, unfragmented) SCTP packet behind the IPv4 header at `ipOffset`. */
function refreshSctpChecksum(frame: Uint8Array, ipOffset: number, l4: number): void {
  const length = readU16(frame, ipOffset + Ipv4Field.TOTAL_LENGTH) - (l4 - ipOffset);
  if (length >= SCTP_COMMON_HEADER_LENGTH) fillSctpChecksum(frame, l4, length);
}

function rewriteAddress(frame: Uint8Array, ipOffset: number, field: number, newAddr: number): void {
  const at = ipOffset + field;
  const oldAddr = readU32(frame, at);
  if (oldAddr === newAddr >>> 0) return;
  writeU32(frame, at, newAddr);
  const ipCheck = ipOffset + Ipv4Field.CHECKSUM;
  writeU16(frame, ipCheck, checksumReplace32(readU16(frame, ipCheck), oldAddr, newAddr));
  if (!carriesL4Header(frame, ipOffset)) return;
  const protocol = frame[ipOffset + Ipv4Field.PROTOCOL];
  const l4 = l4Offset(frame, ipOffset);
  if (protocol === IpProtocol.TCP) {
    const at4 = l4 + TcpField.CHECKSUM;
    writeU16(frame, at4, checksumReplace32(readU16(frame, at4), oldAddr, newAddr));
  } else if (protocol === IpProtocol.UDP) {
    const at4 = l4 + UdpField.CHECKSUM;
    writeU16(frame, at4, udpChecksumReplace32(readU16(frame, at4), oldAddr, newAddr));
  }
}

/** SNAT: sets the source address, patching the IP and TCP/UDP checksums. */
export function rewriteIpv4Src(frame: Uint8Array, ipOffset: number, newAddr: number): void {
  rewriteAddress(frame, ipOffset, Ipv4Field.SRC, newAddr);
}

/** DNAT: sets the destination address, patching the IP and TCP/UDP checksums. */
export function rewriteIpv4Dst(frame: Uint8Array, ipOffset: number, newAddr: number): void {
  rewriteAddress(frame, ipOffset, Ipv4Field.DST, newAddr);
}

function rewritePort(frame: Uint8Array, ipOffset: number, portField: number, newPort: number): void {
  if (!carriesL4Header(frame, ipOffset)) return;
  const protocol = frame[ipOffset + Ipv4Field.PROTOCOL];
  const l4 = l4Offset(frame, ipOffset);
  const oldPort = readU16(frame, l4 + portField);
  if (protocol === IpProtocol.TCP) {
    writeU16(frame, l4 + portField, newPort);
    const at = l4 + TcpField.CHECKSUM;
    writeU16(frame, at, checksumReplace16(readU16(frame, at), oldPort, newPort));
  } else if (protocol === IpProtocol.UDP) {
    writeU16(frame, l4 + portField, newPort);
    const at = l4 + UdpField.CHECKSUM;
    writeU16(frame, at, udpChecksumReplace16(readU16(frame, at), oldPort, newPort));
  } else if (protocol === IpProtocol.SCTP && oldPort !== newPort) {
    writeU16(frame, l4 + portField, newPort);
    refreshSctpChecksum(frame, ipOffset, l4);
  }
}

/** Sets the TCP/UDP/SCTP source port (no-op for other protocols), patching the L4 checksum. */
export function rewriteSrcPort(frame: Uint8Array, ipOffset: number, newPort: number): void {
  rewritePort(frame, ipOffset, TcpField.SRC_PORT, newPort);
}

/** Sets the TCP/UDP/SCTP destination port (no-op for other protocols), patching the L4 checksum. */
export function rewriteDstPort(frame: Uint8Array, ipOffset: number, newPort: number): void {
  rewritePort(frame, ipOffset, TcpField.DST_PORT, newPort);
}

/**
 * One-pass NAT of an endpoint (what a DNAT or SNAT of address and port does): writes the
 * address and, for TCP/UDP, the port, and patches each checksum once, folding the
 * address and port deltas together (as BPF datapaths do with csum_diff then a single
 * l4_csum_replace). Same bytes as rewriteIpv4Dst + rewriteDstPort, fewer passes.
 */
function rewriteEndpoint(
  frame: Uint8Array,
  ipOffset: number,
  addrField: number,
  portField: number,
  newAddr: number,
  newPort: number,
): void {
  const at = ipOffset + addrField;
  const oldAddr = readU32(frame, at);
  writeU32(frame, at, newAddr);
  const ipCheck = ipOffset + Ipv4Field.CHECKSUM;
  writeU16(frame, ipCheck, checksumReplace32(readU16(frame, ipCheck), oldAddr, newAddr));
  if (!carriesL4Header(frame, ipOffset)) return;
  const protocol = frame[ipOffset + Ipv4Field.PROTOCOL];
  const l4 = l4Offset(frame, ipOffset);
  const portAt = l4 + portField;
  const oldPort = readU16(frame, portAt);
  if (protocol === IpProtocol.TCP) {
    writeU16(frame, portAt, newPort);
    const check = l4 + TcpField.CHECKSUM;
    writeU16(
      frame,
      check,
      checksumReplace16(checksumReplace32(readU16(frame, check), oldAddr, newAddr), oldPort, newPort),
    );
  } else if (protocol === IpProtocol.UDP) {
    writeU16(frame, portAt, newPort);
    const check = l4 + UdpField.CHECKSUM;
    const old = readU16(frame, check);
    if (old === 0) return;
    const next = checksumReplace16(checksumReplace32(old, oldAddr, newAddr), oldPort, newPort);
    writeU16(frame, check, next === 0 ? 0xffff : next);
  } else if (protocol === IpProtocol.SCTP && oldPort !== newPort) {
    // No pseudo-header: only a port change touches the CRC32c, and it is recomputed.
    writeU16(frame, portAt, newPort);
    refreshSctpChecksum(frame, ipOffset, l4);
  }
}

/** DNAT in one pass: destination address and TCP/UDP/SCTP destination port. */
export function rewriteDestination(
  frame: Uint8Array,
  ipOffset: number,
  newAddr: number,
  newPort: number,
): void {
  rewriteEndpoint(frame, ipOffset, Ipv4Field.DST, TcpField.DST_PORT, newAddr, newPort);
}

/** SNAT in one pass: source address and TCP/UDP/SCTP source port. */
export function rewriteSource(frame: Uint8Array, ipOffset: number, newAddr: number, newPort: number): void {
  rewriteEndpoint(frame, ipOffset, Ipv4Field.SRC, TcpField.SRC_PORT, newAddr, newPort);
}

/**
 * Sets the identifier of an ICMP echo request/reply (what conntrack NAT treats as the
 * "port" of ICMP), patching the ICMP checksum. Caveat: for a message whose every word
 * ends up zero (echo reply, id 0, seq 0, no data) a full recomputation gives 0xffff and
 * this gives 0x0000; both verify.
 */
export function rewriteIcmpEchoId(frame: Uint8Array, ipOffset: number, newId: number): void {
  const l4 = l4Offset(frame, ipOffset);
  const oldId = readU16(frame, l4 + IcmpField.IDENT);
  writeU16(frame, l4 + IcmpField.IDENT, newId);
  const at = l4 + IcmpField.CHECKSUM;
  writeU16(frame, at, checksumReplace16(readU16(frame, at), oldId, newId));
}

/**
 * Router TTL decrement: TTL − 1 and the IP checksum patched (Linux ip_decrease_ttl).
 * Returns the new TTL. The caller drops packets whose TTL is ≤ 1 instead of calling this.
 */
export function decrementTtl(frame: Uint8Array, ipOffset: number): number {
  const ttl = frame[ipOffset + Ipv4Field.TTL] - 1;
  frame[ipOffset + Ipv4Field.TTL] = ttl;
  const at = ipOffset + Ipv4Field.CHECKSUM;
  writeU16(frame, at, checksumAfterTtlDecrement(readU16(frame, at)));
  return ttl;
}

// ------------------------------------------------------------------ known-offset variants
// For datapaths that parsed the headers already (the eBPF programs and their benchmark):
// the caller passes the IP and L4 offsets and the protocol, so nothing is re-derived.

// natIpv4EndpointAt runs once per packet: its constants are module constants, not
// `Enum.MEMBER` (with isolatedModules the compilers emit those as property loads).
const IPV4_CHECKSUM = Ipv4Field.CHECKSUM;
const TCP_CHECKSUM = TcpField.CHECKSUM;
const TCP = IpProtocol.TCP;
const UDP = IpProtocol.UDP;

/**
 * The checksum after changes whose one's-complement difference (Σ ~old + new over 16-bit
 * words) is `delta`, given the old checksum's complement: RFC 1624 eqn. 3 for several
 * words at once, equal to chained checksumReplace16/32 calls.
 */
function checksumFold(notCheck: number, delta: number): number {
  let sum = notCheck + delta;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0 ? 0 : ~sum & 0xffff;
}

/**
 * One-pass NAT of one IPv4 endpoint (address at `ip + addrField`, port at `l4 + portField`)
 * with both checksums patched once. Reads the old header through `from` and writes the
 * changed fields through `to`, `toDelta` bytes further on: pass the same view and 0 to
 * rewrite in place, or a scratch copy's view to keep the input untouched (the benchmark
 * replays its frames). Offsets are DataView byte offsets. TCP and UDP only (the caller
 * parsed the protocol); a UDP checksum of 0 stays 0.
 */
export function natIpv4EndpointAt(
  from: DataView,
  to: DataView,
  toDelta: number,
  ip: number,
  l4: number,
  protocol: number,
  addrField: number,
  portField: number,
  newAddr: number,
  newPort: number,
): void {
  const oldAddr = from.getInt32(ip + addrField);
  const oldPort = from.getUint16(l4 + portField);
  to.setInt32(ip + toDelta + addrField, newAddr);
  to.setUint16(l4 + toDelta + portField, newPort);
  // One's-complement difference of the address change, shared by both checksums.
  const addrDelta = (~oldAddr >>> 16) + (~oldAddr & 0xffff) + (newAddr >>> 16) + (newAddr & 0xffff);
  const ipCheck = ip + IPV4_CHECKSUM;
  to.setUint16(ipCheck + toDelta, checksumFold(~from.getUint16(ipCheck) & 0xffff, addrDelta));
  if (protocol === TCP) {
    const check = l4 + TCP_CHECKSUM;
    const delta = addrDelta + (~oldPort & 0xffff) + newPort;
    to.setUint16(check + toDelta, checksumFold(~from.getUint16(check) & 0xffff, delta));
  } else if (protocol === UDP) {
    natUdpChecksumAt(from, to, toDelta, l4, oldAddr, newAddr, oldPort, newPort);
  }
}

/**
 * The UDP checksum patch of natIpv4EndpointAt, in its own function so that one stays small
 * enough for V8 to inline into per-packet loops (TCP, the common case, is computed inline).
 */
function natUdpChecksumAt(
  from: DataView,
  to: DataView,
  toDelta: number,
  l4: number,
  oldAddr: number,
  newAddr: number,
  oldPort: number,
  newPort: number,
): void {
  const check = l4 + UdpField.CHECKSUM;
  const old = from.getUint16(check);
  to.setUint16(
    check + toDelta,
    udpChecksumReplace16(udpChecksumReplace32(old, oldAddr >>> 0, newAddr >>> 0), oldPort, newPort),
  );
}

/** No checksum field at this place: IPv6 has no header checksum; ICMP and non-first fragments no pseudo-header. */
export const NO_CHECKSUM = -1;

/**
 * Sets the `width`-byte address at `addrAt` (IPv4 or IPv6, source or destination) to
 * `newAddr[newAt..)`, patching the IPv4 header checksum at `ipCheckAt` and the TCP/UDP
 * checksum at `l4CheckAt`, whose pseudo-header holds the address (pass NO_CHECKSUM for
 * either when there is none: IPv6 headers; ICMP, non-first fragments). `protocol` picks
 * the UDP rule (a checksum of 0 means none and stays 0). The width-generic form of
 * rewriteIpv4AddrAt, which stays the IPv4 hot-path entry point taking the address as a number.
 */
export function rewriteAddrAt(
  frame: Uint8Array,
  addrAt: number,
  newAddr: Uint8Array,
  newAt: number,
  width: AddressWidth,
  ipCheckAt: number,
  l4CheckAt: number,
  protocol: number,
): void {
  if (ipCheckAt !== NO_CHECKSUM) {
    writeU16(
      frame,
      ipCheckAt,
      checksumReplaceAddress(readU16(frame, ipCheckAt), frame, addrAt, newAddr, newAt, width),
    );
  }
  if (l4CheckAt !== NO_CHECKSUM) {
    const old = readU16(frame, l4CheckAt);
    writeU16(
      frame,
      l4CheckAt,
      protocol === IpProtocol.UDP
        ? udpChecksumReplaceAddress(old, frame, addrAt, newAddr, newAt, width)
        : checksumReplaceAddress(old, frame, addrAt, newAddr, newAt, width),
    );
  }
  // A byte loop, not frame.set(subarray): no view allocated per packet.
  for (let i = 0; i < width; i++) frame[addrAt + i] = newAddr[newAt + i];
}

/** Sets the IPv4 address at `ip + field` (SRC or DST), patching the IP and TCP/UDP checksums. */
export function rewriteIpv4AddrAt(
  frame: Uint8Array,
  ip: number,
  field: number,
  l4: number,
  protocol: number,
  addr: number,
): void {
  const old = readU32(frame, ip + field);
  if (old === addr >>> 0) return;
  writeU32(frame, ip + field, addr);
  const ipCheck = ip + Ipv4Field.CHECKSUM;
  writeU16(frame, ipCheck, checksumReplace32(readU16(frame, ipCheck), old, addr));
  if (protocol === IpProtocol.TCP) {
    const at = l4 + TcpField.CHECKSUM;
    writeU16(frame, at, checksumReplace32(readU16(frame, at), old, addr));
  } else if (protocol === IpProtocol.UDP) {
    const at = l4 + UdpField.CHECKSUM;
    writeU16(frame, at, udpChecksumReplace32(readU16(frame, at), old, addr));
  }
}

/** Sets the TCP/UDP port at `l4 + field` (SRC_PORT or DST_PORT), patching the L4 checksum. */
export function rewriteL4PortAt(
  frame: Uint8Array,
  l4: number,
  field: number,
  protocol: number,
  port: number,
): void {
  const old = readU16(frame, l4 + field);
  if (old === port) return;
  writeU16(frame, l4 + field, port);
  if (protocol === IpProtocol.TCP) {
    const at = l4 + TcpField.CHECKSUM;
    writeU16(frame, at, checksumReplace16(readU16(frame, at), old, port));
  } else if (protocol === IpProtocol.UDP) {
    const at = l4 + UdpField.CHECKSUM;
    writeU16(frame, at, udpChecksumReplace16(readU16(frame, at), old, port));
  }
}
