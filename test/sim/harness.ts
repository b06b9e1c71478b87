/**
 * Shared pieces of the end-to-end tests: small simulations (tiny conntrack tables and BPF
 * maps so a build takes milliseconds, not a second), curls whose captured frames are
 * known, and a decoder that turns captured frames into the addresses, ports and flags the
 * tests assert on.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CapturedPacket, readCapture } from '../../src/capture/index.js';
import { DEFAULT_MAP_SIZES } from '../../src/proxy/ebpf/index.js';
import { podApps } from '../../src/sim/pod-apps.js';
import {
  buildSimulation,
  type CurlOutcome,
  type CurlRequest,
  type Simulation,
  type SimulationOptions,
} from '../../src/sim/simulation.js';
import { formatIPv4 } from '../../src/util/ipv4.js';
import { formatIPv6Bytes } from '../../src/util/ipv6.js';
import { newIpv6FiveTuple, Parse6Status, parseIpv6FiveTuple } from '../../src/wire/five-tuple6.js';
import { newFiveTuple, ParseStatus, parseFiveTuple } from '../../src/wire/index.js';

/** Every proxy mode, each attached to the simulated topology. */
export const MODES = ['iptables', 'nftables', 'ipvs', 'ebpf'] as const;
export type WiredMode = (typeof MODES)[number];
/** Modes whose state lives in nf_conntrack (`conntrack -L` has entries). */
export const NETFILTER_MODES = ['iptables', 'nftables', 'ipvs'] as const;

export const CLIENT_IP = '192.168.100.1';
export const NODE_IPS = ['192.168.100.100', '192.168.100.101', '192.168.100.102'] as const;
export const NODE_NAMES = ['node1', 'node2', 'node3'] as const;

export function fixture(name: string): string {
  return readFileSync(join(import.meta.dirname, '../../fixtures', name), 'utf8');
}

/** Small tables: the defaults (131072 conntrack entries, Cilium-sized maps) cost ~0.3 s per node. */
const SMALL: SimulationOptions = {
  conntrackMax: 4096,
  ebpfMapSizes: {
    ...DEFAULT_MAP_SIZES,
    lbMapMax: 1024,
    ctTcpMax: 4096,
    ctAnyMax: 4096,
    natMax: 4096,
    sourceRangesMax: 64,
  },
  capture: true,
};

export function buildSmall(options: SimulationOptions): Simulation {
  return buildSimulation({ ...SMALL, ...options });
}

/** One decoded captured frame: where it was seen and its IPv4/L4 header fields. */
export interface Frame {
  readonly index: number;
  /** `client/eth0`, `node2/cali…`, `myweb-rs-abcde/eth0`. */
  readonly iface: string;
  readonly src: string;
  readonly dst: string;
  readonly proto: number;
  readonly sport: number;
  readonly dport: number;
  readonly tcpFlags: number;
  readonly icmpType: number;
  readonly icmpCode: number;
  /** For an ICMP error: the quoted datagram's addresses and ports. */
  readonly quoted?: { src: string; dst: string; sport: number; dport: number };
  readonly data: Uint8Array;
}

export function decodePacket(packet: CapturedPacket, index: number, names: readonly string[]): Frame {
  const ft = newFiveTuple();
  const status = parseFiveTuple(packet.data, ft);
  if (status === ParseStatus.NOT_IPV4) return decodePacket6(packet, index, names);
  if (status !== ParseStatus.OK) throw new Error(`captured frame ${index} does not parse (status ${status})`);
  let quoted: Frame['quoted'];
  if (ft.proto === 1 && ft.icmpType === 3) {
    const inner = ft.l4Offset + 8;
    const ihl = (packet.data[inner] & 0x0f) * 4;
    const u32 = (o: number) =>
      ((packet.data[o] << 24) |
        (packet.data[o + 1] << 16) |
        (packet.data[o + 2] << 8) |
        packet.data[o + 3]) >>>
      0;
    const u16 = (o: number) => (packet.data[o] << 8) | packet.data[o + 1];
    quoted = {
      src: formatIPv4(u32(inner + 12)),
      dst: formatIPv4(u32(inner + 16)),
      sport: u16(inner + ihl),
      dport: u16(inner + ihl + 2),
    };
  }
  return {
    index,
    iface: names[packet.interfaceId],
    src: formatIPv4(ft.saddr),
    dst: formatIPv4(ft.daddr),
    proto: ft.proto,
    sport: ft.sport,
    dport: ft.dport,
    tcpFlags: ft.tcpFlags,
    icmpType: ft.icmpType,
    icmpCode: ft.icmpCode,
    ...(quoted !== undefined ? { quoted } : {}),
    data: packet.data,
  };
}

