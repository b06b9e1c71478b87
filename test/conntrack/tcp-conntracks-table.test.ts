/**
 * Every cell of dpsim's TCP conntrack transition table against the kernel's
 * `tcp_conntracks[2][6][TCP_CONNTRACK_MAX]` (net/netfilter/nf_conntrack_proto_tcp.c, as in
 * 6.x kernels), restated below in the kernel's own layout, then the two teardowns — client
 * closes first and server closes first — through `ConntrackTable.track` with the per-state
 * timeouts. A single wrong cell (say a reply-direction ACK in LAST_ACK going to CLOSE instead
 * of TIME_WAIT) fails a row here, naming the cell.
 */

import { describe, expect, it } from 'vitest';
import type { ConnId, ConnRef } from '../../src/conntrack/index.js';
import {
  ConntrackTable,
  CtDir,
  connOf,
  NS_PER_SECOND,
  TCP_CT_IGNORE,
  TCP_CT_INVALID,
  TCP_CT_STATE_NAMES,
  TcpCtState,
  tcpFlagIndex,
  tcpNextState,
} from '../../src/conntrack/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { Rng } from '../../src/util/rng.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { TcpFlag } from '../../src/wire/tcp.js';

const [TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST] = [TcpFlag.SYN, TcpFlag.ACK, TcpFlag.FIN, TcpFlag.RST];

/** Column order of the kernel's table (enum tcp_conntrack). */
const KERNEL_COLUMNS = ['sNO', 'sSS', 'sSR', 'sES', 'sFW', 'sCW', 'sLA', 'sTW', 'sCL', 'sS2'] as const;

/** The kernel's rows: [direction, packet class (get_conntrack_index), the 10 cells]. */
// biome-ignore format: the kernel's table layout, one row per line
const KERNEL_TCP_CONNTRACKS: readonly (readonly [dir: 'ORIGINAL' | 'REPLY', packet: string, flags: number, cells: string])[] = [
  ['ORIGINAL', 'syn',    TCP_SYN,           'sSS sSS sIG sIG sIG sIG sIG sSS sSS sS2'],
  ['ORIGINAL', 'synack', TCP_SYN | TCP_ACK, 'sIV sIV sSR sIV sIV sIV sIV sIV sIV sSR'],
  ['ORIGINAL', 'fin',    TCP_FIN | TCP_ACK, 'sIV sIV sFW sFW sLA sLA sLA sTW sCL sIV'],
  ['ORIGINAL', 'ack',    TCP_ACK,           'sES sIV sES sES sCW sCW sTW sTW sCL sIV'],
  ['ORIGINAL', 'rst',    TCP_RST,           'sIV sCL sCL sCL sCL sCL sCL sCL sCL sCL'],
  ['ORIGINAL', 'none',   0,                 'sIV sIV sIV sIV sIV sIV sIV sIV sIV sIV'],
  ['REPLY',    'syn',    TCP_SYN,           'sIV sS2 sIV sIV sIV sIV sIV sSS sIV sS2'],
  ['REPLY',    'synack', TCP_SYN | TCP_ACK, 'sIV sSR sIG sIG sIG sIG sIG sIG sIG sSR'],
  ['REPLY',    'fin',    TCP_FIN | TCP_ACK, 'sIV sIV sFW sFW sLA sLA sLA sTW sCL sIV'],
  ['REPLY',    'ack',    TCP_ACK,           'sIV sIG sSR sES sCW sCW sTW sTW sCL sIG'],
  ['REPLY',    'rst',    TCP_RST,           'sIV sCL sCL sCL sCL sCL sCL sCL sCL sCL'],
  ['REPLY',    'none',   0,                 'sIV sIV sIV sIV sIV sIV sIV sIV sIV sIV'],
];

/** A cell of dpsim's table in the kernel's spelling (sIV, sIG, or the state's short name). */
function kernelSpelling(next: number): string {
  if (next === TCP_CT_INVALID) return 'sIV';
  if (next === TCP_CT_IGNORE) return 'sIG';
  return KERNEL_COLUMNS[next] ?? `?${next}`;
}

describe('tcp_conntracks, cell by cell against the kernel table', () => {
  it('restates the kernel’s column order: the state values conntrack -L and dpsim share', () => {
    expect(KERNEL_COLUMNS.map((_, i) => TCP_CT_STATE_NAMES[i])).toEqual([
      'NONE',
      'SYN_SENT',
      'SYN_RECV',
      'ESTABLISHED',
      'FIN_WAIT',
      'CLOSE_WAIT',
      'LAST_ACK',
      'TIME_WAIT',
      'CLOSE',
      'SYN_SENT2',
    ]);
  });

  it.each(KERNEL_TCP_CONNTRACKS)(
    '%s %s: every current state goes where the kernel’s row says',
    (dir, packet, flags, cells) => {
      const d = dir === 'ORIGINAL' ? CtDir.ORIGINAL : CtDir.REPLY;
      const index = tcpFlagIndex(flags);
      const got = KERNEL_COLUMNS.map((state, s) => `${state}->${kernelSpelling(tcpNextState(d, index, s))}`);
      const want = cells.split(' ').map((cell, s) => `${KERNEL_COLUMNS[s]}->${cell}`);
      expect(got, `${dir} ${packet}`).toEqual(want);
    },
  );
});

