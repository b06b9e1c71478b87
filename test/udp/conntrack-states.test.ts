/**
 * UDP conntrack states and timeouts end to end, as nf_conntrack_proto_udp has them: a first
 * datagram is [UNREPLIED] with 30 s; a reply makes it replied (still 30 s); traffic both ways
 * after the first 2 s makes it a stream — ASSURED with udp_timeout_stream (120 s). kube-proxy's
 * conntrack.udpTimeout / udpStreamTimeout set those two sysctls. eBPF mode keeps UDP flows in
 * Cilium's CT map with CT_CONNECTION_LIFETIME_NONTCP (60 s).
 */
import { describe, expect, it } from 'vitest';
import { formatConntrackList } from '../../src/conntrack/index.js';
import type { Simulation } from '../../src/sim/simulation.js';
import { buildSmall } from '../sim/harness.js';
import { clusterIPOf, RecordingSocket } from './helpers.js';
import { UDP_YAML } from './scenarios.js';

/** node1's conntrack -L lines of the flow from the udp-client pod's port 40000. */
function flowLine(sim: Simulation): string {
  const { stdout } = formatConntrackList(sim.proxies.get('node1')!.conntrack!, sim.network.nowNs);
  const lines = stdout.split('\n').filter((l) => l.includes(' sport=40000 '));
  expect(lines).toHaveLength(1);
  return lines[0];
}

describe('UDP conntrack states and timeouts', () => {
  it('iptables: sink traffic stays [UNREPLIED] at 30 s; an answered flow is replied at 30 s, and ASSURED at 120 s once it carries traffic both ways after 2 s', () => {
    const sim = buildSmall({ manifests: UDP_YAML, mode: 'iptables', seed: 1, capture: false });
    const oneWay = new RecordingSocket(sim, 'pod/udp-client', 40000);
    oneWay.sendTo(clusterIPOf(sim, 'statsd'), 8125, 'requests:1|c');
    sim.advance(1);
    expect(flowLine(sim)).toMatch(/^udp {6}17 29 src=\S+ dst=\S+ sport=40000 dport=8125 \[UNREPLIED\] src=/);
    oneWay.socket.close();
    sim.advance(31_000);
    expect(formatConntrackList(sim.proxies.get('node1')!.conntrack!, sim.network.nowNs).stdout).toBe('');

    const echo = new RecordingSocket(sim, 'pod/udp-client', 40000);
    echo.sendTo(clusterIPOf(sim, 'udp-echo'), 53);
    sim.advance(1);
    const replied = flowLine(sim);
    expect(replied).toMatch(/^udp {6}17 29 src=/);
    expect(replied).not.toContain('[UNREPLIED]');
    expect(replied).not.toContain('[ASSURED]');
    sim.advance(2500);
    echo.sendTo(clusterIPOf(sim, 'udp-echo'), 53);
    sim.advance(1);
    expect(flowLine(sim)).toMatch(/^udp {6}17 119 src=.* \[ASSURED\] mark=0 use=1$/);
    expect(echo.replies).toHaveLength(2);
  });

  it("iptables: KubeProxyConfiguration conntrack.udpTimeout 45s / udpStreamTimeout 3m are the flow's timeouts", () => {
    const config = `${UDP_YAML}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
conntrack: { udpTimeout: 45s, udpStreamTimeout: 3m }
`;
    const sim = buildSmall({ manifests: config, mode: 'iptables', seed: 1, capture: false });
    const echo = new RecordingSocket(sim, 'pod/udp-client', 40000);
    echo.sendTo(clusterIPOf(sim, 'udp-echo'), 53);
    sim.advance(1);
    expect(flowLine(sim)).toMatch(/^udp {6}17 44 /);
    sim.advance(2500);
    echo.sendTo(clusterIPOf(sim, 'udp-echo'), 53);
    sim.advance(1);
    expect(flowLine(sim)).toMatch(/^udp {6}17 179 .*\[ASSURED\]/);
  });

  it("ebpf: the flow is in Cilium's CT map with the non-TCP lifetime (60 s), listed by cilium-dbg bpf ct list global", () => {
    const sim = buildSmall({ manifests: UDP_YAML, mode: 'ebpf', seed: 1, capture: false });
    const echo = new RecordingSocket(sim, 'pod/udp-client', 40000);
    echo.sendTo(clusterIPOf(sim, 'udp-echo'), 53);
    sim.advance(1);
    expect(echo.replies).toHaveLength(1);
    const ct = sim.conntrackList('node1');
    const lines = ct.split('\n').filter((l) => l.startsWith('UDP') && l.includes(':40000'));
    expect(lines.length).toBeGreaterThan(0);
    // `expires` is on the BPF monotonic clock in seconds: now + 60.
    const now = Math.floor(sim.network.nowNs / 1e9);
    for (const l of lines) expect(l).toContain(` expires=${now + 60} `);
    const usage = sim.proxies.get('node1')!.flowTable('udp');
    expect(usage.table).toBe('cilium_ct_any4_global');
    expect(usage.entries).toBeGreaterThan(0);
  });
});
