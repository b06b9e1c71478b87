/**
 * Whole-frame builders: a high-level description in, Ethernet frame bytes out, with
 * every length and checksum filled in. Each kind comes as a trio:
 *   - `xFrameLength(spec)`          bytes the frame needs,
 *   - `writeXFrame(buf, off, spec)` writes into an existing buffer, returns the length
 *                                   (hot path: reuse one spec object and one buffer),
 *   - `buildXFrame(spec)`           allocates a fresh Uint8Array (tests, control plane).
 * A spec that cannot be encoded (port 70000, 44 bytes of options, a buffer too small)
 * throws WireBuildError; nothing is silently truncated.
 *
 * IP defaults follow Linux: TTL 64, ID 0, DF set on TCP/UDP/echo (PMTU discovery is
 * on by default), DF clear and TOS 0xc0 | (offending TOS & 0x1e) on ICMP errors
 * (icmp_send uses IPTOS_PREC_INTERNETCONTROL and does not set DF).
 */
import { ARP_LENGTH, ArpOperation, writeArp } from './arp.js';
import { readU16, writeU16 } from './bytes.js';
import { icmpChecksum, tcpChecksum, udpChecksum } from './checksum.js';
import { WireBuildError } from './errors.js';
import { ETHERNET_HEADER_LENGTH, EtherType, writeEthernetHeader } from './ethernet.js';
import { ICMP_HEADER_LENGTH, IcmpField, IcmpUnreachableCode, writeIcmpHeader } from './icmp.js';
import { IpProtocol } from './ip-protocol.js';
import {
  IPV4_MAX_OPTIONS_LENGTH,
  IPV4_MAX_TOTAL_LENGTH,
  IPV4_MIN_HEADER_LENGTH,
  type Ipv4Repr,
  writeIpv4Header,
} from './ipv4.js';
import { broadcastMac, zeroMac } from './mac.js';
import { type SctpPacket, sctpPacketLength, writeSctpPacket } from './sctp.js';
import {
  TCP_MAX_OPTIONS_LENGTH,
  TcpField,
  type TcpOption,
  type TcpRepr,
  tcpOptionsLength,
  writeTcpHeader,
} from './tcp.js';
import { UDP_HEADER_LENGTH, UdpField, type UdpRepr, writeUdpHeader } from './udp.js';
import { checkFits, checkMac, checkUint } from './validate.js';

const EMPTY = new Uint8Array(0);
const NO_OPTIONS: readonly TcpOption[] = [];

/** Ethernet + IPv4 fields shared by every IP frame spec. */
export interface Ipv4FrameSpec {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  src: number;
  dst: number;
  /** Default 64. */
  ttl?: number;
  /** IP identification, default 0. */
  id?: number;
  /** Default 0. */
  dscp?: number;
  /** Default 0. */
  ecn?: number;
  /** Default: true for TCP/UDP/echo, false for ICMP errors (see file comment). */
  dontFragment?: boolean;
  /** Raw IP option bytes, a multiple of 4 and at most 40. Default none. */
  ipOptions?: Uint8Array;
}

export interface TcpFrameSpec extends Ipv4FrameSpec {
  sport: number;
  dport: number;
  seq: number;
  /** Default 0. */
  ack?: number;
  /** TcpFlag bits. */
  flags: number;
  window: number;
  /** Default 0. */
  urgent?: number;
  /** Written in order, zero-padded to a multiple of 4. Default none. */
  options?: readonly TcpOption[];
  payload?: Uint8Array;
}

export interface UdpFrameSpec extends Ipv4FrameSpec {
  sport: number;
  dport: number;
  payload?: Uint8Array;
  /** Compute the UDP checksum (default true); false sends 0 = "no checksum". */
  checksum?: boolean;
}

export interface SctpFrameSpec extends Ipv4FrameSpec {
  /** The SCTP packet (common header and chunks); its CRC32c is computed. */
  sctp: SctpPacket;
}

export interface IcmpEchoFrameSpec extends Ipv4FrameSpec {
  /** Echo reply instead of request. Default false. */
  reply?: boolean;
  ident: number;
  sequence: number;
  payload?: Uint8Array;
}

