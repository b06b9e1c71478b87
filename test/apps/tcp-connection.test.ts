import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startHttpResponder } from '../../src/apps/http-responder.js';
import { rstForUnexpected, segmentLength, type TcpConnection } from '../../src/apps/tcp-connection.js';
import { TcpStack } from '../../src/apps/tcp-stack.js';
import type { TcpSegment } from '../../src/apps/transport.js';
import { Rng } from '../../src/util/rng.js';
import { TcpFlag } from '../../src/wire/tcp.js';
import { LoopbackNetwork, type TappedSegment } from './loopback-transport.js';

function segment(fields: Partial<TcpSegment>): TcpSegment {
  return {
    src: 0x0a000001,
    dst: 0x0a000002,
    sport: 40000,
    dport: 80,
    seq: 1000,
    ack: 0,
    flags: TcpFlag.SYN,
    window: 64240,
    options: [],
    payload: new Uint8Array(0),
    ...fields,
  };
}

/**
 * Checks the sequence accounting of every segment one host sent on one connection:
 * new data starts exactly at the sender's next sequence number (retransmissions start
 * below it), ACKs never go backwards and never acknowledge what the peer has not sent.
 */
function checkAccounting(out: TappedSegment[], a: string, b: string): void {
  const next = new Map<string, number>();
  const lastAck = new Map<string, number>();
  for (const t of out) {
    const seg = t.segment;
    const me = t.host;
    const peer = me === a ? b : a;
    if (seg.flags & TcpFlag.RST) continue;
    const expected = next.get(me);
    if (expected === undefined) {
      next.set(me, (seg.seq + segmentLength(seg)) >>> 0);
    } else {
      const offset = (seg.seq - expected) | 0;
      expect(offset, `${me} seq ${seg.seq} vs next ${expected}`).toBeLessThanOrEqual(0);
      const end = (seg.seq + segmentLength(seg)) >>> 0;
      if (((end - expected) | 0) > 0) next.set(me, end);
    }
    if (seg.flags & TcpFlag.ACK) {
      const peerNext = next.get(peer);
      expect(peerNext).toBeDefined();
      expect((seg.ack - (peerNext as number)) | 0, `${me} acks beyond what ${peer} sent`).toBeLessThanOrEqual(
        0,
      );
      const previous = lastAck.get(me);
      if (previous !== undefined) expect((seg.ack - previous) | 0).toBeGreaterThanOrEqual(0);
      lastAck.set(me, seg.ack);
    }
  }
}

/** A server that echoes everything and closes when the client does. */
function echoServer(stack: TcpStack, port: number): void {
  stack.listen({
    port,
    onAccept: (conn) => {
      conn.events = { onData: (c, data) => c.send(data), onPeerClosed: (c) => c.close() };
    },
  });
}

/** Connects, sends `chunks` (one send() each), collects the echo, closes when it is all back. */
function echoClient(net: LoopbackNetwork, from: string, to: string, chunks: Uint8Array[]) {
  const client = net.hosts.find((h) => h.name === from)!;
  const server = net.hosts.find((h) => h.name === to)!;
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const received: number[] = [];
  let error: string | undefined;
  const opened = client.stack.connect({
    localAddr: client.addr,
    remoteAddr: server.addr,
    remotePort: 7,
    events: {
      onConnected: (c) => {
        for (const chunk of chunks) c.send(chunk);
        if (total === 0) c.close();
      },
      onData: (c, data) => {
        received.push(...data);
        if (received.length === total) c.close();
      },
      onError: (_c, e) => {
        error = e.errno;
      },
    },
  });
  if (!opened.ok) throw opened.error;
  return { connection: opened.connection, received, error: () => error };
}

describe('rstForUnexpected', () => {
  it('answers a SYN to a closed port with RST|ACK, seq 0, ack = seq + 1', () => {
    const rst = rstForUnexpected(segment({ seq: 0xffffffff }))!;
    expect(rst).toMatchObject({
      src: 0x0a000002,
      dst: 0x0a000001,
      sport: 80,
      dport: 40000,
      seq: 0,
      ack: 0,
      flags: TcpFlag.RST | TcpFlag.ACK,
      window: 0,
      options: [],
    });
  });

  it('answers a segment carrying ACK with a bare RST whose seq is that ack', () => {
    const rst = rstForUnexpected(
      segment({ flags: TcpFlag.ACK | TcpFlag.PSH, ack: 777, payload: new Uint8Array(5) }),
    )!;
    expect([rst.flags, rst.seq, rst.ack]).toEqual([TcpFlag.RST, 777, 0]);
  });

  it('counts payload and FIN in the ack of a reset for a segment without ACK', () => {
    const rst = rstForUnexpected(segment({ flags: TcpFlag.FIN, seq: 10, payload: new Uint8Array(5) }))!;
    expect([rst.flags, rst.ack]).toEqual([TcpFlag.RST | TcpFlag.ACK, 16]);
  });

  it('never answers a reset', () => {
    expect(rstForUnexpected(segment({ flags: TcpFlag.RST | TcpFlag.ACK }))).toBeUndefined();
  });
});

