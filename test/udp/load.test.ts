/**
 * `dpsim load --proto udp`: datagrams from the client and pods to the UDP Services, attributed
 * at the pods by their payload, with the same fairness, drop and conntrack reporting as TCP;
 * its capture is tshark-clean on every interface.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runUdpLoad } from '../../src/traffic/index.js';
import { dpsim } from '../cli/harness.js';
import { describeWithTshark } from '../helpers/tshark.js';
import { buildSmall, fixture, MODES } from '../sim/harness.js';
import { checkInterfacesWithTshark } from '../sim/tshark-groups.js';

const UDP_ECHO = fixture('udp-echo.yaml');
const dir = mkdtempSync(join(tmpdir(), 'dpsim-udp-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('UDP load', () => {
  for (const mode of MODES) {
    it(`${mode}: every datagram reaches a backend, every echo request is answered, flows spread over the three echo pods, conntrack holds the flows`, () => {
      const sim = buildSmall({ manifests: UDP_ECHO, mode, seed: 3, capture: false });
      const r = runUdpLoad(sim, { flows: 120, packets: 900, seed: 3 });
      expect(r.proto).toBe('udp');
      // Cilium drops the external client's datagrams to statsd's ClusterIP (bpf.lbExternalClusterIP
      // is off); the kube-proxy modes route them through node1.
      const dropped = r.drops['TC_PROGRAM:DROP_IS_CLUSTER_IP'] ?? 0;
      if (mode === 'ebpf') {
        expect(dropped).toBeGreaterThan(0);
        expect(r.drops).toEqual({ TC_PROGRAM: dropped, 'TC_PROGRAM:DROP_IS_CLUSTER_IP': dropped });
      } else expect(r.drops).toEqual({});
      expect(r.flows.opened).toBe(120);
      expect(r.packets.injected).toBe(900);
      expect(r.packets.deliveredToBackends).toBe(900 - dropped);
      const echo = r.services.find((s) => s.service === 'default/udp-echo:dns')!;
      const statsd = r.services.find((s) => s.service === 'default/statsd')!;
      expect(echo.backends).toHaveLength(3);
      for (const b of echo.backends) expect(b.flows).toBeGreaterThan(0);
      const echoPackets = echo.backends.reduce((a, b) => a + b.packets, 0);
      const statsdPackets = statsd.backends.reduce((a, b) => a + b.packets, 0);
      expect(echoPackets + statsdPackets).toBe(900 - dropped);
      // The echo answers every request; the sink none.
      expect(r.packets.replies).toBe(echoPackets);
      expect(r.flows.answered).toBe(echo.fairness.total);
      // One placement per flow that got through: its datagrams stay on its backend (conntrack).
      expect(r.flows.delivered).toBe(echo.fairness.total + statsd.fairness.total);
      if (mode !== 'ebpf') expect(r.flows.delivered).toBe(120);
      expect(r.conntrack.reduce((a, c) => a + c.entries, 0)).toBeGreaterThan(0);
    });
  }

  it('the CLI prints the UDP report; the origin scenario (no UDP Service) is one error line', async () => {
    const ok = await dpsim([
      'load',
      '--proto',
      'udp',
      '-f',
      join(import.meta.dirname, '../../fixtures/udp-echo.yaml'),
      '--flows',
      '30',
      '--packets',
      '200',
    ]);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toMatch(
      /^dpsim load: iptables mode, UDP, seed 1, 30 flows \(uniform\), 200 datagrams, closed loop$/m,
    );
    expect(ok.stdout).toMatch(/^flows: 30 opened, \d+ answered, 30 placed on backends, 0 refused \(ICMP\)$/m);
    expect(ok.stdout).toMatch(/^drops: none$/m);
    expect(ok.stdout).toMatch(/^ {2}fairness over flows: max\/mean /m);
    const none = await dpsim(['load', '--proto', 'udp', '--flows', '2', '--packets', '2']);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toBe('error: the scenario has no UDP Service to send traffic to (--proto udp)\n');
  });
});

describeWithTshark('dpsim load --proto udp --pcap', () => {
  it('iptables and ebpf: the datagrams, echoes and sink traffic are tshark-clean on every interface', async () => {
    const runs = [];
    for (const mode of ['iptables', 'ebpf'] as const) {
      const pcap = join(dir, `${mode}.pcapng`);
      const r = await dpsim([
        'load',
        '--proto',
        'udp',
        '--mode',
        mode,
        '-f',
        join(import.meta.dirname, '../../fixtures/udp-echo.yaml'),
        '--flows',
        '12',
        '--packets',
        '120',
        '--pcap',
        pcap,
        '--seed',
        String(mode === 'iptables' ? 5 : 6),
      ]);
      expect(r.exitCode, r.stderr).toBe(0);
      runs.push({ label: mode, pcap: new Uint8Array(readFileSync(pcap)) });
    }
    const result = await checkInterfacesWithTshark(runs, [
      'udp.port==53,data',
      'udp.port==5353,data',
      'udp.port==8125,data',
    ]);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.framesChecked.size).toBeGreaterThan(5);
  });
});
