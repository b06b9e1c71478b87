/**
 * The structured decoder: an Ethernet frame in, a list of decoded layers and a
 * tcpdump-style line out (see tcpdump.ts for the text conventions).
 *
 * It never throws on any input. Malformed bytes give `{ok:false, layer, reason}` with
 * the layers decoded before the fault; protocols it does not decode (an unknown
 * ethertype or IP protocol, a non-first fragment) are reported as layers of their own
 * and are not errors. It allocates freely: it is for traces, tests and the CLI, not for
 * the per-packet path (use parseFiveTuple there).
 *
 * Layers are flat and in wire order, tunnels included: a VXLAN frame decodes as
 * ethernet, ipv4, udp, vxlan, ethernet, ipv4, tcp; an IPIP frame as ethernet, ipv4, ipv4, tcp.
 */
import { ARP_HTYPE_ETHERNET, ARP_LENGTH, ARP_PTYPE_IPV4, type ArpRepr, ArpView } from './arp.js';
import { verifyIcmpChecksum, verifyTcpChecksum, verifyUdpChecksum } from './checksum.js';
import { verifyIpv6L4Checksum } from './checksum6.js';
import { decodeIpv6, type Ipv6DecodedLayer } from './decode6.js';
import { ETHERNET_HEADER_LENGTH, type EthernetRepr, EthernetView, EtherType } from './ethernet.js';
import { ICMP_HEADER_LENGTH, type IcmpRepr, IcmpView } from './icmp.js';
import { IpProtocol } from './ip-protocol.js';
import { IPV4_MIN_HEADER_LENGTH, type Ipv4Repr, Ipv4View } from './ipv4.js';
import { parseTcpOptions, readTcpRepr, TCP_MIN_HEADER_LENGTH, type TcpRepr, TcpView } from './tcp.js';
import { formatTcpdumpLine } from './tcpdump.js';
import { UDP_HEADER_LENGTH, type UdpRepr, UdpView } from './udp.js';
import {
  VXLAN_FLAG_I,
  VXLAN_HEADER_LENGTH,
  VXLAN_PORT_IANA,
  VXLAN_PORT_LINUX_LEGACY,
  type VxlanRepr,
} from './vxlan.js';

export type LayerName = 'ethernet' | 'arp' | 'ipv4' | 'ipv6' | 'tcp' | 'udp' | 'icmp' | 'icmpv6' | 'vxlan';

export type DecodedLayer =
  | {
      kind: 'ethernet';
      repr: EthernetRepr /** Bytes from this header to the end of the frame. */;
      length: number;
    }
  | {
      kind: 'arp';
      repr: ArpRepr /** Bytes after the Ethernet header (28, or more with padding). */;
      length: number;
    }
  | {
      kind: 'ipv4';
      repr: Ipv4Repr;
      headerLength: number;
      totalLength: number;
      checksum: number;
      checksumValid: boolean;
    }
  | {
      kind: 'tcp';
      repr: TcpRepr;
      headerLength: number;
      payload: Uint8Array;
      checksum: number;
      /** null when the segment is part of a fragmented datagram and cannot be verified alone. */
      checksumValid: boolean | null;
    }
  | {
      kind: 'udp';
      repr: UdpRepr;
      /** The UDP length field (header + payload). */
      length: number;
      payload: Uint8Array;
      checksum: number;
      checksumValid: boolean | null;
    }
  | {
      kind: 'icmp';
      repr: IcmpRepr;
      length: number;
      payload: Uint8Array;
      checksum: number;
      checksumValid: boolean | null;
    }
  | { kind: 'vxlan'; repr: VxlanRepr; flags: number }
  | Ipv6DecodedLayer
  | { kind: 'unknownEthertype'; etherType: number; length: number }
  | { kind: 'unknownIpProtocol'; protocol: number; length: number }
  /** A non-first IPv4 fragment: no L4 header to decode. */
  | { kind: 'ipFragment'; protocol: number; length: number };

export type DecodeResult =
  | { ok: true; layers: DecodedLayer[]; line: string }
  | { ok: false; layer: LayerName; reason: string; layers: DecodedLayer[]; line: string };

