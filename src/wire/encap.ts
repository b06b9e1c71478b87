/**
 * Tunnel encapsulation and decapsulation: VXLAN (RFC 7348) and IPIP (RFC 2003).
 *
 *   VXLAN: outer Ethernet 14 | outer IPv4 20 (proto 17) | UDP 8 | VXLAN 8 | inner Ethernet frame
 *   IPIP:  outer Ethernet 14 | outer IPv4 20 (proto 4)  | inner IPv4 packet (no inner Ethernet)
 *
 * Outer defaults: TTL 64, ID 0, DF clear; VXLAN UDP checksum 0 (Linux and Cilium send
 * none over IPv4); IPIP copies the inner TOS (as Katran does). Decapsulation never
 * throws: it returns `{ok:false, reason}` for anything that is not the expected tunnel.
 */
import { readU16, writeU16 } from './bytes.js';
import { udpChecksum } from './checksum.js';
import { WireBuildError } from './errors.js';
import { ETHERNET_HEADER_LENGTH, EtherType, writeEthernetHeader } from './ethernet.js';
import { IpProtocol } from './ip-protocol.js';
import { IPV4_MIN_HEADER_LENGTH, Ipv4Field, type Ipv4Repr, writeIpv4Header } from './ipv4.js';
import { UDP_HEADER_LENGTH, UdpField, type UdpRepr, writeUdpHeader } from './udp.js';
import { checkFits, checkMac, checkUint } from './validate.js';
import {
  VXLAN_FLAG_I,
  VXLAN_HEADER_LENGTH,
  VXLAN_PORT_IANA,
  type VxlanRepr,
  writeVxlanHeader,
} from './vxlan.js';

export interface TunnelOuterSpec {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  /** Outer source and destination (tunnel endpoints, e.g. node IPs). */
  src: number;
  dst: number;
  /** Default 64. */
  ttl?: number;
  /** Default 0. */
  id?: number;
  /** Default false. */
  dontFragment?: boolean;
}

export interface VxlanEncapSpec extends TunnelOuterSpec {
  /** UDP source port: flow entropy (see flowSourcePort). */
  srcPort: number;
  /** Default 4789 (IANA); Cilium and flannel use 8472. */
  dstPort?: number;
  vni: number;
  /** Outer DSCP/ECN byte, default 0. */
  tos?: number;
  /** Compute an outer UDP checksum (default false, as Linux and Cilium do over IPv4). */
  udpChecksum?: boolean;
}

export interface IpipEncapSpec extends TunnelOuterSpec {
  /** Outer TOS; default copies the inner packet's TOS. */
  tos?: number;
}

export type VxlanDecapResult = { ok: true; vni: number; inner: Uint8Array } | { ok: false; reason: string };

const EMPTY = new Uint8Array(0);
const OUTER_IP: Ipv4Repr = {
  dscp: 0,
  ecn: 0,
  ident: 0,
  dontFragment: false,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 64,
  protocol: 0,
  src: 0,
  dst: 0,
  options: EMPTY,
};

/** Scratch reprs reused by every write (synchronous, never escaping), so writes allocate nothing. */
const VXLAN_UDP: UdpRepr = { srcPort: 0, dstPort: 0 };
const VXLAN_HEADER: VxlanRepr = { vni: 0 };

function checkOuter(spec: TunnelOuterSpec): void {
  checkMac('srcMac', spec.srcMac);
  checkMac('dstMac', spec.dstMac);
  checkUint('src', spec.src, 0xffffffff);
  checkUint('dst', spec.dst, 0xffffffff);
  checkUint('ttl', spec.ttl ?? 64, 255);
  checkUint('id', spec.id ?? 0, 0xffff);
}

function fillOuterIp(spec: TunnelOuterSpec, protocol: number, tos: number): Ipv4Repr {
  OUTER_IP.dscp = tos >>> 2;
  OUTER_IP.ecn = tos & 3;
  OUTER_IP.ident = spec.id ?? 0;
  OUTER_IP.dontFragment = spec.dontFragment ?? false;
  OUTER_IP.ttl = spec.ttl ?? 64;
  OUTER_IP.protocol = protocol;
  OUTER_IP.src = spec.src;
  OUTER_IP.dst = spec.dst;
  return OUTER_IP;
}

function checkOuterLength(length: number): void {
  if (length - ETHERNET_HEADER_LENGTH > 0xffff)
    throw new WireBuildError('outer IPv4 total length exceeds 65535');
}

/**
 * Linux's udp_flow_src_port: spread a flow hash over [min, max) so that different
 * inner flows take different outer source ports (ECMP/RSS entropy). The hash itself
 * (skb_get_hash) is the caller's: pass any u32 flow hash.
 */
export function flowSourcePort(hash: number, min = 32768, max = 61000): number {
  const mixed = (hash ^ (hash << 16)) >>> 0;
  return Math.floor((mixed * (max - min)) / 0x100000000) + min;
}

// ---------------------------------------------------------------------------------------
// VXLAN

