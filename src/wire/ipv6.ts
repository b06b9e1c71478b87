/**
 * IPv6 header (RFC 8200): version/traffic class/flow label · payload length · next header ·
 * hop limit · source (16 bytes) · destination (16 bytes). No header checksum: the TCP,
 * UDP and ICMPv6 checksums cover the IPv6 pseudo-header instead (checksum6.ts).
 *
 * Extension headers sit between this header and the upper-layer one. The parser walks the
 * ones a router or host must skip to find the transport header — hop-by-hop options (0),
 * routing (43), fragment (44), destination options (60) — as the kernel's ipv6_skip_exthdr
 * does; ESP/AH and unknown next headers end the walk (the upper layer is "that protocol").
 * Addresses are bytes: 16 of them in the frame, never a per-packet bigint.
 */
import { readU16, writeU16 } from './bytes.js';

export const IPV6_HEADER_LENGTH = 40;
/** The minimum link MTU every IPv6 link must carry (RFC 8200 §5); ICMPv6 errors fit in it. */
export const IPV6_MIN_MTU = 1280;

export const Ipv6Field = {
  VER_TC_FLOW: 0,
  PAYLOAD_LENGTH: 4,
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  SRC: 8,
  DST: 24,
} as const;

/** Next-header numbers of the extension headers the parser skips, plus "no next header". */
export const enum Ipv6ExtHeader {
  HOP_BY_HOP = 0,
  ROUTING = 43,
  FRAGMENT = 44,
  DEST_OPTIONS = 60,
  NO_NEXT = 59,
}

export const IPV6_FRAGMENT_HEADER_LENGTH = 8;
/** Fragment header: offset (13 bits, 8-byte units) << 3 | M flag, at byte 2. */
const FRAG_OFFSET_MASK = 0xfff8;
const FRAG_MORE = 0x0001;

export interface Ipv6Repr {
  trafficClass: number;
  /** 20 bits. */
  flowLabel: number;
  /** The first next-header value (an extension header or the upper-layer protocol). */
  nextHeader: number;
  hopLimit: number;
  /** 16 bytes each. */
  src: Uint8Array;
  dst: Uint8Array;
}

/** Writes the 40-byte header at `offset` for `payloadLength` bytes after it (extension headers included). */
export function writeIpv6Header(
  buf: Uint8Array,
  offset: number,
  repr: Ipv6Repr,
  payloadLength: number,
): number {
  const tc = repr.trafficClass & 0xff;
  const flow = repr.flowLabel & 0xfffff;
  buf[offset] = 0x60 | (tc >>> 4);
  buf[offset + 1] = ((tc & 0x0f) << 4) | (flow >>> 16);
  writeU16(buf, offset + 2, flow & 0xffff);
  writeU16(buf, offset + Ipv6Field.PAYLOAD_LENGTH, payloadLength);
  buf[offset + Ipv6Field.NEXT_HEADER] = repr.nextHeader;
  buf[offset + Ipv6Field.HOP_LIMIT] = repr.hopLimit;
  for (let i = 0; i < 16; i++) {
    buf[offset + Ipv6Field.SRC + i] = repr.src[i];
    buf[offset + Ipv6Field.DST + i] = repr.dst[i];
  }
  return IPV6_HEADER_LENGTH;
}

/** Reads the fixed header at `offset` (copies the addresses). */
export function readIpv6Header(buf: Uint8Array, offset: number): Ipv6Repr {
  return {
    trafficClass: ((buf[offset] & 0x0f) << 4) | (buf[offset + 1] >>> 4),
    flowLabel: ((buf[offset + 1] & 0x0f) << 16) | readU16(buf, offset + 2),
    nextHeader: buf[offset + Ipv6Field.NEXT_HEADER],
    hopLimit: buf[offset + Ipv6Field.HOP_LIMIT],
    src: buf.slice(offset + Ipv6Field.SRC, offset + Ipv6Field.SRC + 16),
    dst: buf.slice(offset + Ipv6Field.DST, offset + Ipv6Field.DST + 16),
  };
}