/** An IPv6 frame: addresses as RFC 5952 text, ICMPv6 type and code (no quote decoded). */
function decodePacket6(packet: CapturedPacket, index: number, names: readonly string[]): Frame {
  const ft = newIpv6FiveTuple();
  const status = parseIpv6FiveTuple(packet.data, ft);
  if (status !== Parse6Status.OK)
    throw new Error(`captured frame ${index} does not parse as IPv6 (status ${status})`);
  return {
    index,
    iface: names[packet.interfaceId],
    src: formatIPv6Bytes(packet.data, ft.saddrAt),
    dst: formatIPv6Bytes(packet.data, ft.daddrAt),
    proto: ft.proto,
    sport: ft.sport,
    dport: ft.dport,
    tcpFlags: ft.tcpFlags,
    icmpType: ft.icmpType,
    icmpCode: ft.icmpCode,
    data: packet.data,
  };
}

/** Every frame captured so far, decoded (reads the pcapng the simulation wrote). */
export function capturedFrames(sim: Simulation): Frame[] {
  if (sim.capture === null) throw new Error('the simulation was built without capture');
  const file = readCapture(sim.capture.toBuffer());
  const names = file.interfaces.map((i) => i.name ?? `if${i.id}`);
  return file.packets.map((p, i) => decodePacket(p, i, names));
}

/** A curl plus the capture-frame range it produced (curls run one at a time, drained). */
export interface Observed {
  readonly request: CurlRequest;
  readonly outcome: CurlOutcome;
  /** Destination the client called. */
  readonly target: { readonly addr: string; readonly port: number };
  /** Capture frame indices [from, to). */
  readonly from: number;
  readonly to: number;
}

export function observe(sim: Simulation, request: CurlRequest): Observed {
  if (sim.capture === null) throw new Error('the simulation was built without capture');
  const from = sim.capture.frames;
  const outcome = sim.curl(request);
  const to = sim.capture.frames;
  const m = /^http:\/\/(?:([0-9.]+)|\[([0-9a-f:]+)\])(?::(\d+))?/.exec(request.url);
  if (m === null) throw new Error(`unexpected URL ${request.url}`);
  const addr = m[1] ?? m[2];
  return { request, outcome, target: { addr, port: m[3] === undefined ? 80 : Number(m[3]) }, from, to };
}

export function framesOf(frames: readonly Frame[], o: Observed): Frame[] {
  return frames.slice(o.from, o.to);
}

/** The service port of a Service by name (first port). */
export function service(sim: Simulation, name: string) {
  const sp = sim.model.servicePorts.find((s) => s.name === name);
  if (sp === undefined) throw new Error(`no Service ${name} in the model`);
  return sp;
}

/** Pod names and nodes, from the control plane. */
export function podsByNode(sim: Simulation): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const n of NODE_NAMES) out.set(n, []);
  // The user's pods: kube-system's (CoreDNS) are the cluster's own.
  for (const p of podApps(sim.cluster.pods()))
    if (p.namespace !== 'kube-system') out.get(p.nodeName)?.push(p.name);
  return out;
}

export function podIP(sim: Simulation, name: string): string {
  const p = podApps(sim.cluster.pods()).find((a) => a.name === name);
  if (p === undefined) throw new Error(`no pod ${name}`);
  return p.ip;
}

/** Lets `seconds` of simulated time pass (timers due meanwhile fire). */
export function advance(sim: Simulation, seconds: number): void {
  const target = sim.network.nowNs + seconds * 1e9;
  sim.network.run(target);
  if (sim.network.nowNs !== target)
    throw new Error(`clock stopped at ${sim.network.nowNs}, wanted ${target}`);
}

/** `addr:port` → [addr, port]. */
/** `addr:port` or `[addr]:port` as [address, port] (an IPv6 address without its brackets). */
export function splitPeer(peer: string): [string, number] {
  const i = peer.lastIndexOf(':');
  const addr = peer.slice(0, i);
  return [addr.startsWith('[') ? addr.slice(1, -1) : addr, Number(peer.slice(i + 1))];
}