export interface DecodeOptions {
  /** UDP ports decoded as VXLAN (source or destination, as tcpdump does). Default 4789 and 8472. */
  vxlanPorts?: readonly number[];
}

/** Where and why decoding stopped. */
export interface DecodeFault {
  layer: LayerName;
  reason: string;
}

/** Tunnels inside tunnels: deeper than this is treated as malformed rather than recursed into. */
const MAX_NESTING = 8;

export class Decoder {
  readonly layers: DecodedLayer[] = [];
  private readonly ethernet = new EthernetView();
  private readonly arp = new ArpView();
  private readonly ipv4 = new Ipv4View();
  private readonly tcp = new TcpView();
  private readonly udp = new UdpView();
  private readonly icmp = new IcmpView();

  constructor(
    readonly frame: Uint8Array,
    private readonly vxlanPorts: readonly number[],
  ) {}

  decodeEthernet(offset: number, end: number, depth: number): DecodeFault | null {
    const available = end - offset;
    if (available < ETHERNET_HEADER_LENGTH) {
      return {
        layer: 'ethernet',
        reason: `frame of ${available} bytes is shorter than the 14-byte Ethernet header`,
      };
    }
    if (depth > MAX_NESTING) return { layer: 'ethernet', reason: `more than ${MAX_NESTING} nested tunnels` };
    const eth = this.ethernet.attach(this.frame, offset);
    const etherType = eth.etherType;
    this.layers.push({ kind: 'ethernet', repr: eth.read(), length: available });
    const payload = offset + ETHERNET_HEADER_LENGTH;
    if (etherType === EtherType.IPV4) return this.decodeIpv4(payload, end, depth);
    if (etherType === EtherType.ARP) return this.decodeArp(payload, end);
    if (etherType === EtherType.IPV6) return decodeIpv6(this, payload, end);
    this.layers.push({ kind: 'unknownEthertype', etherType, length: available });
    return null;
  }

  decodeArp(offset: number, end: number): DecodeFault | null {
    const available = end - offset;
    if (available < 8)
      return { layer: 'arp', reason: `truncated: ${available} bytes, the fixed header needs 8` };
    const arp = this.arp.attach(this.frame, offset);
    if (!arp.isEthernetIpv4) {
      return {
        layer: 'arp',
        reason:
          `unsupported hardware type ${arp.hardwareType} (len ${arp.hardwareLength}), ` +
          `protocol 0x${arp.protocolType.toString(16).padStart(4, '0')} (len ${arp.protocolLength}); ` +
          `only Ethernet/IPv4 (1/0x${ARP_PTYPE_IPV4.toString(16).padStart(4, '0')}, htype ${ARP_HTYPE_ETHERNET}) is decoded`,
      };
    }
    if (available < ARP_LENGTH)
      return { layer: 'arp', reason: `truncated: ${available} bytes of ${ARP_LENGTH}` };
    this.layers.push({ kind: 'arp', repr: arp.read(), length: available });
    return null;
  }

