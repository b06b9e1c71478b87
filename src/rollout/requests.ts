/**
 * Steady request traffic for `dpsim rollout`: each request is one short TCP connection from
 * the external client's own TCP stack through the real datapath (the entry node's rules,
 * conntrack, NAT, the pod's veth) to a pod's HTTP responder — handshake, `GET /` with
 * `Connection: close`, the response, the server's FIN. The outcome is what a client sees:
 * success, connection refused (a RST to the SYN, or ICMP port unreachable from a REJECT
 * rule), reset, or timed out (no answer by the client's deadline).
 *
 * Which pod a request's SYN reached is observed on the pod side, not taken from the proxy's
 * bookkeeping: every pod's TCP receiver is wrapped and records the initial sequence number
 * of each SYN it receives (NAT never rewrites sequence numbers), with whether the pod's app
 * was listening on the port. The server closes first (`Connection: close`) and the client
 * answers its FIN with a RST (SO_LINGER 0, as load generators close), so no TIME_WAIT piles
 * up at 1,000 connections a second and a reused source port always meets a fresh socket.
 */
import type { TcpConnection } from '../apps/tcp-connection.js';
import type { TcpStack } from '../apps/tcp-stack.js';
import type { TcpSegment, TcpSocketError } from '../apps/transport.js';
import type { Host, TcpReceiver } from '../topology/host.js';
import { TcpFlag } from '../wire/tcp.js';

export type RequestOutcome = 'ok' | 'refused' | 'reset' | 'timeout';
export const FAILURE_OUTCOMES: readonly Exclude<RequestOutcome, 'ok'>[] = ['refused', 'reset', 'timeout'];

/** One request, as the client saw it and as the pods saw its SYN. */
export interface RequestRecord {
  readonly id: number;
  readonly startNs: number;
  endNs: number;
  /** The node the client (or the load balancer) sent it to. */
  readonly entryNode: string;
  readonly localPort: number;
  /** The client's initial sequence number: the key the pods' SYN observer records. */
  readonly isn: number;
  outcome: RequestOutcome | null;
  /** The HTTP status received (0: none). A non-2xx answer counts as a reset. */
  status: number;
  /** The pod whose stack received the SYN (`ns/name`), if any did. */
  synPod?: string;
  /** Whether that pod's app was listening when the SYN arrived. */
  synPodListening?: boolean;
}

/** Pod-side record of the SYNs that reached each pod: ISN → pod, listening. */
export class SynObserver {
  private readonly seen = new Map<number, { pod: string; listening: boolean }>();
  private readonly wrapped = new WeakSet<Host>();

  /** Wraps a pod's TCP receiver (once) so the SYNs it receives are recorded. */
  watch(host: Host, podKeyText: string, port: number, stack: TcpStack): void {
    if (this.wrapped.has(host) || host.tcp === null) return;
    const inner: TcpReceiver = host.tcp;
    const seen = this.seen;
    host.tcp = {
      receive(segment: TcpSegment): void {
        if ((segment.flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN && segment.dport === port)
          seen.set(segment.seq, { pod: podKeyText, listening: stack.hasListener(port) });
        inner.receive(segment);
      },
      receiveIcmpError(type: number, code: number, quoted: TcpSegment): void {
        inner.receiveIcmpError(type, code, quoted);
      },
    };
    this.wrapped.add(host);
  }

  /** The pod that received the SYN with this ISN (forgotten once taken). */
  take(isn: number): { pod: string; listening: boolean } | undefined {
    const v = this.seen.get(isn);
    if (v !== undefined) this.seen.delete(isn);
    return v;
  }
}

const ASCII = new TextEncoder();

/** Sends requests from one client stack; each ends in `onDone` exactly once. */
export class RequestClient {
  private nextId = 0;
  private readonly request: Uint8Array;

  constructor(
    private readonly stack: TcpStack,
    private readonly localAddr: number,
    private readonly syn: SynObserver,
    private readonly timeoutNs: number,
    private readonly setTimer: (delayNs: number, fn: () => void) => number,
    private readonly clearTimer: (id: number) => void,
    private readonly onDone: (r: RequestRecord) => void,
    hostHeader: string,
    path = '/',
  ) {
    this.request = ASCII.encode(
      `GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: dpsim-rollout\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
    );
  }

  /** Opens one connection to addr:port via `entryNode` at the current simulated time; returns its id. */
  send(entryNode: string, addr: number, port: number): number {
    const nowNs = this.stack.transport.nowNs();
    let record: RequestRecord | null = null;
    let status = 0;
    let timer = -1;
    // An error inside connect() itself (before the record exists) is replayed once it does.
    let early: RequestOutcome | null = null;
    const finish = (outcome: RequestOutcome, c?: TcpConnection): void => {
      if (record === null) {
        early ??= outcome;
        return;
      }
      if (record.outcome !== null) return;
      record.outcome = outcome;
      record.endNs = this.stack.transport.nowNs();
      record.status = status;
      if (timer >= 0) this.clearTimer(timer);
      const syn = this.syn.take(record.isn);
      if (syn !== undefined) {
        record.synPod = syn.pod;
        record.synPodListening = syn.listening;
      }
      if (c !== undefined && outcome === 'timeout') c.abort();
      this.onDone(record);
    };
    const result = this.stack.connect({
      localAddr: this.localAddr,
      remoteAddr: addr,
      remotePort: port,
      events: {
        onConnected: (c) => c.send(this.request),
        onData: (_c, data) => {
          // "HTTP/1.1 200 …": the status line's first segment carries the code.
          if (status === 0 && data.length >= 12)
            status = (data[9] - 0x30) * 100 + (data[10] - 0x30) * 10 + (data[11] - 0x30);
        },
        onPeerClosed: (c) => {
          // SO_LINGER 0, as load generators close: a RST instead of a FIN, so no TIME_WAIT
          // piles up on either side and a reused source port always meets a fresh socket.
          c.abort();
          finish(status >= 200 && status < 300 ? 'ok' : 'reset');
        },
        onError: (_c, error: TcpSocketError) =>
          finish(
            error.errno === 'ECONNREFUSED' ? 'refused' : error.errno === 'ETIMEDOUT' ? 'timeout' : 'reset',
          ),
      },
    });
    const id = this.nextId++;
    if (!result.ok) {
      const failed: RequestRecord = {
        id,
        startNs: nowNs,
        endNs: nowNs,
        entryNode,
        localPort: 0,
        isn: -1,
        outcome: 'reset',
        status: 0,
      };
      this.onDone(failed);
      return id;
    }
    const c = result.connection;
    record = {
      id,
      startNs: nowNs,
      endNs: nowNs,
      entryNode,
      localPort: c.localPort,
      isn: c.initialSendSequence,
      outcome: null,
      status: 0,
    };
    if (early !== null) {
      finish(early);
      return id;
    }
    timer = this.setTimer(this.timeoutNs, () => {
      timer = -1;
      finish('timeout', c);
    });
    return id;
  }
}