export function vxlanFrameLength(innerLength: number): number {
  return (
    ETHERNET_HEADER_LENGTH + IPV4_MIN_HEADER_LENGTH + UDP_HEADER_LENGTH + VXLAN_HEADER_LENGTH + innerLength
  );
}

/** Wraps the Ethernet frame `inner[innerOffset .. +innerLength)` in VXLAN at `buf[offset]`; returns the length. */
export function writeVxlanEncapsulation(
  buf: Uint8Array,
  offset: number,
  spec: VxlanEncapSpec,
  inner: Uint8Array,
  innerOffset = 0,
  innerLength = inner.length - innerOffset,
): number {
  checkOuter(spec);
  const dstPort = spec.dstPort ?? VXLAN_PORT_IANA;
  checkUint('vni', spec.vni, 0xffffff);
  checkUint('srcPort', spec.srcPort, 0xffff);
  checkUint('dstPort', dstPort, 0xffff);
  checkUint('tos', spec.tos ?? 0, 0xff);
  const length = vxlanFrameLength(innerLength);
  checkOuterLength(length);
  checkFits(buf, offset, length);
  const udpLength = UDP_HEADER_LENGTH + VXLAN_HEADER_LENGTH + innerLength;

  writeEthernetHeader(buf, offset, spec.dstMac, spec.srcMac, EtherType.IPV4);
  const ipOffset = offset + ETHERNET_HEADER_LENGTH;
  const udpOffset =
    ipOffset + writeIpv4Header(buf, ipOffset, fillOuterIp(spec, IpProtocol.UDP, spec.tos ?? 0), udpLength);
  VXLAN_UDP.srcPort = spec.srcPort;
  VXLAN_UDP.dstPort = dstPort;
  writeUdpHeader(buf, udpOffset, VXLAN_UDP, udpLength - UDP_HEADER_LENGTH);
  const vxlanOffset = udpOffset + UDP_HEADER_LENGTH;
  VXLAN_HEADER.vni = spec.vni;
  writeVxlanHeader(buf, vxlanOffset, VXLAN_HEADER);
  buf.set(inner.subarray(innerOffset, innerOffset + innerLength), vxlanOffset + VXLAN_HEADER_LENGTH);
  if (spec.udpChecksum) {
    writeU16(buf, udpOffset + UdpField.CHECKSUM, udpChecksum(buf, udpOffset, udpLength, spec.src, spec.dst));
  }
  return length;
}

export function vxlanEncapsulate(spec: VxlanEncapSpec, innerFrame: Uint8Array): Uint8Array {
  const frame = new Uint8Array(vxlanFrameLength(innerFrame.length));
  writeVxlanEncapsulation(frame, 0, spec, innerFrame);
  return frame;
}

/**
 * Finds the inner Ethernet frame of a VXLAN frame. `inner` is a view into `frame` (no
 * copy). Accepts only UDP destination `port` (default 4789), or any port with 'any'.
 */
export function vxlanDecapsulate(
  frame: Uint8Array,
  port: number | 'any' = VXLAN_PORT_IANA,
): VxlanDecapResult {
  const ip = ETHERNET_HEADER_LENGTH;
  if (frame.length < ip + IPV4_MIN_HEADER_LENGTH)
    return { ok: false, reason: 'frame too short for Ethernet + IPv4' };
  if (readU16(frame, 12) !== EtherType.IPV4) return { ok: false, reason: 'outer ethertype is not IPv4' };
  if (frame[ip] >>> 4 !== 4) return { ok: false, reason: `outer IP version ${frame[ip] >>> 4} is not 4` };
  const ihl = (frame[ip] & 0x0f) * 4;
  if (ihl < IPV4_MIN_HEADER_LENGTH) return { ok: false, reason: `outer IHL ${ihl / 4} is below 5` };
  if (frame[ip + Ipv4Field.PROTOCOL] !== IpProtocol.UDP)
    return { ok: false, reason: 'outer protocol is not UDP' };
  const totalLength = readU16(frame, ip + Ipv4Field.TOTAL_LENGTH);
  if (ip + totalLength > frame.length) {
    return {
      ok: false,
      reason: `outer total length ${totalLength} exceeds captured ${frame.length - ip} bytes`,
    };
  }
  const udp = ip + ihl;
  if (totalLength < ihl + UDP_HEADER_LENGTH + VXLAN_HEADER_LENGTH) {
    return { ok: false, reason: 'outer packet too short for UDP + VXLAN' };
  }
  if (port !== 'any' && readU16(frame, udp + UdpField.DST_PORT) !== port) {
    return {
      ok: false,
      reason: `UDP destination port ${readU16(frame, udp + UdpField.DST_PORT)} is not ${port}`,
    };
  }
  const udpLength = readU16(frame, udp + UdpField.LENGTH);
  if (udpLength < UDP_HEADER_LENGTH + VXLAN_HEADER_LENGTH || udp + udpLength > ip + totalLength) {
    return { ok: false, reason: `UDP length ${udpLength} does not fit the outer packet` };
  }
  const vxlan = udp + UDP_HEADER_LENGTH;
  if ((frame[vxlan] & VXLAN_FLAG_I) === 0) return { ok: false, reason: 'VXLAN I flag not set' };
  const vni = (frame[vxlan + 4] << 16) | (frame[vxlan + 5] << 8) | frame[vxlan + 6];
  return { ok: true, vni, inner: frame.subarray(vxlan + VXLAN_HEADER_LENGTH, udp + udpLength) };
}