describe('TcpConnection over the loopback network', () => {
  it('delivers any sequence of writes intact, in segments of at most one MSS, with consistent seq/ack numbers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 6 }),
        fc.integer({ min: 0, max: 0xffff }),
        (sizes, seed) => {
          const net = new LoopbackNetwork({ seed });
          net.addHost('a', '10.0.0.1');
          const b = net.addHost('b', '10.0.0.2');
          echoServer(b.stack, 7);
          const rng = new Rng(seed);
          const chunks = sizes.map((n) => Uint8Array.from({ length: n }, () => rng.nextInt(256)));
          const run = echoClient(net, 'a', 'b', chunks);
          net.run();
          const all = chunks.flatMap((c) => [...c]);
          expect(run.received).toEqual(all);
          expect(run.error()).toBeUndefined();
          const out = net.tapped.filter((t) => t.direction === 'out');
          for (const t of out) expect(t.segment.payload.length).toBeLessThanOrEqual(1448);
          checkAccounting(out, 'a', 'b');
          expect(net.hosts.every((h) => h.stack.size === 0)).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('recovers a lost data segment by retransmitting it after the RTO', () => {
    const net = new LoopbackNetwork();
    net.addHost('a', '10.0.0.1');
    const b = net.addHost('b', '10.0.0.2');
    echoServer(b.stack, 7);
    let dropped = 0;
    net.dropIf = (seg) => seg.payload.length > 0 && dropped++ === 0;
    const data = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
    const run = echoClient(net, 'a', 'b', [data]);
    net.run();
    expect(run.received).toEqual([...data]);
    const first = net.tapped.filter(
      (t) => t.host === 'a' && t.direction === 'out' && t.segment.payload.length > 0,
    );
    // Segment 1 lost, segment 2 dropped by the receiver as out of order, both resent at the RTO.
    expect(first.map((t) => t.segment.payload.length)).toEqual([1448, 1448, 104, 1448, 1448, 104]);
    const rto = first[3].timeNs - first[0].timeNs;
    expect(rto).toBeGreaterThanOrEqual(200e6);
    expect(rto).toBeLessThan(300e6);
  });

  it('moves both ends through CLOSING to TIME_WAIT on a simultaneous close', () => {
    const net = new LoopbackNetwork();
    const a = net.addHost('a', '10.0.0.1');
    const b = net.addHost('b', '10.0.0.2');
    let server: TcpConnection | undefined;
    b.stack.listen({ port: 7, onAccept: (c) => (server = c) });
    const opened = a.stack.connect({ localAddr: a.addr, remoteAddr: b.addr, remotePort: 7 });
    if (!opened.ok) throw opened.error;
    net.run(1e9);
    expect(opened.connection.state).toBe('ESTABLISHED');
    opened.connection.close();
    server!.close();
    expect([opened.connection.state, server!.state]).toEqual(['FIN_WAIT_1', 'FIN_WAIT_1']);
    net.run(2e9);
    expect([opened.connection.state, server!.state]).toEqual(['TIME_WAIT', 'TIME_WAIT']);
    checkAccounting(
      net.tapped.filter((t) => t.direction === 'out'),
      'a',
      'b',
    );
    net.run();
    expect(a.stack.size + b.stack.size).toBe(0);
  });

  it('answers data arriving for a socket the application closed with a reset', () => {
    const net = new LoopbackNetwork();
    const a = net.addHost('a', '10.0.0.1');
    const b = net.addHost('b', '10.0.0.2');
    let server: TcpConnection | undefined;
    let serverError: string | undefined;
    b.stack.listen({
      port: 7,
      onAccept: (c) => {
        server = c;
        c.events = { onError: (_c, e) => (serverError = e.errno) };
      },
    });
    const opened = a.stack.connect({ localAddr: a.addr, remoteAddr: b.addr, remotePort: 7 });
    if (!opened.ok) throw opened.error;
    net.run(1e9);
    opened.connection.close(); // client half-closes: FIN, server in CLOSE_WAIT
    net.run(2e9);
    expect(server!.state).toBe('CLOSE_WAIT');
    server!.send(new Uint8Array([1, 2, 3]));
    net.run(3e9);
    const last = net.tapped.filter((t) => t.host === 'a' && t.direction === 'out').at(-1)!.segment;
    expect(last.flags).toBe(TcpFlag.RST | TcpFlag.ACK);
    expect(opened.connection.state).toBe('CLOSED');
    expect(serverError).toBe('EPIPE'); // a reset in CLOSE_WAIT
  });

  it('serves pipelined keep-alive requests on one connection, in order', () => {
    const net = new LoopbackNetwork();
    const a = net.addHost('a', '10.0.0.1');
    const b = net.addHost('b', '10.0.0.2');
    const responder = startHttpResponder(b.stack, { port: 80, podName: 'pod-1', bodyTemplate: '{path}' });
    let reply = '';
    const opened = a.stack.connect({
      localAddr: a.addr,
      remoteAddr: b.addr,
      remotePort: 80,
      events: {
        onConnected: (c) =>
          c.send(Buffer.from('GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n')),
        onData: (_c, d) => {
          reply += Buffer.from(d).toString('latin1');
        },
      },
    });
    if (!opened.ok) throw opened.error;
    net.run(1e9);
    expect(reply.match(/HTTP\/1\.1 200 OK/g)?.length).toBe(2);
    expect(reply.indexOf('\r\n\r\n/one')).toBeLessThan(reply.indexOf('\r\n\r\n/two'));
    expect(opened.connection.state).toBe('ESTABLISHED'); // keep-alive: the server waits
    expect(responder.stats).toEqual({ connections: 1, requests: 2, badRequests: 0 });
  });

  it('answers a malformed request with 400 and closes', () => {
    const net = new LoopbackNetwork();
    const a = net.addHost('a', '10.0.0.1');
    const b = net.addHost('b', '10.0.0.2');
    const responder = startHttpResponder(b.stack, { port: 80, podName: 'p' });
    let reply = '';
    let peerClosed = false;
    a.stack.connect({
      localAddr: a.addr,
      remoteAddr: b.addr,
      remotePort: 80,
      events: {
        onConnected: (c) => c.send(Buffer.from('HELLO\r\n\r\n')),
        onData: (_c, d) => {
          reply += Buffer.from(d).toString('latin1');
        },
        onPeerClosed: (c) => {
          peerClosed = true;
          c.close();
        },
      },
    });
    net.run();
    expect(reply.startsWith('HTTP/1.1 400 Bad Request\r\n')).toBe(true);
    expect(peerClosed).toBe(true);
    expect(responder.stats.badRequests).toBe(1);
  });
});

describe('TcpStack', () => {
  function stackWithRange(low: number, high: number) {
    const sent: TcpSegment[] = [];
    const stack = new TcpStack(
      {
        nowNs: () => 0,
        sendTcp: (s) => sent.push(s),
        setTimer: () => 0,
        clearTimer: () => {},
        rng: new Rng(3),
      },
      { ephemeralPortRange: [low, high] },
    );
    return { stack, sent };
  }

  it('uses the even ports of the range first, then the odd ones, then reports EADDRNOTAVAIL', () => {
    const { stack } = stackWithRange(40000, 40003);
    const ports: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = stack.connect({ localAddr: 1, remoteAddr: 2, remotePort: 80 });
      if (!r.ok) throw r.error;
      ports.push(r.connection.localPort);
    }
    expect(ports.slice(0, 2).sort()).toEqual([40000, 40002]);
    expect(ports.slice(2).sort()).toEqual([40001, 40003]);
    const full = stack.connect({ localAddr: 1, remoteAddr: 2, remotePort: 80 });
    expect(full.ok).toBe(false);
    if (!full.ok) expect(full.error.errno).toBe('EADDRNOTAVAIL');
    // Another destination may reuse the same ports (4-tuple uniqueness).
    expect(stack.connect({ localAddr: 1, remoteAddr: 3, remotePort: 80 }).ok).toBe(true);
  });

  it('resets a stray ACK to a listening port and ignores ICMP for unknown flows', () => {
    const { stack, sent } = stackWithRange(40000, 40003);
    stack.listen({ port: 80, onAccept: () => {} });
    stack.receive(segment({ flags: TcpFlag.ACK, ack: 4242 }));
    expect(sent.map((s) => [s.flags, s.seq])).toEqual([[TcpFlag.RST, 4242]]);
    stack.receiveIcmpError(3, 3, { src: 1, dst: 2, sport: 3, dport: 4 });
    expect(stack.size).toBe(0);
  });

  it('refuses bad ports and double listens with a TcpStackError', () => {
    const { stack } = stackWithRange(40000, 40003);
    expect(() => stack.listen({ port: 0, onAccept: () => {} })).toThrow(/listen port must be an integer/);
    stack.listen({ port: 80, onAccept: () => {} });
    expect(() => stack.listen({ port: 80, onAccept: () => {} })).toThrow(/already listened/);
    expect(() => stack.connect({ localAddr: 1, remoteAddr: 2, remotePort: 70000 })).toThrow(/remote port/);
  });

  it('refuses an impossible TCP configuration with a TcpStackError naming the setting', () => {
    const transport = stackWithRange(40000, 40003).stack.transport;
    expect(() => new TcpStack(transport, { config: { mss: 0 } })).toThrow(/mss must be/);
    expect(() => new TcpStack(transport, { config: { timeWaitNs: -1 } })).toThrow(/timeWaitNs must be/);
    expect(new TcpStack(transport, { config: { timeWaitNs: 1e9, mss: undefined } }).config.mss).toBe(1460);
  });
});
