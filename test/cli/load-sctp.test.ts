/**
 * `dpsim load --proto sctp`: SCTP associations through the whole cluster with the same
 * report as TCP (throughput, per-backend fairness, conntrack occupancy), a capture that tshark
 * dissects cleanly on every interface with every SCTP CRC32c verified, and eBPF mode refused
 * by name (Cilium's kube-proxy replacement does not support SCTP).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/index.js';
import { describeWithTshark, TSHARK } from '../helpers/tshark.js';
import { checkInterfacesWithTshark } from '../sim/tshark-groups.js';
import { dpsim } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'dpsim-load-sctp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FIXTURE = join(import.meta.dirname, '../../fixtures/sctp-diameter.yaml');

describe('dpsim load --proto sctp', () => {
  it('reports associations, fairness over the three pods and conntrack occupancy, with no drop', async () => {
    const r = await dpsim([
      'load',
      '-f',
      FIXTURE,
      '--proto',
      'sctp',
      '--flows',
      '24',
      '--packets',
      '200',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.proto).toBe('sctp');
    expect(report.flows).toMatchObject({
      population: 24,
      opened: 24,
      established: 24,
      delivered: 24,
      resets: 0,
    });
    expect(report.packets.syn).toBe(24);
    expect(report.packets.handshakeAcks).toBe(24);
    expect(report.packets.data).toBe(200 - 24);
    // Every DATA got an answer the source acknowledged; every association was shut down.
    expect(report.packets.replyAcks).toBe(200 - 24);
    expect(report.packets.fins).toBe(24);
    expect(report.drops).toEqual({});
    const [svc] = report.services;
    expect(svc.service).toBe('default/diameter');
    expect(svc.backends).toHaveLength(3);
    expect(svc.backends.reduce((n: number, b: { flows: number }) => n + b.flows, 0)).toBe(24);
    expect(svc.fairness.jainIndex).toBeGreaterThan(0.7);
    const entries = report.conntrack.reduce((n: number, c: { entries: number }) => n + c.entries, 0);
    // One entry per association on the node it entered (and on the backend's node when SNATed across).
    expect(entries).toBeGreaterThanOrEqual(24);
  });

  it('prints the SCTP words in the text report', async () => {
    const r = await dpsim(['load', '-f', FIXTURE, '--proto', 'sctp', '--flows', '6', '--packets', '30']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^sent 36 packets \(6 INIT, 6 COOKIE ECHO, 24 DATA\) in /m);
    expect(r.stdout).toMatch(/^flows: 6 opened, 6 established, 6 placed on backends, 0 aborted$/m);
    expect(r.stdout).toMatch(/^ {2}node1 {2}nf_conntrack {2}\d+ +131072$/m);
  });

  it('refuses eBPF mode with one line naming why', async () => {
    const r = await dpsim([
      'load',
      '-f',
      FIXTURE,
      '--proto',
      'sctp',
      '--mode',
      'ebpf',
      '--flows',
      '2',
      '--packets',
      '4',
    ]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/^error: SCTP is not supported in eBPF mode: .*kube-proxy replacement.*\n$/);
    expect(r.stdout).toBe('');
  });

  it('says so when the scenario has no SCTP Service', async () => {
    const r = await dpsim(['load', '--proto', 'sctp', '--flows', '2', '--packets', '4']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toBe('error: the scenario has no SCTP Service to send traffic to\n');
  });
});

describeWithTshark('dpsim load --proto sctp --pcap', () => {
  for (const mode of ['iptables', 'ipvs'] as const) {
    it(`${mode}: every interface tshark-clean, every SCTP checksum Good`, async () => {
      const pcap = join(dir, `${mode}.pcapng`);
      const r = await dpsim([
        'load',
        '-f',
        FIXTURE,
        '--proto',
        'sctp',
        '--mode',
        mode,
        '--flows',
        '10',
        '--packets',
        '60',
        '--pcap',
        pcap,
      ]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/^drops: none$/m);
      const out = spawnSync(
        TSHARK,
        [
          '-n',
          '-r',
          pcap,
          '-o',
          'sctp.checksum:CRC 32c',
          '-Y',
          'sctp',
          '-T',
          'fields',
          '-e',
          'sctp.checksum.status',
        ],
        { encoding: 'utf8', env: { ...process.env, WIRESHARK_CONFIG_DIR: dir } },
      );
      expect(out.status).toBe(0);
      const statuses = out.stdout.split('\n').filter((l) => l !== '');
      expect(statuses.length).toBeGreaterThan(100);
      expect(statuses.filter((s) => s !== '1')).toEqual([]);
      const bytes = new Uint8Array(readFileSync(pcap));
      const result = await checkInterfacesWithTshark([{ label: mode, pcap: bytes }], []);
      expect(result.problems).toEqual([]);
      expect(result.ok).toBe(true);
      const used = new Set(readCapture(bytes).packets.map((p) => p.interfaceId)).size;
      expect(result.framesChecked.size).toBe(used);
    }, 180_000);
  }
});
