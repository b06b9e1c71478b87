/**
 * tshark judges dpsim's SCTP: every interface of a capture with SCTP associations through
 * each kube-proxy mode dissects without a malformed frame, and tshark, told SCTP uses
 * CRC32c, finds every SCTP checksum Good — after NAT rewrote the ports on the way.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { describeWithTshark, TSHARK } from '../helpers/tshark.js';
import { buildSmall, NETFILTER_MODES, NODE_IPS } from './harness.js';
import { SCTP_YAML } from './scenarios.js';
import { checkInterfacesWithTshark } from './tshark-groups.js';

const dir = mkdtempSync(join(tmpdir(), 'dpsim-sctp-tshark-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `sctp.checksum.status` (1 Good) and the chunk types of every SCTP frame, as tshark reads them. */
function sctpFields(pcap: Uint8Array): { status: string; chunks: string }[] {
  const file = join(dir, `f${Math.random().toString(36).slice(2)}.pcapng`);
  writeFileSync(file, pcap);
  const out = spawnSync(
    TSHARK,
    [
      '-n',
      '-r',
      file,
      '-o',
      'sctp.checksum:CRC 32c',
      '-Y',
      'sctp',
      '-T',
      'fields',
      '-e',
      'sctp.checksum.status',
      '-e',
      'sctp.chunk_type',
    ],
    { encoding: 'utf8', env: { ...process.env, WIRESHARK_CONFIG_DIR: dir } },
  );
  expect(out.status).toBe(0);
  return out.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [status, chunks] = l.split('\t');
      return { status, chunks };
    });
}

describeWithTshark('SCTP captures judged by tshark', () => {
  it('every interface is clean and every SCTP checksum verifies, in each kube-proxy mode', async () => {
    const runs = NETFILTER_MODES.map((mode) => {
      const sim = buildSmall({ manifests: SCTP_YAML, mode, seed: 3 });
      for (let i = 0; i < 3; i++) {
        expect(
          sim.sctpRequest('client', parseIPv4(NODE_IPS[i]), 30868, new TextEncoder().encode('CER')).status,
        ).toBe('ok');
      }
      return { label: mode, pcap: sim.capture!.toBuffer() };
    });
    for (const run of runs) {
      const fields = sctpFields(run.pcap);
      expect(fields.length).toBeGreaterThan(0);
      expect(fields.filter((f) => f.status !== '1')).toEqual([]);
      // INIT 1, INIT ACK 2, COOKIE ECHO 10, COOKIE ACK 11, DATA 0, SACK 3, SHUTDOWN 7, SHUTDOWN ACK 8, SHUTDOWN COMPLETE 14.
      const types = new Set(fields.flatMap((f) => f.chunks.split(',')));
      expect([...types].sort((a, b) => Number(a) - Number(b))).toEqual([
        '0',
        '1',
        '2',
        '3',
        '7',
        '8',
        '10',
        '11',
        '14',
      ]);
    }
    const result = await checkInterfacesWithTshark(runs, []);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    // Every interface that carried a frame was checked.
    const used = runs.reduce(
      (n, r) => n + new Set(readCapture(r.pcap).packets.map((p) => p.interfaceId)).size,
      0,
    );
    expect(result.framesChecked.size).toBe(used);
  }, 180_000);
});
