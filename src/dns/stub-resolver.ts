/**
 * A pod's libc resolver, as glibc's getaddrinfo runs it (resolv/res_query.c, res_send.c):
 *
 * - search list: names with fewer dots than `ndots` try each search domain first, then the name
 *   as given; NXDOMAIN, NODATA and SERVFAIL move on to the next candidate, a timeout or a refused
 *   query stops the search;
 * - A and AAAA go out back to back from one connected UDP socket (one source port), and the
 *   lookup waits for both replies; `timeout` (5 s) per try, `attempts` (2) tries;
 * - a try that times out with one of the two replies in switches to `single-request` (A, then AAAA
 *   once its reply is in) and retries at once — the famous 5-second delay when conntrack drops
 *   one of two racing queries; a second such timeout switches to `single-request-reopen` (a new
 *   socket, so a new source port, for the second query);
 * - `single-request` / `single-request-reopen` in resolv.conf start in that mode;
 * - a truncated (TC) reply repeats the exchange over TCP (both queries on one connection);
 * - an ICMP port unreachable (ECONNREFUSED on the connected socket) fails the lookup at once.
 *
 * Queries carry no EDNS0 (glibc sends OPT only with `options edns0`). Everything runs on the
 * host's simulated clock; `done` is called once.
 */
import type { TcpConnection } from '../apps/tcp-connection.js';
import type { TimerHandle } from '../apps/transport.js';
import { formatIPv4 } from '../util/ipv4.js';
import {
  DNS_CLASS_IN,
  DnsFormatError,
  type DnsMessage,
  DnsRcode,
  DnsType,
  decodeDnsMessage,
  emptyFlags,
  encodeDnsMessage,
  sameDnsName,
} from '../wire/dns.js';
import { nameserverAddresses, type ResolvConf, searchCandidates } from './resolv-conf.js';
import { DNS_PORT } from './server.js';
import { type DnsDatagram, type DnsHost, type DnsUdpSocket, frameTcp, TcpMessageReader } from './sockets.js';

const NS_PER_S = 1e9;

/** How one name (one search candidate) fared. */
export type CandidateResult = 'ANSWER' | 'NXDOMAIN' | 'NODATA' | 'SERVFAIL' | 'TIMEOUT' | 'REFUSED';

export type LookupOutcome =
  | {
      readonly ok: true;
      /** The candidate that answered (the fully qualified name). */
      readonly name: string;
      /** IPv4 addresses first, then IPv6, in answer order. */
      readonly addresses: readonly string[];
      readonly elapsedNs: number;
      readonly log: readonly string[];
    }
  | {
      readonly ok: false;
      /** EAI_NONAME (every candidate NXDOMAIN/NODATA) or EAI_AGAIN (timeout, refused, SERVFAIL). */
      readonly error: 'EAI_NONAME' | 'EAI_AGAIN';
      readonly elapsedNs: number;
      readonly log: readonly string[];
    };

export type AddressFamily = 'unspec' | 'inet';

/** getaddrinfo(name): resolves through the search list; `done` runs once, on the simulated clock. */
export function getaddrinfo(
  host: DnsHost,
  conf: ResolvConf,
  name: string,
  family: AddressFamily,
  done: (outcome: LookupOutcome) => void,
): void {
  const start = host.nowNs();
  const log: string[] = [];
  const candidates = searchCandidates(name, conf);
  const server = nameserverAddresses(conf)[0];
  let servfail = false;
  const next = (i: number): void => {
    if (i >= candidates.length) {
      done({ ok: false, error: servfail ? 'EAI_AGAIN' : 'EAI_NONAME', elapsedNs: host.nowNs() - start, log });
      return;
    }
    const exchange = new QueryExchange(
      host,
      conf,
      server,
      candidates[i],
      family,
      log,
      (result, addresses) => {
        if (result === 'ANSWER') {
          done({ ok: true, name: candidates[i], addresses, elapsedNs: host.nowNs() - start, log });
          return;
        }
        if (result === 'TIMEOUT' || result === 'REFUSED') {
          done({ ok: false, error: 'EAI_AGAIN', elapsedNs: host.nowNs() - start, log });
          return;
        }
        if (result === 'SERVFAIL') servfail = true;
        next(i + 1);
      },
    );
    exchange.start();
  };
  next(0);
}

type Mode = 'parallel' | 'single' | 'reopen';

