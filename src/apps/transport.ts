/**
 * The narrow contract between the applications of src/apps (a TCP stack, an HTTP
 * responder, a curl-like client) and the simulated host they run on.
 *
 * The host owns IP, Ethernet, routing, netfilter and the discrete-event clock; the apps
 * own TCP state. A host implements {@link HostTransport} and, for every TCP segment
 * addressed to one of its own addresses, calls `TcpStack.receive(segment)`; for every
 * ICMP error quoting a TCP segment it sent, `TcpStack.receiveIcmpError(...)`.
 *
 * Nothing here uses real timers or Promises: every effect is a simulated event.
 */
import type { Rng } from '../util/rng.js';
import type { TcpOption } from '../wire/tcp.js';

/**
 * One TCP segment with the addresses of the IP datagram that carries it, as plain
 * fields. The same shape travels both ways: the stack hands one to `sendTcp`, the host
 * hands one to `TcpStack.receive` (with `options` parsed and `payload` a view of the
 * frame's bytes, which the stack copies if it keeps them).
 */
export interface TcpSegment {
  /** IPv4 source address (u32). */
  src: number;
  /** IPv4 destination address (u32). */
  dst: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  /** TcpFlag bits. */
  flags: number;
  /** The raw 16-bit window field (before window scaling). */
  window: number;
  options: readonly TcpOption[];
  payload: Uint8Array;
  /**
   * Outgoing only, optional: the IP identification Linux would put on this datagram
   * (a connected socket counts up from a random start; SYN-ACKs and resets from no
   * socket carry 0). A host that does not care may ignore it and use its own.
   */
  ipId?: number;
}

/**
 * Addresses at or above this value are IPv6: the host's handle for an IPv6 address (2^32 +
 * its index in the network's address table, src/topology/ipv6-address-table.ts), so a
 * 4-tuple key never mixes the families and every IPv4 u32 stays below it.
 */
export const APP_IPV6_BASE = 2 ** 32;

/** Outgoing segment: what `HostTransport.sendTcp` receives. */
export type TcpSegmentOut = TcpSegment;

/** Opaque id of a pending timer, as the host's event queue returns it. */
export type TimerHandle = number;

export interface HostTransport {
  /** The simulated clock, in nanoseconds since the start of the simulation. */
  nowNs(): number;
  /**
   * Sends a segment: the host adds IP and Ethernet headers, routes it, runs netfilter.
   * Must not deliver anything back into a TcpStack synchronously (enqueue delivery as
   * a later event): the stack is not re-entrant. The stack never mutates `segment`
   * after the call, so the host may keep it.
   */
  sendTcp(segment: TcpSegmentOut): void;
  /** Runs `fn` once, `delayNs` simulated nanoseconds from now. */
  setTimer(delayNs: number, fn: () => void): TimerHandle;
  /** Cancels a timer; a no-op for a timer that already fired or was cleared. */
  clearTimer(handle: TimerHandle): void;
  /** The host's seeded generator: ISNs, timestamp offsets, ephemeral ports. */
  rng: Rng;
  /**
   * Optional connect-time hook (a cgroup `connect4` program): consulted by
   * `TcpStack.connect` once the 4-tuple is chosen and before the SYN is built. An errno
   * makes connect() fail at once with it and no segment is sent; undefined lets the
   * connect proceed. It must not call back into the stack.
   */
  connectError?(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
  ): Errno | undefined;
}

/** Linux errno names the TCP layer reports, with glibc's strerror text. */
export const ERRNO_TEXT = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  EPIPE: 'Broken pipe',
  EPROTO: 'Protocol error',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ENOPROTOOPT: 'Protocol not available',
  EHOSTDOWN: 'Host is down',
  ENONET: 'Machine is not on the network',
  EMSGSIZE: 'Message too long',
  EOPNOTSUPP: 'Operation not supported',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EADDRINUSE: 'Address already in use',
} as const;

export type Errno = keyof typeof ERRNO_TEXT;

/** A socket-level error, as connect()/recv() would return it. */
export class TcpSocketError extends Error {
  override readonly name = 'TcpSocketError';
  constructor(readonly errno: Errno) {
    // A socket error is a value the application reads (errno), not a bug: capturing a stack
    // trace for each one was the largest single cost of 1,000 resets a second.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(ERRNO_TEXT[errno]);
    Error.stackTraceLimit = limit;
  }
}
const socketErrors = new Map<Errno, TcpSocketError>();

/**
 * The error a socket reports for `errno`: one immutable instance per errno, since even a
 * stack-less Error costs more than the rest of a reset connection's teardown.
 */
export function socketError(errno: Errno): TcpSocketError {
  let error = socketErrors.get(errno);
  if (error === undefined) {
    error = new TcpSocketError(errno);
    socketErrors.set(errno, error);
  }
  return error;
}
