/**
 * A host's TCP socket layer: the demux table from 4-tuples to connections, listening
 * ports, ephemeral port choice for connect(), and the reset for segments nobody wants.
 *
 * The host creates one TcpStack over its HostTransport and hands it every TCP segment
 * addressed to the host (`receive`) and every ICMP error quoting a TCP segment the host
 * sent (`receiveIcmpError`). Applications call `listen` and `connect`.
 */
import { TcpFlag } from '../wire/tcp.js';
import {
  LINUX_TCP_DEFAULTS,
  rstForUnexpected,
  type TcpConfig,
  TcpConnection,
  type TcpConnectionEvents,
  type TcpConnectionHost,
} from './tcp-connection.js';
import { type HostTransport, type TcpSegment, TcpSocketError } from './transport.js';

/** net.ipv4.ip_local_port_range default: 32768–60999. */
export const LINUX_EPHEMERAL_PORT_LOW = 32768;
export const LINUX_EPHEMERAL_PORT_HIGH = 60999;

export interface TcpListener {
  readonly port: number;
  /** Stops accepting; established connections are unaffected. */
  close(): void;
}

export interface TcpListenOptions {
  port: number;
  /** A connection finished its handshake; set `connection.events` here. */
  onAccept(connection: TcpConnection): void;
}

export interface TcpConnectOptions {
  localAddr: number;
  remoteAddr: number;
  remotePort: number;
  /** A fixed source port (bind() before connect()); default: an ephemeral port. */
  localPort?: number;
  events?: TcpConnectionEvents;
}

export type TcpConnectResult =
  | { ok: true; connection: TcpConnection }
  | { ok: false; error: TcpSocketError; reason: string };

export interface TcpStackOptions {
  /** Overrides of Linux's TCP defaults (e.g. a short timeWaitNs for long runs). */
  config?: Partial<TcpConfig>;
  /** ip_local_port_range, inclusive. */
  ephemeralPortRange?: readonly [number, number];
}

/** Bad arguments to the stack (a port out of range, a port already listened on). */
export class TcpStackError extends Error {
  override readonly name = 'TcpStackError';
}

function checkPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new TcpStackError(`${what} must be an integer in 1..65535, got ${port}`);
  }
}

function checkConfig(config: TcpConfig): void {
  const { mss, windowScale } = config;
  if (!Number.isInteger(mss) || mss < 88 || mss > 65495) {
    throw new TcpStackError(`mss must be an integer in 88..65495, got ${mss}`);
  }
  if (!Number.isInteger(windowScale) || windowScale < 0 || windowScale > 14) {
    throw new TcpStackError(`windowScale must be an integer in 0..14, got ${windowScale}`);
  }
  const counts = ['synRetries', 'synackRetries', 'synLinearTimeouts', 'retries2'] as const;
  for (const key of counts) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 0 || value > 255) {
      throw new TcpStackError(`${key} must be an integer in 0..255, got ${value}`);
    }
  }
  const durations = ['initialRtoNs', 'minRtoNs', 'maxRtoNs', 'timeWaitNs', 'finTimeoutNs'] as const;
  for (const key of durations) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new TcpStackError(`${key} must be a positive whole number of nanoseconds, got ${value}`);
    }
  }
  if (!Number.isInteger(config.initialReceiveSpace) || config.initialReceiveSpace < 1) {
    throw new TcpStackError(
      `initialReceiveSpace must be a positive integer, got ${config.initialReceiveSpace}`,
    );
  }
}

export class TcpStack {
  readonly config: TcpConfig;
  private readonly portLow: number;
  private readonly portHigh: number;
  /** local (addr·2^16 + port) → remote (addr·2^16 + port) → connection. */
  private readonly connections = new Map<number, Map<number, TcpConnection>>();
  private readonly listeners = new Map<number, TcpListenOptions>();
  private connectionCount = 0;
  private readonly connectionHost: TcpConnectionHost;

  constructor(
    readonly transport: HostTransport,
    options: TcpStackOptions = {},
  ) {
    this.config = { ...LINUX_TCP_DEFAULTS };
    for (const [key, value] of Object.entries(options.config ?? {})) {
      if (value !== undefined) (this.config as unknown as Record<string, unknown>)[key] = value;
    }
    checkConfig(this.config);
    const [low, high] = options.ephemeralPortRange ?? [LINUX_EPHEMERAL_PORT_LOW, LINUX_EPHEMERAL_PORT_HIGH];
    checkPort('ephemeral port range start', low);
    checkPort('ephemeral port range end', high);
    if (high < low) throw new TcpStackError(`ephemeral port range ${low}-${high} is empty`);
    this.portLow = low;
    this.portHigh = high;
    this.connectionHost = {
      transport,
      config: this.config,
      release: (connection) => this.remove(connection),
      accepted: (connection) => this.listeners.get(connection.localPort)?.onAccept(connection),
    };
  }

  /** Connections in the table (any state but CLOSED, TIME_WAIT included). */
  get size(): number {
    return this.connectionCount;
  }