export interface IcmpUnreachableFrameSpec extends Ipv4FrameSpec {
  /** IcmpUnreachableCode, default PORT (3), what `-j REJECT` sends by default. */
  code?: number;
  /** Next-hop MTU for code 4 (fragmentation needed). Default 0. */
  nextHopMtu?: number;
  /** The offending IP datagram, starting at its IP header. */
  original: Uint8Array;
  /**
   * Most bytes of `original` to quote. Default 548 = 576 − 20 − 8, Linux's icmp_send
   * limit; RFC 792's minimum is the IP header + 8 bytes.
   */
  maxQuote?: number;
}

export interface ArpFrameSpec {
  /** ArpOperation: 1 request, 2 reply. */
  operation: number;
  senderMac: Uint8Array;
  senderIp: number;
  /** Default 00:00:00:00:00:00 (what Linux sends in a request). */
  targetMac?: Uint8Array;
  targetIp: number;
  /** Ethernet source, default senderMac. */
  srcMac?: Uint8Array;
  /** Ethernet destination, default broadcast for a request and targetMac for a reply. */
  dstMac?: Uint8Array;
}

// ---------------------------------------------------------------------------------------
// Validation (throws WireBuildError; cheap comparisons only, so the write* path keeps it).

function checkIpv4Spec(spec: Ipv4FrameSpec): void {
  checkMac('srcMac', spec.srcMac);
  checkMac('dstMac', spec.dstMac);
  checkUint('src', spec.src, 0xffffffff);
  checkUint('dst', spec.dst, 0xffffffff);
  if (spec.ttl !== undefined) checkUint('ttl', spec.ttl, 255);
  if (spec.id !== undefined) checkUint('id', spec.id, 0xffff);
  if (spec.dscp !== undefined) checkUint('dscp', spec.dscp, 63);
  if (spec.ecn !== undefined) checkUint('ecn', spec.ecn, 3);
  const options = spec.ipOptions;
  if (options && (options.length % 4 !== 0 || options.length > IPV4_MAX_OPTIONS_LENGTH)) {
    throw new WireBuildError(`ipOptions must be a multiple of 4 bytes and at most 40, got ${options.length}`);
  }
}

function checkIpTotal(ipHeaderLength: number, payloadLength: number): void {
  if (ipHeaderLength + payloadLength > IPV4_MAX_TOTAL_LENGTH) {
    throw new WireBuildError(`IPv4 total length ${ipHeaderLength + payloadLength} exceeds 65535`);
  }
}

function ipHeaderLengthOf(spec: Ipv4FrameSpec): number {
  return IPV4_MIN_HEADER_LENGTH + (spec.ipOptions?.length ?? 0);
}

/**
 * A repr object reused by every write so the hot path allocates nothing; safe because
 * writes are synchronous and the repr never escapes.
 */
const scratchIpv4: Ipv4Repr = {
  dscp: 0,
  ecn: 0,
  ident: 0,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 64,
  protocol: 0,
  src: 0,
  dst: 0,
  options: EMPTY,
};

/** Writes Ethernet + IPv4 headers; returns the offset of the L4 header. */
function writeEthernetIpv4(
  buf: Uint8Array,
  offset: number,
  spec: Ipv4FrameSpec,
  protocol: number,
  l4Length: number,
  defaultDf: boolean,
  defaultTos: number,
): number {
  writeEthernetHeader(buf, offset, spec.dstMac, spec.srcMac, EtherType.IPV4);
  const ip = scratchIpv4;
  ip.dscp = spec.dscp ?? defaultTos >>> 2;
  ip.ecn = spec.ecn ?? defaultTos & 3;
  ip.ident = spec.id ?? 0;
  ip.dontFragment = spec.dontFragment ?? defaultDf;
  ip.ttl = spec.ttl ?? 64;
  ip.protocol = protocol;
  ip.src = spec.src;
  ip.dst = spec.dst;
  ip.options = spec.ipOptions ?? EMPTY;
  const ipOffset = offset + ETHERNET_HEADER_LENGTH;
  return ipOffset + writeIpv4Header(buf, ipOffset, ip, l4Length);
}

// ---------------------------------------------------------------------------------------
// TCP

