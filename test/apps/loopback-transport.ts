/**
 * A tiny stand-in for the topology, for testing src/apps alone: hosts on one router,
 * a simulated clock with a timer queue, a conntrack-like static NAT, packet drops and
 * REJECT-style ICMP port unreachable, and a pcapng tap on every host interface.
 *
 * Every segment really goes through bytes: the sender's TcpSegment is built into a frame
 * with src/wire (captured on the sender's interface), NAT-rewritten and TTL-decremented in
 * place with src/wire's incremental-checksum rewrites, captured again on the receiver's
 * interface one latency later, and parsed back (checksum verified) for the receiving stack.
 */

import { parseTcpSegmentFrame, tcpSegmentFrameSpec } from '../../src/apps/segment-codec.js';
import { TcpStack, type TcpStackOptions } from '../../src/apps/tcp-stack.js';
import type { HostTransport, TcpSegment, TimerHandle } from '../../src/apps/transport.js';
import { PcapngWriter } from '../../src/capture/index.js';
import { formatIPv4, parseIPv4 } from '../../src/util/ipv4.js';
import { Rng } from '../../src/util/rng.js';
import { buildIcmpUnreachableFrame, buildTcpFrame } from '../../src/wire/build.js';
import { ETHERNET_HEADER_LENGTH } from '../../src/wire/ethernet.js';
import { parseMac } from '../../src/wire/mac.js';
import {
  decrementTtl,
  rewriteDstPort,
  rewriteIpv4Dst,
  rewriteIpv4Src,
  rewriteSrcPort,
} from '../../src/wire/rewrite.js';

const ROUTER_MAC = parseMac('02:00:00:00:00:fe');

/** A discrete-event clock: timers run in time order, ties in insertion order. */
export class EventQueue {
  now = 0;
  private nextId = 1;
  private events: { at: number; id: number; fn: () => void }[] = [];

  schedule(delayNs: number, fn: () => void): TimerHandle {
    if (!(delayNs >= 0)) throw new Error(`negative or NaN delay ${delayNs}`);
    const event = { at: this.now + delayNs, id: this.nextId++, fn };
    let i = this.events.length;
    while (i > 0 && this.events[i - 1].at > event.at) i--;
    this.events.splice(i, 0, event);
    return event.id;
  }

  cancel(id: TimerHandle): void {
    const i = this.events.findIndex((e) => e.id === id);
    if (i >= 0) this.events.splice(i, 1);
  }

  /** Runs events until none is left or the next is later than `untilNs`. */
  run(untilNs = Number.POSITIVE_INFINITY): void {
    while (this.events.length > 0 && this.events[0].at <= untilNs) {
      const event = this.events.shift()!;
      this.now = event.at;
      event.fn();
    }
    if (untilNs !== Number.POSITIVE_INFINITY && this.now < untilNs) this.now = untilNs;
  }

  get pending(): number {
    return this.events.length;
  }
}

export interface LoopbackHost {
  name: string;
  addr: number;
  mac: Uint8Array;
  stack: TcpStack;
  transport: HostTransport;
  interfaceId: number;
}

interface Tuple {
  src: number;
  sport: number;
  dst: number;
  dport: number;
}

/** DNAT (+ optional SNAT) of new flows to `service`, like a NodePort rule. */
export interface NatRule {
  serviceAddr: number;
  servicePort: number;
  backendAddr: number;
  backendPort: number;
  /** SNAT source address (masquerade); default: keep the client's. */
  snatAddr?: number;
  /** SNAT source port; default: keep the client's. */
  snatPort?: number;
}

/** What a tap saw: a decoded segment with its interface and time. */
export interface TappedSegment {
  host: string;
  direction: 'out' | 'in';
  timeNs: number;
  segment: TcpSegment;
}

export interface LoopbackOptions {
  seed?: number;
  /** One-way latency between any two hosts (default 50 µs). */
  latencyNs?: number;
  stack?: TcpStackOptions;
}

export class LoopbackNetwork {
  readonly clock = new EventQueue();
  readonly pcap = new PcapngWriter({ application: 'dpsim test/apps loopback' });
  readonly tapped: TappedSegment[] = [];
  readonly hosts: LoopbackHost[] = [];
  /** Return true to drop a frame the sender just put on its interface. */
  dropIf: ((segment: TcpSegment) => boolean) | undefined;
  /**
   * Destinations ('addr:port') answered with ICMP destination unreachable of the given
   * code (3 = port unreachable, what `-j REJECT` sends), instead of being forwarded.
   */
  readonly rejected = new Map<string, number>();
  private readonly rng: Rng;
  private readonly latencyNs: number;
  private readonly natRules: NatRule[] = [];
  /** Original tuple key → translated tuple, and translated-reply key → original reply. */
  private readonly natForward = new Map<string, Tuple>();
  private readonly natReverse = new Map<string, Tuple>();

  constructor(private readonly options: LoopbackOptions = {}) {
    this.rng = new Rng(options.seed ?? 1);
    this.latencyNs = options.latencyNs ?? 50_000;
  }