  decodeIpv4(offset: number, end: number, depth: number): DecodeFault | null {
    const available = end - offset;
    if (available < IPV4_MIN_HEADER_LENGTH) {
      return { layer: 'ipv4', reason: `truncated header: ${available} bytes captured, at least 20 needed` };
    }
    const ip = this.ipv4.attach(this.frame, offset);
    if (ip.version !== 4) return { layer: 'ipv4', reason: `version ${ip.version} != 4` };
    const headerLength = ip.headerLength;
    if (headerLength < IPV4_MIN_HEADER_LENGTH) {
      return { layer: 'ipv4', reason: `header length ${headerLength} < 20 (IHL ${ip.ihl})` };
    }
    if (headerLength > available) {
      return { layer: 'ipv4', reason: `header length ${headerLength} exceeds captured ${available} bytes` };
    }
    const totalLength = ip.totalLength;
    if (totalLength < headerLength) {
      return { layer: 'ipv4', reason: `total length ${totalLength} < header length ${headerLength}` };
    }
    if (totalLength > available) {
      return { layer: 'ipv4', reason: `total length ${totalLength} exceeds captured ${available} bytes` };
    }
    const repr = ip.read();
    this.layers.push({
      kind: 'ipv4',
      repr,
      headerLength,
      totalLength,
      checksum: ip.checksum,
      checksumValid: ip.verifyChecksum(),
    });
    const l4 = offset + headerLength;
    const l4End = offset + totalLength;
    const l4Length = totalLength - headerLength;
    if (repr.fragmentOffset !== 0) {
      this.layers.push({ kind: 'ipFragment', protocol: repr.protocol, length: l4Length });
      return null;
    }
    const whole = !repr.moreFragments;
    switch (repr.protocol) {
      case IpProtocol.TCP:
        return this.decodeTcp(l4, l4End, repr.src, repr.dst, whole);
      case IpProtocol.UDP:
        return this.decodeUdp(l4, l4End, repr.src, repr.dst, whole, depth);
      case IpProtocol.ICMP:
        return this.decodeIcmp(l4, l4End, whole);
      case IpProtocol.IPIP:
        if (depth >= MAX_NESTING) return { layer: 'ipv4', reason: `more than ${MAX_NESTING} nested tunnels` };
        return this.decodeIpv4(l4, l4End, depth + 1);
      default:
        this.layers.push({ kind: 'unknownIpProtocol', protocol: repr.protocol, length: l4Length });
        return null;
    }
  }

  /** `ip6` is the offset of the IPv6 header whose pseudo-header the checksum covers (−1 for IPv4). */
  decodeTcp(
    offset: number,
    end: number,
    src: number,
    dst: number,
    whole: boolean,
    ip6 = -1,
  ): DecodeFault | null {
    const length = end - offset;
    if (length < TCP_MIN_HEADER_LENGTH) {
      return { layer: 'tcp', reason: `truncated header: ${length} bytes, at least 20 needed` };
    }
    const tcp = this.tcp.attach(this.frame, offset);
    const headerLength = tcp.headerLength;
    if (headerLength < TCP_MIN_HEADER_LENGTH) {
      return { layer: 'tcp', reason: `data offset ${tcp.dataOffset} words (${headerLength} bytes) < 20` };
    }
    if (headerLength > length) {
      return { layer: 'tcp', reason: `header length ${headerLength} exceeds the ${length}-byte segment` };
    }
    const options = parseTcpOptions(this.frame, offset + TCP_MIN_HEADER_LENGTH, offset + headerLength);
    if (!options.ok) return { layer: 'tcp', reason: `bad options: ${options.reason}` };
    this.layers.push({
      kind: 'tcp',
      repr: readTcpRepr(tcp, options.options),
      headerLength,
      payload: this.frame.subarray(offset + headerLength, end),
      checksum: tcp.checksum,
      checksumValid: !whole
        ? null
        : ip6 >= 0
          ? verifyIpv6L4Checksum(this.frame, ip6, offset, length, IpProtocol.TCP)
          : verifyTcpChecksum(this.frame, offset, length, src, dst),
    });
    return null;
  }

  decodeUdp(
    offset: number,
    end: number,
    src: number,
    dst: number,
    whole: boolean,
    depth: number,
    ip6 = -1,
  ): DecodeFault | null {
    const available = end - offset;
    if (available < UDP_HEADER_LENGTH) {
      return { layer: 'udp', reason: `truncated header: ${available} bytes, 8 needed` };
    }
    const udp = this.udp.attach(this.frame, offset);
    const length = udp.length;
    if (length < UDP_HEADER_LENGTH) return { layer: 'udp', reason: `length field ${length} < 8` };
    if (whole && length > available) {
      return { layer: 'udp', reason: `length field ${length} exceeds the ${available}-byte IP payload` };
    }
    const payloadEnd = Math.min(offset + length, end);
    const srcPort = udp.srcPort;
    const dstPort = udp.dstPort;
    this.layers.push({
      kind: 'udp',
      repr: { srcPort, dstPort },
      length,
      payload: this.frame.subarray(offset + UDP_HEADER_LENGTH, payloadEnd),
      checksum: udp.checksum,
      checksumValid: !whole
        ? null
        : ip6 >= 0
          ? verifyIpv6L4Checksum(this.frame, ip6, offset, length, IpProtocol.UDP)
          : verifyUdpChecksum(this.frame, offset, length, src, dst),
    });
    if (this.vxlanPorts.includes(dstPort) || this.vxlanPorts.includes(srcPort)) {
      return this.decodeVxlan(offset + UDP_HEADER_LENGTH, payloadEnd, depth);
    }
    return null;
  }

