/**
 * The pods' UDP app: a DNS-like request/response server that answers every datagram with
 * the pod's name (as the HTTP responder's body names it), and a one-way sink (a statsd-like
 * collector) that only counts what arrives. Both bind one port on every local address.
 */
import type { UdpSocket, UdpStack } from './udp-stack.js';

export interface UdpEchoOptions {
  port: number;
  /** The name the reply carries: `<podName>\n`. */
  podName: string;
  /** Called for every datagram served (who sent it, from where). */
  onServe?: (peerAddr: number, peerPort: number) => void;
}

/** Binds `port` and answers each datagram, to its source address and port, with the pod name. */
export function startUdpEcho(stack: UdpStack, options: UdpEchoOptions): UdpSocket {
  const reply = new TextEncoder().encode(`${options.podName}\n`);
  return stack.bind({
    port: options.port,
    onDatagram: (d, socket) => {
      options.onServe?.(d.src, d.sport);
      socket.sendTo(d.src, d.sport, reply);
    },
  });
}

/** A one-way collector: counts datagrams and bytes, never answers. */
export class UdpSink {
  datagrams = 0;
  bytes = 0;
  readonly socket: UdpSocket;

  constructor(stack: UdpStack, port: number) {
    this.socket = stack.bind({
      port,
      onDatagram: (d) => {
        this.datagrams++;
        this.bytes += d.payload.length;
      },
    });
  }
}
