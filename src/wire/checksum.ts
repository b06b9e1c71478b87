/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624), on numbers.
 *
 * Everything here is per-packet code: byte offsets in, numbers out, no allocation.
 * A "sum" is a plain integer sum of 16-bit big-endian words that has not been folded
 * yet (folding is deferred so that sums can be added and subtracted exactly); a
 * "checksum" is the folded, complemented 16-bit value written on the wire.
 *
 * Canonical results: a full computation over data that is not all zero never yields
 * 0xffff (the folded sum of such data lies in 1..0xffff, so its complement lies in
 * 0..0xfffe). The incremental updates below return the same canonical value, so a
 * rewritten packet carries exactly the bytes a full recomputation would produce. This
 * matters because tshark flags a TCP checksum of 0xffff where 0x0000 was due
 * (`tcp.checksum.ffff`), the classic bug of the RFC 1141 formula `HC + m + ~m'`.
 */

/** Byte offset of the checksum field inside each header. */
export const IPV4_CHECKSUM_OFFSET = 10;
export const TCP_CHECKSUM_OFFSET = 16;
export const UDP_CHECKSUM_OFFSET = 6;
export const ICMP_CHECKSUM_OFFSET = 2;

/** Adds the 16-bit big-endian words of `buf[offset .. offset+length)` to `initial`; an odd tail byte is padded with zero. */
export function sumWords(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  const evenEnd = offset + (length & ~1);
  for (let i = offset; i < evenEnd; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (length & 1) sum += buf[offset + length - 1] << 8;
  return sum;
}

/** Folds carries back into 16 bits (end-around carry). 0 stays 0; any non-zero sum folds into 1..0xffff. */
export function foldSum(sum: number): number {
  // Division instead of >>> keeps sums above 2^32 exact (a 64 KiB packet stays far below 2^53).
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** Folds and complements a sum into the value written on the wire. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/** RFC 1071 checksum of a byte range (e.g. RFC 1071's example 00 01 f2 03 f4 f5 f6 f7 gives 0x220d). */
export function internetChecksum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  return finishChecksum(sumWords(buf, offset, length, initial));
}

/** Sum of the IPv4 pseudo-header: src, dst, zero+protocol, L4 length (TCP/UDP header + payload). */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, l4Length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + l4Length;
}

function wordAt(buf: Uint8Array, offset: number): number {
  return (buf[offset] << 8) | buf[offset + 1];
}

/** Checksum the IPv4 header at `ipOffset` should carry (IHL·4 bytes, own checksum field taken as zero). */
export function ipv4HeaderChecksum(buf: Uint8Array, ipOffset: number): number {
  const headerLength = (buf[ipOffset] & 0x0f) * 4;
  const sum = sumWords(buf, ipOffset, headerLength) - wordAt(buf, ipOffset + IPV4_CHECKSUM_OFFSET);
  return finishChecksum(sum);
}

/** True when the IPv4 header at `ipOffset` sums (checksum included) to 0xffff. */
export function verifyIpv4HeaderChecksum(buf: Uint8Array, ipOffset: number): boolean {
  const headerLength = (buf[ipOffset] & 0x0f) * 4;
  return foldSum(sumWords(buf, ipOffset, headerLength)) === 0xffff;
}

/** TCP checksum over the segment at `l4Offset` (header + payload, `l4Length` bytes) with the IPv4 pseudo-header. */
export function tcpChecksum(
  buf: Uint8Array,
  l4Offset: number,
  l4Length: number,
  src: number,
  dst: number,
): number {
  const sum =
    sumWords(buf, l4Offset, l4Length, pseudoHeaderSum(src, dst, 6, l4Length)) -
    wordAt(buf, l4Offset + TCP_CHECKSUM_OFFSET);
  return finishChecksum(sum);
}

/**
 * UDP checksum with the IPv4 pseudo-header. A computed 0 is returned as 0xffff because
 * 0 on the wire means "no checksum" (RFC 768).
 */
export function udpChecksum(
  buf: Uint8Array,
  l4Offset: number,
  l4Length: number,
  src: number,
  dst: number,
): number {
  const sum =
    sumWords(buf, l4Offset, l4Length, pseudoHeaderSum(src, dst, 17, l4Length)) -
    wordAt(buf, l4Offset + UDP_CHECKSUM_OFFSET);
  const check = finishChecksum(sum);
  return check === 0 ? 0xffff : check;
}

/** ICMPv4 checksum over the whole message (no pseudo-header in IPv4). */
export function icmpChecksum(buf: Uint8Array, l4Offset: number, l4Length: number): number {
  const sum = sumWords(buf, l4Offset, l4Length) - wordAt(buf, l4Offset + ICMP_CHECKSUM_OFFSET);
  return finishChecksum(sum);
}

