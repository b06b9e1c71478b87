/**
 * IPv4 header (RFC 791): ver/IHL · DSCP/ECN · total length · identification ·
 * flags/fragment offset · TTL · protocol · header checksum · src · dst · options.
 * Addresses are u32 numbers as in src/util/ipv4.ts (10.0.0.1 = 0x0a000001).
 */
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { checksumAfterTtlDecrement, ipv4HeaderChecksum, verifyIpv4HeaderChecksum } from './checksum.js';

export const IPV4_MIN_HEADER_LENGTH = 20;
export const IPV4_MAX_HEADER_LENGTH = 60;
export const IPV4_MAX_OPTIONS_LENGTH = 40;
export const IPV4_MAX_TOTAL_LENGTH = 0xffff;

export const Ipv4Field = {
  VER_IHL: 0,
  DSCP_ECN: 1,
  TOTAL_LENGTH: 2,
  IDENT: 4,
  FLAGS_FRAG: 6,
  TTL: 8,
  PROTOCOL: 9,
  CHECKSUM: 10,
  SRC: 12,
  DST: 16,
  OPTIONS: 20,
} as const;

/** Bits of the flags/fragment-offset word. */
export const IPV4_FLAG_RESERVED = 0x8000;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;

export interface Ipv4Repr {
  /** Differentiated services code point, 0..63 (upper 6 bits of the old TOS byte). */
  dscp: number;
  /** ECN codepoint, 0..3. */
  ecn: number;
  ident: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Fragment offset in 8-byte units, as on the wire (0..8191). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: number;
  dst: number;
  /** Raw option bytes (length a multiple of 4, at most 40); empty for the usual 20-byte header. */
  options: Uint8Array;
}

/** In-place view over an IPv4 header; re-point with `attach`, no bounds checks. */
export class Ipv4View {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;

  attach(buf: Uint8Array, offset = 0): this {
    this.buf = buf;
    this.offset = offset;
    return this;
  }

  get version(): number {
    return this.buf[this.offset] >>> 4;
  }
  /** Header length in 32-bit words (5..15 when valid). */
  get ihl(): number {
    return this.buf[this.offset] & 0x0f;
  }
  get headerLength(): number {
    return (this.buf[this.offset] & 0x0f) * 4;
  }
  get optionsLength(): number {
    return this.headerLength - IPV4_MIN_HEADER_LENGTH;
  }
  /** Sets version 4 and the IHL for `headerLength` bytes. */
  setHeaderLength(headerLength: number): void {
    this.buf[this.offset] = 0x40 | (headerLength >>> 2);
  }
  get dscp(): number {
    return this.buf[this.offset + Ipv4Field.DSCP_ECN] >>> 2;
  }
  set dscp(value: number) {
    const o = this.offset + Ipv4Field.DSCP_ECN;
    this.buf[o] = ((value & 0x3f) << 2) | (this.buf[o] & 0x03);
  }
  get ecn(): number {
    return this.buf[this.offset + Ipv4Field.DSCP_ECN] & 0x03;
  }
  set ecn(value: number) {
    const o = this.offset + Ipv4Field.DSCP_ECN;
    this.buf[o] = (this.buf[o] & 0xfc) | (value & 0x03);
  }
  /** The whole DSCP/ECN byte (the old TOS). */
  get tos(): number {
    return this.buf[this.offset + Ipv4Field.DSCP_ECN];
  }
  set tos(value: number) {
    this.buf[this.offset + Ipv4Field.DSCP_ECN] = value;
  }
  get totalLength(): number {
    return readU16(this.buf, this.offset + Ipv4Field.TOTAL_LENGTH);
  }
  set totalLength(value: number) {
    writeU16(this.buf, this.offset + Ipv4Field.TOTAL_LENGTH, value);
  }
  get ident(): number {
    return readU16(this.buf, this.offset + Ipv4Field.IDENT);
  }
  set ident(value: number) {
    writeU16(this.buf, this.offset + Ipv4Field.IDENT, value);
  }
  /** The raw flags/fragment-offset word. */
  get flagsFragment(): number {
    return readU16(this.buf, this.offset + Ipv4Field.FLAGS_FRAG);
  }
  set flagsFragment(value: number) {
    writeU16(this.buf, this.offset + Ipv4Field.FLAGS_FRAG, value);
  }
  get dontFragment(): boolean {
    return (this.flagsFragment & IPV4_FLAG_DF) !== 0;
  }
  get moreFragments(): boolean {
    return (this.flagsFragment & IPV4_FLAG_MF) !== 0;
  }
  /** Fragment offset in 8-byte units. */
  get fragmentOffset(): number {
    return this.flagsFragment & IPV4_FRAG_OFFSET_MASK;
  }
  /** True for any piece of a fragmented datagram (MF set or offset non-zero). */
  get isFragment(): boolean {
    return (this.flagsFragment & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK)) !== 0;
  }
  get ttl(): number {
    return this.buf[this.offset + Ipv4Field.TTL];
  }
  set ttl(value: number) {
    this.buf[this.offset + Ipv4Field.TTL] = value;
  }
  get protocol(): number {
    return this.buf[this.offset + Ipv4Field.PROTOCOL];
  }
  set protocol(value: number) {
    this.buf[this.offset + Ipv4Field.PROTOCOL] = value;
  }
  get checksum(): number {
    return readU16(this.buf, this.offset + Ipv4Field.CHECKSUM);
  }
  set checksum(value: number) {
    writeU16(this.buf, this.offset + Ipv4Field.CHECKSUM, value);
  }
  get src(): number {
    return readU32(this.buf, this.offset + Ipv4Field.SRC);
  }
  set src(value: number) {
    writeU32(this.buf, this.offset + Ipv4Field.SRC, value);
  }
  get dst(): number {
    return readU32(this.buf, this.offset + Ipv4Field.DST);
  }
  set dst(value: number) {
    writeU32(this.buf, this.offset + Ipv4Field.DST, value);
  }
  /** Offset of the first payload byte (after options). */
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
  /** Payload length according to the header (total length − header length). */
  get payloadLength(): number {
    return this.totalLength - this.headerLength;
  }

  /** Recomputes and stores the header checksum. */
  fillChecksum(): void {
    this.checksum = ipv4HeaderChecksum(this.buf, this.offset);
  }
  verifyChecksum(): boolean {
    return verifyIpv4HeaderChecksum(this.buf, this.offset);
  }
  /**
   * Decrements TTL and patches the checksum incrementally (Linux ip_decrease_ttl).
   * Returns the new TTL. The caller drops packets with TTL ≤ 1 before calling.
   */
  decrementTtl(): number {
    const ttl = this.ttl - 1;
    this.ttl = ttl;
    this.checksum = checksumAfterTtlDecrement(this.checksum);
    return ttl;
  }

  read(): Ipv4Repr {
    const ff = this.flagsFragment;
    const o = this.offset;
    return {
      dscp: this.dscp,
      ecn: this.ecn,
      ident: this.ident,
      dontFragment: (ff & IPV4_FLAG_DF) !== 0,
      moreFragments: (ff & IPV4_FLAG_MF) !== 0,
      fragmentOffset: ff & IPV4_FRAG_OFFSET_MASK,
      ttl: this.ttl,
      protocol: this.protocol,
      src: this.src,
      dst: this.dst,
      options: this.buf.slice(o + IPV4_MIN_HEADER_LENGTH, o + this.headerLength),
    };
  }
}

