/**
 * Whole IPv6 frames (Ethernet + IPv6 [+ extension headers] + TCP/UDP/ICMPv6), every length and
 * checksum filled in; the IPv6 counterparts of build.ts with the same trio per kind
 * (`xFrameLength`, `writeXFrame` into a buffer, `buildXFrame` allocating). A spec that cannot
 * be encoded throws WireBuildError.
 *
 * Defaults follow Linux: hop limit 64 (net.ipv6.conf.*.hop_limit), traffic class 0, flow
 * label 0. ICMPv6 errors quote as much of the offending packet as keeps the whole error
 * within the 1280-byte minimum MTU (RFC 4443 §2.4(c), icmp6_send).
 */
import { writeU16 } from './bytes.js';
import { icmpv6Checksum, tcp6Checksum, udp6Checksum } from './checksum6.js';
import { WireBuildError } from './errors.js';
import { ETHERNET_HEADER_LENGTH, EtherType, writeEthernetHeader } from './ethernet.js';
import { ICMPV6_HEADER_LENGTH, Icmpv6Field, type Icmpv6Repr, writeIcmpv6Header } from './icmpv6.js';
import { IpProtocol } from './ip-protocol.js';
import { IPV6_HEADER_LENGTH, IPV6_MIN_MTU, Ipv6ExtHeader, type Ipv6Repr, writeIpv6Header } from './ipv6.js';
import {
  TCP_MAX_OPTIONS_LENGTH,
  TcpField,
  type TcpOption,
  type TcpRepr,
  tcpOptionsLength,
  writeTcpHeader,
} from './tcp.js';
import { UDP_HEADER_LENGTH, UdpField, writeUdpHeader } from './udp.js';
import { checkFits, checkMac, checkUint } from './validate.js';

const EMPTY = new Uint8Array(0);
const NO_OPTIONS: readonly TcpOption[] = [];

/**
 * An extension header to put before the upper layer. Options headers are padded with PadN
 * to `length` bytes (a multiple of 8, at least 8); the routing header is type 4 (segment
 * routing) with no segments left, which every node passes on.
 */
export type Ipv6Extension =
  | { kind: 'hopByHop'; length: number }
  | { kind: 'destOptions'; length: number }
  | { kind: 'routing'; length: number }
  | { kind: 'fragment'; ident: number; offset: number; more: boolean };

export interface Ipv6FrameSpec {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  /** 16 bytes each. */
  src: Uint8Array;
  dst: Uint8Array;
  /** Default 64. */
  hopLimit?: number;
  /** Default 0. */
  trafficClass?: number;
  /** Default 0. */
  flowLabel?: number;
  /** Extension headers in order. Default none. */
  extensions?: readonly Ipv6Extension[];
}

export interface Tcp6FrameSpec extends Ipv6FrameSpec {
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  window: number;
  urgent?: number;
  options?: readonly TcpOption[];
  payload?: Uint8Array;
}

export interface Udp6FrameSpec extends Ipv6FrameSpec {
  sport: number;
  dport: number;
  payload?: Uint8Array;
}

export interface Icmpv6EchoFrameSpec extends Ipv6FrameSpec {
  reply?: boolean;
  ident: number;
  sequence: number;
  payload?: Uint8Array;
}

export interface Icmpv6ErrorFrameSpec extends Ipv6FrameSpec {
  /** Destination unreachable (code: Icmpv6UnreachableCode, default 4 port), packet too big (mtu) or time exceeded (code). */
  error: Extract<Icmpv6Repr, { kind: 'destUnreachable' | 'packetTooBig' | 'timeExceeded' }>;
  /** The offending packet, starting at its IPv6 header. */
  original: Uint8Array;
}

function extensionLength(ext: Ipv6Extension): number {
  return ext.kind === 'fragment' ? 8 : ext.length;
}

function extensionsLength(spec: Ipv6FrameSpec): number {
  let total = 0;
  for (const ext of spec.extensions ?? []) total += extensionLength(ext);
  return total;
}

