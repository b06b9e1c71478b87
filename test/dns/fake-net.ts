/**
 * DNS clients and a CoreDNS server on test/apps' loopback network (TCP through real bytes) plus
 * a small UDP layer of the same shape as the hosts' UdpStack: datagrams arrive one latency later,
 * can be dropped by a predicate, and a datagram to a port nobody bound comes back to a connected
 * sender as ECONNREFUSED (what ICMP port unreachable does).
 */
import type {
  DnsDatagram,
  DnsHost,
  DnsUdpBindOptions,
  DnsUdpLayer,
  DnsUdpSocket,
} from '../../src/dns/sockets.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { LoopbackNetwork } from '../apps/loopback-transport.js';

export interface SentDatagram extends DnsDatagram {
  readonly atNs: number;
}

export class FakeDnsNet {
  readonly net = new LoopbackNetwork({ seed: 3 });
  readonly sent: SentDatagram[] = [];
  /** Return true to lose the datagram. */
  dropIf: ((d: DnsDatagram) => boolean) | undefined;
  private readonly bound = new Map<string, { opts: DnsUdpBindOptions; socket: FakeSocket }>();
  private readonly latencyNs = 50_000;

  host(name: string, address: string): DnsHost {
    const lh = this.net.addHost(name, address);
    const addr = parseIPv4(address);
    const udp: DnsUdpLayer = {
      bind: (opts) => this.bind(addr, opts, lh.transport.rng.nextInt(28232) + 32768),
    };
    return {
      nowNs: () => this.net.clock.now,
      setTimer: (d, fn) => this.net.clock.schedule(d, fn),
      clearTimer: (h) => this.net.clock.cancel(h),
      rng: lh.transport.rng,
      udp,
      tcp: lh.stack,
      sourceAddressFor: () => addr,
    };
  }

  private bind(addr: number, opts: DnsUdpBindOptions, ephemeral: number): DnsUdpSocket {
    const port = opts.port ?? ephemeral;
    const key = `${addr}:${port}`;
    if (this.bound.has(key)) throw new Error(`port ${port} in use`);
    const socket = new FakeSocket(this, addr, port);
    this.bound.set(key, { opts, socket });
    return socket;
  }

  /** @internal */
  unbind(addr: number, port: number): void {
    this.bound.delete(`${addr}:${port}`);
  }

  /** @internal */
  deliver(d: DnsDatagram): void {
    this.sent.push({ ...d, atNs: this.net.clock.now });
    if (this.dropIf?.(d)) return;
    this.net.clock.schedule(this.latencyNs, () => {
      const to = this.bound.get(`${d.dst}:${d.dport}`);
      if (to === undefined) {
        // ICMP port unreachable back to the sender, reported to a connected socket.
        this.net.clock.schedule(this.latencyNs, () => {
          const from = this.bound.get(`${d.src}:${d.sport}`);
          if (from !== undefined && from.socket.peer === `${d.dst}:${d.dport}`)
            from.opts.onError?.({ errno: 'ECONNREFUSED' }, undefined as never);
        });
        return;
      }
      to.opts.onDatagram?.(d, undefined as never);
    });
  }

  run(untilNs?: number): void {
    this.net.run(untilNs);
  }

  get now(): number {
    return this.net.clock.now;
  }
}

class FakeSocket implements DnsUdpSocket {
  peer = '';
  private closed = false;
  constructor(
    private readonly net: FakeDnsNet,
    private readonly addr: number,
    readonly localPort: number,
  ) {}

  connect(addr: number, port: number): void {
    this.peer = `${addr}:${port}`;
  }

  sendTo(addr: number, port: number, payload: Uint8Array): void {
    if (this.closed) throw new Error('send on closed socket');
    this.net.deliver({
      src: this.addr,
      dst: addr,
      sport: this.localPort,
      dport: port,
      payload: payload.slice(),
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.net.unbind(this.addr, this.localPort);
  }
}
