/**
 * A pod whose app has not started yet. At 100k pods, giving every pod its TCP stack, HTTP
 * responder and UDP sockets up front took seconds and hundreds of MB, while one curl reaches one
 * pod. A pending pod's host holds these receivers instead: the first segment, datagram or ICMP
 * error addressed to the pod starts its app, and they hand it (and every later one) to the
 * app's stack, so what the pod answers is unchanged. The simulation puts the stack itself in
 * their place when it can; a receiver someone wrapped around them (the load generator's
 * counters) keeps them as its inner receiver, which then forwards.
 */
import type { TcpSegment } from '../apps/transport.js';
import type { QuotedUdp, UdpDatagram } from '../apps/udp-stack.js';
import type { TcpReceiver, UdpReceiver } from '../topology/host.js';

export class PendingPodTcp implements TcpReceiver {
  /** `stack` starts the pod's app if it has not started and returns its TCP stack. */
  constructor(private readonly stack: () => TcpReceiver) {}

  receive(segment: TcpSegment): void {
    this.stack().receive(segment);
  }

  receiveIcmpError(type: number, code: number, quoted: TcpSegment): void {
    this.stack().receiveIcmpError(type, code, quoted);
  }
}

export class PendingPodUdp implements UdpReceiver {
  /** `sockets` starts the pod's app if it has not started and returns its UDP sockets. */
  constructor(private readonly sockets: () => UdpReceiver) {}

  receive(datagram: UdpDatagram): boolean {
    return this.sockets().receive(datagram);
  }

  receiveIcmpError(type: number, code: number, quoted: QuotedUdp): boolean {
    return this.sockets().receiveIcmpError(type, code, quoted);
  }
}