const CLIENT = parseIPv4('10.0.0.1');
const SERVER = parseIPv4('10.0.0.2');
const S = NS_PER_SECOND;

/** One packet through track + confirm, as a node's hooks would send it. */
function send(ct: ConntrackTable, fromClient: boolean, flags: number, now: number): ConnRef {
  const ref = fromClient
    ? ct.track(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, flags, now)
    : ct.track(SERVER, CLIENT, 80, 40000, IpProtocol.TCP, flags, now);
  if (ref >= 0) expect(ct.confirm(ref, now)).toBe(0);
  return ref;
}

/** A connection the client opened, handshake done (ESTABLISHED, assured); returns its index. */
function established(ct: ConntrackTable): ConnId {
  const c = connOf(send(ct, true, TCP_SYN, 0));
  send(ct, false, TCP_SYN | TCP_ACK, 0);
  send(ct, true, TCP_ACK, 0);
  expect(ct.tcpState[c]).toBe(TcpCtState.ESTABLISHED);
  return c;
}

type Step = readonly [who: 'client' | 'server', flags: number, state: TcpCtState, timeoutS: number];

/** Plays the steps one second apart, checking the state and its timeout after each. */
function playTeardown(steps: readonly Step[]): ConntrackTable {
  const ct = new ConntrackTable({ max: 16, rng: new Rng(1), tcpLoose: true });
  const c = established(ct);
  let now = 10 * S;
  for (const [who, flags, state, timeoutS] of steps) {
    const ref = send(ct, who === 'client', flags, now);
    expect(connOf(ref), `${who} ${flags}`).toBe(c);
    expect(TCP_CT_STATE_NAMES[ct.tcpState[c]], `after the ${who}'s packet (flags ${flags})`).toBe(
      TCP_CT_STATE_NAMES[state],
    );
    expect(ct.expiresNs[c]).toBe(now + timeoutS * S);
    now += S;
  }
  return ct;
}

describe('TCP teardown through the conntrack table (kernel states and timeouts)', () => {
  it('client closes first: its FIN makes FIN_WAIT, the server’s ACK CLOSE_WAIT, the server’s FIN LAST_ACK and the client’s last ACK TIME_WAIT (120 s), after which the entry is gone', () => {
    const ct = playTeardown([
      ['client', TCP_FIN | TCP_ACK, TcpCtState.FIN_WAIT, 120],
      ['server', TCP_ACK, TcpCtState.CLOSE_WAIT, 60],
      ['server', TCP_FIN | TCP_ACK, TcpCtState.LAST_ACK, 30],
      ['client', TCP_ACK, TcpCtState.TIME_WAIT, 120],
    ]);
    expect(ct.find(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, (13 + 119) * S)).toBeGreaterThanOrEqual(0);
    expect(ct.find(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, (13 + 120) * S)).toBe(-1);
  });

  it('server closes first: its FIN (reply direction) makes FIN_WAIT, the client’s ACK CLOSE_WAIT, the client’s FIN LAST_ACK and the server’s last ACK (reply direction, in LAST_ACK) TIME_WAIT — not CLOSE — for 120 s', () => {
    const ct = playTeardown([
      ['server', TCP_FIN | TCP_ACK, TcpCtState.FIN_WAIT, 120],
      ['client', TCP_ACK, TcpCtState.CLOSE_WAIT, 60],
      ['client', TCP_FIN | TCP_ACK, TcpCtState.LAST_ACK, 30],
      ['server', TCP_ACK, TcpCtState.TIME_WAIT, 120],
    ]);
    expect(ct.find(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, (13 + 119) * S)).toBeGreaterThanOrEqual(0);
    expect(ct.find(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, (13 + 120) * S)).toBe(-1);
  });

  it('simultaneous close: both FINs (FIN_WAIT, then LAST_ACK), then either last ACK makes TIME_WAIT', () => {
    playTeardown([
      ['client', TCP_FIN | TCP_ACK, TcpCtState.FIN_WAIT, 120],
      ['server', TCP_FIN | TCP_ACK, TcpCtState.LAST_ACK, 30],
      ['server', TCP_ACK, TcpCtState.TIME_WAIT, 120],
      ['client', TCP_ACK, TcpCtState.TIME_WAIT, 120],
    ]);
  });
});