function tcpOptionsPadded(spec: TcpFrameSpec): number {
  return (tcpOptionsLength(spec.options ?? NO_OPTIONS) + 3) & ~3;
}

export function tcpFrameLength(spec: TcpFrameSpec): number {
  return (
    ETHERNET_HEADER_LENGTH +
    ipHeaderLengthOf(spec) +
    20 +
    tcpOptionsPadded(spec) +
    (spec.payload?.length ?? 0)
  );
}

/** Scratch TCP repr for the same reason as scratchIpv4. */
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

export function writeTcpFrame(buf: Uint8Array, offset: number, spec: TcpFrameSpec): number {
  checkIpv4Spec(spec);
  checkUint('sport', spec.sport, 0xffff);
  checkUint('dport', spec.dport, 0xffff);
  checkUint('seq', spec.seq, 0xffffffff);
  checkUint('ack', spec.ack ?? 0, 0xffffffff);
  checkUint('flags', spec.flags, 0x1ff);
  checkUint('window', spec.window, 0xffff);
  checkUint('urgent', spec.urgent ?? 0, 0xffff);
  const optionsPadded = tcpOptionsPadded(spec);
  if (optionsPadded > TCP_MAX_OPTIONS_LENGTH) {
    throw new WireBuildError(`TCP options need ${optionsPadded} bytes, more than the 40 a header can hold`);
  }
  const payload = spec.payload ?? EMPTY;
  const segmentLength = 20 + optionsPadded + payload.length;
  checkIpTotal(ipHeaderLengthOf(spec), segmentLength);
  const length = tcpFrameLength(spec);
  checkFits(buf, offset, length);

  const l4 = writeEthernetIpv4(buf, offset, spec, IpProtocol.TCP, segmentLength, true, 0);
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
  writeU16(buf, l4 + TcpField.CHECKSUM, tcpChecksum(buf, l4, segmentLength, spec.src, spec.dst));
  return length;
}

export function buildTcpFrame(spec: TcpFrameSpec): Uint8Array {
  const frame = new Uint8Array(tcpFrameLength(spec));
  writeTcpFrame(frame, 0, spec);
  return frame;
}

// ---------------------------------------------------------------------------------------
// SCTP

export function sctpFrameLength(spec: SctpFrameSpec): number {
  return ETHERNET_HEADER_LENGTH + ipHeaderLengthOf(spec) + sctpPacketLength(spec.sctp);
}

export function writeSctpFrame(buf: Uint8Array, offset: number, spec: SctpFrameSpec): number {
  checkIpv4Spec(spec);
  const packetLength = sctpPacketLength(spec.sctp);
  checkIpTotal(ipHeaderLengthOf(spec), packetLength);
  const length = sctpFrameLength(spec);
  checkFits(buf, offset, length);
  // Linux sets DF on SCTP as on TCP (PMTU discovery on by default).
  const l4 = writeEthernetIpv4(buf, offset, spec, IpProtocol.SCTP, packetLength, true, 0);
  writeSctpPacket(buf, l4, spec.sctp);
  return length;
}

export function buildSctpFrame(spec: SctpFrameSpec): Uint8Array {
  const frame = new Uint8Array(sctpFrameLength(spec));
  writeSctpFrame(frame, 0, spec);
  return frame;
}

// ---------------------------------------------------------------------------------------
// UDP

const scratchUdp: UdpRepr = { srcPort: 0, dstPort: 0 };

export function udpFrameLength(spec: UdpFrameSpec): number {
  return ETHERNET_HEADER_LENGTH + ipHeaderLengthOf(spec) + UDP_HEADER_LENGTH + (spec.payload?.length ?? 0);
}

