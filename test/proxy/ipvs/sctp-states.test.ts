/** IPVS's own SCTP state machine (ip_vs_proto_sctp.c) and its `ipvsadm -Lnc` names. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCTP_TIMEOUTS_S,
  IpvsSctpState,
  nextSctpState,
  SCTP_STATE_NAMES,
} from '../../../src/proxy/ipvs/proto-states.js';
import { parseIPv4 } from '../../../src/util/ipv4.js';
import { SctpChunkType } from '../../../src/wire/sctp.js';
import { buildSmall, NODE_IPS } from '../../sim/harness.js';
import { SCTP_YAML } from '../../sim/scenarios.js';

const IN = 0;
const OUT = 1;

describe('IPVS SCTP connection states', () => {
  it('walks a client association INIT1, C-SENT, C-REPLIED, ESTABLISHED, S-RECEIVED, S-ACK-SENT, CLOSED with the kernel timeouts', () => {
    const steps: [number, number, string, number][] = [
      [IN, SctpChunkType.INIT, 'INIT1', 4],
      [OUT, SctpChunkType.INIT_ACK, 'C-SENT', 61],
      [IN, SctpChunkType.COOKIE_ECHO, 'C-REPLIED', 61],
      [OUT, SctpChunkType.COOKIE_ACK, 'ESTABLISHED', 900],
      [IN, SctpChunkType.DATA, 'ESTABLISHED', 900],
      [OUT, SctpChunkType.SACK, 'ESTABLISHED', 900],
      [IN, SctpChunkType.SHUTDOWN, 'S-RECEIVED', 61],
      [OUT, SctpChunkType.SHUTDOWN_ACK, 'S-ACK-SENT', 61],
      [IN, SctpChunkType.SHUTDOWN_COMPLETE, 'CLOSED', 61],
    ];
    let state: number = IpvsSctpState.NONE;
    for (const [dir, chunk, name, timeout] of steps) {
      state = nextSctpState(dir, chunk, state);
      expect(SCTP_STATE_NAMES[state], `chunk ${chunk}`).toBe(name);
      expect(DEFAULT_SCTP_TIMEOUTS_S[state]).toBe(timeout);
    }
  });

  it('keeps the table cells for a rejected INIT: an ABORT from the server in INIT1 means REJECTED (4 s)', () => {
    const s = nextSctpState(
      OUT,
      SctpChunkType.ABORT,
      nextSctpState(IN, SctpChunkType.INIT, IpvsSctpState.NONE),
    );
    expect(SCTP_STATE_NAMES[s]).toBe('REJECTED');
    expect(DEFAULT_SCTP_TIMEOUTS_S[s]).toBe(4);
  });

  it('ipvsadm -Lnc shows the association CLOSED after its SHUTDOWN COMPLETE, counted inactive', () => {
    const sim = buildSmall({ manifests: SCTP_YAML, mode: 'ipvs', seed: 1 });
    expect(
      sim.sctpRequest('client', parseIPv4(NODE_IPS[0]), 30868, new TextEncoder().encode('CER')).status,
    ).toBe('ok');
    const conns = sim.rules('node1', { part: 'connections' }).split('\n');
    const sctp = conns.filter((l) => l.startsWith('SCTP '));
    expect(sctp).toHaveLength(1);
    expect(sctp[0]).toMatch(
      /^SCTP 01:00 {2}CLOSED {6}192\.168\.100\.1:\d+ 192\.168\.100\.100:30868 10\.233\.\d+\.\d+:3868$/,
    );
    const ipvsadm = sim.rules('node1', { part: 'ipvsadm' });
    const block = ipvsadm.slice(ipvsadm.indexOf('SCTP 192.168.100.100:30868'));
    const inactive = block
      .split('\n')
      .slice(1, 4)
      .map((l) => Number(l.trim().split(/\s+/)[5]));
    expect(inactive.reduce((a, b) => a + b, 0)).toBe(1);
  });
});