function checkIpv6Spec(spec: Ipv6FrameSpec): void {
  checkMac('srcMac', spec.srcMac);
  checkMac('dstMac', spec.dstMac);
  if (spec.src.length !== 16) throw new WireBuildError(`src must be 16 bytes, got ${spec.src.length}`);
  if (spec.dst.length !== 16) throw new WireBuildError(`dst must be 16 bytes, got ${spec.dst.length}`);
  if (spec.hopLimit !== undefined) checkUint('hopLimit', spec.hopLimit, 255);
  if (spec.trafficClass !== undefined) checkUint('trafficClass', spec.trafficClass, 255);
  if (spec.flowLabel !== undefined) checkUint('flowLabel', spec.flowLabel, 0xfffff);
  for (const ext of spec.extensions ?? []) {
    if (ext.kind === 'fragment') {
      checkUint('fragment offset', ext.offset, 0x1fff);
      checkUint('fragment ident', ext.ident, 0xffffffff);
    } else if (ext.length < 8 || ext.length % 8 !== 0 || ext.length > 2048) {
      throw new WireBuildError(
        `${ext.kind} header length must be a multiple of 8 in 8..2048, got ${ext.length}`,
      );
    }
  }
}

function checkPayloadLength(length: number): void {
  if (length > 0xffff)
    throw new WireBuildError(`IPv6 payload length ${length} exceeds 65535 (no jumbograms)`);
}

function extensionType(ext: Ipv6Extension): number {
  switch (ext.kind) {
    case 'hopByHop':
      return Ipv6ExtHeader.HOP_BY_HOP;
    case 'destOptions':
      return Ipv6ExtHeader.DEST_OPTIONS;
    case 'routing':
      return Ipv6ExtHeader.ROUTING;
    case 'fragment':
      return Ipv6ExtHeader.FRAGMENT;
  }
}

function writeExtension(buf: Uint8Array, at: number, ext: Ipv6Extension, next: number): void {
  buf[at] = next;
  if (ext.kind === 'fragment') {
    buf[at + 1] = 0;
    writeU16(buf, at + 2, (ext.offset << 3) | (ext.more ? 1 : 0));
    buf[at + 4] = ext.ident >>> 24;
    buf[at + 5] = ext.ident >>> 16;
    buf[at + 6] = ext.ident >>> 8;
    buf[at + 7] = ext.ident;
    return;
  }
  buf[at + 1] = ext.length / 8 - 1;
  if (ext.kind === 'routing') {
    // Segment routing header (RFC 8754) with Segments Left 0 and no segment list beyond the
    // zero-filled space: routing type 4, last entry 0, flags 0, tag 0.
    buf[at + 2] = 4;
    buf.fill(0, at + 3, at + ext.length);
    return;
  }
  // Options: one PadN covering the remaining bytes (RFC 8200 §4.2).
  const pad = ext.length - 2;
  buf[at + 2] = 1;
  buf[at + 3] = pad - 2;
  buf.fill(0, at + 4, at + ext.length);
}

const scratchIpv6: Ipv6Repr = {
  trafficClass: 0,
  flowLabel: 0,
  nextHeader: 0,
  hopLimit: 64,
  src: EMPTY,
  dst: EMPTY,
};

/** Writes Ethernet + IPv6 + extension headers; returns the L4 offset. */
function writeEthernetIpv6(
  buf: Uint8Array,
  offset: number,
  spec: Ipv6FrameSpec,
  protocol: number,
  l4Length: number,
): number {
  writeEthernetHeader(buf, offset, spec.dstMac, spec.srcMac, EtherType.IPV6);
  const exts = spec.extensions ?? [];
  const ip = scratchIpv6;
  ip.trafficClass = spec.trafficClass ?? 0;
  ip.flowLabel = spec.flowLabel ?? 0;
  ip.nextHeader = exts.length > 0 ? extensionType(exts[0]) : protocol;
  ip.hopLimit = spec.hopLimit ?? 64;
  ip.src = spec.src;
  ip.dst = spec.dst;
  const ipOffset = offset + ETHERNET_HEADER_LENGTH;
  let at = ipOffset + writeIpv6Header(buf, ipOffset, ip, extensionsLength(spec) + l4Length);
  for (let i = 0; i < exts.length; i++) {
    writeExtension(buf, at, exts[i], i + 1 < exts.length ? extensionType(exts[i + 1]) : protocol);
    at += extensionLength(exts[i]);
  }
  return at;
}

