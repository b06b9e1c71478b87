/**
 * dig 9.18 (Debian bookworm's bind9-dnsutils): one lookup over UDP (or TCP with +tcp, or after a
 * truncated reply), `+tries=3` and `+timeout=5`, and its output line for line — the command
 * echo, `;; ->>HEADER<<-`, the flags line, the OPT pseudo-section, the sections in BIND's
 * master-file style (tabs to columns 24/32/40/48, tab width 8), the statistics — and its exit
 * status: 0 for any reply (NXDOMAIN included), 9 when no server answered.
 *
 * Like dig, the query has RD and AD set and EDNS0 with a 1232-byte buffer and an 8-byte client
 * cookie; dig does not use the search list (+nosearch is its default).
 */
import type { TcpConnection } from '../apps/tcp-connection.js';
import type { TimerHandle } from '../apps/transport.js';
import { formatIPv4 } from '../util/ipv4.js';
import {
  DNS_CLASS_IN,
  DnsFormatError,
  type DnsMessage,
  type DnsRecord,
  DnsType,
  decodeDnsMessage,
  dnsOptRecord,
  dnsRcodeName,
  dnsTypeName,
  emptyFlags,
  encodeDnsMessage,
  optRecord,
} from '../wire/dns.js';
import { DNS_PORT } from './server.js';
import { type DnsDatagram, type DnsHost, type DnsUdpSocket, frameTcp, TcpMessageReader } from './sockets.js';

export const DIG_VERSION = '9.18.28-1~deb12u2-Debian';
const EDNS_COOKIE = 10;
const NS_PER_MS = 1e6;

export interface DigRequest {
  readonly name: string;
  readonly type: number;
  readonly server: number;
  /** The server was given as @SERVER (dig then prints "(1 server found)"). */
  readonly serverGiven: boolean;
  readonly tcp: boolean;
  readonly short: boolean;
  readonly tries: number;
  readonly timeoutS: number;
  /** The arguments as typed, for the `; <<>> DiG … <<>>` line. */
  readonly argv: readonly string[];
  /** Cluster wall clock (ms since the epoch) at simulated time 0, for `;; WHEN:`. */
  readonly epochMs: number;
}

export interface DigResult {
  readonly exitCode: number;
  readonly stdout: string;
  /** The reply, when one came. */
  readonly reply?: DnsMessage;
  readonly elapsedNs: number;
}

