/**
 * A pod whose app has not started yet. At 100k pods, giving every pod its TCP stack, HTTP
 * responder and UDP sockets up front took seconds and hundreds of MB, while one curl reaches one
 * pod. A pending pod's host holds these receivers instead: the first segment, datagram or ICMP
 * error addressed to the pod starts its app (which replaces `host.tcp` and `host.udp` with the
 * app's stacks) and is then handed to the app, so what the pod answers is unchanged.
 */
import type { TcpSegment } from '../apps/transport.js';
import type { QuotedUdp, UdpDatagram } from '../apps/udp-stack.js';
import type { Host, TcpReceiver, UdpReceiver } from '../topology/host.js';

/**
 * Installs the pending receivers on `host`. `start` must start the pod's app, replacing
 * host.tcp and host.udp; it runs at most once (the caller also runs it on any other first use).
 */
export function installPendingPodApp(host: Host, start: () => void): void {
  const started = (): Host => {
    start();
    if (host.tcp === tcp || host.udp === udp)
      throw new Error(`pod ${host.name}: starting its app left the pending receivers in place`);
    return host;
  };
  const tcp: TcpReceiver = {
    receive: (segment: TcpSegment) => started().tcp?.receive(segment),
    receiveIcmpError: (type: number, code: number, quoted: TcpSegment) =>
      started().tcp?.receiveIcmpError(type, code, quoted),
  };
  const udp: UdpReceiver = {
    receive: (datagram: UdpDatagram) => started().udp?.receive(datagram) ?? false,
    receiveIcmpError: (type: number, code: number, quoted: QuotedUdp) =>
      started().udp?.receiveIcmpError(type, code, quoted) ?? false,
  };
  host.tcp = tcp;
  host.udp = udp;
}