function headersLength(spec: Ipv6FrameSpec): number {
  return ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH + extensionsLength(spec);
}

// ---------------------------------------------------------------------------------------- TCP

function tcpOptionsPadded(spec: Tcp6FrameSpec): number {
  return (tcpOptionsLength(spec.options ?? NO_OPTIONS) + 3) & ~3;
}

export function tcp6FrameLength(spec: Tcp6FrameSpec): number {
  return headersLength(spec) + 20 + tcpOptionsPadded(spec) + (spec.payload?.length ?? 0);
}

const scratchTcp: TcpRepr = {
  srcPort: 0,
  dstPort: 0,
  seq: 0,
  ack: 0,
  flags: 0,
  window: 0,
  urgent: 0,
  options: NO_OPTIONS,
};

export function writeTcp6Frame(buf: Uint8Array, offset: number, spec: Tcp6FrameSpec): number {
  checkIpv6Spec(spec);
  checkUint('sport', spec.sport, 0xffff);
  checkUint('dport', spec.dport, 0xffff);
  checkUint('seq', spec.seq, 0xffffffff);
  checkUint('ack', spec.ack ?? 0, 0xffffffff);
  checkUint('flags', spec.flags, 0x1ff);
  checkUint('window', spec.window, 0xffff);
  checkUint('urgent', spec.urgent ?? 0, 0xffff);
  const optionsPadded = tcpOptionsPadded(spec);
  if (optionsPadded > TCP_MAX_OPTIONS_LENGTH)
    throw new WireBuildError(`TCP options need ${optionsPadded} bytes, more than the 40 a header can hold`);
  const payload = spec.payload ?? EMPTY;
  const segmentLength = 20 + optionsPadded + payload.length;
  checkPayloadLength(extensionsLength(spec) + segmentLength);
  const length = tcp6FrameLength(spec);
  checkFits(buf, offset, length);
  const l4 = writeEthernetIpv6(buf, offset, spec, IpProtocol.TCP, segmentLength);
  const tcp = scratchTcp;
  tcp.srcPort = spec.sport;
  tcp.dstPort = spec.dport;
  tcp.seq = spec.seq;
  tcp.ack = spec.ack ?? 0;
  tcp.flags = spec.flags;
  tcp.window = spec.window;
  tcp.urgent = spec.urgent ?? 0;
  tcp.options = spec.options ?? NO_OPTIONS;
  const headerLength = writeTcpHeader(buf, l4, tcp);
  buf.set(payload, l4 + headerLength);
  const ip = offset + ETHERNET_HEADER_LENGTH;
  writeU16(buf, l4 + TcpField.CHECKSUM, tcp6Checksum(buf, ip, l4, segmentLength));
  return length;
}

export function buildTcp6Frame(spec: Tcp6FrameSpec): Uint8Array {
  const frame = new Uint8Array(tcp6FrameLength(spec));
  writeTcp6Frame(frame, 0, spec);
  return frame;
}

// ---------------------------------------------------------------------------------------- UDP

export function udp6FrameLength(spec: Udp6FrameSpec): number {
  return headersLength(spec) + UDP_HEADER_LENGTH + (spec.payload?.length ?? 0);
}

const scratchUdp = { srcPort: 0, dstPort: 0 };

export function writeUdp6Frame(buf: Uint8Array, offset: number, spec: Udp6FrameSpec): number {
  checkIpv6Spec(spec);
  checkUint('sport', spec.sport, 0xffff);
  checkUint('dport', spec.dport, 0xffff);
  const payload = spec.payload ?? EMPTY;
  const datagramLength = UDP_HEADER_LENGTH + payload.length;
  checkPayloadLength(extensionsLength(spec) + datagramLength);
  const length = udp6FrameLength(spec);
  checkFits(buf, offset, length);
  const l4 = writeEthernetIpv6(buf, offset, spec, IpProtocol.UDP, datagramLength);
  scratchUdp.srcPort = spec.sport;
  scratchUdp.dstPort = spec.dport;
  writeUdpHeader(buf, l4, scratchUdp, payload.length);
  buf.set(payload, l4 + UDP_HEADER_LENGTH);
  writeU16(
    buf,
    l4 + UdpField.CHECKSUM,
    udp6Checksum(buf, offset + ETHERNET_HEADER_LENGTH, l4, datagramLength),
  );
  return length;
}

