import { describe, expect, it } from 'vitest';
import {
  ConntrackConfigError,
  ConntrackTable,
  CT_DROP_REASON_NAMES,
  CT_TRACK_DROP,
  CtDropReason,
  CtStat,
} from '../../src/conntrack/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { Rng } from '../../src/util/rng.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { TcpFlag } from '../../src/wire/tcp.js';

const SERVER = parseIPv4('10.0.0.2');

/** An ASSURED TCP connection from client port `port`. */
function assured(ct: ConntrackTable, port: number): void {
  const client = parseIPv4('10.0.0.1');
  for (const [fromClient, flags] of [
    [true, TcpFlag.SYN],
    [false, TcpFlag.SYN | TcpFlag.ACK],
    [true, TcpFlag.ACK],
  ] as const) {
    const ref = fromClient
      ? ct.track(client, SERVER, port, 80, IpProtocol.TCP, flags, 0)
      : ct.track(SERVER, client, 80, port, IpProtocol.TCP, flags, 0);
    expect(ct.confirm(ref, 0)).toBe(0);
  }
}

describe('nf_conntrack_max (table full)', () => {
  it('drops a new connection when every entry is ASSURED, counting "table full, dropping packet"', () => {
    const ct = new ConntrackTable({ max: 4, rng: new Rng(1) });
    for (let p = 1; p <= 4; p++) assured(ct, 1000 + p);
    expect(ct.count).toBe(4);
    expect(ct.track(parseIPv4('10.0.0.9'), SERVER, 5555, 80, IpProtocol.TCP, TcpFlag.SYN, 1)).toBe(
      CT_TRACK_DROP,
    );
    expect(ct.lastDropReason).toBe(CtDropReason.TABLE_FULL);
    expect(CT_DROP_REASON_NAMES[ct.lastDropReason]).toBe('nf_conntrack: table full, dropping packet');
    expect(ct.drops[CtDropReason.TABLE_FULL]).toBe(1);
    expect(ct.stats[CtStat.DROP]).toBe(1);
    // Existing connections keep working.
    expect(
      ct.track(parseIPv4('10.0.0.1'), SERVER, 1001, 80, IpProtocol.TCP, TcpFlag.ACK, 2),
    ).toBeGreaterThanOrEqual(0);
  });

  it('early-drops a non-ASSURED entry to admit the new connection', () => {
    const ct = new ConntrackTable({ max: 4, rng: new Rng(1) });
    for (let p = 1; p <= 3; p++) assured(ct, 1000 + p);
    const unreplied = ct.track(parseIPv4('10.0.0.7'), SERVER, 7777, 53, IpProtocol.UDP, 0, 0);
    ct.confirm(unreplied, 0);
    const ref = ct.track(parseIPv4('10.0.0.9'), SERVER, 5555, 80, IpProtocol.TCP, TcpFlag.SYN, 1);
    expect(ref).toBeGreaterThanOrEqual(0);
    expect(ct.confirm(ref, 1)).toBe(0);
    expect(ct.stats[CtStat.EARLY_DROP]).toBe(1);
    expect(ct.find(parseIPv4('10.0.0.7'), SERVER, 7777, 53, IpProtocol.UDP, 1)).toBe(-1);
    expect(ct.count).toBe(4);
    expect(ct.drops[CtDropReason.TABLE_FULL]).toBe(0);
  });

  it('rejects an impossible nf_conntrack_max', () => {
    expect(() => new ConntrackTable({ max: 0, rng: new Rng(1) })).toThrow(ConntrackConfigError);
  });
});
