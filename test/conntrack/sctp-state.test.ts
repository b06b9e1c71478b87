import { describe, expect, it } from 'vitest';
import { CtState } from '../../src/conntrack/constants.js';
import {
  type ConnRef,
  ConntrackTable,
  CT_TRACK_INVALID,
  CtStatus,
  connOf,
  formatConntrackEntry,
  NS_PER_SECOND,
  SCTP_CT_STATE_NAMES,
  SctpCtState,
  sctpNextState,
} from '../../src/conntrack/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { Rng } from '../../src/util/rng.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { encodeSctpPacket, type SctpChunk, SctpChunkType, SctpParamType } from '../../src/wire/sctp.js';

const CLIENT = parseIPv4('10.0.0.1');
const SERVER = parseIPv4('10.0.0.2');
const S = NS_PER_SECOND;
const CLIENT_TAG = 0x1111aaaa;
const SERVER_TAG = 0x2222bbbb;

function newTable(): ConntrackTable {
  return new ConntrackTable({ max: 16, rng: new Rng(1) });
}

/** One packet through setSctpPacket + track + confirm, as a node's PREROUTING would see it. */
function send(
  ct: ConntrackTable,
  fromClient: boolean,
  vtag: number,
  chunks: SctpChunk[],
  now: number,
  corrupt = false,
): ConnRef {
  const wire = encodeSctpPacket({
    sport: fromClient ? 40000 : 5000,
    dport: fromClient ? 5000 : 40000,
    verificationTag: vtag,
    chunks,
  });
  if (corrupt) wire[wire.length - 1] ^= 0xff;
  ct.setSctpPacket(wire, 0, wire.length, true);
  const ref = fromClient
    ? ct.track(CLIENT, SERVER, 40000, 5000, IpProtocol.SCTP, 0, now)
    : ct.track(SERVER, CLIENT, 5000, 40000, IpProtocol.SCTP, 0, now);
  if (ref >= 0) expect(ct.confirm(ref, now)).toBe(0);
  return ref;
}

const init = (tag: number): SctpChunk => ({
  kind: 'init',
  flags: 0,
  initiateTag: tag,
  aRwnd: 106496,
  outboundStreams: 10,
  inboundStreams: 10,
  initialTsn: 1,
  params: [],
});
const initAck = (tag: number): SctpChunk =>
  ({
    ...(init(tag) as object),
    kind: 'init-ack',
    params: [{ type: SctpParamType.STATE_COOKIE, value: Uint8Array.of(1, 2, 3, 4) }],
  }) as SctpChunk;
const data = (tsn: number): SctpChunk => ({
  kind: 'data',
  flags: 3,
  tsn,
  streamId: 0,
  streamSeq: 0,
  ppid: 0,
  payload: Uint8Array.of(0x68, 0x69),
});

/** Runs the handshake; returns the connection id. */
function establish(ct: ConntrackTable): number {
  const c = connOf(send(ct, true, 0, [init(CLIENT_TAG)], 0));
  send(ct, false, CLIENT_TAG, [initAck(SERVER_TAG)], S);
  send(ct, true, SERVER_TAG, [{ kind: 'cookie-echo', flags: 0, cookie: Uint8Array.of(1, 2, 3, 4) }], 2 * S);
  send(ct, false, CLIENT_TAG, [{ kind: 'cookie-ack', flags: 0 }], 3 * S);
  return c;
}

