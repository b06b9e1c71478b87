/**
 * The sockets the DNS code needs from a host, as narrow interfaces: a UDP socket layer shaped
 * like src/apps' UdpStack (bind, connect, sendTo, close; datagrams and ICMP errors come back as
 * callbacks) and the TCP stack for DNS over TCP. The simulation hands each host's real stacks in;
 * the unit tests hand in a loopback.
 */
import type { TcpStack } from '../apps/tcp-stack.js';
import type { TimerHandle } from '../apps/transport.js';
import type { Rng } from '../util/rng.js';

/** One received datagram, with the addresses of the IP packet that carried it. */
export interface DnsDatagram {
  readonly src: number;
  readonly dst: number;
  readonly sport: number;
  readonly dport: number;
  readonly payload: Uint8Array;
}

export interface DnsUdpSocket {
  readonly localPort: number;
  /** connect(2): the peer is fixed, and an ICMP error for it reaches `onError`. */
  connect(addr: number, port: number): void;
  sendTo(addr: number, port: number, payload: Uint8Array): void;
  close(): void;
}

export interface DnsUdpBindOptions {
  port?: number;
  addr?: number;
  onDatagram?: (datagram: DnsDatagram, socket: never) => void;
  /** An ICMP error reached the connected socket; `errno` names it (ECONNREFUSED …). */
  onError?: (error: { readonly errno: string }, socket: never) => void;
}

export interface DnsUdpLayer {
  bind(options: DnsUdpBindOptions): DnsUdpSocket;
}

/** What a DNS client or server runs on: the host's clock, randomness and sockets. */
export interface DnsHost {
  nowNs(): number;
  setTimer(delayNs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  readonly rng: Rng;
  readonly udp: DnsUdpLayer;
  readonly tcp: TcpStack;
  /** The source address the routing table gives a socket talking to `dst` (0: no route). */
  sourceAddressFor(dst: number): number;
}

/** DNS over TCP frames each message with a 2-byte length (RFC 1035 §4.2.2). */
export function frameTcp(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >>> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

/** Collects a TCP byte stream and yields each complete length-prefixed DNS message. */
export class TcpMessageReader {
  private buf = new Uint8Array(0);

  push(data: Uint8Array): Uint8Array[] {
    const next = new Uint8Array(this.buf.length + data.length);
    next.set(this.buf);
    next.set(data, this.buf.length);
    this.buf = next;
    const out: Uint8Array[] = [];
    while (this.buf.length >= 2) {
      const len = (this.buf[0] << 8) | this.buf[1];
      if (this.buf.length < 2 + len) break;
      out.push(this.buf.slice(2, 2 + len));
      this.buf = this.buf.slice(2 + len);
    }
    return out;
  }
}
