/**
 * Issue 13 item 2's "done when", end to end in every mode: from an origin pod, dig of the
 * Service's name answers its ClusterIP through CoreDNS behind the kube-dns Service, and curl by
 * the Service's short name resolves through the pod's resolver and reaches all three pods.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSimulation } from '../../src/sim/simulation.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { DnsType } from '../../src/wire/dns.js';
import { dpsim } from '../cli/harness.js';
import { checkCaptureWithTshark, describeWithTshark, TSHARK } from '../helpers/tshark.js';
import { MODES } from '../sim/harness.js';

const SMALL = { conntrackMax: 4096 } as const;

function originPod(sim: ReturnType<typeof buildSimulation>): string {
  return `pod/${sim.cluster.pods().find((p) => p.metadata?.name?.startsWith('myweb-rs-'))?.metadata?.name}`;
}

function digRequest(sim: ReturnType<typeof buildSimulation>, name: string, type: number = DnsType.A) {
  return {
    name,
    type,
    server: parseIPv4('10.233.0.3'),
    serverGiven: false,
    tcp: false,
    short: false,
    tries: 3,
    timeoutS: 5,
    argv: [name],
    epochMs: sim.cluster.now(),
  };
}

describe.each(MODES)('%s mode: cluster DNS from a pod', (mode) => {
  it('dig myweb-svc-np.default.svc.cluster.local answers the ClusterIP; curl http://myweb-svc-np/ reaches all three pods', () => {
    const sim = buildSimulation({ mode, ...SMALL });
    const from = originPod(sim);
    const clusterIP = sim.cluster.getService('myweb-svc-np')?.spec?.clusterIP;
    const dig = sim.dns.dig(sim.host(from), digRequest(sim, 'myweb-svc-np.default.svc.cluster.local'));
    expect(dig.exitCode).toBe(0);
    expect(dig.stdout).toContain(`myweb-svc-np.default.svc.cluster.local.\t5 IN A\t${clusterIP}\n`);
    // The query went to the kube-dns ClusterIP and was answered by a CoreDNS pod.
    const answered = [...sim.dns.servers.values()].reduce((n, s) => n + s.stats.udp, 0);
    expect(answered).toBe(1);
    const served = new Set<string>();
    for (let i = 0; i < 15 && served.size < 3; i++) {
      const out = sim.curl({ from, url: 'http://myweb-svc-np/' });
      expect(out.exitCode, out.stderr).toBe(0);
      served.add(out.stdout.split('\n')[1]);
    }
    expect([...served].sort()).toEqual(
      sim.cluster
        .pods()
        .map((p) => p.metadata?.name ?? '')
        .filter((n) => n.startsWith('myweb-rs-'))
        .sort(),
    );
  });
});

describe('cluster DNS: resolv.conf, nodes, the command line', () => {
  it('a pod resolves with the kubelet resolv.conf; a node has no cluster DNS, so curl by name fails with (6)', () => {
    const sim = buildSimulation(SMALL);
    expect(sim.dns.resolvConf(originPod(sim)).nameservers).toEqual(['10.233.0.3']);
    const out = sim.curl({ from: 'node1', url: 'http://myweb-svc-np/' });
    expect(out.exitCode).toBe(6);
    expect(out.stderr).toBe('curl: (6) Could not resolve host: myweb-svc-np');
  });

  it('the kube-dns Service is in kube-system with its three ports, and kubectl get po of default is unchanged', async () => {
    const svc = await dpsim(['get', 'svc', '-n', 'kube-system']);
    expect(svc.stdout).toMatch(
      /^kube-dns\s+ClusterIP\s+10\.233\.0\.3\s+<none>\s+53\/UDP,53\/TCP,9153\/TCP\s/m,
    );
    const po = await dpsim(['get', 'po']);
    expect(po.stdout.split('\n').filter((l) => l.startsWith('myweb-rs-'))).toHaveLength(3);
    expect(po.stdout).not.toContain('coredns');
  });

  it('dpsim dig --from pod prints the answer and exits 0; from node1 (no nameserver) it exits 9', async () => {
    const sim = buildSimulation(SMALL);
    const pod = originPod(sim);
    const ok = await dpsim(['dig', 'myweb-svc-np.default.svc.cluster.local', '+short', '--from', pod]);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toBe(`${sim.cluster.getService('myweb-svc-np')?.spec?.clusterIP}\n`);
    const srv = await dpsim([
      'dig',
      '-t',
      'SRV',
      '_dns-tcp._tcp.kube-dns.kube-system.svc.cluster.local',
      '+short',
      '--from',
      pod,
    ]);
    expect(srv.stdout).toBe('0 100 53 kube-dns.kube-system.svc.cluster.local.\n');
    const none = await dpsim(['dig', 'myweb-svc-np', '--from', 'node1']);
    expect(none.exitCode).toBe(9);
    expect(none.stdout).toContain(';; communications error to 127.0.0.1#53: connection refused\n');
    expect(none.stdout).toContain(';; no servers could be reached\n');
    const bad = await dpsim(['dig', '+trace', 'x']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toBe('error: dig option +trace is not simulated (+short, +tcp, +notcp are)\n');
  });
});

describeWithTshark('cluster DNS capture', () => {
  it('a dig and a curl by name from a pod are tshark-clean per interface, with the DNS answers dissected (dns.a)', async () => {
    const sim = buildSimulation({ ...SMALL, capture: true });
    const from = originPod(sim);
    const clusterIP = sim.cluster.getService('myweb-svc-np')?.spec?.clusterIP ?? '';
    sim.dns.dig(sim.host(from), digRequest(sim, 'myweb-svc-np.default.svc.cluster.local'));
    expect(sim.curl({ from, url: 'http://myweb-svc-np/' }).exitCode).toBe(0);
    const pcap = sim.capture!.toBuffer();
    const result = await checkCaptureWithTshark(pcap, { perInterface: true });
    expect(result.problems).toEqual([]);
    const file = join(mkdtempSync(join(tmpdir(), 'dpsim-dns-')), 'dns.pcapng');
    writeFileSync(file, pcap);
    const run = spawnSync(TSHARK, ['-r', file, '-Y', 'dns.a', '-T', 'fields', '-e', 'dns.a'], {
      encoding: 'utf8',
    });
    const answers = run.stdout.split('\n').filter((l) => l !== '');
    // Each A answer is seen on every interface it crossed (pod veth, node, CoreDNS pod …).
    expect(answers.length).toBeGreaterThanOrEqual(2);
    expect(new Set(answers)).toEqual(new Set([clusterIP]));
  });
});

describe('CoreDNS metrics', () => {
  it(':9153/metrics counts the queries CoreDNS answered, per protocol', () => {
    const sim = buildSimulation(SMALL);
    const from = originPod(sim);
    sim.dns.dig(sim.host(from), digRequest(sim, 'myweb-svc-np.default.svc.cluster.local'));
    sim.dns.dig(sim.host(from), { ...digRequest(sim, 'myweb-svc-np.default.svc.cluster.local'), tcp: true });
    const total = { udp: 0, tcp: 0 };
    for (const pod of sim.cluster.pods().filter((p) => p.metadata?.name?.startsWith('coredns-'))) {
      const out = sim.curl({ from, url: `http://${pod.status?.podIP}:9153/metrics` });
      expect(out.exitCode).toBe(0);
      for (const proto of ['udp', 'tcp'] as const)
        total[proto] += Number(out.stdout.match(new RegExp(`proto="${proto}".*\\} (\\d+)`))?.[1]);
    }
    expect(total).toEqual({ udp: 1, tcp: 1 });
  });
});
