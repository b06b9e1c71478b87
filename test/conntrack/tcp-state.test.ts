import { describe, expect, it } from 'vitest';
import { CtState } from '../../src/conntrack/constants.js';
import type { ConnRef } from '../../src/conntrack/index.js';
import {
  ConntrackTable,
  CT_TRACK_INVALID,
  CtDir,
  CtStatus,
  connOf,
  dirOf,
  NS_PER_SECOND,
  TCP_CT_IGNORE,
  TCP_CT_INVALID,
  TcpCtState,
  TcpFlagIndex,
  tcpNextState,
} from '../../src/conntrack/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { Rng } from '../../src/util/rng.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { TcpFlag } from '../../src/wire/tcp.js';

const CLIENT = parseIPv4('10.0.0.1');
const SERVER = parseIPv4('10.0.0.2');
const S = NS_PER_SECOND;

/** Sends one packet through track + confirm, as a node's hooks would. */
function send(ct: ConntrackTable, fromClient: boolean, flags: number, now: number): ConnRef {
  const ref = fromClient
    ? ct.track(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, flags, now)
    : ct.track(SERVER, CLIENT, 80, 40000, IpProtocol.TCP, flags, now);
  if (ref >= 0) expect(ct.confirm(ref, now)).toBe(0);
  return ref;
}

function newTable(tcpLoose = true): ConntrackTable {
  return new ConntrackTable({ max: 16, rng: new Rng(1), tcpLoose });
}

