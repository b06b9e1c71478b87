/** Helpers of the UDP tests: a client socket that records what came back. */
import type { TcpSocketError, UdpDatagram, UdpSocket } from '../../src/apps/index.js';
import type { Simulation } from '../../src/sim/simulation.js';
import { formatIPv4, parseIPv4 } from '../../src/util/ipv4.js';

export interface Reply {
  /** `addr:port` the reply came from, as the socket saw it. */
  readonly from: string;
  readonly text: string;
}

/** A bound UDP socket on `host` whose datagrams and errors are kept for the test to read. */
export class RecordingSocket {
  readonly replies: Reply[] = [];
  readonly errors: string[] = [];
  readonly socket: UdpSocket;

  constructor(sim: Simulation, host: string, port = 0) {
    this.socket = sim.udpStack(host).bind({
      port,
      onDatagram: (d: UdpDatagram) =>
        this.replies.push({
          from: `${formatIPv4(d.src)}:${d.sport}`,
          text: new TextDecoder().decode(d.payload),
        }),
      onError: (e: TcpSocketError) => this.errors.push(e.errno),
    });
  }

  sendTo(addr: string, port: number, text = 'q'): void {
    this.socket.sendTo(parseIPv4(addr), port, new TextEncoder().encode(text));
  }
}

/** The ClusterIP of a Service by name. */
export function clusterIPOf(sim: Simulation, name: string): string {
  const sp = sim.model.servicePorts.find((s) => s.name === name);
  if (sp === undefined) throw new Error(`no Service ${name}`);
  return sp.clusterIP;
}
