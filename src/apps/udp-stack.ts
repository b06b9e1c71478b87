/**
 * A host's UDP socket layer, as Linux's: sockets bound to a port (and optionally one local
 * address), `sendto` from a chosen or ephemeral source port, `connect` to fix the peer,
 * and the demux of received datagrams — a connected socket whose 4-tuple matches wins over
 * one bound to the port alone, and a datagram no socket wants makes the host answer ICMP
 * port unreachable (the caller does that when `receive` returns false).
 *
 * ICMP errors: as in `__udp4_lib_err`, an error quoting a datagram a *connected* socket
 * sent is reported to it (ECONNREFUSED for port unreachable, EHOSTUNREACH /
 * ENETUNREACH for host / net unreachable); an unconnected socket ignores it (Linux reports
 * it there only with IP_RECVERR, which is not modelled).
 *
 * Delivery is synchronous from the host's receive path; the payload handed to
 * `onDatagram` is a copy the application may keep.
 */

import type { Rng } from '../util/rng.js';
import { LINUX_EPHEMERAL_PORT_HIGH, LINUX_EPHEMERAL_PORT_LOW } from './tcp-stack.js';
import { APP_IPV6_BASE, type Errno, TcpSocketError, type TimerHandle } from './transport.js';

/** One UDP datagram with the addresses of the IP packet that carries it. */
export interface UdpDatagram {
  /** IPv4 source address (u32). */
  src: number;
  /** IPv4 destination address (u32). */
  dst: number;
  sport: number;
  dport: number;
  payload: Uint8Array;
  /**
   * Outgoing only: send the datagram with checksum 0 ("no checksum", SO_NO_CHECK). Default:
   * the checksum is computed (a computed 0 goes on the wire as 0xffff).
   */
  noChecksum?: boolean;
}

/** What a host offers the UDP layer. */
export interface UdpTransport {
  nowNs(): number;
  setTimer(delayNs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  rng: Rng;
  /** Adds IP and Ethernet headers, routes the datagram, runs netfilter. */
  sendUdp(datagram: UdpDatagram): void;
  /** The source address the routing table gives a socket talking to `dst` (0: no route). */
  sourceAddressFor(dst: number): number;
}

export interface UdpBindOptions {
  /** Local port; 0 or absent picks an ephemeral one (as an unbound socket's first sendto does). */
  port?: number;
  /** Local address; 0 or absent = INADDR_ANY. */
  addr?: number;
  /** A datagram arrived for this socket. */
  onDatagram?: (datagram: UdpDatagram, socket: UdpSocket) => void;
  /** An ICMP error reached this connected socket (errno as recv() would return it). */
  onError?: (error: TcpSocketError, socket: UdpSocket) => void;
}

/** The fields of an ICMP error's quoted datagram (the header our host sent). */
export interface QuotedUdp {
  src: number;
  dst: number;
  sport: number;
  dport: number;
}

/** Bad arguments (a port out of range, a port already bound). */
export class UdpStackError extends Error {
  override readonly name = 'UdpStackError';
}

const ICMP_DEST_UNREACH = 3;
/** ICMP destination-unreachable codes → errno, as the kernel's icmp_err_convert table has them. */
function unreachErrno(code: number): Errno {
  switch (code) {
    case 0:
      return 'ENETUNREACH';
    case 1:
      return 'EHOSTUNREACH';
    case 2:
      return 'ENOPROTOOPT';
    case 3:
      return 'ECONNREFUSED';
    case 4:
      return 'EMSGSIZE';
    default:
      return 'EHOSTUNREACH';
  }
}

function checkPort(what: string, port: number, allowZero: boolean): void {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 0xffff) {
    throw new UdpStackError(`${what} must be an integer in ${allowZero ? 0 : 1}..65535, got ${port}`);
  }
}

export class UdpSocket {
  /** Connected peer (0/0 when unconnected). */
  remoteAddr = 0;
  remotePort = 0;
  /** Set by an ICMP error on a connected socket, cleared when read (SO_ERROR). */
  pendingError: TcpSocketError | null = null;
  onDatagram: ((datagram: UdpDatagram, socket: UdpSocket) => void) | undefined;
  onError: ((error: TcpSocketError, socket: UdpSocket) => void) | undefined;
  private closed = false;

  constructor(
    private readonly stack: UdpStack,
    readonly localPort: number,
    /** Bound local address, 0 = any. */
    readonly localAddr: number,
    options: UdpBindOptions,
  ) {
    this.onDatagram = options.onDatagram;
    this.onError = options.onError;
  }