describe('TCP conntrack state machine', () => {
  it('follows handshake, data and FIN teardown through every state with the kernel timeouts', () => {
    const ct = newTable();
    const syn = send(ct, true, TcpFlag.SYN, 0);
    const c = connOf(syn);
    expect(ct.ctState).toBe(CtState.NEW);
    expect(ct.tcpState[c]).toBe(TcpCtState.SYN_SENT);
    expect(ct.expiresNs[c]).toBe(120 * S);
    expect(ct.status[c] & CtStatus.SEEN_REPLY).toBe(0);

    const synAck = send(ct, false, TcpFlag.SYN | TcpFlag.ACK, 1 * S);
    expect(connOf(synAck)).toBe(c);
    expect(dirOf(synAck)).toBe(CtDir.REPLY);
    expect(ct.ctState).toBe(CtState.ESTABLISHED);
    expect(ct.tcpState[c]).toBe(TcpCtState.SYN_RECV);
    expect(ct.expiresNs[c]).toBe(61 * S);
    expect(ct.status[c] & CtStatus.SEEN_REPLY).toBeTruthy();
    expect(ct.status[c] & CtStatus.ASSURED).toBe(0);

    send(ct, true, TcpFlag.ACK, 2 * S);
    expect(ct.tcpState[c]).toBe(TcpCtState.ESTABLISHED);
    expect(ct.status[c] & CtStatus.ASSURED).toBeTruthy();
    expect(ct.expiresNs[c]).toBe((2 + 432000) * S);

    send(ct, true, TcpFlag.PSH | TcpFlag.ACK, 3 * S);
    send(ct, false, TcpFlag.PSH | TcpFlag.ACK, 4 * S);
    expect(ct.tcpState[c]).toBe(TcpCtState.ESTABLISHED);

    const steps: [boolean, number, TcpCtState, number][] = [
      [true, TcpFlag.FIN | TcpFlag.ACK, TcpCtState.FIN_WAIT, 120],
      [false, TcpFlag.ACK, TcpCtState.CLOSE_WAIT, 60],
      [false, TcpFlag.FIN | TcpFlag.ACK, TcpCtState.LAST_ACK, 30],
      [true, TcpFlag.ACK, TcpCtState.TIME_WAIT, 120],
    ];
    let now = 10 * S;
    for (const [fromClient, flags, state, timeout] of steps) {
      expect(connOf(send(ct, fromClient, flags, now))).toBe(c);
      expect(ct.tcpState[c]).toBe(state);
      expect(ct.expiresNs[c]).toBe(now + timeout * S);
      now += S;
    }
    expect(ct.use[c]).toBe(1);
  });

  it('moves to CLOSE with the 10 s close timeout on RST of an established connection', () => {
    const ct = newTable();
    const c = connOf(send(ct, true, TcpFlag.SYN, 0));
    send(ct, false, TcpFlag.SYN | TcpFlag.ACK, 0);
    send(ct, true, TcpFlag.ACK, 0);
    send(ct, false, TcpFlag.RST, 5 * S);
    expect(ct.tcpState[c]).toBe(TcpCtState.CLOSE);
    expect(ct.expiresNs[c]).toBe(15 * S);
    expect(ct.find(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, 14 * S)).toBe(c << 1);
    expect(ct.find(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, 15 * S)).toBe(-1);
  });

  it('deletes the entry at once when the only answer to a SYN is an RST (port closed)', () => {
    const ct = newTable();
    send(ct, true, TcpFlag.SYN, 0);
    const rst = ct.track(SERVER, CLIENT, 80, 40000, IpProtocol.TCP, TcpFlag.RST | TcpFlag.ACK, S);
    expect(dirOf(rst)).toBe(CtDir.REPLY);
    // The RST itself still carries its connection (so NAT can be undone) ...
    expect(ct.find(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, S)).toBe(-1);
    expect(ct.count).toBe(1);
    ct.confirm(rst, S);
    // ... and once it has left, nothing remains.
    expect(ct.count).toBe(0);
  });

  it('marks out-of-state packets INVALID without creating or changing entries', () => {
    const ct = newTable();
    expect(ct.track(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, TcpFlag.SYN | TcpFlag.ACK, 0)).toBe(
      CT_TRACK_INVALID,
    );
    expect(ct.track(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, TcpFlag.FIN, 0)).toBe(CT_TRACK_INVALID);
    expect(ct.ctState).toBe(CtState.INVALID);
    expect(ct.count).toBe(0);
    const c = connOf(send(ct, true, TcpFlag.SYN, 0));
    // ACK from the client before any SYN/ACK: invalid in SYN_SENT.
    expect(ct.track(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, TcpFlag.ACK, 0)).toBe(CT_TRACK_INVALID);
    expect(ct.tcpState[c]).toBe(TcpCtState.SYN_SENT);
  });

  it('picks up a connection mid-stream from an ACK only when tcp_loose is on', () => {
    const loose = newTable(true);
    const c = connOf(send(loose, true, TcpFlag.ACK, 0));
    expect(loose.tcpState[c]).toBe(TcpCtState.ESTABLISHED);
    expect(loose.status[c] & CtStatus.ASSURED).toBe(0);
    send(loose, false, TcpFlag.ACK, 0);
    send(loose, true, TcpFlag.ACK, 0);
    expect(loose.status[c] & CtStatus.ASSURED).toBeTruthy();
    expect(newTable(false).track(CLIENT, SERVER, 40000, 80, IpProtocol.TCP, TcpFlag.ACK, 0)).toBe(
      CT_TRACK_INVALID,
    );
  });

  it('reopens a TIME_WAIT connection when the client reuses the tuple with a new SYN', () => {
    const ct = newTable();
    const old = connOf(send(ct, true, TcpFlag.SYN, 0));
    send(ct, false, TcpFlag.SYN | TcpFlag.ACK, 0);
    send(ct, true, TcpFlag.ACK, 0);
    send(ct, true, TcpFlag.FIN | TcpFlag.ACK, 0);
    send(ct, false, TcpFlag.FIN | TcpFlag.ACK, 0);
    send(ct, true, TcpFlag.ACK, 0);
    expect(ct.tcpState[old]).toBe(TcpCtState.TIME_WAIT);
    const fresh = send(ct, true, TcpFlag.SYN, S);
    expect(ct.ctState).toBe(CtState.NEW);
    expect(ct.tcpState[connOf(fresh)]).toBe(TcpCtState.SYN_SENT);
    expect(ct.status[connOf(fresh)] & CtStatus.ASSURED).toBe(0);
    expect(ct.count).toBe(1);
  });

  it('uses the current kernel table cells that differ from older published copies', () => {
    expect(tcpNextState(CtDir.ORIGINAL, TcpFlagIndex.SYNACK, TcpCtState.SYN_RECV)).toBe(TcpCtState.SYN_RECV);
    expect(tcpNextState(CtDir.ORIGINAL, TcpFlagIndex.SYNACK, TcpCtState.ESTABLISHED)).toBe(TCP_CT_INVALID);
    expect(tcpNextState(CtDir.REPLY, TcpFlagIndex.SYN, TcpCtState.TIME_WAIT)).toBe(TcpCtState.SYN_SENT);
    expect(tcpNextState(CtDir.REPLY, TcpFlagIndex.ACK, TcpCtState.SYN_SENT)).toBe(TCP_CT_IGNORE);
    expect(tcpNextState(CtDir.REPLY, TcpFlagIndex.SYN, TcpCtState.SYN_SENT)).toBe(TcpCtState.SYN_SENT2);
  });
});
