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
import type { Host, TcpReceiver, UdpReceiver } from '../topology/host.js';

/**
 * Starts a pod's app if it has not started and returns its stacks. One per simulation, shared
 * by every pending pod, so a pending pod costs two small objects and no closures.
 */
export interface PodAppStarter {
  tcpStackOf(pod: Host): TcpReceiver;
  udpStackOf(pod: Host): UdpReceiver;
}

export class PendingPodTcp implements TcpReceiver {
  constructor(
    private readonly starter: PodAppStarter,
    private readonly pod: Host,
  ) {}

  receive(segment: TcpSegment): void {
    this.starter.tcpStackOf(this.pod).receive(segment);
  }

  receiveIcmpError(type: number, code: number, quoted: TcpSegment): void {
    this.starter.tcpStackOf(this.pod).receiveIcmpError(type, code, quoted);
  }
}

export class PendingPodUdp implements UdpReceiver {
  constructor(
    private readonly starter: PodAppStarter,
    private readonly pod: Host,
  ) {}

  receive(datagram: UdpDatagram): boolean {
    return this.starter.udpStackOf(this.pod).receive(datagram);
  }

  receiveIcmpError(type: number, code: number, quoted: QuotedUdp): boolean {
    return this.starter.udpStackOf(this.pod).receiveIcmpError(type, code, quoted);
  }
}