/** True when a TCP segment's checksum (pseudo-header included) is correct. */
export function verifyTcpChecksum(
  buf: Uint8Array,
  l4Offset: number,
  l4Length: number,
  src: number,
  dst: number,
): boolean {
  return foldSum(sumWords(buf, l4Offset, l4Length, pseudoHeaderSum(src, dst, 6, l4Length))) === 0xffff;
}

/** True when a UDP datagram's checksum is correct or absent (0 = sender computed none). */
export function verifyUdpChecksum(
  buf: Uint8Array,
  l4Offset: number,
  l4Length: number,
  src: number,
  dst: number,
): boolean {
  if (wordAt(buf, l4Offset + UDP_CHECKSUM_OFFSET) === 0) return true;
  return foldSum(sumWords(buf, l4Offset, l4Length, pseudoHeaderSum(src, dst, 17, l4Length))) === 0xffff;
}

/** True when an ICMP message's checksum is correct. */
export function verifyIcmpChecksum(buf: Uint8Array, l4Offset: number, l4Length: number): boolean {
  return foldSum(sumWords(buf, l4Offset, l4Length)) === 0xffff;
}

// ---------------------------------------------------------------------------------------
// Incremental update, RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').

/**
 * New checksum after one 16-bit word of the covered data changes from `oldWord` to
 * `newWord` (a port, the TTL/protocol word, an ICMP id).
 *
 * The one's-complement sum `~HC + ~m + m'` is 0 only when every term is 0; because the
 * data a checksum covers here is never all zero, that 0 stands for the data sum's other
 * representation 0xffff, which keeps the result canonical (never 0xffff, always equal to
 * a full recomputation). See the file comment for why that matters.
 */
export function checksumReplace16(check: number, oldWord: number, newWord: number): number {
  let sum = (~check & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0 ? 0 : ~sum & 0xffff;
}

/** New checksum after a 32-bit value of the covered data (an IPv4 address) changes: two words at once. */
export function checksumReplace32(check: number, oldValue: number, newValue: number): number {
  let sum =
    (~check & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    (newValue >>> 16) +
    (newValue & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0 ? 0 : ~sum & 0xffff;
}

/** Width in bytes of an IP address as it sits in a header and pseudo-header: 4 (IPv4) or 16 (IPv6). */
export type AddressWidth = 4 | 16;

/**
 * checksumReplace32 for an address of any width: the new checksum after the `width` bytes
 * at `buf[oldAt..)` are replaced by `newAddr[newAt..)`. Call it before writing the new bytes.
 * For width 4 the result equals checksumReplace32 (one fold argument: at most 1 + 16 terms of
 * 16 bits, so two end-around folds suffice, as there).
 */
export function checksumReplaceAddress(
  check: number,
  buf: Uint8Array,
  oldAt: number,
  newAddr: Uint8Array,
  newAt: number,
  width: AddressWidth,
): number {
  let sum = ~check & 0xffff;
  for (let i = 0; i < width; i += 2) {
    sum +=
      (~((buf[oldAt + i] << 8) | buf[oldAt + i + 1]) & 0xffff) +
      ((newAddr[newAt + i] << 8) | newAddr[newAt + i + 1]);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0 ? 0 : ~sum & 0xffff;
}

/** checksumReplaceAddress for a UDP checksum field (0 stays 0; a computed 0 is sent as 0xffff). */
export function udpChecksumReplaceAddress(
  check: number,
  buf: Uint8Array,
  oldAt: number,
  newAddr: Uint8Array,
  newAt: number,
  width: AddressWidth,
): number {
  if (check === 0) return 0;
  const next = checksumReplaceAddress(check, buf, oldAt, newAddr, newAt, width);
  return next === 0 ? 0xffff : next;
}

/**
 * checksumReplace16 for a UDP checksum field: 0 means "no checksum" and must stay 0
 * (what BPF's BPF_F_MARK_MANGLED_0 does), and a computed 0 is sent as 0xffff.
 */
export function udpChecksumReplace16(check: number, oldWord: number, newWord: number): number {
  if (check === 0) return 0;
  const next = checksumReplace16(check, oldWord, newWord);
  return next === 0 ? 0xffff : next;
}

/** checksumReplace32 for a UDP checksum field (see udpChecksumReplace16). */
export function udpChecksumReplace32(check: number, oldValue: number, newValue: number): number {
  if (check === 0) return 0;
  const next = checksumReplace32(check, oldValue, newValue);
  return next === 0 ? 0xffff : next;
}

/**
 * IPv4 header checksum after decrementing TTL by one. TTL is the high byte of the
 * word (TTL << 8 | protocol), so that word drops by 0x0100 and the checksum grows by
 * 0x0100 with end-around carry; this is Linux's ip_decrease_ttl, whose result is
 * identical to checksumReplace16 and to a full recomputation. Callers must not call it
 * with TTL 0 (a forwarder drops TTL ≤ 1 first).
 */
export function checksumAfterTtlDecrement(check: number): number {
  const sum = check + 0x0100;
  return sum >= 0xffff ? (sum + 1) & 0xffff : sum;
}