// ---------------------------------------------------------------------------------------
// IPIP

export function ipipFrameLength(innerIpLength: number): number {
  return ETHERNET_HEADER_LENGTH + IPV4_MIN_HEADER_LENGTH + innerIpLength;
}

/** Wraps the IPv4 packet `innerIp[innerOffset .. +innerLength)` in IPIP at `buf[offset]`; returns the length. */
export function writeIpipEncapsulation(
  buf: Uint8Array,
  offset: number,
  spec: IpipEncapSpec,
  innerIp: Uint8Array,
  innerOffset = 0,
  innerLength = innerIp.length - innerOffset,
): number {
  checkOuter(spec);
  if (innerLength < IPV4_MIN_HEADER_LENGTH || innerIp[innerOffset] >>> 4 !== 4) {
    throw new WireBuildError('the inner packet must be an IPv4 packet');
  }
  checkUint('tos', spec.tos ?? 0, 0xff);
  const length = ipipFrameLength(innerLength);
  checkOuterLength(length);
  checkFits(buf, offset, length);
  const tos = spec.tos ?? innerIp[innerOffset + Ipv4Field.DSCP_ECN];
  writeEthernetHeader(buf, offset, spec.dstMac, spec.srcMac, EtherType.IPV4);
  const ipOffset = offset + ETHERNET_HEADER_LENGTH;
  const innerAt =
    ipOffset + writeIpv4Header(buf, ipOffset, fillOuterIp(spec, IpProtocol.IPIP, tos), innerLength);
  buf.set(innerIp.subarray(innerOffset, innerOffset + innerLength), innerAt);
  return length;
}

/** Encapsulates the IPv4 packet of an Ethernet frame (its own Ethernet header is dropped). */
export function ipipEncapsulate(spec: IpipEncapSpec, innerFrame: Uint8Array): Uint8Array {
  if (innerFrame.length < ETHERNET_HEADER_LENGTH || readU16(innerFrame, 12) !== EtherType.IPV4) {
    throw new WireBuildError('ipipEncapsulate needs an Ethernet frame carrying IPv4');
  }
  // Only the IP packet travels: trailing Ethernet padding is not part of it.
  const innerLength = Math.min(
    readU16(innerFrame, ETHERNET_HEADER_LENGTH + 2),
    innerFrame.length - ETHERNET_HEADER_LENGTH,
  );
  const frame = new Uint8Array(ipipFrameLength(innerLength));
  writeIpipEncapsulation(frame, 0, spec, innerFrame, ETHERNET_HEADER_LENGTH, innerLength);
  return frame;
}

export type IpipDecapResult = { ok: true; frame: Uint8Array } | { ok: false; reason: string };

/**
 * Strips the outer IPv4 header of an IPIP frame and returns a new Ethernet frame made
 * of the outer Ethernet header and the inner IPv4 packet (what the tunnel device
 * delivers, re-framed so the rest of the pipeline sees Ethernet).
 */
export function ipipDecapsulate(frame: Uint8Array): IpipDecapResult {
  const ip = ETHERNET_HEADER_LENGTH;
  if (frame.length < ip + IPV4_MIN_HEADER_LENGTH)
    return { ok: false, reason: 'frame too short for Ethernet + IPv4' };
  if (readU16(frame, 12) !== EtherType.IPV4) return { ok: false, reason: 'outer ethertype is not IPv4' };
  if (frame[ip] >>> 4 !== 4) return { ok: false, reason: `outer IP version ${frame[ip] >>> 4} is not 4` };
  const ihl = (frame[ip] & 0x0f) * 4;
  if (ihl < IPV4_MIN_HEADER_LENGTH) return { ok: false, reason: `outer IHL ${ihl / 4} is below 5` };
  if (frame[ip + Ipv4Field.PROTOCOL] !== IpProtocol.IPIP)
    return { ok: false, reason: 'outer protocol is not 4 (IPIP)' };
  const totalLength = readU16(frame, ip + Ipv4Field.TOTAL_LENGTH);
  if (totalLength < ihl || ip + totalLength > frame.length) {
    return {
      ok: false,
      reason: `outer total length ${totalLength} does not fit captured ${frame.length - ip} bytes`,
    };
  }
  const inner = frame.subarray(ip + ihl, ip + totalLength);
  if (inner.length < IPV4_MIN_HEADER_LENGTH || inner[0] >>> 4 !== 4) {
    return { ok: false, reason: 'inner packet is not IPv4' };
  }
  const out = new Uint8Array(ETHERNET_HEADER_LENGTH + inner.length);
  out.set(frame.subarray(0, ETHERNET_HEADER_LENGTH), 0);
  out.set(inner, ETHERNET_HEADER_LENGTH);
  return { ok: true, frame: out };
}