/** Header length a repr produces (20 + options). */
export function ipv4HeaderLength(repr: Ipv4Repr): number {
  return IPV4_MIN_HEADER_LENGTH + repr.options.length;
}

/**
 * Writes an IPv4 header at `offset` for a payload of `payloadLength` bytes, checksum
 * included. Returns the header length. Field ranges are the caller's to respect (the
 * frame builders validate them).
 */
export function writeIpv4Header(
  buf: Uint8Array,
  offset: number,
  repr: Ipv4Repr,
  payloadLength: number,
): number {
  const headerLength = IPV4_MIN_HEADER_LENGTH + repr.options.length;
  buf[offset + Ipv4Field.VER_IHL] = 0x40 | (headerLength >>> 2);
  buf[offset + Ipv4Field.DSCP_ECN] = ((repr.dscp & 0x3f) << 2) | (repr.ecn & 0x03);
  writeU16(buf, offset + Ipv4Field.TOTAL_LENGTH, headerLength + payloadLength);
  writeU16(buf, offset + Ipv4Field.IDENT, repr.ident);
  writeU16(
    buf,
    offset + Ipv4Field.FLAGS_FRAG,
    (repr.dontFragment ? IPV4_FLAG_DF : 0) |
      (repr.moreFragments ? IPV4_FLAG_MF : 0) |
      (repr.fragmentOffset & IPV4_FRAG_OFFSET_MASK),
  );
  buf[offset + Ipv4Field.TTL] = repr.ttl;
  buf[offset + Ipv4Field.PROTOCOL] = repr.protocol;
  writeU16(buf, offset + Ipv4Field.CHECKSUM, 0);
  writeU32(buf, offset + Ipv4Field.SRC, repr.src);
  writeU32(buf, offset + Ipv4Field.DST, repr.dst);
  if (repr.options.length > 0) buf.set(repr.options, offset + Ipv4Field.OPTIONS);
  writeU16(buf, offset + Ipv4Field.CHECKSUM, ipv4HeaderChecksum(buf, offset));
  return headerLength;
}