export function writeUdpFrame(buf: Uint8Array, offset: number, spec: UdpFrameSpec): number {
  checkIpv4Spec(spec);
  checkUint('sport', spec.sport, 0xffff);
  checkUint('dport', spec.dport, 0xffff);
  const payload = spec.payload ?? EMPTY;
  const datagramLength = UDP_HEADER_LENGTH + payload.length;
  checkIpTotal(ipHeaderLengthOf(spec), datagramLength);
  const length = udpFrameLength(spec);
  checkFits(buf, offset, length);

  const l4 = writeEthernetIpv4(buf, offset, spec, IpProtocol.UDP, datagramLength, true, 0);
  scratchUdp.srcPort = spec.sport;
  scratchUdp.dstPort = spec.dport;
  writeUdpHeader(buf, l4, scratchUdp, payload.length);
  buf.set(payload, l4 + UDP_HEADER_LENGTH);
  if (spec.checksum ?? true) {
    writeU16(buf, l4 + UdpField.CHECKSUM, udpChecksum(buf, l4, datagramLength, spec.src, spec.dst));
  }
  return length;
}

export function buildUdpFrame(spec: UdpFrameSpec): Uint8Array {
  const frame = new Uint8Array(udpFrameLength(spec));
  writeUdpFrame(frame, 0, spec);
  return frame;
}

// ---------------------------------------------------------------------------------------
// ICMP echo

export function icmpEchoFrameLength(spec: IcmpEchoFrameSpec): number {
  return ETHERNET_HEADER_LENGTH + ipHeaderLengthOf(spec) + ICMP_HEADER_LENGTH + (spec.payload?.length ?? 0);
}

const scratchEcho = { kind: 'echoRequest' as 'echoRequest' | 'echoReply', ident: 0, sequence: 0 };

export function writeIcmpEchoFrame(buf: Uint8Array, offset: number, spec: IcmpEchoFrameSpec): number {
  checkIpv4Spec(spec);
  checkUint('ident', spec.ident, 0xffff);
  checkUint('sequence', spec.sequence, 0xffff);
  const payload = spec.payload ?? EMPTY;
  const messageLength = ICMP_HEADER_LENGTH + payload.length;
  checkIpTotal(ipHeaderLengthOf(spec), messageLength);
  const length = icmpEchoFrameLength(spec);
  checkFits(buf, offset, length);

  const l4 = writeEthernetIpv4(buf, offset, spec, IpProtocol.ICMP, messageLength, true, 0);
  scratchEcho.kind = spec.reply ? 'echoReply' : 'echoRequest';
  scratchEcho.ident = spec.ident;
  scratchEcho.sequence = spec.sequence;
  writeIcmpHeader(buf, l4, scratchEcho);
  buf.set(payload, l4 + ICMP_HEADER_LENGTH);
  writeU16(buf, l4 + IcmpField.CHECKSUM, icmpChecksum(buf, l4, messageLength));
  return length;
}

export function buildIcmpEchoFrame(spec: IcmpEchoFrameSpec): Uint8Array {
  const frame = new Uint8Array(icmpEchoFrameLength(spec));
  writeIcmpEchoFrame(frame, 0, spec);
  return frame;
}

// ---------------------------------------------------------------------------------------
// ICMP destination unreachable

/** Linux icmp_send: the whole error datagram stays within 576 bytes. */
export const LINUX_ICMP_MAX_QUOTE = 576 - IPV4_MIN_HEADER_LENGTH - ICMP_HEADER_LENGTH;

function quoteLength(spec: IcmpUnreachableFrameSpec): number {
  const original = spec.original;
  // Quote what the offending datagram really holds: never past its total length field.
  const stated = original.length >= 4 ? readU16(original, 2) : original.length;
  const available = Math.min(original.length, stated > 0 ? stated : original.length);
  return Math.min(available, spec.maxQuote ?? LINUX_ICMP_MAX_QUOTE);
}

const scratchUnreachable = { kind: 'destUnreachable' as const, code: 0, nextHopMtu: 0 };

export function icmpUnreachableFrameLength(spec: IcmpUnreachableFrameSpec): number {
  return ETHERNET_HEADER_LENGTH + ipHeaderLengthOf(spec) + ICMP_HEADER_LENGTH + quoteLength(spec);
}

