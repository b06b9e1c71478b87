/**
 * A CoreDNS pod's listeners: port 53 over UDP and TCP, each query answered from the cluster by
 * {@link CoreDnsZone}. Queries that are not DNS messages are counted and dropped (CoreDNS
 * answers nothing it cannot parse), never thrown.
 */
import type { TcpStack } from '../apps/tcp-stack.js';
import { DnsFormatError, decodeDnsMessage } from '../wire/dns.js';
import type { CoreDnsZone, DnsTransportKind } from './coredns.js';
import { type DnsDatagram, type DnsUdpLayer, frameTcp, TcpMessageReader } from './sockets.js';

export const DNS_PORT = 53;

export interface DnsServerStats {
  /** Queries answered, by transport. */
  udp: number;
  tcp: number;
  /** Datagrams or TCP messages that were not DNS messages. */
  malformed: number;
}

export class DnsServer {
  readonly stats: DnsServerStats = { udp: 0, tcp: 0, malformed: 0 };

  constructor(
    readonly name: string,
    private readonly zone: CoreDnsZone,
  ) {}

  /** Binds UDP 53 and listens on TCP 53 on the pod's stacks. */
  start(udp: DnsUdpLayer, tcp: TcpStack): void {
    const socket = udp.bind({
      port: DNS_PORT,
      onDatagram: (d: DnsDatagram) => {
        const reply = this.handle(d.payload, 'udp');
        if (reply !== undefined) socket.sendTo(d.src, d.sport, reply);
      },
    });
    if (!tcp.hasListener(DNS_PORT))
      tcp.listen({
        port: DNS_PORT,
        onAccept: (connection) => {
          const reader = new TcpMessageReader();
          connection.events = {
            onData: (c, data) => {
              for (const m of reader.push(data)) {
                const reply = this.handle(m, 'tcp');
                if (reply !== undefined) c.send(frameTcp(reply));
              }
            },
            onPeerClosed: (c) => c.close(),
          };
        },
      });
  }

  /** The reply bytes for one query, or undefined when the query is not a DNS message. */
  handle(bytes: Uint8Array, transport: DnsTransportKind): Uint8Array | undefined {
    let query: ReturnType<typeof decodeDnsMessage>;
    try {
      query = decodeDnsMessage(bytes);
    } catch (e) {
      if (!(e instanceof DnsFormatError)) throw e;
      this.stats.malformed++;
      return undefined;
    }
    if (query.flags.qr) {
      this.stats.malformed++;
      return undefined;
    }
    this.stats[transport]++;
    return this.zone.reply(query, transport);
  }
}
