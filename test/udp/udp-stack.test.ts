/** The UDP socket layer alone, over a transport that records what it is asked to send. */
import { describe, expect, it } from 'vitest';
import { type UdpDatagram, UdpStack, UdpStackError, type UdpTransport } from '../../src/apps/index.js';
import { Rng } from '../../src/util/rng.js';

const LOCAL = 0x0a000001;
const PEER = 0x0a000002;
const OTHER = 0x0a000003;

function transport(): UdpTransport & { sent: UdpDatagram[] } {
  const sent: UdpDatagram[] = [];
  return {
    sent,
    nowNs: () => 0,
    setTimer: () => 0,
    clearTimer: () => {},
    rng: new Rng(1),
    sendUdp: (d) => sent.push(d),
    sourceAddressFor: () => LOCAL,
  };
}

const dgram = (src: number, sport: number, dport: number): UdpDatagram => ({
  src,
  dst: LOCAL,
  sport,
  dport,
  payload: new Uint8Array([1]),
});

describe('UdpStack', () => {
  it('sends from the bound port and the route source address, to the address and port asked', () => {
    const t = transport();
    const s = new UdpStack(t).bind({ port: 5000 });
    s.sendTo(PEER, 53, new Uint8Array([7]));
    expect(t.sent).toEqual([{ src: LOCAL, dst: PEER, sport: 5000, dport: 53, payload: new Uint8Array([7]) }]);
  });

  it('gives an unbound-port socket an ephemeral port in 32768-60999 and never the same one twice', () => {
    const stack = new UdpStack(transport());
    const ports = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const p = stack.bind().localPort;
      expect(p).toBeGreaterThanOrEqual(32768);
      expect(p).toBeLessThanOrEqual(60999);
      ports.add(p);
    }
    expect(ports.size).toBe(200);
  });

  it('refuses a second unconnected socket on a bound port (EADDRINUSE) and frees the port on close', () => {
    const stack = new UdpStack(transport());
    const s = stack.bind({ port: 53 });
    expect(() => stack.bind({ port: 53 })).toThrow(UdpStackError);
    expect(() => stack.bind({ port: 53 })).toThrow(/EADDRINUSE/);
    s.close();
    expect(stack.bind({ port: 53 }).localPort).toBe(53);
  });

  it('delivers to the socket on the port, and says false (ICMP port unreachable) for a port nobody bound', () => {
    const stack = new UdpStack(transport());
    const got: number[] = [];
    stack.bind({ port: 53, onDatagram: (d) => got.push(d.sport) });
    expect(stack.receive(dgram(PEER, 1111, 53))).toBe(true);
    expect(stack.receive(dgram(PEER, 1111, 54))).toBe(false);
    expect(got).toEqual([1111]);
  });

  it('a connected socket receives only from its peer; its datagrams from others find no socket', () => {
    const stack = new UdpStack(transport());
    const got: string[] = [];
    const s = stack.bind({ port: 40000, onDatagram: (d) => got.push(`${d.src}:${d.sport}`) });
    s.connect(PEER, 53);
    expect(stack.receive(dgram(PEER, 53, 40000))).toBe(true);
    expect(stack.receive(dgram(OTHER, 53, 40000))).toBe(false);
    expect(stack.receive(dgram(PEER, 54, 40000))).toBe(false);
    expect(got).toEqual([`${PEER}:53`]);
  });

  it('reports port unreachable to a connected socket as ECONNREFUSED (SO_ERROR), and ignores it on an unconnected one', () => {
    const stack = new UdpStack(transport());
    const errors: string[] = [];
    const connected = stack.bind({ port: 40000, onError: (e) => errors.push(e.errno) });
    connected.connect(PEER, 53);
    const unconnected = stack.bind({ port: 40001, onError: (e) => errors.push(`unconnected ${e.errno}`) });
    expect(stack.receiveIcmpError(3, 3, { src: LOCAL, dst: PEER, sport: 40000, dport: 53 })).toBe(true);
    expect(stack.receiveIcmpError(3, 3, { src: LOCAL, dst: PEER, sport: 40001, dport: 53 })).toBe(false);
    expect(errors).toEqual(['ECONNREFUSED']);
    expect(connected.takeError()?.errno).toBe('ECONNREFUSED');
    expect(connected.takeError()).toBeNull();
    expect(unconnected.takeError()).toBeNull();
    // Host unreachable → EHOSTUNREACH, as icmp_err_convert maps code 1.
    expect(stack.receiveIcmpError(3, 1, { src: LOCAL, dst: PEER, sport: 40000, dport: 53 })).toBe(true);
    expect(errors).toEqual(['ECONNREFUSED', 'EHOSTUNREACH']);
  });

  it('rejects ports outside 0..65535 with a clear message', () => {
    const stack = new UdpStack(transport());
    expect(() => stack.bind({ port: 70000 })).toThrow('local port must be an integer in 0..65535, got 70000');
    const s = stack.bind();
    expect(() => s.sendTo(PEER, 0, new Uint8Array())).toThrow(
      'destination port must be an integer in 1..65535, got 0',
    );
  });
});