  /** The connection for a 4-tuple seen from this host, if any. */
  find(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
  ): TcpConnection | undefined {
    return this.connections.get(localAddr * 65536 + localPort)?.get(remoteAddr * 65536 + remotePort);
  }

  /** True when something listens on `port`. */
  hasListener(port: number): boolean {
    return this.listeners.has(port);
  }

  /** Listens on `port` on every local address. */
  listen(options: TcpListenOptions): TcpListener {
    checkPort('listen port', options.port);
    if (this.listeners.has(options.port)) {
      throw new TcpStackError(`port ${options.port} is already listened on`);
    }
    this.listeners.set(options.port, options);
    return {
      port: options.port,
      close: () => {
        if (this.listeners.get(options.port) === options) this.listeners.delete(options.port);
      },
    };
  }

  /** Active open: picks a source port and sends the SYN. */
  connect(options: TcpConnectOptions): TcpConnectResult {
    checkPort('remote port', options.remotePort);
    let localPort = options.localPort;
    if (localPort !== undefined) {
      checkPort('local port', localPort);
      if (this.find(options.localAddr, localPort, options.remoteAddr, options.remotePort)) {
        return {
          ok: false,
          error: new TcpSocketError('EADDRINUSE'),
          reason: `4-tuple with local port ${localPort} is in use`,
        };
      }
    } else {
      localPort = this.pickEphemeralPort(options.localAddr, options.remoteAddr, options.remotePort);
      if (localPort === 0) {
        return {
          ok: false,
          error: new TcpSocketError('EADDRNOTAVAIL'),
          reason: `every port of ${this.portLow}-${this.portHigh} is in use towards this destination`,
        };
      }
    }
    const refused = this.transport.connectError?.(
      options.localAddr,
      localPort,
      options.remoteAddr,
      options.remotePort,
    );
    if (refused !== undefined) {
      return {
        ok: false,
        error: new TcpSocketError(refused),
        reason: 'the host refused the connect() before any segment was sent',
      };
    }
    const connection = new TcpConnection(
      this.connectionHost,
      options.localAddr,
      localPort,
      options.remoteAddr,
      options.remotePort,
    );
    if (options.events) connection.events = options.events;
    this.add(connection);
    connection.openActive();
    return { ok: true, connection };
  }

  /**
   * Linux __inet_hash_connect: start at a random offset of the range, try ports of the
   * range's low parity first (even for 32768), then the others; a port is free when
   * no listener holds it and the 4-tuple is unused. Returns 0 when none is.
   */
  private pickEphemeralPort(localAddr: number, remoteAddr: number, remotePort: number): number {
    const count = this.portHigh - this.portLow + 1;
    const start = this.transport.rng.nextInt(count) & ~1;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < count; i += 2) {
        const port = this.portLow + ((start + pass + i) % count);
        if (this.listeners.has(port)) continue;
        if (!this.find(localAddr, port, remoteAddr, remotePort)) return port;
      }
    }
    return 0;
  }

  /** A TCP segment addressed to this host. */
  receive(segment: TcpSegment): void {
    const existing = this.find(segment.dst, segment.dport, segment.src, segment.sport);
    if (existing) {
      // Linux tcp_timewait_state_process: a new SYN beyond the old connection reopens it.
      const isNewSyn = (segment.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) === TcpFlag.SYN;
      if (!(existing.state === 'TIME_WAIT' && isNewSyn && ((segment.seq - existing.receiveNext) | 0) > 0)) {
        existing.receive(segment);
        return;
      }
      existing.abort();
    }
    const listener = this.listeners.get(segment.dport);
    if (listener && (segment.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) === TcpFlag.SYN) {
      const connection = new TcpConnection(
        this.connectionHost,
        segment.dst,
        segment.dport,
        segment.src,
        segment.sport,
      );
      this.add(connection);
      connection.openPassive(segment);
      return;
    }
    const reset = rstForUnexpected(segment);
    if (reset) this.transport.sendTcp(reset);
  }

  /**
   * An ICMP error whose quoted datagram is a TCP segment this host sent: the quoted
   * source is ours, the quoted destination the peer's.
   */
  receiveIcmpError(
    type: number,
    code: number,
    quoted: { src: number; dst: number; sport: number; dport: number },
  ): void {
    this.find(quoted.src, quoted.sport, quoted.dst, quoted.dport)?.receiveIcmpError(type, code);
  }

  private add(connection: TcpConnection): void {
    const localKey = connection.localAddr * 65536 + connection.localPort;
    let byRemote = this.connections.get(localKey);
    if (!byRemote) {
      byRemote = new Map();
      this.connections.set(localKey, byRemote);
    }
    byRemote.set(connection.remoteAddr * 65536 + connection.remotePort, connection);
    this.connectionCount++;
  }

  private remove(connection: TcpConnection): void {
    const localKey = connection.localAddr * 65536 + connection.localPort;
    const byRemote = this.connections.get(localKey);
    const remoteKey = connection.remoteAddr * 65536 + connection.remotePort;
    if (byRemote?.get(remoteKey) !== connection) return;
    byRemote.delete(remoteKey);
    if (byRemote.size === 0) this.connections.delete(localKey);
    this.connectionCount--;
  }
}