describe('SCTP conntrack (nf_conntrack_proto_sctp)', () => {
  it('follows INIT, INIT ACK, COOKIE ECHO, COOKIE ACK, DATA and the SHUTDOWN sequence with the kernel timeouts', () => {
    const ct = newTable();
    const first = send(ct, true, 0, [init(CLIENT_TAG)], 0);
    const c = connOf(first);
    expect(ct.ctState).toBe(CtState.NEW);
    const steps: [boolean, number, SctpChunk[], SctpCtState, number][] = [
      [false, CLIENT_TAG, [initAck(SERVER_TAG)], SctpCtState.COOKIE_WAIT, 3],
      [
        true,
        SERVER_TAG,
        [{ kind: 'cookie-echo', flags: 0, cookie: Uint8Array.of(9) }, data(1)],
        SctpCtState.COOKIE_ECHOED,
        3,
      ],
      [false, CLIENT_TAG, [{ kind: 'cookie-ack', flags: 0 }], SctpCtState.ESTABLISHED, 210],
      [false, CLIENT_TAG, [data(1)], SctpCtState.ESTABLISHED, 210],
      [
        true,
        SERVER_TAG,
        [{ kind: 'sack', flags: 0, cumulativeTsnAck: 1, aRwnd: 1000, gapBlocks: [], duplicateTsns: [] }],
        SctpCtState.ESTABLISHED,
        210,
      ],
      [true, SERVER_TAG, [{ kind: 'shutdown', flags: 0, cumulativeTsnAck: 1 }], SctpCtState.SHUTDOWN_SENT, 3],
      [false, CLIENT_TAG, [{ kind: 'shutdown-ack', flags: 0 }], SctpCtState.SHUTDOWN_ACK_SENT, 3],
      [true, SERVER_TAG, [{ kind: 'shutdown-complete', flags: 0 }], SctpCtState.CLOSED, 10],
    ];
    expect(ct.tcpState[c]).toBe(SctpCtState.CLOSED);
    expect(ct.expiresNs[c]).toBe(10 * S);
    let now = 0;
    for (const [fromClient, vtag, chunks, state, timeout] of steps) {
      now += S;
      const ref = send(ct, fromClient, vtag, chunks, now);
      expect(ref, `${chunks[0].kind} accepted`).toBeGreaterThanOrEqual(0);
      expect(SCTP_CT_STATE_NAMES[ct.tcpState[c]], `after ${chunks[0].kind}`).toBe(SCTP_CT_STATE_NAMES[state]);
      expect(ct.expiresNs[c]).toBe(now + timeout * S);
    }
    expect(ct.status[c] & CtStatus.ASSURED).toBeTruthy();
  });

  it('becomes ASSURED only with the COOKIE ACK', () => {
    const ct = newTable();
    const c = connOf(send(ct, true, 0, [init(CLIENT_TAG)], 0));
    send(ct, false, CLIENT_TAG, [initAck(SERVER_TAG)], S);
    send(ct, true, SERVER_TAG, [{ kind: 'cookie-echo', flags: 0, cookie: Uint8Array.of(1) }], 2 * S);
    expect(ct.status[c] & CtStatus.ASSURED).toBe(0);
    send(ct, false, CLIENT_TAG, [{ kind: 'cookie-ack', flags: 0 }], 3 * S);
    expect(ct.status[c] & CtStatus.ASSURED).toBeTruthy();
  });

  it('marks a DATA chunk with the wrong verification tag INVALID and leaves the entry alone', () => {
    const ct = newTable();
    const c = establish(ct);
    const before = ct.expiresNs[c];
    expect(send(ct, true, 0xdeadbeef, [data(2)], 4 * S)).toBe(CT_TRACK_INVALID);
    expect(ct.ctState).toBe(CtState.INVALID);
    expect(ct.expiresNs[c]).toBe(before);
    expect(send(ct, true, SERVER_TAG, [data(2)], 4 * S)).toBeGreaterThanOrEqual(0);
  });

  it('never starts a connection from DATA, COOKIE ACK, ABORT or SHUTDOWN COMPLETE (out of the blue)', () => {
    for (const chunk of [
      data(1),
      { kind: 'cookie-ack', flags: 0 },
      { kind: 'abort', flags: 0, causes: new Uint8Array(0) },
      { kind: 'shutdown-complete', flags: 0 },
    ] as SctpChunk[]) {
      const ct = newTable();
      expect(send(ct, true, 5, [chunk], 0), chunk.kind).toBe(CT_TRACK_INVALID);
      expect(ct.count).toBe(0);
    }
  });

  it('marks an INIT with a non-zero verification tag INVALID (RFC 9260 8.5.1 A)', () => {
    expect(send(newTable(), true, 7, [init(CLIENT_TAG)], 0)).toBe(CT_TRACK_INVALID);
  });

  it('marks a packet with a bad CRC32c INVALID at PREROUTING (nf_conntrack_checksum)', () => {
    const ct = newTable();
    establish(ct);
    expect(send(ct, true, SERVER_TAG, [data(2)], 4 * S, true)).toBe(CT_TRACK_INVALID);
  });

  it('accepts an ABORT with the T bit carrying the peer’s own tag, and closes', () => {
    const ct = newTable();
    const c = establish(ct);
    expect(
      send(ct, false, SERVER_TAG, [{ kind: 'abort', flags: 1, causes: new Uint8Array(0) }], 4 * S),
    ).toBeGreaterThanOrEqual(0);
    expect(ct.tcpState[c]).toBe(SctpCtState.CLOSED);
  });

  it('keeps the kernel table cells: reply INIT in NONE is invalid, HEARTBEAT opens HEARTBEAT_SENT', () => {
    expect(sctpNextState(1, SctpCtState.NONE, SctpChunkType.INIT)).toBe(9);
    expect(sctpNextState(0, SctpCtState.NONE, SctpChunkType.HEARTBEAT)).toBe(SctpCtState.HEARTBEAT_SENT);
    expect(sctpNextState(1, SctpCtState.HEARTBEAT_SENT, SctpChunkType.HEARTBEAT_ACK)).toBe(
      SctpCtState.ESTABLISHED,
    );
    expect(sctpNextState(0, SctpCtState.ESTABLISHED, SctpChunkType.DATA)).toBe(SctpCtState.ESTABLISHED);
  });

  it('prints the entry as conntrack -L does', () => {
    const ct = newTable();
    const c = establish(ct);
    expect(formatConntrackEntry(ct, c, 3 * S + S / 2)).toBe(
      'sctp     132 209 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=5000 src=10.0.0.2 dst=10.0.0.1 sport=5000 dport=40000 [ASSURED] mark=0 use=1',
    );
  });

  it('tracks a secondary path from its HEARTBEAT: HEARTBEAT_SENT (30 s), then ESTABLISHED on the HEARTBEAT ACK', () => {
    const ct = newTable();
    const hb = (kind: 'heartbeat' | 'heartbeat-ack'): SctpChunk => ({
      kind,
      flags: 0,
      info: Uint8Array.of(1, 2, 3, 4),
    });
    const c = connOf(send(ct, true, SERVER_TAG, [hb('heartbeat')], 0));
    expect(ct.tcpState[c]).toBe(SctpCtState.HEARTBEAT_SENT);
    expect(ct.expiresNs[c]).toBe(30 * S);
    expect(send(ct, false, CLIENT_TAG, [hb('heartbeat-ack')], S)).toBeGreaterThanOrEqual(0);
    expect(ct.tcpState[c]).toBe(SctpCtState.ESTABLISHED);
    expect(ct.status[c] & CtStatus.ASSURED).toBeTruthy();
    // Both tags were learnt from the heartbeats: DATA with the wrong tag is now INVALID.
    expect(send(ct, true, 0x12345678, [data(1)], 2 * S)).toBe(CT_TRACK_INVALID);
    expect(send(ct, true, SERVER_TAG, [data(1)], 2 * S)).toBeGreaterThanOrEqual(0);
  });

  it('does not refresh the timeout of a CLOSED entry on a retransmitted INIT (port reuse cannot keep it alive)', () => {
    const ct = newTable();
    const c = connOf(send(ct, true, 0, [init(CLIENT_TAG)], 0));
    expect(ct.expiresNs[c]).toBe(10 * S);
    expect(send(ct, true, 0, [init(CLIENT_TAG)], 5 * S)).toBeGreaterThanOrEqual(0);
    expect(ct.expiresNs[c]).toBe(10 * S);
  });
});