  addHost(name: string, address: string, interfaceName = `${name}/eth0`): LoopbackHost {
    const addr = parseIPv4(address);
    const index = this.hosts.length + 1;
    const mac = parseMac(`02:00:00:00:00:${index.toString(16).padStart(2, '0')}`);
    const clock = this.clock;
    const transport: HostTransport = {
      nowNs: () => clock.now,
      sendTcp: (segment) => this.send(host, segment),
      setTimer: (delayNs, fn) => clock.schedule(delayNs, fn),
      clearTimer: (handle) => clock.cancel(handle),
      rng: this.rng.fork(),
    };
    const host: LoopbackHost = {
      name,
      addr,
      mac,
      transport,
      stack: new TcpStack(transport, this.options.stack),
      interfaceId: this.pcap.addInterface({ name: interfaceName }),
    };
    this.hosts.push(host);
    return host;
  }

  addNat(rule: NatRule): void {
    this.natRules.push(rule);
  }

  /** Runs the simulation until nothing is scheduled or `untilNs`. */
  run(untilNs?: number): void {
    this.clock.run(untilNs);
  }

  private hostFor(addr: number): LoopbackHost | undefined {
    return this.hosts.find((h) => h.addr === addr);
  }

  private tap(host: LoopbackHost, direction: 'out' | 'in', frame: Uint8Array): TcpSegment {
    this.pcap.writePacket(host.interfaceId, this.clock.now, frame);
    const parsed = parseTcpSegmentFrame(frame);
    if (!parsed.ok) throw new Error(`loopback: unparsable frame on ${host.name}: ${parsed.reason}`);
    const segment = { ...parsed.segment, payload: parsed.segment.payload.slice() };
    this.tapped.push({ host: host.name, direction, timeNs: this.clock.now, segment });
    return segment;
  }

  private send(from: LoopbackHost, segment: TcpSegment): void {
    const frame = buildTcpFrame(tcpSegmentFrameSpec(segment, from.mac, ROUTER_MAC));
    this.tap(from, 'out', frame);
    if (this.dropIf?.(segment)) return;
    const ip = ETHERNET_HEADER_LENGTH;
    const rejectCode = this.rejected.get(`${formatIPv4(segment.dst)}:${segment.dport}`);
    if (rejectCode !== undefined) {
      this.reject(from, segment, frame, rejectCode);
      return;
    }
    const translated = this.translate(segment);
    if (translated) {
      if (translated.src !== segment.src) rewriteIpv4Src(frame, ip, translated.src);
      if (translated.sport !== segment.sport) rewriteSrcPort(frame, ip, translated.sport);
      if (translated.dst !== segment.dst) rewriteIpv4Dst(frame, ip, translated.dst);
      if (translated.dport !== segment.dport) rewriteDstPort(frame, ip, translated.dport);
    }
    const to = this.hostFor(translated?.dst ?? segment.dst);
    if (!to) return;
    decrementTtl(frame, ip);
    frame.set(to.mac, 0);
    frame.set(ROUTER_MAC, 6);
    this.clock.schedule(this.latencyNs, () => to.stack.receive(this.tap(to, 'in', frame)));
  }

  /** The router's REJECT: ICMP unreachable quoting the segment, back to the sender. */
  private reject(from: LoopbackHost, segment: TcpSegment, frame: Uint8Array, code: number): void {
    const icmp = buildIcmpUnreachableFrame({
      code,
      srcMac: ROUTER_MAC,
      dstMac: from.mac,
      src: segment.dst,
      dst: segment.src,
      original: frame.subarray(ETHERNET_HEADER_LENGTH),
    });
    this.clock.schedule(this.latencyNs, () => {
      this.pcap.writePacket(from.interfaceId, this.clock.now, icmp);
      from.stack.receiveIcmpError(3, code, segment);
    });
  }

  /** Conntrack-lite: translate the first packet of a flow by rule, later ones by entry. */
  private translate(segment: TcpSegment): Tuple | undefined {
    const key = tupleKey(segment);
    const forward = this.natForward.get(key);
    if (forward) return forward;
    const reverse = this.natReverse.get(key);
    if (reverse) return reverse;
    const rule = this.natRules.find((r) => r.serviceAddr === segment.dst && r.servicePort === segment.dport);
    if (!rule) return undefined;
    const translated: Tuple = {
      src: rule.snatAddr ?? segment.src,
      sport: rule.snatPort ?? segment.sport,
      dst: rule.backendAddr,
      dport: rule.backendPort,
    };
    this.natForward.set(key, translated);
    this.natReverse.set(tupleKey(swap(translated)), swap(segment));
    return translated;
  }
}

function tupleKey(t: Tuple): string {
  return `${t.src}:${t.sport}>${t.dst}:${t.dport}`;
}

function swap(t: Tuple): Tuple {
  return { src: t.dst, sport: t.dport, dst: t.src, dport: t.sport };
}
