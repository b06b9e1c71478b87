import { describe, expect, it } from 'vitest';
import { curl } from '../../src/apps/curl.js';
import { startHttpResponder } from '../../src/apps/http-responder.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { TcpFlag } from '../../src/wire/tcp.js';
import { LoopbackNetwork, type TappedSegment } from './loopback-transport.js';

const NODE_IP = '192.168.100.100';
const NODE_PORT = 30532;
const POD = 'myweb-rs-abcde';
const S = 1e9;

/** A client, a pod behind a NodePort-style DNAT+SNAT, and optionally its responder. */
function nodePortSetup(options: { responder?: boolean; seed?: number } = {}) {
  const net = new LoopbackNetwork({ seed: options.seed ?? 7 });
  const client = net.addHost('client', '192.168.100.1');
  const pod = net.addHost(POD, '10.233.64.2');
  net.addNat({
    serviceAddr: parseIPv4(NODE_IP),
    servicePort: NODE_PORT,
    backendAddr: pod.addr,
    backendPort: 8080,
    snatAddr: parseIPv4(NODE_IP),
    snatPort: 43512,
  });
  const responder =
    options.responder === false ? undefined : startHttpResponder(pod.stack, { port: 8080, podName: POD });
  return { net, client, pod, responder };
}

function sent(net: LoopbackNetwork, host: string): TappedSegment[] {
  return net.tapped.filter((t) => t.host === host && t.direction === 'out');
}

function flagsOf(t: TappedSegment): number {
  return t.segment.flags;
}

