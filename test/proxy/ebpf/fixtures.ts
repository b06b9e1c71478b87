/** Test fixtures for the eBPF-like proxy: a small model and a TCP/UDP frame builder. */
import type { Endpoint, ProxyModel, ServicePort } from '../../../src/proxy/common/model.js';
import { formatIPv4, parseIPv4 } from '../../../src/util/ipv4.js';
import {
  ipv4HeaderChecksum,
  tcpChecksum,
  udpChecksum,
  verifyIpv4HeaderChecksum,
  verifyTcpChecksum,
  verifyUdpChecksum,
} from '../../../src/wire/checksum.js';
import { endpoint, type ServicePortSpec, servicePort } from '../../helpers/service-port.js';

export const NODE_A = { name: 'node-a', ip: '192.168.0.10', podCIDR: '10.244.0.0/24' };
export const NODE_B = { name: 'node-b', ip: '192.168.0.11', podCIDR: '10.244.1.0/24' };

export function ep(ip: string, port: number, nodeName: string, extra: Partial<Endpoint> = {}): Endpoint {
  return endpoint({ ip, port, nodeName, podName: `pod-${ip}`, ...extra });
}

/** The shared builder (test/helpers/service-port.ts), endpoints kept in the order given. */
export function svcPort(spec: ServicePortSpec): ServicePort {
  return servicePort({ sortEndpoints: false, ...spec });
}

export function model(servicePorts: ServicePort[]): ProxyModel {
  return { servicePorts, nodes: [NODE_A, NODE_B], clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12' };
}

export interface FrameSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto?: 'TCP' | 'UDP';
  flags?: number;
  payload?: number;
  /** UDP only: send checksum 0 ("none"). */
  noUdpChecksum?: boolean;
}

/** Ethernet + IPv4 (IHL 5, TTL 64) + TCP (20 B) or UDP with a zero payload of `payload` bytes. */
export function buildFrame(spec: FrameSpec): Uint8Array {
  const tcp = (spec.proto ?? 'TCP') === 'TCP';
  const l4Len = (tcp ? 20 : 8) + (spec.payload ?? 0);
  const f = new Uint8Array(14 + 20 + l4Len);
  const dv = new DataView(f.buffer);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  dv.setUint16(12, 0x0800);
  const ip = 14;
  f[ip] = 0x45;
  dv.setUint16(ip + 2, 20 + l4Len);
  dv.setUint16(ip + 4, 0x1234);
  dv.setUint16(ip + 6, 0x4000);
  f[ip + 8] = 64;
  f[ip + 9] = tcp ? 6 : 17;
  const src = parseIPv4(spec.src);
  const dst = parseIPv4(spec.dst);
  dv.setUint32(ip + 12, src);
  dv.setUint32(ip + 16, dst);
  dv.setUint16(ip + 10, ipv4HeaderChecksum(f, ip));
  const l4 = ip + 20;
  dv.setUint16(l4, spec.sport);
  dv.setUint16(l4 + 2, spec.dport);
  if (tcp) {
    dv.setUint32(l4 + 4, 1000);
    dv.setUint32(l4 + 8, (spec.flags ?? 0x02) & 0x10 ? 1 : 0);
    f[l4 + 12] = 0x50;
    f[l4 + 13] = spec.flags ?? 0x02;
    dv.setUint16(l4 + 14, 65535);
    dv.setUint16(l4 + 16, tcpChecksum(f, l4, l4Len, src, dst));
  } else {
    dv.setUint16(l4 + 4, l4Len);
    if (!spec.noUdpChecksum) dv.setUint16(l4 + 6, udpChecksum(f, l4, l4Len, src, dst));
  }
  return f;
}

export interface ParsedFrame {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: number;
  ipChecksum: number;
  l4Checksum: number;
}

export function readFrame(f: Uint8Array): ParsedFrame {
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const proto = f[23];
  return {
    src: formatIPv4(dv.getUint32(26)),
    dst: formatIPv4(dv.getUint32(30)),
    sport: dv.getUint16(34),
    dport: dv.getUint16(36),
    proto,
    ipChecksum: dv.getUint16(24),
    l4Checksum: dv.getUint16(proto === 6 ? 50 : 40),
  };
}

/** True when the IPv4 header checksum and the TCP/UDP checksum (pseudo-header included) verify. */
export function checksumsValid(f: Uint8Array): boolean {
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const ip = 14;
  const total = dv.getUint16(ip + 2);
  const src = dv.getUint32(ip + 12);
  const dst = dv.getUint32(ip + 16);
  const l4Len = total - 20;
  if (!verifyIpv4HeaderChecksum(f, ip)) return false;
  return f[ip + 9] === 6
    ? verifyTcpChecksum(f, 34, l4Len, src, dst)
    : verifyUdpChecksum(f, 34, l4Len, src, dst);
}

/** Swaps addresses and ports to build the reply of a frame as its peer would send it. */
export function replyTo(f: Uint8Array, flags = 0x12): Uint8Array {
  const p = readFrame(f);
  return buildFrame({
    src: p.dst,
    dst: p.src,
    sport: p.dport,
    dport: p.sport,
    proto: p.proto === 6 ? 'TCP' : 'UDP',
    flags,
  });
}
