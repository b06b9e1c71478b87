import { describe, expect, it } from 'vitest';
import type { ConnId, ConnRef } from '../../src/conntrack/index.js';
import {
  ConntrackTable,
  CtStat,
  CtStatus,
  connOf,
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  icmpTypeCode,
  kubeProxyTimeouts,
  NS_PER_SECOND,
  TcpCtState,
} from '../../src/conntrack/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { Rng } from '../../src/util/rng.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { TcpFlag } from '../../src/wire/tcp.js';

const A = parseIPv4('10.0.0.1');
const B = parseIPv4('10.0.0.2');
const S = NS_PER_SECOND;

function pass(ct: ConntrackTable, ref: ConnRef, now: number): ConnId {
  expect(ref).toBeGreaterThanOrEqual(0);
  expect(ct.confirm(ref, now)).toBe(0);
  return connOf(ref);
}

describe('conntrack timeouts on the simulated clock', () => {
  it('expires an unreplied UDP flow after 30 s', () => {
    const ct = new ConntrackTable({ max: 8, rng: new Rng(1) });
    const c = pass(ct, ct.track(A, B, 5000, 53, IpProtocol.UDP, 0, 0), 0);
    expect(ct.find(A, B, 5000, 53, IpProtocol.UDP, 30 * S - 1)).toBe(c << 1);
    expect(ct.find(A, B, 5000, 53, IpProtocol.UDP, 30 * S)).toBe(-1);
  });

  it('promotes a UDP flow still active after 2 s with traffic both ways to an ASSURED 120 s stream', () => {
    const ct = new ConntrackTable({ max: 8, rng: new Rng(1) });
    const c = pass(ct, ct.track(A, B, 5000, 53, IpProtocol.UDP, 0, 0), 0);
    pass(ct, ct.track(B, A, 53, 5000, IpProtocol.UDP, 0, S / 2), S / 2);
    expect(ct.status[c] & CtStatus.SEEN_REPLY).toBeTruthy();
    pass(ct, ct.track(A, B, 5000, 53, IpProtocol.UDP, 0, S), S);
    expect(ct.status[c] & CtStatus.ASSURED).toBe(0);
    expect(ct.expiresNs[c]).toBe(31 * S);
    pass(ct, ct.track(A, B, 5000, 53, IpProtocol.UDP, 0, 3 * S), 3 * S);
    expect(ct.status[c] & CtStatus.ASSURED).toBeTruthy();
    expect(ct.expiresNs[c]).toBe(123 * S);
  });

  it('times out ICMP echo after 30 s and TCP ESTABLISHED after 5 days (kube-proxy: 1 day)', () => {
    const ct = new ConntrackTable({ max: 8, rng: new Rng(1) });
    const ping = pass(ct, ct.track(A, B, 77, icmpTypeCode(ICMP_ECHO, 0), IpProtocol.ICMP, 0, 0), 0);
    expect(ct.track(B, A, 77, icmpTypeCode(ICMP_ECHOREPLY, 0), IpProtocol.ICMP, 0, S)).toBe((ping << 1) | 1);
    expect(ct.expiresNs[ping]).toBe(31 * S);

    for (const [timeouts, established] of [
      [undefined, 432000],
      [kubeProxyTimeouts(), 86400],
    ] as const) {
      const t = new ConntrackTable({ max: 8, rng: new Rng(1), timeouts });
      const c = pass(t, t.track(A, B, 40000, 80, IpProtocol.TCP, TcpFlag.SYN, 0), 0);
      pass(t, t.track(B, A, 80, 40000, IpProtocol.TCP, TcpFlag.SYN | TcpFlag.ACK, 0), 0);
      pass(t, t.track(A, B, 40000, 80, IpProtocol.TCP, TcpFlag.ACK, 0), 0);
      expect(t.tcpState[c]).toBe(TcpCtState.ESTABLISHED);
      expect(t.expiresNs[c]).toBe(established * S);
    }
  });

  it('treats an expired entry as gone on lookup and tracks the packet as a new connection', () => {
    const ct = new ConntrackTable({ max: 8, rng: new Rng(1) });
    pass(ct, ct.track(A, B, 5000, 53, IpProtocol.UDP, 0, 0), 0);
    pass(ct, ct.track(B, A, 53, 5000, IpProtocol.UDP, 0, 0), 0);
    const ref = ct.track(A, B, 5000, 53, IpProtocol.UDP, 0, 40 * S);
    const c = pass(ct, ref, 40 * S);
    expect(ct.status[c] & CtStatus.SEEN_REPLY).toBe(0);
    expect(ct.stats[CtStat.EXPIRED]).toBe(1);
    expect(ct.count).toBe(1);
  });

  it('gc(now) sweeps exactly the expired entries', () => {
    const ct = new ConntrackTable({ max: 64, rng: new Rng(1) });
    for (let p = 0; p < 10; p++) pass(ct, ct.track(A, B, 1000 + p, 53, IpProtocol.UDP, 0, p * S), p * S);
    // Entry p expires at (p + 30) s: at 35 s, p = 0..5 are gone.
    expect(ct.gc(35 * S)).toBe(6);
    expect(ct.count).toBe(4);
    expect(ct.tuples.count).toBe(8);
    expect(ct.gc(35 * S)).toBe(0);
  });
});