function tsOf(t: TappedSegment): { tsval: number; tsecr: number } {
  const ts = t.segment.options.find((o) => o.kind === 'timestamp');
  if (ts?.kind !== 'timestamp') throw new Error('segment without timestamps');
  return ts;
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

describe('curl against the HTTP responder through a NodePort-style NAT', () => {
  it('completes handshake, GET, response and FIN/ACK teardown with consistent numbers', () => {
    const { net, client, pod } = nodePortSetup();
    const run = curl(client.stack, { url: `http://${NODE_IP}:${NODE_PORT}/`, localAddr: '192.168.100.1' });
    net.run();

    expect(run.done).toBe(true);
    const result = run.result!;
    if (!result.ok) throw new Error(result.message);
    expect(result.status).toBe(200);
    expect(result.stdout).toBe(`Hello World!\n${POD}\n`);
    expect(result.headers).toEqual([
      ['Date', 'Thu, 01 Jan 1970 00:00:00 GMT'],
      ['Content-Length', '28'],
      ['Content-Type', 'text/plain; charset=utf-8'],
    ]);

    const c = sent(net, 'client');
    const s = sent(net, POD);
    // Client: SYN, ACK, GET, FIN, last ACK. Server: SYN-ACK, response, FIN.
    expect(c.map(flagsOf)).toEqual([
      TcpFlag.SYN,
      TcpFlag.ACK,
      TcpFlag.PSH | TcpFlag.ACK,
      TcpFlag.FIN | TcpFlag.ACK,
      TcpFlag.ACK,
    ]);
    expect(s.map(flagsOf)).toEqual([
      TcpFlag.SYN | TcpFlag.ACK,
      TcpFlag.PSH | TcpFlag.ACK,
      TcpFlag.FIN | TcpFlag.ACK,
    ]);
    const [syn, ack, get, cfin, lastAck] = c.map((t) => t.segment);
    const [synAck, response, sfin] = s.map((t) => t.segment);

    // Linux SYN: window 64240, [mss 1460,sackOK,TS val X ecr 0,nop,wscale 7].
    expect(syn.window).toBe(64240);
    expect(syn.options.map((o) => o.kind)).toEqual([
      'mss',
      'sackPermitted',
      'timestamp',
      'nop',
      'windowScale',
    ]);
    expect(syn.options[0]).toEqual({ kind: 'mss', value: 1460 });
    expect(tsOf(c[0]).tsecr).toBe(0);
    expect(syn.options[4]).toEqual({ kind: 'windowScale', shift: 7 });
    // SYN-ACK: window 65160, same option set, TSecr echoing the SYN's TSval.
    expect(synAck.window).toBe(65160);
    expect(synAck.options.map((o) => o.kind)).toEqual([
      'mss',
      'sackPermitted',
      'timestamp',
      'nop',
      'windowScale',
    ]);
    expect(tsOf(s[0]).tsecr).toBe(tsOf(c[0]).tsval);

    const isnC = syn.seq;
    const isnS = synAck.seq;
    const request = `GET / HTTP/1.1\r\nHost: ${NODE_IP}:${NODE_PORT}\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n`;
    expect(text(get.payload)).toBe(request);
    expect(synAck.ack).toBe((isnC + 1) >>> 0);
    expect([ack.seq, ack.ack]).toEqual([(isnC + 1) >>> 0, (isnS + 1) >>> 0]);
    expect([get.seq, get.ack]).toEqual([(isnC + 1) >>> 0, (isnS + 1) >>> 0]);
    const afterGet = (isnC + 1 + request.length) >>> 0;
    expect(text(response.payload)).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text(response.payload).endsWith(`\r\n\r\nHello World!\n${POD}\n`)).toBe(true);
    expect([response.seq, response.ack]).toEqual([(isnS + 1) >>> 0, afterGet]);
    const afterResponse = (isnS + 1 + response.payload.length) >>> 0;
    expect([cfin.seq, cfin.ack]).toEqual([afterGet, afterResponse]);
    expect([sfin.seq, sfin.ack]).toEqual([afterResponse, (afterGet + 1) >>> 0]);
    expect([lastAck.seq, lastAck.ack]).toEqual([(afterGet + 1) >>> 0, (afterResponse + 1) >>> 0]);

    // Scaled windows after the handshake (64240 and 65160 rounded up to 128, >> 7).
    for (const t of c.slice(1)) expect(t.segment.window).toBe(502);
    for (const t of s.slice(1)) expect(t.segment.window).toBe(510);
    // Every later segment carries nop,nop,TS; TSecr echoes the peer's latest TSval.
    const all = net.tapped.filter((t) => t.direction === 'out');
    const latestFrom = new Map<string, number>();
    for (const t of all) {
      const peer = t.host === 'client' ? POD : 'client';
      if (t !== all[0]) expect(tsOf(t).tsecr).toBe(latestFrom.get(peer));
      latestFrom.set(t.host, tsOf(t).tsval);
    }

    // The ephemeral port: Linux's range, even (connect() tries the range's parity first).
    expect(result.localPort).toBeGreaterThanOrEqual(32768);
    expect(result.localPort).toBeLessThanOrEqual(60999);
    expect(result.localPort % 2).toBe(0);
    // The pod saw the translated tuple.
    const podIn = net.tapped.find((t) => t.host === POD && t.direction === 'in')!.segment;
    expect([podIn.src, podIn.sport, podIn.dst, podIn.dport]).toEqual([
      parseIPv4(NODE_IP),
      43512,
      pod.addr,
      8080,
    ]);
    // After TIME_WAIT (60 s) nothing is left on either side.
    expect(net.clock.now).toBeGreaterThanOrEqual(60 * S);
    expect(client.stack.size).toBe(0);
    expect(pod.stack.size).toBe(0);
  });

  it('keeps the client in TIME_WAIT for 60 s as the active closer, while the server is closed', () => {
    const { net, client, pod } = nodePortSetup();
    const run = curl(client.stack, { url: `http://${NODE_IP}:${NODE_PORT}/`, localAddr: '192.168.100.1' });
    net.run(1 * S);
    expect(run.result?.ok).toBe(true);
    expect(run.connection!.state).toBe('TIME_WAIT');
    expect(pod.stack.size).toBe(0);
    net.run(59 * S);
    expect(run.connection!.state).toBe('TIME_WAIT');
    net.run(61 * S);
    expect(run.connection!.state).toBe('CLOSED');
  });

  it('reports a refused connection (RST from a port nobody listens on) as curl error 7', () => {
    const { net, client, pod } = nodePortSetup({ responder: false });
    const run = curl(client.stack, { url: `http://${NODE_IP}:${NODE_PORT}/`, localAddr: '192.168.100.1' });
    net.run();
    expect(run.result).toMatchObject({
      ok: false,
      exitCode: 7,
      message: `curl: (7) Failed to connect to ${NODE_IP} port ${NODE_PORT} after 0 ms: Couldn't connect to server`,
    });
    const rst = sent(net, POD)[0].segment;
    const syn = sent(net, 'client')[0].segment;
    expect(rst.flags).toBe(TcpFlag.RST | TcpFlag.ACK);
    expect([rst.seq, rst.ack, rst.window, rst.options.length]).toEqual([0, (syn.seq + 1) >>> 0, 0, 0]);
    expect(pod.stack.size).toBe(0);
    expect(client.stack.size).toBe(0);
  });

  it('reports ICMP port unreachable (REJECT) during connect as curl error 7', () => {
    const { net, client } = nodePortSetup();
    net.rejected.set(`${NODE_IP}:${NODE_PORT}`, 3);
    const run = curl(client.stack, { url: `http://${NODE_IP}:${NODE_PORT}/`, localAddr: '192.168.100.1' });
    net.run();
    expect(run.result).toMatchObject({
      ok: false,
      exitCode: 7,
      message: `curl: (7) Failed to connect to ${NODE_IP} port ${NODE_PORT} after 0 ms: Couldn't connect to server`,
    });
    expect(sent(net, 'client').length).toBe(1);
  });

  it('gives the connect-timeout error at --connect-timeout while the SYN is retransmitted', () => {
    const { net, client } = nodePortSetup();
    net.dropIf = (segment) => (segment.flags & TcpFlag.SYN) !== 0;
    const run = curl(client.stack, {
      host: '10.233.0.5',
      port: 80,
      localAddr: '192.168.100.1',
      connectTimeoutMs: 3000,
    });
    net.run();
    expect(run.result).toMatchObject({
      ok: false,
      exitCode: 28,
      message: 'curl: (28) Failed to connect to 10.233.0.5 port 80 after 3000 ms: Timeout was reached',
    });
    const syns = sent(net, 'client');
    expect(syns.map((t) => t.timeNs)).toEqual([0, 1 * S]);
    expect(new Set(syns.map((t) => t.segment.seq)).size).toBe(1);
    expect(client.stack.size).toBe(0);
  });

  it("lets the kernel give up after tcp_syn_retries (127 s): curl 28 with Couldn't connect", () => {
    const { net, client } = nodePortSetup();
    net.dropIf = (segment) => (segment.flags & TcpFlag.SYN) !== 0;
    const run = curl(client.stack, { url: `http://${NODE_IP}:${NODE_PORT}/`, localAddr: '192.168.100.1' });
    net.run();
    expect(run.result).toMatchObject({
      ok: false,
      exitCode: 28,
      message: `curl: (28) Failed to connect to ${NODE_IP} port ${NODE_PORT} after 127000 ms: Couldn't connect to server`,
    });
    expect(sent(net, 'client').map((t) => t.timeNs / S)).toEqual([0, 1, 3, 7, 15, 31, 63]);
  });

  it('keeps a non-fatal ICMP (host unreachable) as a soft error that the SYN timeout reports', () => {
    const { net, client } = nodePortSetup();
    net.rejected.set(`${NODE_IP}:${NODE_PORT}`, 1);
    const run = curl(client.stack, { url: `http://${NODE_IP}:${NODE_PORT}/`, localAddr: '192.168.100.1' });
    net.run();
    // EHOSTUNREACH instead of ETIMEDOUT: curl keeps exit code 7.
    expect(run.result).toMatchObject({
      ok: false,
      exitCode: 7,
      message: `curl: (7) Failed to connect to ${NODE_IP} port ${NODE_PORT} after 127000 ms: Couldn't connect to server`,
    });
  });

  it('follows tcp_syn_linear_timeouts = 4 (Linux 6.5+) when configured', () => {
    const net = new LoopbackNetwork({ stack: { config: { synLinearTimeouts: 4 } } });
    const client = net.addHost('client', '192.168.100.1');
    net.dropIf = (segment) => (segment.flags & TcpFlag.SYN) !== 0;
    curl(client.stack, { host: '10.0.0.9', localAddr: '192.168.100.1', connectTimeoutMs: 10_000 });
    net.run();
    expect(sent(net, 'client').map((t) => t.timeNs / S)).toEqual([0, 1, 2, 3, 4, 5, 7]);
  });

  it('reports --max-time during connect as "Connection timed out"', () => {
    const { net, client } = nodePortSetup();
    net.dropIf = (segment) => (segment.flags & TcpFlag.SYN) !== 0;
    const run = curl(client.stack, {
      url: `http://${NODE_IP}:${NODE_PORT}/`,
      localAddr: '192.168.100.1',
      connectTimeoutMs: 5000,
      maxTimeMs: 2000,
    });
    net.run();
    expect(run.result).toMatchObject({
      exitCode: 28,
      message: 'curl: (28) Connection timed out after 2000 milliseconds',
    });
  });

  it('reports --max-time during the transfer with the bytes received', () => {
    const { net, client, pod } = nodePortSetup({ responder: false });
    pod.stack.listen({ port: 8080, onAccept: () => {} }); // accepts, never answers
    const run = curl(client.stack, {
      url: `http://${NODE_IP}:${NODE_PORT}/`,
      localAddr: '192.168.100.1',
      maxTimeMs: 2000,
    });
    net.run();
    expect(run.result).toMatchObject({
      exitCode: 28,
      message: 'curl: (28) Operation timed out after 2000 milliseconds with 0 bytes received',
    });
  });

  it('reports a reset after connect as curl error 56', () => {
    const { net, client, pod } = nodePortSetup({ responder: false });
    pod.stack.listen({
      port: 8080,
      onAccept: (conn) => {
        conn.events = { onData: (c) => c.abort() };
      },
    });
    const run = curl(client.stack, { url: `http://${NODE_IP}:${NODE_PORT}/`, localAddr: '192.168.100.1' });
    net.run();
    expect(run.result).toMatchObject({
      exitCode: 56,
      message: 'curl: (56) Recv failure: Connection reset by peer',
    });
    const rst = sent(net, POD).at(-1)!.segment;
    expect(rst.flags).toBe(TcpFlag.RST | TcpFlag.ACK);
  });

  it('reports a close without any response as curl error 52', () => {
    const { net, client, pod } = nodePortSetup({ responder: false });
    pod.stack.listen({ port: 8080, onAccept: (conn) => (conn.events = { onData: (c) => c.close() }) });
    const run = curl(client.stack, { url: `http://${NODE_IP}:${NODE_PORT}/`, localAddr: '192.168.100.1' });
    net.run();
    expect(run.result).toMatchObject({ exitCode: 52, message: 'curl: (52) Empty reply from server' });
  });

  it('reports a body cut short as curl error 18 with the missing byte count', () => {
    const { net, client, pod } = nodePortSetup({ responder: false });
    pod.stack.listen({
      port: 8080,
      onAccept: (conn) => {
        conn.events = {
          onData: (c) => {
            c.send(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'));
            c.close();
          },
        };
      },
    });
    const run = curl(client.stack, { url: `http://${NODE_IP}:${NODE_PORT}/`, localAddr: '192.168.100.1' });
    net.run();
    expect(run.result).toMatchObject({
      exitCode: 18,
      message: 'curl: (18) transfer closed with 90 bytes remaining to read',
    });
    // write() pushes the data at once, so close() right after it sends a FIN of its own;
    // the server closed first, so it ACKs curl's FIN and holds TIME_WAIT.
    expect(sent(net, POD).map((t) => t.segment.flags)).toEqual([
      TcpFlag.SYN | TcpFlag.ACK,
      TcpFlag.PSH | TcpFlag.ACK,
      TcpFlag.FIN | TcpFlag.ACK,
      TcpFlag.ACK,
    ]);
  });

  it('omits the port from Host for port 80 and fails names without a resolver with error 6', () => {
    const net = new LoopbackNetwork();
    const client = net.addHost('client', '192.168.100.1');
    const server = net.addHost('server', '10.0.0.2');
    startHttpResponder(server.stack, {
      port: 80,
      podName: 'p',
      bodyTemplate: '{method} {path} from {podName}',
    });
    const ok = curl(client.stack, { url: 'http://10.0.0.2/x?y=1', localAddr: client.addr });
    const named = curl(client.stack, { url: 'http://myweb.default.svc/', localAddr: client.addr });
    const resolved = curl(client.stack, {
      url: 'http://myweb/',
      localAddr: client.addr,
      resolve: (name) => (name === 'myweb' ? server.addr : undefined),
    });
    net.run();
    expect(ok.result).toMatchObject({ ok: true, stdout: 'GET /x?y=1 from p' });
    const get = net.tapped.find((t) => t.host === 'client' && t.segment.payload.length > 0)!;
    expect(text(get.segment.payload)).toContain('\r\nHost: 10.0.0.2\r\n');
    expect(named.result).toMatchObject({
      exitCode: 6,
      message: 'curl: (6) Could not resolve host: myweb.default.svc',
    });
    expect(resolved.result).toMatchObject({ ok: true, stdout: 'GET / from p' });
  });

  it('rejects unsupported schemes and malformed URLs with curl errors, not exceptions', () => {
    const net = new LoopbackNetwork();
    const client = net.addHost('client', '192.168.100.1');
    expect(curl(client.stack, { url: 'https://10.0.0.1/', localAddr: client.addr }).result).toMatchObject({
      exitCode: 1,
      message: 'curl: (1) Protocol "https" not supported or disabled in libcurl',
    });
    expect(curl(client.stack, { url: 'not a url', localAddr: client.addr }).result).toMatchObject({
      exitCode: 3,
    });
    expect(
      curl(client.stack, { url: 'http://10.0.0.1:99999/', localAddr: client.addr }).result,
    ).toMatchObject({
      exitCode: 3,
    });
  });
});