export function writeIcmpUnreachableFrame(
  buf: Uint8Array,
  offset: number,
  spec: IcmpUnreachableFrameSpec,
): number {
  checkIpv4Spec(spec);
  const code = spec.code ?? IcmpUnreachableCode.PORT;
  checkUint('code', code, 255);
  checkUint('nextHopMtu', spec.nextHopMtu ?? 0, 0xffff);
  if (spec.maxQuote !== undefined) checkUint('maxQuote', spec.maxQuote, 0xffff);
  const original = spec.original;
  if (original.length < IPV4_MIN_HEADER_LENGTH || original[0] >>> 4 !== 4) {
    throw new WireBuildError('original must start with the offending IPv4 header');
  }
  const quoted = quoteLength(spec);
  const minimum = Math.min((original[0] & 0x0f) * 4 + 8, original.length);
  if (quoted < minimum) {
    throw new WireBuildError(
      `an ICMP error must quote the IP header + 8 bytes (${minimum}), maxQuote allows ${quoted}`,
    );
  }
  const messageLength = ICMP_HEADER_LENGTH + quoted;
  checkIpTotal(ipHeaderLengthOf(spec), messageLength);
  const length = icmpUnreachableFrameLength(spec);
  checkFits(buf, offset, length);

  // Linux icmp_send: TOS = the offending packet's TOS bits (RT_TOS, mask 0x1e) | 0xc0.
  const tos = (original[1] & 0x1e) | 0xc0;
  const l4 = writeEthernetIpv4(buf, offset, spec, IpProtocol.ICMP, messageLength, false, tos);
  scratchUnreachable.code = code;
  scratchUnreachable.nextHopMtu = spec.nextHopMtu ?? 0;
  writeIcmpHeader(buf, l4, scratchUnreachable);
  buf.set(original.subarray(0, quoted), l4 + ICMP_HEADER_LENGTH);
  writeU16(buf, l4 + IcmpField.CHECKSUM, icmpChecksum(buf, l4, messageLength));
  return length;
}

export function buildIcmpUnreachableFrame(spec: IcmpUnreachableFrameSpec): Uint8Array {
  const frame = new Uint8Array(icmpUnreachableFrameLength(spec));
  writeIcmpUnreachableFrame(frame, 0, spec);
  return frame;
}

// ---------------------------------------------------------------------------------------
// ARP

/** 42 bytes: Linux hands ARP to the capture unpadded; the NIC pads to 60 on the wire. */
export const ARP_FRAME_LENGTH = ETHERNET_HEADER_LENGTH + ARP_LENGTH;

export function writeArpFrame(buf: Uint8Array, offset: number, spec: ArpFrameSpec): number {
  checkUint('operation', spec.operation, 0xffff);
  checkMac('senderMac', spec.senderMac);
  checkUint('senderIp', spec.senderIp, 0xffffffff);
  checkUint('targetIp', spec.targetIp, 0xffffffff);
  const targetMac = spec.targetMac ?? zeroMac();
  checkMac('targetMac', targetMac);
  const dstMac = spec.dstMac ?? (spec.operation === ArpOperation.REQUEST ? broadcastMac() : targetMac);
  const srcMac = spec.srcMac ?? spec.senderMac;
  checkMac('dstMac', dstMac);
  checkMac('srcMac', srcMac);
  checkFits(buf, offset, ARP_FRAME_LENGTH);
  writeEthernetHeader(buf, offset, dstMac, srcMac, EtherType.ARP);
  writeArp(buf, offset + ETHERNET_HEADER_LENGTH, {
    operation: spec.operation,
    senderMac: spec.senderMac,
    senderIp: spec.senderIp,
    targetMac,
    targetIp: spec.targetIp,
  });
  return ARP_FRAME_LENGTH;
}

export function buildArpFrame(spec: ArpFrameSpec): Uint8Array {
  const frame = new Uint8Array(ARP_FRAME_LENGTH);
  writeArpFrame(frame, 0, spec);
  return frame;
}

/** "who-has targetIp tell senderIp", broadcast. */
export function buildArpRequest(senderMac: Uint8Array, senderIp: number, targetIp: number): Uint8Array {
  return buildArpFrame({ operation: ArpOperation.REQUEST, senderMac, senderIp, targetIp });
}

/** "senderIp is-at senderMac", unicast back to the asker. */
export function buildArpReply(
  senderMac: Uint8Array,
  senderIp: number,
  targetMac: Uint8Array,
  targetIp: number,
): Uint8Array {
  return buildArpFrame({ operation: ArpOperation.REPLY, senderMac, senderIp, targetMac, targetIp });
}