export function ipv6PayloadLength(buf: Uint8Array, ipOffset: number): number {
  return readU16(buf, ipOffset + Ipv6Field.PAYLOAD_LENGTH);
}

/** Outcome of walking the extension-header chain; numbers only, so per-packet code can use it. */
export const enum Ipv6WalkStatus {
  OK = 0,
  /** An extension header runs past the payload. */
  TRUNCATED = 1,
  /** A fragment header with a non-zero offset: no upper-layer header in this packet. */
  NON_FIRST_FRAGMENT = 2,
}

/**
 * The result of walkIpv6Extensions, in a caller-owned object reused across packets: the
 * upper-layer protocol and its offset, and whether a fragment header was seen.
 */
export interface Ipv6Upper {
  protocol: number;
  offset: number;
  /** A fragment header was present (first or later fragment). */
  fragmented: boolean;
  /** The fragment header's M flag (more fragments follow). */
  moreFragments: boolean;
}

export function newIpv6Upper(): Ipv6Upper {
  return { protocol: 0, offset: 0, fragmented: false, moreFragments: false };
}

/** True for the next-header values walkIpv6Extensions steps over. */
export function isSkippedExtension(nextHeader: number): boolean {
  return (
    nextHeader === Ipv6ExtHeader.HOP_BY_HOP ||
    nextHeader === Ipv6ExtHeader.ROUTING ||
    nextHeader === Ipv6ExtHeader.FRAGMENT ||
    nextHeader === Ipv6ExtHeader.DEST_OPTIONS
  );
}

/**
 * Walks the extension headers after the fixed header at `ipOffset`, up to `end` (the end of
 * the IPv6 payload), filling `out`. Hop-by-hop, routing and destination options give their
 * length as (Hdr Ext Len + 1) · 8 bytes; the fragment header is 8 bytes.
 */
export function walkIpv6Extensions(
  buf: Uint8Array,
  ipOffset: number,
  end: number,
  out: Ipv6Upper,
): Ipv6WalkStatus {
  let next = buf[ipOffset + Ipv6Field.NEXT_HEADER];
  let at = ipOffset + IPV6_HEADER_LENGTH;
  out.fragmented = false;
  out.moreFragments = false;
  while (isSkippedExtension(next)) {
    if (at + 8 > end) return Ipv6WalkStatus.TRUNCATED;
    if (next === Ipv6ExtHeader.FRAGMENT) {
      const word = readU16(buf, at + 2);
      out.fragmented = true;
      out.moreFragments = (word & FRAG_MORE) !== 0;
      next = buf[at];
      at += IPV6_FRAGMENT_HEADER_LENGTH;
      if ((word & FRAG_OFFSET_MASK) !== 0) {
        out.protocol = next;
        out.offset = at;
        return Ipv6WalkStatus.NON_FIRST_FRAGMENT;
      }
      continue;
    }
    const length = (buf[at + 1] + 1) * 8;
    if (at + length > end) return Ipv6WalkStatus.TRUNCATED;
    next = buf[at];
    at += length;
  }
  out.protocol = next;
  out.offset = at;
  return Ipv6WalkStatus.OK;
}

/**
 * Hop-limit decrement of a forwarding router: no checksum to patch in IPv6. Returns the new
 * hop limit; the caller drops (and answers time exceeded) when it was ≤ 1.
 */
export function decrementHopLimit(buf: Uint8Array, ipOffset: number): number {
  const hop = buf[ipOffset + Ipv6Field.HOP_LIMIT] - 1;
  buf[ipOffset + Ipv6Field.HOP_LIMIT] = hop;
  return hop;
}

/** True when the 16 bytes at `a[aAt..)` and `b[bAt..)` are the same address. */
export function ipv6Equal(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number): boolean {
  for (let i = 0; i < 16; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}