/** One name's A (+AAAA) exchange with the nameserver: res_send for T_QUERY_A_AND_AAAA. */
class QueryExchange {
  private readonly types: number[];
  private readonly ids: number[];
  private readonly queries: Uint8Array[];
  private readonly replies: (DnsMessage | undefined)[];
  private mode: Mode;
  private tcp: boolean;
  private attempt = 0;
  private socket: DnsUdpSocket | null = null;
  private connection: TcpConnection | null = null;
  private timer: TimerHandle | null = null;
  private finished = false;

  constructor(
    private readonly host: DnsHost,
    private readonly conf: ResolvConf,
    private readonly server: number,
    private readonly name: string,
    family: AddressFamily,
    private readonly log: string[],
    private readonly done: (result: CandidateResult, addresses: string[]) => void,
  ) {
    this.types = family === 'unspec' ? [DnsType.A, DnsType.AAAA] : [DnsType.A];
    this.ids = this.types.map(() => host.rng.nextInt(0x10000));
    this.queries = this.types.map((type, i) =>
      encodeDnsMessage({
        id: this.ids[i],
        flags: { ...emptyFlags(), rd: true },
        questions: [{ name, type, class: DNS_CLASS_IN }],
        answers: [],
        authorities: [],
        additionals: [],
      }),
    );
    this.replies = this.types.map(() => undefined);
    this.mode = conf.singleRequestReopen ? 'reopen' : conf.singleRequest ? 'single' : 'parallel';
    this.tcp = conf.useVc;
  }

  private note(text: string): void {
    this.log.push(`${(this.host.nowNs() / 1e6).toFixed(3)} ms ${text}`);
  }

  start(): void {
    this.send();
  }

  private send(): void {
    this.replies.fill(undefined);
    if (this.tcp) {
      this.sendTcp();
      return;
    }
    const socket = this.openSocket();
    const count = this.mode === 'parallel' ? this.types.length : 1;
    for (let i = 0; i < count; i++) this.sendQuery(socket, i);
    this.armTimer();
  }

  private openSocket(): DnsUdpSocket {
    if (this.socket !== null) return this.socket;
    const socket = this.host.udp.bind({
      onDatagram: (d: DnsDatagram) => this.onDatagram(d),
      onError: (e: { readonly errno: string }) => this.onSocketError(e.errno),
    });
    socket.connect(this.server, DNS_PORT);
    this.socket = socket;
    return socket;
  }

  private sendQuery(socket: DnsUdpSocket, i: number): void {
    this.note(
      `${this.types[i] === DnsType.A ? 'A' : 'AAAA'}? ${this.name} id ${this.ids[i]} → ${formatIPv4(this.server)}:53 from port ${socket.localPort}`,
    );
    socket.sendTo(this.server, DNS_PORT, this.queries[i]);
  }

  private armTimer(): void {
    if (this.timer !== null) this.host.clearTimer(this.timer);
    this.timer = this.host.setTimer(this.conf.timeoutS * NS_PER_S, () => {
      this.timer = null;
      this.onTimeout();
    });
  }

  /** Which query a reply answers (res_queriesmatch: id, name, type, class), or -1. */
  private match(m: DnsMessage): number {
    if (!m.flags.qr || m.questions.length !== 1) return -1;
    const q = m.questions[0];
    for (let i = 0; i < this.types.length; i++)
      if (
        m.id === this.ids[i] &&
        q.type === this.types[i] &&
        q.class === DNS_CLASS_IN &&
        sameDnsName(q.name, this.name)
      )
        return i;
    return -1;
  }

  private onDatagram(d: DnsDatagram): void {
    if (this.finished || d.src !== this.server) return;
    let m: DnsMessage;
    try {
      m = decodeDnsMessage(d.payload);
    } catch (e) {
      if (e instanceof DnsFormatError) return;
      throw e;
    }
    const i = this.match(m);
    if (i < 0 || this.replies[i] !== undefined) return;
    this.note(
      `reply ${rcodeText(m)} for ${this.types[i] === DnsType.A ? 'A' : 'AAAA'} id ${m.id}${m.flags.tc ? ' (truncated)' : ''}`,
    );
    if (m.flags.tc) {
      // res_send: a truncated answer over UDP is asked again over TCP.
      this.note('truncated: retrying over TCP');
      this.closeSocket();
      this.tcp = true;
      this.send();
      return;
    }
    this.replies[i] = m;
    if (this.replies.every((r) => r !== undefined)) {
      this.finish();
      return;
    }
    if (this.mode !== 'parallel' && i === 0) {
      // The first reply is in: now the second query (from a new socket with single-request-reopen).
      if (this.mode === 'reopen') {
        this.closeSocket();
        this.sendQuery(this.openSocket(), 1);
      } else if (this.socket !== null) this.sendQuery(this.socket, 1);
    }
  }

