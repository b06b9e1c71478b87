/**
 * eBPF mode as a Cilium user reads it: `cilium-dbg service list`, `cilium-dbg bpf lb list`,
 * `cilium-dbg bpf ct list global` (also what `conntrack -L` shows there), and socket-LB
 * honouring sessionAffinity for the node's own connections.
 */
import { describe, expect, it } from 'vitest';
import { originScenarioYaml } from '../../src/k8s/index.js';
import { buildSimulation } from '../../src/sim/simulation.js';
import { formatTraceSteps } from '../../src/trace/packet-trace.js';

const AFFINITY = `${originScenarioYaml}---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 8080}]
`;

describe('eBPF views', () => {
  it('rules --view service prints cilium-dbg service list: ID, Frontend, Service Type, one backend per line', () => {
    const sim = buildSimulation({ mode: 'ebpf' });
    const text = sim.rules('node1', { part: 'cilium-service' });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^ID {3}Frontend {2,}Service Type {3}Backend/);
    expect(text).toMatch(
      /\n\d+ +192\.168\.100\.100:31244\/TCP +NodePort +1 => 10\.233\.\d+\.\d+:8080\/TCP \(active\)/,
    );
    expect(text).toMatch(/\n +2 => 10\.233\.\d+\.\d+:8080\/TCP \(active\)/);
    expect(text).toMatch(
      /\n1 +10\.233\.0\.1:443\/TCP +ClusterIP +1 => 192\.168\.100\.100:6443\/TCP \(active\)/,
    );
  });

  it('rules --view lb prints cilium-dbg bpf lb list with the master slot and one row per backend slot', () => {
    const sim = buildSimulation({ mode: 'ebpf' });
    const text = sim.rules('node1', { part: 'cilium-lb' });
    expect(text.split('\n')[0]).toMatch(/^SERVICE ADDRESS +BACKEND ADDRESS \(REVNAT_ID\) \(SLOT\)/);
    expect(text).toMatch(/\n192\.168\.100\.100:31244\/TCP +0\.0\.0\.0:0 \(\d+\) \(0\) \[NodePort\]/);
  });

  it('conntrack -L in eBPF mode lists the BPF CT map as cilium-dbg bpf ct list global does, with the service entries of the curls', () => {
    const sim = buildSimulation({ mode: 'ebpf' });
    const o = sim.curl({ from: 'client', url: 'http://192.168.100.100:31244/' });
    expect(o.exitCode).toBe(0);
    const text = sim.conntrackList('node1');
    expect(text).not.toContain('#');
    const lines = text.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines)
      expect(l).toMatch(
        /^TCP (OUT|IN) [\d.]+:\d+ -> [\d.]+:\d+ (service )?expires=\d+ RxPackets=\d+ RxBytes=\d+ RxFlagsSeen=0x00 LastRxReport=0 TxPackets=\d+ TxBytes=\d+ TxFlagsSeen=0x00 LastTxReport=0 Flags=0x[0-9a-f]{4} \[ ([A-Za-z]+ )*\] RevNAT=\d+ SourceSecurityID=0 IfIndex=0 $/,
      );
    expect(lines.some((l) => l.includes(` ${o.localPort} `) || l.includes(`:${o.localPort} `))).toBe(true);
    expect(lines.filter((l) => / service /.test(l)).length).toBe(1);
  });

  it('socket-LB honours sessionAffinity: ClientIP for a node’s own connections (one backend), and spreads without it', () => {
    const sim = buildSimulation({ mode: 'ebpf', manifests: AFFINITY });
    const sticky = sim.model.servicePorts.find((s) => s.name === 'sticky')!;
    const plain = sim.model.servicePorts.find((s) => s.name === 'myweb-svc-np')!;
    const served = (ip: string) =>
      new Set(
        Array.from({ length: 9 }, () => sim.curl({ from: 'node2', url: `http://${ip}/` }).servedBy?.pod),
      );
    expect(served(sticky.clusterIP).size).toBe(1);
    expect(served(plain.clusterIP).size).toBeGreaterThan(1);
  });

  it('trace shows the service lookup, the backend chosen, DNAT and SNAT on the ingress node, and reverse SNAT and rev-NAT on the reply', () => {
    const sim = buildSimulation({ mode: 'ebpf' });
    // node1 forwards to a backend on another node (eTP=Cluster): DNAT + SNAT there.
    let text = '';
    for (let i = 0; i < 10 && !text.includes(' SNAT '); i++) {
      const { outcome, tracer } = sim.trace({ from: 'client', url: 'http://192.168.100.100:31244/' });
      expect(outcome.exitCode).toBe(0);
      text = formatTraceSteps(tracer.steps);
    }
    expect(text).toContain(
      'bpf/cil_from_netdev#1: Frontend service lookup, addr=192.168.100.100 key.dport=31244',
    );
    expect(text).toMatch(
      /bpf\/cil_from_netdev#2: Service backend slot lookup result: target=10\.233\.\d+\.\d+ port=8080 \(backend \d+, service default\/myweb-svc-np, revNAT \d+\)/,
    );
    expect(text).toMatch(/bpf\/cil_from_netdev#3: DNAT 192\.168\.100\.100:31244 -> 10\.233\.\d+\.\d+:8080/);
    expect(text).toMatch(/bpf\/cil_from_netdev#4: SNAT 192\.168\.100\.1:(\d+) -> 192\.168\.100\.100:\d+/);
    expect(text).toMatch(/reverse SNAT 192\.168\.100\.100:\d+ -> 192\.168\.100\.1:\d+/);
    expect(text).toMatch(
      /Performing reverse NAT, address=192\.168\.100\.100 port=31244 \(10\.233\.\d+\.\d+:8080 -> 192\.168\.100\.100:31244\)/,
    );
  });
});