/** Runs one dig on `host`; `done` runs once, on the simulated clock. */
export function runDig(host: DnsHost, req: DigRequest, done: (r: DigResult) => void): void {
  const start = host.nowNs();
  const id = host.rng.nextInt(0x10000);
  const cookie = new Uint8Array(8);
  for (let i = 0; i < 8; i++) cookie[i] = host.rng.nextInt(256);
  const query = encodeDnsMessage({
    id,
    flags: { ...emptyFlags(), rd: true, ad: true },
    questions: [{ name: req.name, type: req.type, class: DNS_CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [optRecord(1232, [{ code: EDNS_COOKIE, data: cookie }])],
  });
  const errors: string[] = [];
  const server = `${formatIPv4(req.server)}#${DNS_PORT}`;
  let tries = 0;
  let finished = false;
  let timer: TimerHandle | null = null;
  let socket: DnsUdpSocket | null = null;
  let connection: TcpConnection | null = null;
  let truncatedNote = '';

  const cleanup = () => {
    if (timer !== null) host.clearTimer(timer);
    timer = null;
    socket?.close();
    socket = null;
    if (connection !== null && connection.state !== 'CLOSED') connection.close();
    connection = null;
  };
  const finish = (reply: DnsMessage | undefined, size: number, sentNs: number, tcp: boolean) => {
    if (finished) return;
    finished = true;
    cleanup();
    const head = header(req);
    if (reply === undefined) {
      const out = `${errors.join('')}${req.short ? '' : `\n${head};; no servers could be reached\n\n`}`;
      done({
        exitCode: 9,
        stdout: req.short ? `${errors.join('')};; no servers could be reached\n` : out,
        elapsedNs: host.nowNs() - start,
      });
      return;
    }
    const when = whenText(req.epochMs + host.nowNs() / NS_PER_MS);
    const ms = Math.floor((host.nowNs() - sentNs) / NS_PER_MS);
    const text = req.short
      ? shortText(reply)
      : `${errors.join('')}\n${head}${truncatedNote};; Got answer:\n${formatReply(reply)}` +
        `;; Query time: ${ms} msec\n;; SERVER: ${server}(${formatIPv4(req.server)}) (${tcp ? 'TCP' : 'UDP'})\n` +
        `;; WHEN: ${when}\n;; MSG SIZE  rcvd: ${size}\n\n`;
    done({ exitCode: 0, stdout: text, reply, elapsedNs: host.nowNs() - start });
  };
  const parse = (bytes: Uint8Array): DnsMessage | undefined => {
    try {
      const m = decodeDnsMessage(bytes);
      return m.id === id && m.flags.qr ? m : undefined;
    } catch (e) {
      if (e instanceof DnsFormatError) return undefined;
      throw e;
    }
  };
  const failTry = (why: string, tcp: boolean) => {
    errors.push(`;; communications error to ${server}: ${why}\n`);
    cleanup();
    tries++;
    if (tries >= req.tries) finish(undefined, 0, 0, tcp);
    else if (tcp) sendTcp();
    else sendUdp();
  };
  const arm = (tcp: boolean) => {
    timer = host.setTimer(req.timeoutS * 1e9, () => {
      timer = null;
      if (!finished) failTry('timed out', tcp);
    });
  };
  const sendUdp = () => {
    const sentNs = host.nowNs();
    const s = host.udp.bind({
      onDatagram: (d: DnsDatagram) => {
        if (finished || d.src !== req.server) return;
        const m = parse(d.payload);
        if (m === undefined) return;
        if (m.flags.tc) {
          truncatedNote = ';; Truncated, retrying in TCP mode.\n';
          cleanup();
          sendTcp();
          return;
        }
        finish(m, d.payload.length, sentNs, false);
      },
      onError: (e: { readonly errno: string }) => {
        if (!finished && e.errno === 'ECONNREFUSED') failTry('connection refused', false);
      },
    });
    s.connect(req.server, DNS_PORT);
    socket = s;
    s.sendTo(req.server, DNS_PORT, query);
    arm(false);
  };
  const sendTcp = () => {
    const sentNs = host.nowNs();
    const reader = new TcpMessageReader();
    const r = host.tcp.connect({
      localAddr: host.sourceAddressFor(req.server),
      remoteAddr: req.server,
      remotePort: DNS_PORT,
      events: {
        onConnected: (c) => c.send(frameTcp(query)),
        onData: (_c, data) => {
          for (const bytes of reader.push(data)) {
            const m = parse(bytes);
            if (m !== undefined) finish(m, bytes.length, sentNs, true);
          }
        },
        onError: (_c, error) => {
          if (!finished) failTry(error.errno === 'ECONNREFUSED' ? 'connection refused' : error.message, true);
        },
      },
    });
    if (!r.ok) {
      failTry('connection refused', true);
      return;
    }
    connection = r.connection;
    arm(true);
  };
  if (req.tcp) sendTcp();
  else sendUdp();
}

function header(req: DigRequest): string {
  return (
    `; <<>> DiG ${DIG_VERSION} <<>>${req.argv.map((a) => ` ${a}`).join('')}\n` +
    (req.serverGiven ? '; (1 server found)\n' : '') +
    `;; global options:${req.short ? ' +short' : ''} +cmd\n`
  );
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** strftime("%a %b %d %H:%M:%S %Z %Y") in UTC. */
function whenText(ms: number): string {
  const d = new Date(Math.floor(ms));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

/** The reply as dig prints it between `;; Got answer:` and the statistics. */
export function formatReply(m: DnsMessage): string {
  const f = m.flags;
  const flags = [
    f.qr && 'qr',
    f.aa && 'aa',
    f.tc && 'tc',
    f.rd && 'rd',
    f.ra && 'ra',
    f.ad && 'ad',
    f.cd && 'cd',
  ].filter(Boolean);
  let out =
    `;; ->>HEADER<<- opcode: ${f.opcode === 0 ? 'QUERY' : `RESERVED${f.opcode}`}, status: ${dnsRcodeName(f.rcode)}, id: ${m.id}\n` +
    `;; flags: ${flags.join(' ')}; QUERY: ${m.questions.length}, ANSWER: ${m.answers.length}, AUTHORITY: ${m.authorities.length}, ADDITIONAL: ${m.additionals.length}\n`;
  if (f.rd && !f.ra) out += ';; WARNING: recursion requested but not available\n';
  out += '\n';
  const opt = dnsOptRecord(m);
  if (opt !== undefined) {
    out += ';; OPT PSEUDOSECTION:\n';
    const version = (opt.ttl >>> 16) & 0xff;
    const doFlag = (opt.ttl & 0x8000) !== 0;
    out += `; EDNS: version: ${version}, flags:${doFlag ? ' do' : ''}; udp: ${opt.class}\n`;
    if (opt.data.kind === 'OPT')
      for (const o of opt.data.options) {
        const hex = Buffer.from(o.data).toString('hex');
        if (o.code === EDNS_COOKIE) out += `; COOKIE: ${hex}${o.data.length === 8 ? ' (echoed)' : ''}\n`;
        else out += `; OPT=${o.code}: ${hex.toUpperCase()}\n`;
      }
  }
  out += ';; QUESTION SECTION:\n';
  for (const q of m.questions) {
    const name = fqdn(q.name);
    let col = name.length;
    let line = `;${name}`;
    [line, col] = indentTo(line, col, 32);
    line += 'IN';
    col += 2;
    [line, col] = indentTo(line, col, 40);
    line += dnsTypeName(q.type);
    out += `${line}\n`;
  }
  out += '\n';
  const section = (title: string, records: DnsRecord[]) => {
    const shown = records.filter((r) => r.type !== DnsType.OPT);
    if (shown.length === 0) return;
    out += `;; ${title} SECTION:\n`;
    for (const r of shown) out += `${recordLine(r)}\n`;
    out += '\n';
  };
  section('ANSWER', m.answers);
  section('AUTHORITY', m.authorities);
  section('ADDITIONAL', m.additionals);
  return out;
}

/** BIND's indent(): tabs (width 8) towards the column, then spaces; at least one character. */
function indentTo(line: string, col: number, to: number): [string, number] {
  const target = Math.max(to, col + 1);
  const tabs = Math.floor(target / 8) - Math.floor(col / 8);
  const from = tabs > 0 ? Math.floor(target / 8) * 8 : col;
  return [line + '\t'.repeat(Math.max(0, tabs)) + ' '.repeat(target - from), target];
}

function fqdn(name: string): string {
  return name === '' ? '.' : `${name}.`;
}

export function rdataText(r: DnsRecord): string {
  const d = r.data;
  switch (d.kind) {
    case 'A':
    case 'AAAA':
      return d.address;
    case 'name':
      return fqdn(d.target);
    case 'SRV':
      return `${d.priority} ${d.weight} ${d.port} ${fqdn(d.target)}`;
    case 'SOA':
      return `${fqdn(d.mname)} ${fqdn(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'OPT':
      return '';
    case 'raw':
      return `\\# ${d.bytes.length}${d.bytes.length > 0 ? ` ${Buffer.from(d.bytes).toString('hex').toUpperCase()}` : ''}`;
  }
}

function recordLine(r: DnsRecord): string {
  const name = fqdn(r.name);
  let line = name;
  let col = name.length;
  [line, col] = indentTo(line, col, 24);
  const ttl = String(r.ttl);
  line += ttl;
  col += ttl.length;
  [line, col] = indentTo(line, col, 32);
  line += 'IN';
  col += 2;
  [line, col] = indentTo(line, col, 40);
  const type = dnsTypeName(r.type);
  line += type;
  col += type.length;
  [line, col] = indentTo(line, col, 48);
  return line + rdataText(r);
}

/** +short: the answers' RDATA, one per line. */
function shortText(m: DnsMessage): string {
  return m.answers.map((r) => `${rdataText(r)}\n`).join('');
}