  get connected(): boolean {
    return this.remotePort !== 0;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** connect(2) on a UDP socket: fixes the peer; only its datagrams are received from now on. */
  connect(addr: number, port: number): void {
    checkPort('remote port', port, false);
    this.remoteAddr = appAddress(addr);
    this.remotePort = port;
    this.stack.rehash(this);
  }

  /** send(2) on a connected socket. */
  send(payload: Uint8Array): void {
    if (!this.connected) throw new UdpStackError('send on an unconnected UDP socket (EDESTADDRREQ)');
    this.sendTo(this.remoteAddr, this.remotePort, payload);
  }

  /** sendto(2): one datagram to addr:port from this socket's port (and bound address, else the route's). */
  sendTo(addr: number, port: number, payload: Uint8Array, options?: { noChecksum?: boolean }): void {
    if (this.closed) throw new UdpStackError('sendto on a closed UDP socket (EBADF)');
    checkPort('destination port', port, false);
    const dst = appAddress(addr);
    const src = this.localAddr !== 0 ? this.localAddr : this.stack.transport.sourceAddressFor(dst);
    this.stack.transport.sendUdp({
      src,
      dst,
      sport: this.localPort,
      dport: port,
      payload,
      ...(options?.noChecksum === true ? { noChecksum: true } : {}),
    });
  }

  /** Reads and clears the pending socket error (getsockopt SO_ERROR). */
  takeError(): TcpSocketError | null {
    const e = this.pendingError;
    this.pendingError = null;
    return e;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stack.unbind(this);
  }
}

/** An IPv4 address as u32 (a negative int32 made unsigned); an IPv6 handle (APP_IPV6_BASE + index) as is. */
function appAddress(addr: number): number {
  return addr >= APP_IPV6_BASE ? addr : addr >>> 0;
}

export interface UdpStackOptions {
  /** ip_local_port_range, inclusive. */
  ephemeralPortRange?: readonly [number, number];
}

export class UdpStack {
  /** port → sockets on it (one unconnected and/or several connected ones). */
  private readonly byPort = new Map<number, UdpSocket[]>();
  private readonly portLow: number;
  private readonly portHigh: number;
  /** Datagrams delivered to a socket and ICMP errors reported, for tests and reports. */
  delivered = 0;
  errorsReported = 0;

  constructor(
    readonly transport: UdpTransport,
    options: UdpStackOptions = {},
  ) {
    const [low, high] = options.ephemeralPortRange ?? [LINUX_EPHEMERAL_PORT_LOW, LINUX_EPHEMERAL_PORT_HIGH];
    checkPort('ephemeral port range start', low, false);
    checkPort('ephemeral port range end', high, false);
    if (high < low) throw new UdpStackError(`ephemeral port range ${low}-${high} is empty`);
    this.portLow = low;
    this.portHigh = high;
  }

  /** bind(2): a socket on `port` (ephemeral when 0/absent). Two sockets on one port need distinct peers. */
  bind(options: UdpBindOptions = {}): UdpSocket {
    const requested = options.port ?? 0;
    checkPort('local port', requested, true);
    const port = requested === 0 ? this.pickEphemeralPort() : requested;
    if (port === 0) {
      throw new UdpStackError(`every port of ${this.portLow}-${this.portHigh} is bound (EADDRINUSE)`);
    }
    const addr = appAddress(options.addr ?? 0);
    const list = this.byPort.get(port);
    if (list?.some((s) => !s.connected && (s.localAddr === 0 || addr === 0 || s.localAddr === addr))) {
      throw new UdpStackError(`UDP port ${port} is already bound (EADDRINUSE)`);
    }
    const socket = new UdpSocket(this, port, addr, options);
    if (list === undefined) this.byPort.set(port, [socket]);
    else list.push(socket);
    return socket;
  }

  /** True when some socket is bound to `port`. */
  isBound(port: number): boolean {
    return (this.byPort.get(port)?.length ?? 0) > 0;
  }

  /**
   * A datagram addressed to this host (checksum already verified). False when no socket
   * wants it: the host then answers ICMP port unreachable, as Linux does.
   */
  receive(datagram: UdpDatagram): boolean {
    const socket = this.lookup(datagram.dst, datagram.dport, datagram.src, datagram.sport);
    if (socket === undefined) return false;
    this.delivered++;
    socket.onDatagram?.(datagram, socket);
    return true;
  }

  /**
   * An ICMP error quoting a datagram this host sent. True when a socket took it (a connected
   * socket of that 4-tuple; unconnected sockets ignore errors as Linux's do without IP_RECVERR).
   */
  receiveIcmpError(type: number, code: number, quoted: QuotedUdp): boolean {
    const socket = this.lookup(quoted.src, quoted.sport, quoted.dst, quoted.dport);
    if (socket === undefined || !socket.connected || type !== ICMP_DEST_UNREACH) return false;
    const error = new TcpSocketError(unreachErrno(code));
    socket.pendingError = error;
    this.errorsReported++;
    socket.onError?.(error, socket);
    return true;
  }

  /** @internal the socket connected: nothing to re-index (lookups scan the port's short list). */
  rehash(_socket: UdpSocket): void {}

  /** @internal */
  unbind(socket: UdpSocket): void {
    const list = this.byPort.get(socket.localPort);
    if (list === undefined) return;
    const i = list.indexOf(socket);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPort.delete(socket.localPort);
  }

  /** __udp4_lib_lookup's scoring: an exact connected match beats a socket bound to the port alone. */
  private lookup(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
  ): UdpSocket | undefined {
    const list = this.byPort.get(localPort);
    if (list === undefined) return undefined;
    let best: UdpSocket | undefined;
    let bestScore = -1;
    for (const s of list) {
      if (s.localAddr !== 0 && s.localAddr !== localAddr) continue;
      let score = s.localAddr !== 0 ? 1 : 0;
      if (s.connected) {
        if (s.remoteAddr !== remoteAddr || s.remotePort !== remotePort) continue;
        score += 2;
      }
      if (score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    return best;
  }

  /** udp_lib_get_port: a random start in the range, then the next free port. */
  private pickEphemeralPort(): number {
    const span = this.portHigh - this.portLow + 1;
    const start = this.transport.rng.nextInt(span);
    for (let i = 0; i < span; i++) {
      const port = this.portLow + ((start + i) % span);
      if (!this.byPort.has(port)) return port;
    }
    return 0;
  }
}