export function buildUdp6Frame(spec: Udp6FrameSpec): Uint8Array {
  const frame = new Uint8Array(udp6FrameLength(spec));
  writeUdp6Frame(frame, 0, spec);
  return frame;
}

// ------------------------------------------------------------------------------------ ICMPv6

function writeIcmpv6Message(
  buf: Uint8Array,
  offset: number,
  spec: Ipv6FrameSpec,
  repr: Icmpv6Repr,
  data: Uint8Array,
): number {
  const messageLength = ICMPV6_HEADER_LENGTH + data.length;
  checkPayloadLength(extensionsLength(spec) + messageLength);
  const length = headersLength(spec) + messageLength;
  checkFits(buf, offset, length);
  const l4 = writeEthernetIpv6(buf, offset, spec, IpProtocol.ICMPV6, messageLength);
  writeIcmpv6Header(buf, l4, repr);
  buf.set(data, l4 + ICMPV6_HEADER_LENGTH);
  writeU16(
    buf,
    l4 + Icmpv6Field.CHECKSUM,
    icmpv6Checksum(buf, offset + ETHERNET_HEADER_LENGTH, l4, messageLength),
  );
  return length;
}

export function icmpv6EchoFrameLength(spec: Icmpv6EchoFrameSpec): number {
  return headersLength(spec) + ICMPV6_HEADER_LENGTH + (spec.payload?.length ?? 0);
}

export function writeIcmpv6EchoFrame(buf: Uint8Array, offset: number, spec: Icmpv6EchoFrameSpec): number {
  checkIpv6Spec(spec);
  checkUint('ident', spec.ident, 0xffff);
  checkUint('sequence', spec.sequence, 0xffff);
  const repr: Icmpv6Repr = spec.reply
    ? { kind: 'echoReply', ident: spec.ident, sequence: spec.sequence }
    : { kind: 'echoRequest', ident: spec.ident, sequence: spec.sequence };
  return writeIcmpv6Message(buf, offset, spec, repr, spec.payload ?? EMPTY);
}

export function buildIcmpv6EchoFrame(spec: Icmpv6EchoFrameSpec): Uint8Array {
  const frame = new Uint8Array(icmpv6EchoFrameLength(spec));
  writeIcmpv6EchoFrame(frame, 0, spec);
  return frame;
}

/** Bytes of the offending packet an error quotes: all of it, up to the 1280-byte minimum MTU. */
export function icmpv6QuoteLength(spec: Icmpv6ErrorFrameSpec): number {
  const room = IPV6_MIN_MTU - IPV6_HEADER_LENGTH - extensionsLength(spec) - ICMPV6_HEADER_LENGTH;
  const original = spec.original;
  const stated =
    original.length >= IPV6_HEADER_LENGTH
      ? IPV6_HEADER_LENGTH + ((original[4] << 8) | original[5])
      : original.length;
  return Math.max(0, Math.min(original.length, stated, room));
}

export function icmpv6ErrorFrameLength(spec: Icmpv6ErrorFrameSpec): number {
  return headersLength(spec) + ICMPV6_HEADER_LENGTH + icmpv6QuoteLength(spec);
}

export function writeIcmpv6ErrorFrame(buf: Uint8Array, offset: number, spec: Icmpv6ErrorFrameSpec): number {
  checkIpv6Spec(spec);
  const original = spec.original;
  if (original.length < IPV6_HEADER_LENGTH || original[0] >>> 4 !== 6)
    throw new WireBuildError('original must start with the offending IPv6 header');
  const error = spec.error;
  if (error.kind === 'packetTooBig') checkUint('mtu', error.mtu, 0xffffffff);
  else checkUint('code', error.code, 255);
  return writeIcmpv6Message(buf, offset, spec, error, original.subarray(0, icmpv6QuoteLength(spec)));
}

export function buildIcmpv6ErrorFrame(spec: Icmpv6ErrorFrameSpec): Uint8Array {
  const frame = new Uint8Array(icmpv6ErrorFrameLength(spec));
  writeIcmpv6ErrorFrame(frame, 0, spec);
  return frame;
}
