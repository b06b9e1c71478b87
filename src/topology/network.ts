/**
 * The discrete-event packet pump. Frames move between interfaces as events on a simulated
 * clock (nanoseconds): a transmit schedules delivery at the link's far end after the
 * link delay; timers (TCP retransmission, TIME_WAIT, curl timeouts) are events too. One
 * event queue, ordered by (time, insertion order), makes a run deterministic under a seed.
 *
 * The pump owns the frame pool, the capture taps and the drop counters; hosts own the
 * per-packet stack (src/topology/host.ts).
 */
import { DropCounters, DropReason } from '../trace/drop-reasons.js';
import type { PacketTracer } from '../trace/packet-trace.js';
import { EventQueue } from './event-queue.js';
import { FramePool } from './frame-pool.js';
import type { Host } from './host.js';
import { BROADCAST_MAC_KEY, macKey, type NetInterface, type Segment } from './net-interface.js';

/** What a capture sees: the frame on an interface at a time (tx on the sender, rx on the receiver). */
export interface CaptureSink {
  /** Declares an interface; returns its capture id. */
  addInterface(name: string, description: string): number;
  record(captureId: number, timeNs: number, frame: Uint8Array, length: number): void;
}

export interface NetworkOptions {
  /** One-way delay of every link, ns (default 50 µs). */
  linkDelayNs?: number;
}

/** Timer handles are encoded as negative event handles so frames and timers share one queue. */
function timerHandle(id: number): number {
  return -2 - id;
}

export class Network {
  readonly pool = new FramePool(256);
  readonly queue = new EventQueue();
  readonly drops = new DropCounters();
  readonly interfaces: NetInterface[] = [];
  readonly hosts: Host[] = [];
  readonly linkDelayNs: number;
  nowNs = 0;
  /** Events processed so far (frames delivered + timers fired). */
  events = 0;
  /** Frames handed to an interface for transmission (interface traversals). */
  transmissions = 0;
  capture: CaptureSink | null = null;
  /** Set while tracing one packet's path; hosts append steps when non-null. */
  tracer: PacketTracer | null = null;

  /** Per pool slot: the interface the in-flight frame is to be delivered to. */
  private deliverTo = new Int32Array(256);
  private readonly timers = new Map<number, () => void>();
  private nextTimerId = 0;

  constructor(options: NetworkOptions = {}) {
    this.linkDelayNs = options.linkDelayNs ?? 50_000;
  }

  addHost(host: Host): void {
    this.hosts.push(host);
  }

  registerInterface(iface: NetInterface): void {
    if (iface.index !== this.interfaces.length)
      throw new Error(`interface ${iface.qualifiedName} registered out of order`);
    this.interfaces.push(iface);
  }

  /** Starts capturing `iface` (declares it in the capture file). */
  captureInterface(iface: NetInterface): void {
    if (this.capture === null) throw new Error('no capture sink set');
    if (iface.captureId < 0)
      iface.captureId = this.capture.addInterface(iface.qualifiedName, iface.description);
  }

  hostByName(name: string): Host | undefined {
    return this.hosts.find((h) => h.name === name);
  }

  drop(host: Host, reason: DropReason): void {
    this.drops.add(reason);
    host.drops.add(reason);
  }

  /**
   * Puts the frame in pool `slot` on the wire of `iface`. The pool slot is consumed: it is
   * either scheduled for delivery or released (dropped) here.
   */
  transmit(iface: NetInterface, slot: number): void {
    const len = this.pool.lengths[slot];
    const frame = this.pool.view(slot);
    iface.txPackets++;
    iface.txBytes += len;
    this.transmissions++;
    if (iface.captureId >= 0 && this.capture !== null)
      this.capture.record(iface.captureId, this.nowNs, frame, len);
    let target = -1;
    if (iface.peer >= 0) target = iface.peer;
    else if (iface.segment !== null) target = this.segmentTarget(iface.segment, frame);
    if (target < 0) {
      // Unknown unicast on a bridge without learning: the frame goes nowhere.
      this.pool.release(slot);
      this.drop(iface.host, DropReason.NEIGH_FAILED);
      return;
    }
    this.schedule(slot, target);
  }

  private segmentTarget(segment: Segment, frame: Uint8Array): number {
    const key = macKey(frame, 0);
    if (key === BROADCAST_MAC_KEY) return -1; // static neighbours: nothing broadcasts
    const member = segment.member(key);
    return member === undefined ? -1 : member.index;
  }

  private schedule(slot: number, ifaceIndex: number): void {
    if (slot >= this.deliverTo.length) {
      const grown = new Int32Array(Math.max(this.pool.slots, slot + 1));
      grown.set(this.deliverTo);
      this.deliverTo = grown;
    }
    this.deliverTo[slot] = ifaceIndex;
    this.queue.push(this.nowNs + this.linkDelayNs, slot);
  }

  /** Runs `fn` after `delayNs` of simulated time; returns a handle for clearTimer. */
  setTimer(delayNs: number, fn: () => void): number {
    const id = this.nextTimerId++;
    this.timers.set(id, fn);
    this.queue.push(this.nowNs + Math.max(0, delayNs), timerHandle(id));
    return id;
  }

  clearTimer(id: number): void {
    this.timers.delete(id);
  }

  /**
   * Processes events until the queue is empty, `untilNs` is reached, or `maxEvents` ran.
   * Returns the number of events processed.
   */
  run(untilNs = Number.POSITIVE_INFINITY, maxEvents = Number.POSITIVE_INFINITY): number {
    let n = 0;
    while (this.queue.size > 0 && n < maxEvents) {
      const t = this.queue.peekTime();
      if (t > untilNs) break;
      const handle = this.queue.pop();
      this.nowNs = t;
      n++;
      if (handle >= 0) {
        const iface = this.interfaces[this.deliverTo[handle]];
        const len = this.pool.lengths[handle];
        iface.rxPackets++;
        iface.rxBytes += len;
        if (iface.captureId >= 0 && this.capture !== null)
          this.capture.record(iface.captureId, this.nowNs, this.pool.view(handle), len);
        iface.host.receive(iface, handle);
      } else {
        const id = -2 - handle;
        const fn = this.timers.get(id);
        if (fn !== undefined) {
          this.timers.delete(id);
          fn();
        }
      }
    }
    // Simulated time passes up to `untilNs` whenever nothing is due before it, even while
    // later timers (TIME_WAIT, conntrack-style expiries) are pending: otherwise "let 20 s
    // pass" would stop the clock at the last event and time-based state (session affinity,
    // timeouts) could never be aged by running the pump. Not when stopped by maxEvents.
    if (
      untilNs !== Number.POSITIVE_INFINITY &&
      this.nowNs < untilNs &&
      (this.queue.size === 0 || (n < maxEvents && this.queue.peekTime() > untilNs))
    )
      this.nowNs = untilNs;
    this.events += n;
    return n;
  }

  /** Frames still in flight (scheduled, not yet delivered). */
  get framesInFlight(): number {
    return this.pool.inUse;
  }

  /** Pending timers. */
  get pendingTimers(): number {
    return this.timers.size;
  }
}