  decodeVxlan(offset: number, end: number, depth: number): DecodeFault | null {
    const available = end - offset;
    if (available < VXLAN_HEADER_LENGTH) {
      return { layer: 'vxlan', reason: `truncated header: ${available} bytes, 8 needed` };
    }
    const flags = this.frame[offset];
    if ((flags & VXLAN_FLAG_I) === 0) {
      return { layer: 'vxlan', reason: `I flag not set (flags 0x${flags.toString(16).padStart(2, '0')})` };
    }
    const vni = (this.frame[offset + 4] << 16) | (this.frame[offset + 5] << 8) | this.frame[offset + 6];
    this.layers.push({ kind: 'vxlan', repr: { vni }, flags });
    return this.decodeEthernet(offset + VXLAN_HEADER_LENGTH, end, depth + 1);
  }

  decodeIcmp(offset: number, end: number, whole: boolean): DecodeFault | null {
    const length = end - offset;
    if (length < ICMP_HEADER_LENGTH) {
      return { layer: 'icmp', reason: `truncated header: ${length} bytes, 8 needed` };
    }
    const icmp = this.icmp.attach(this.frame, offset);
    const repr = icmp.read();
    const payload = this.frame.subarray(offset + ICMP_HEADER_LENGTH, end);
    this.layers.push({
      kind: 'icmp',
      repr,
      length,
      payload,
      checksum: icmp.checksum,
      checksumValid: whole ? verifyIcmpChecksum(this.frame, offset, length) : null,
    });
    if (icmp.type === 3 || icmp.type === 11) {
      // tcpdump reads the quoted header's destination for these types (and, for port
      // unreachable, the quoted L4 destination port); too short to hold them is malformed.
      if (payload.length < IPV4_MIN_HEADER_LENGTH) {
        return {
          layer: 'icmp',
          reason: `quoted datagram of ${payload.length} bytes is shorter than an IPv4 header`,
        };
      }
      if (repr.kind === 'destUnreachable' && repr.code === 3) {
        const needed = (payload[0] & 0x0f) * 4 + 4;
        if (payload.length < needed) {
          return {
            layer: 'icmp',
            reason: `quoted datagram of ${payload.length} bytes lacks the ports (${needed} needed)`,
          };
        }
      }
    }
    return null;
  }
}

/** Decodes an Ethernet frame. Never throws. */
export function decodeFrame(frame: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  const decoder = new Decoder(frame, options.vxlanPorts ?? [VXLAN_PORT_IANA, VXLAN_PORT_LINUX_LEGACY]);
  const layers = decoder.layers;
  try {
    const fault = decoder.decodeEthernet(0, frame.length, 0);
    if (fault) {
      return {
        ok: false,
        layer: fault.layer,
        reason: fault.reason,
        layers,
        line: formatTcpdumpLine(layers, fault),
      };
    }
    return { ok: true, layers, line: formatTcpdumpLine(layers, null) };
  } catch (error) {
    // Defensive: the length checks are meant to make this unreachable, but a decoder bug
    // must still surface as a result rather than take down a trace export.
    const reason = `internal decoder error: ${String(error)}`;
    return { ok: false, layer: 'ethernet', reason, layers, line: `[|ethernet: ${reason}]` };
  }
}

/** The tcpdump-style line for a frame (an error marker for malformed ones). Never throws. */
export function tcpdumpLine(frame: Uint8Array, options?: DecodeOptions): string {
  return decodeFrame(frame, options).line;
}

/** Convenience for readers of a decoded list: the first layer of a kind. */
export function findLayer<K extends DecodedLayer['kind']>(
  layers: readonly DecodedLayer[],
  kind: K,
): Extract<DecodedLayer, { kind: K }> | undefined {
  return layers.find((layer) => layer.kind === kind) as Extract<DecodedLayer, { kind: K }> | undefined;
}
