/**
 * UDP over the IPv6 datapath (iptables mode): a PreferDualStack UDP Service answers datagrams on
 * its IPv6 ClusterIP and on every node's IPv6 NodePort, conntrack tracks them in the IPv6
 * table, and a port nobody listens on answers ICMPv6 port unreachable (ECONNREFUSED).
 */
import { describe, expect, it } from 'vitest';
import type { Simulation } from '../../src/sim/simulation.js';
import { describeWithTshark } from '../helpers/tshark.js';
import { buildSmall, capturedFrames, MODES } from './harness.js';
import { checkInterfacesWithTshark } from './tshark-groups.js';

const MANIFESTS = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: dnsecho }
spec:
  replicas: 3
  selector: { matchLabels: { app: dnsecho } }
  template:
    metadata: { labels: { app: dnsecho } }
    spec:
      containers:
        - { name: echo, image: udp-echo:1.0, ports: [{ containerPort: 5353, protocol: UDP }] }
---
apiVersion: v1
kind: Service
metadata: { name: udp-echo }
spec:
  type: NodePort
  ipFamilyPolicy: PreferDualStack
  selector: { app: dnsecho }
  ports: [{ name: dns, port: 53, targetPort: 5353, protocol: UDP, nodePort: 30053 }]
---
apiVersion: v1
kind: Service
metadata: { name: udp-closed }
spec:
  ipFamilyPolicy: PreferDualStack
  selector: { app: dnsecho }
  ports: [{ port: 54, targetPort: 9999, protocol: UDP }]
`;

function build(mode: (typeof MODES)[number] = 'iptables'): Simulation {
  return buildSmall({ manifests: MANIFESTS, clusterOptions: { dualStack: true }, mode });
}

function clusterIP6(sim: Simulation, name: string): string {
  return sim.cluster.services().find((s) => s.metadata?.name === name)!.spec!.clusterIPs![1];
}

function pods(sim: Simulation): string[] {
  return [...sim.topology.pods.keys()].map((k) => k.split('/')[1]).filter((n) => n.startsWith('dnsecho-'));
}

for (const mode of MODES) {
  describe(`UDP over IPv6 (${mode} mode)`, () => {
    it('the IPv6 ClusterIP answers each pod with an echo pod name, and conntrack -L --family ipv6 has the udp entry', () => {
      const sim = build(mode);
      const vip = clusterIP6(sim, 'udp-echo');
      for (const pod of pods(sim)) {
        const o = sim.udpRequest({ from: `pod/${pod}`, dst: vip, port: 53 });
        expect(o.result).toBe('ok');
        expect(o.reply).toMatch(/^dnsecho-\w+-\w+\n$/);
        // The pod's own IPv6 source, or when the echo pod is itself (hairpin) a node's
        // (kube-proxy masquerades it) or Cilium's service loopback fe80::1.
        expect(o.servedBy!.peer).toMatch(
          o.servedBy!.pod !== pod
            ? /^\[fd85:ee78:d8a6:8607::1:[0-9a-f]+\]:\d+$/
            : mode === 'ebpf'
              ? /^\[fe80::1\]:\d+$/
              : /^\[fd00:192:168:100::10[0-2]\]:\d+$/,
        );
      }
      const node = sim.cluster.pods().find((p) => p.metadata?.name === pods(sim)[0])!.spec!.nodeName!;
      // nf_conntrack's entry; in eBPF mode the service entry of Cilium's cilium_ct_any6 map.
      expect(sim.conntrackList(node, 'ipv6')).toMatch(
        mode === 'ebpf'
          ? new RegExp(
              `^UDP OUT \\[${vip}\\]:\\d+ -> \\[fd85:ee78:d8a6:8607::1:[0-9a-f]+\\]:53 service `,
              'm',
            )
          : new RegExp(
              `^udp {6}17 \\d+ src=fd85:ee78:d8a6:8607::1:[0-9a-f]+ dst=${vip} sport=\\d+ dport=53 src=`,
              'm',
            ),
      );
    });

    it('every node answers on its IPv6 address and NodePort 30053 from the client', () => {
      const sim = build(mode);
      for (const node of sim.cluster.config.ipv6!.nodes.values()) {
        const o = sim.udpRequest({ from: 'client', dst: node.ip, port: 30053 });
        expect(o.result, node.ip).toBe('ok');
        expect(o.reply).toMatch(/^dnsecho-/);
      }
    });

    it('a Service port whose pods do not listen is refused by ICMPv6 port unreachable (ECONNREFUSED), un-NATed by conntrack', () => {
      const sim = build(mode);
      const o = sim.udpRequest({ from: `pod/${pods(sim)[0]}`, dst: clusterIP6(sim, 'udp-closed'), port: 54 });
      // dpsim's eBPF datapath does not reverse-translate an ICMP error quoting a Service flow
      // (in either family; Cilium's does): the error quotes the backend, no socket takes it.
      expect(o.result).toBe(mode === 'ebpf' ? 'timeout' : 'refused');
    });
  });
}

describeWithTshark('UDP over IPv6 captures', () => {
  it('pass tshark interface by interface: UDP and ICMPv6 checksums good after NAT, the un-NATed ICMPv6 error included', async () => {
    const sim = build();
    for (const pod of pods(sim))
      expect(sim.udpRequest({ from: `pod/${pod}`, dst: clusterIP6(sim, 'udp-echo'), port: 53 }).result).toBe(
        'ok',
      );
    expect(sim.udpRequest({ from: 'client', dst: 'fd00:192:168:100::102', port: 30053 }).result).toBe('ok');
    expect(
      sim.udpRequest({ from: `pod/${pods(sim)[0]}`, dst: clusterIP6(sim, 'udp-closed'), port: 54 }).result,
    ).toBe('refused');
    const result = await checkInterfacesWithTshark(
      [{ label: 'udp6', pcap: sim.capture!.toBuffer() }],
      ['udp.port==53,data', 'udp.port==5353,data'],
    );
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    const frames = capturedFrames(sim);
    expect(frames.filter((f) => f.proto === 17 && f.src.includes(':')).length).toBeGreaterThan(10);
    expect(frames.some((f) => f.proto === 58 && f.icmpType === 1 && f.icmpCode === 4)).toBe(true);
  });
});
