/**
 * UDP request traffic for `dpsim rollout --proto udp`: each request is one datagram from its own
 * connected socket on the external client to a UDP Service (a DNS-like query), answered by the
 * pod's echo app with its name. The outcome is what the client's recv() sees: the answer (ok),
 * ECONNREFUSED from an ICMP port unreachable (refused: a REJECT rule for a Service without
 * endpoints, or a pod no longer listening), or nothing by the deadline (timed out).
 *
 * Source ports cycle through a fixed pool (a resolver's port pool), skipping ports still
 * waiting for an answer, so at 1,000 requests/s each port is reused every few seconds — well
 * within UDP conntrack's 30 s timeout. A request therefore meets the conntrack entry an earlier
 * one left: the classic stale-conntrack window after a Service's backends change, until
 * kube-proxy's clean-up deletes the entry.
 */
import type { UdpDatagram, UdpSocket, UdpStack } from '../apps/udp-stack.js';
import type { RequestOutcome, RequestRecord } from './requests.js';

/** The client's source port pool. */
export const UDP_FIRST_PORT = 40000;
export const UDP_PORT_POOL = 4096;

/** Long enough for the query to cross the client's link and the entry node (two 50 µs hops). */
const TRANSLATED_AFTER_NS = 1e6;

const QUERY = new TextEncoder().encode('dpsim-rollout query\n');
const LATIN1 = new TextDecoder('latin1');

/** Sends UDP requests from one client stack; each ends in `onDone` exactly once. */
export class UdpRequestClient {
  private nextId = 0;
  private nextPort = 0;
  private readonly busy = new Uint8Array(UDP_PORT_POOL);

  constructor(
    private readonly stack: UdpStack,
    private readonly localAddr: number,
    private readonly timeoutNs: number,
    private readonly setTimer: (delayNs: number, fn: () => void) => number,
    private readonly clearTimer: (id: number) => void,
    private readonly onDone: (r: RequestRecord) => void,
    /** Called once the query has crossed the entry node (its conntrack entry then says where it went). */
    private readonly onTranslated: (r: RequestRecord) => void,
  ) {}

  /** Sends one query to addr:port via `entryNode` at the current simulated time; returns its id. */
  send(entryNode: string, addr: number, port: number): number {
    const id = this.nextId++;
    const nowNs = this.stack.transport.nowNs();
    const slot = this.freeSlot();
    if (slot < 0) {
      // Every port of the pool is waiting for an answer: the query cannot be sent (EADDRINUSE).
      this.onDone({
        id,
        startNs: nowNs,
        endNs: nowNs,
        entryNode,
        localPort: 0,
        isn: -1,
        outcome: 'reset',
        status: 0,
      });
      return id;
    }
    this.busy[slot] = 1;
    const localPort = UDP_FIRST_PORT + slot;
    const record: RequestRecord = {
      id,
      startNs: nowNs,
      endNs: nowNs,
      entryNode,
      localPort,
      isn: -1,
      outcome: null,
      status: 0,
    };
    let timer = -1;
    let socket: UdpSocket | null = null;
    const finish = (outcome: RequestOutcome, answeredBy?: string): void => {
      if (record.outcome !== null) return;
      record.outcome = outcome;
      record.endNs = this.stack.transport.nowNs();
      if (answeredBy !== undefined) {
        record.synPod = answeredBy;
        record.synPodListening = true;
      }
      if (timer >= 0) this.clearTimer(timer);
      socket?.close();
      this.busy[slot] = 0;
      this.onDone(record);
    };
    socket = this.stack.bind({
      port: localPort,
      addr: this.localAddr,
      onDatagram: (d: UdpDatagram) => finish('ok', LATIN1.decode(d.payload).trim()),
      onError: (e) => finish(e.errno === 'ECONNREFUSED' ? 'refused' : 'reset'),
    });
    socket.connect(addr, port);
    timer = this.setTimer(this.timeoutNs, () => {
      timer = -1;
      finish('timeout');
    });
    socket.send(QUERY);
    this.setTimer(TRANSLATED_AFTER_NS, () => {
      if (record.outcome !== 'ok') this.onTranslated(record);
    });
    return id;
  }

  private freeSlot(): number {
    for (let i = 0; i < UDP_PORT_POOL; i++) {
      const slot = (this.nextPort + i) % UDP_PORT_POOL;
      if (this.busy[slot] === 0) {
        this.nextPort = (slot + 1) % UDP_PORT_POOL;
        return slot;
      }
    }
    return -1;
  }
}