  private onSocketError(errno: string): void {
    if (this.finished) return;
    this.note(`recvfrom: ${errno}`);
    if (errno === 'ECONNREFUSED') this.end('REFUSED');
  }

  private onTimeout(): void {
    if (this.finished) return;
    const got = this.replies.filter((r) => r !== undefined).length;
    this.note(`timeout after ${this.conf.timeoutS} s with ${got} of ${this.types.length} replies`);
    if (got > 0 && !this.tcp) {
      // res_send.c: "quite a few broken name servers … don't handle two outstanding requests
      // from the same source": send one at a time, then from a reopened socket.
      if (this.mode === 'parallel') {
        this.mode = 'single';
        this.note('switching to single-request');
        this.send();
        return;
      }
      if (this.mode === 'single') {
        this.mode = 'reopen';
        this.note('switching to single-request-reopen');
        this.closeSocket();
        this.send();
        return;
      }
      this.finish();
      return;
    }
    this.attempt++;
    if (this.attempt >= this.conf.attempts) {
      this.end('TIMEOUT');
      return;
    }
    this.send();
  }

  private sendTcp(): void {
    this.closeConnection();
    const local = this.host.sourceAddressFor(this.server);
    const reader = new TcpMessageReader();
    const result = this.host.tcp.connect({
      localAddr: local,
      remoteAddr: this.server,
      remotePort: DNS_PORT,
      events: {
        onConnected: (c) => {
          for (let i = 0; i < this.types.length; i++) {
            this.note(
              `${this.types[i] === DnsType.A ? 'A' : 'AAAA'}? ${this.name} id ${this.ids[i]} over TCP`,
            );
            c.send(frameTcp(this.queries[i]));
          }
        },
        onData: (_c, data) => {
          for (const bytes of reader.push(data)) {
            let m: DnsMessage;
            try {
              m = decodeDnsMessage(bytes);
            } catch (e) {
              if (e instanceof DnsFormatError) continue;
              throw e;
            }
            const i = this.match(m);
            if (i >= 0 && this.replies[i] === undefined) {
              this.note(`reply ${rcodeText(m)} over TCP id ${m.id}`);
              this.replies[i] = m;
            }
          }
          if (this.replies.every((r) => r !== undefined)) this.finish();
        },
        onError: (_c, error) => {
          if (this.finished) return;
          this.note(`TCP: ${error.errno}`);
          this.end('REFUSED');
        },
      },
    });
    if (!result.ok) {
      this.end('REFUSED');
      return;
    }
    this.connection = result.connection;
    this.armTimer();
  }

  /** Both replies (or what the last mode got) are in: the candidate's result. */
  private finish(): void {
    const addresses: string[] = [];
    for (const r of this.replies)
      for (const a of r?.answers ?? [])
        if (a.data.kind === 'A' || a.data.kind === 'AAAA') addresses.push(a.data.address);
    const first = this.replies[0] ?? this.replies.find((r) => r !== undefined);
    let result: CandidateResult;
    if (addresses.length > 0) result = 'ANSWER';
    else if (first === undefined) result = 'TIMEOUT';
    else if (first.flags.rcode === DnsRcode.NXDOMAIN) result = 'NXDOMAIN';
    else if (first.flags.rcode === DnsRcode.NOERROR) result = 'NODATA';
    else result = 'SERVFAIL';
    const v4 = addresses.filter((a) => !a.includes(':'));
    const v6 = addresses.filter((a) => a.includes(':'));
    this.end(result, [...v4, ...v6]);
  }

  private end(result: CandidateResult, addresses: string[] = []): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) this.host.clearTimer(this.timer);
    this.timer = null;
    this.closeSocket();
    this.closeConnection();
    this.done(result, addresses);
  }

  private closeSocket(): void {
    this.socket?.close();
    this.socket = null;
  }

  private closeConnection(): void {
    const c = this.connection;
    this.connection = null;
    if (c !== null && c.state !== 'CLOSED') c.close();
  }
}

function rcodeText(m: DnsMessage): string {
  const names = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
  return names[m.flags.rcode] ?? `RCODE${m.flags.rcode}`;
}
