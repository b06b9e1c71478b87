/**
 * The program run in a source namespace (`node -e PROBER_SCRIPT CONFIG_JSON`): for every
 * probe it opens `n` TCP connections to host:port, sends an HTTP/1.0 GET and records how
 * each ended. The first connection of a probe goes alone (so ClientIP affinity is seeded
 * before the rest race), the others run `concurrency` at a time; all probes run at once.
 * Every wait is bounded (connect and response timeouts), so the program always ends.
 * A UDP probe sends one datagram from a new connected socket and waits for one datagram back
 * (ECONNREFUSED when an ICMP port unreachable comes back instead).
 * A host with a colon is IPv6: the connection (or datagram socket) is IPv6.
 * Prints one JSON document: { results: { [probeId]: ProbeConnection[] } }.
 */

export interface ProberTarget {
  readonly id: string;
  /** 'udp': one datagram from a new connected socket, answered or refused (ICMP) or timed out. */
  readonly proto?: 'tcp' | 'udp';
  readonly host: string;
  readonly port: number;
  readonly n: number;
}

export interface ProberConfig {
  readonly targets: readonly ProberTarget[];
  readonly concurrency: number;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
}

/** How one connection ended, as the prober reports it. */
export interface ProberConnection {
  /** ok | refused | timeout | reset | unreachable | other */
  readonly cls: string;
  readonly body?: string;
  readonly error?: string;
  readonly ms: number;
}

export interface ProberOutput {
  readonly results: Record<string, ProberConnection[]>;
}

export const PROBER_SCRIPT = `
'use strict';
const net = require('node:net');
const dgram = require('node:dgram');
const cfg = JSON.parse(process.argv[1]);
function onceUdp(host, port) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let done = false;
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const finish = (cls, body, error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { sock.close(); } catch {}
      resolve({ cls, body, error, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => setImmediate(() => finish('timeout', undefined, 'no answer')),
      cfg.connectTimeoutMs + cfg.responseTimeoutMs);
    sock.on('message', (m) => finish('ok', m.toString('latin1').slice(0, 2000)));
    sock.on('error', (e) => {
      const c = e.code || '';
      if (c === 'ECONNREFUSED') finish('refused', undefined, c);
      else if (c === 'EHOSTUNREACH' || c === 'ENETUNREACH') finish('unreachable', undefined, c);
      else finish('other', undefined, c || e.message);
    });
    sock.connect(port, host, () => sock.send('GET / dpsim-verify udp\\n'));
  });
}
function once(host, port) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let body = '';
    let done = false;
    let phase = 'connect';
    const sock = net.connect({ host, port });
    const finish = (cls, error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ cls, body: body.slice(0, 2000), error, ms: Date.now() - t0 });
    };
    // A starved process can run its timers before it reads the I/O that completed in time:
    // decide only after one more poll phase (setImmediate runs after it).
    const expire = (armedIn) => () => setImmediate(() => {
      if (phase === armedIn) finish('timeout', armedIn + ' timeout');
    });
    let timer = setTimeout(expire('connect'), cfg.connectTimeoutMs);
    sock.setEncoding('latin1');
    sock.on('connect', () => {
      phase = 'response';
      clearTimeout(timer);
      timer = setTimeout(expire('response'), cfg.responseTimeoutMs);
      sock.write('GET / HTTP/1.0\\r\\nHost: ' + (host.includes(':') ? '[' + host + ']' : host) + ':' + port + '\\r\\nUser-Agent: dpsim-verify\\r\\n\\r\\n');
    });
    sock.on('data', (d) => { body += d; });
    sock.on('end', () => finish(body.length > 0 ? 'ok' : 'reset', body.length > 0 ? undefined : 'closed without an answer'));
    sock.on('error', (e) => {
      const c = e.code || '';
      if (c === 'ECONNREFUSED') finish('refused', c);
      else if (c === 'ECONNRESET' || c === 'EPIPE') finish('reset', c);
      else if (c === 'EHOSTUNREACH' || c === 'ENETUNREACH') finish('unreachable', c);
      else if (c === 'ETIMEDOUT') finish('timeout', c);
      else finish('other', c || e.message);
    });
  });
}
async function probe(t) {
  const out = [];
  if (t.n <= 0) return out;
  const one = t.proto === 'udp' ? onceUdp : once;
  out.push(await one(t.host, t.port));
  let next = 1;
  const worker = async () => {
    while (next < t.n) {
      next += 1;
      out.push(await one(t.host, t.port));
    }
  };
  const workers = [];
  for (let i = 0; i < Math.min(cfg.concurrency, t.n - 1); i++) workers.push(worker());
  await Promise.all(workers);
  return out;
}
Promise.all(cfg.targets.map((t) => probe(t).then((r) => [t.id, r]))).then((pairs) => {
  process.stdout.write(JSON.stringify({ results: Object.fromEntries(pairs) }));
});
`;
