/**
 * What kube-proxy probes on a node, given in the Cluster document (spec.kernel, per node
 * spec.nodes[].kernel) and spec.nodes[].addresses: each fact changes the rules it should.
 */
import { describe, expect, it } from 'vitest';
import { buildSmall } from '../sim/harness.js';

const SVC = `apiVersion: v1
kind: Service
metadata: { name: web }
spec: { type: NodePort, ports: [{ port: 80, nodePort: 30080 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ port: 80, protocol: TCP }]
endpoints: [{ addresses: [10.233.65.9], conditions: { ready: true }, nodeName: node2 }]
`;

function cluster(spec: string): string {
  return `apiVersion: dpsim/v1alpha1\nkind: Cluster\nspec:\n${spec}`;
}

const NODES = `  nodes:
    - { name: node1, ip: 192.168.100.100 }
    - { name: node2, ip: 192.168.100.101, kernel: { nfacct: true, iptablesRandomFully: false } }
`;

function dump(spec: string, node = 'node1', mode: 'iptables' | 'nftables' = 'iptables'): string {
  return buildSmall({ manifests: `${SVC}---\n${cluster(spec)}`, mode, capture: false })
    .proxies.get(node)!
    .dump();
}

describe('kernel facts in the Cluster document change what kube-proxy writes', () => {
  const plain = dump('  kernel: {}\n');

  it('nfacct: the INVALID drop and the localhost NodePort rule count into nfacct objects', () => {
    const r = dump('  kernel: { nfacct: true }\n');
    expect(r).toContain(
      '-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name  ct_state_invalid_dropped_pkts -j DROP',
    );
    expect(r).toContain('-m nfacct --nfacct-name  localhost_nps_accepted_pkts');
    expect(plain).not.toContain('nfacct');
  });

  it('iptablesRandomFully false: plain -j MASQUERADE', () => {
    expect(plain).toContain('-j MASQUERADE --random-fully');
    const r = dump('  kernel: { iptablesRandomFully: false }\n');
    expect(r).toMatch(/-j MASQUERADE\n/);
    expect(r).not.toContain('--random-fully');
  });

  it('tcpBeLiberal: no INVALID drop rule', () => {
    expect(plain).toContain('--ctstate INVALID -j DROP');
    expect(dump('  kernel: { tcpBeLiberal: true }\n')).not.toContain('--ctstate INVALID');
  });

  it('version: kube-proxy’s nftables mode refuses a kernel older than 5.13, naming the node', () => {
    expect(() => dump('  kernel: { version: "5.10.0" }\n', 'node1', 'nftables')).toThrow(
      "node node1: kube-proxy's nftables mode needs kernel 5.13 or later, the node runs 5.10.0",
    );
    expect(dump('  kernel: { version: "5.15.0" }\n', 'node1', 'nftables')).toContain('table ip kube-proxy');
  });

  it('spec.nodes[].kernel overrides spec.kernel field by field, on that node only', () => {
    const spec = `  kernel: { tcpBeLiberal: true }\n${NODES}`;
    const n1 = dump(spec, 'node1');
    const n2 = dump(spec, 'node2');
    expect(n1).not.toContain('nfacct');
    expect(n1).toContain('--random-fully');
    expect(n2).toContain('--nfacct-name  localhost_nps_accepted_pkts');
    expect(n2).not.toContain('--random-fully');
    // Both keep the cluster-wide tcpBeLiberal.
    expect(n1).not.toContain('--ctstate INVALID');
    expect(n2).not.toContain('--ctstate INVALID');
  });

  it('an unknown kernel fact or a wrong type is a named error (the Cluster document is rejected)', () => {
    const sim = buildSmall({
      manifests: `${SVC}---\n${cluster('  kernel: { nfacc: true }\n')}`,
      capture: false,
    });
    expect(sim.loadResult!.outcomes.find((o) => o.status === 'rejected')?.message).toBe(
      'error: Cluster: kernel: unknown field "nfacc" (known: nfacct, iptablesRandomFully, tcpBeLiberal, version, cpus)',
    );
    const bad = buildSmall({ manifests: cluster('  kernel: { nfacct: "yes" }\n'), capture: false });
    expect(bad.loadResult!.outcomes[0].message).toBe(
      'error: Cluster: kernel.nfacct must be true or false, got "yes"',
    );
  });

  it('spec.nodes[].addresses: more node addresses, local to the node, that nodePortAddresses selects from', () => {
    const spec =
      '  nodes:\n    - { name: node1, ip: 192.168.100.100, addresses: [172.16.0.100] }\n    - { name: node2, ip: 192.168.100.101 }\n';
    const sim = buildSmall({
      manifests: `${SVC}---\n${cluster(spec)}---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nnodePortAddresses: [172.16.0.0/12]\n`,
      capture: false,
    });
    const r = sim.proxies.get('node1')!.dump();
    expect(r).toContain('-A KUBE-SERVICES -d 172.16.0.100/32');
    expect(r).not.toContain('-d 192.168.100.100/32 -m comment --comment "kubernetes service nodeports');
    expect(sim.host('node1').isLocal(0xac100064)).toBe(true);
    expect(sim.cluster.config.nodes[0].addresses).toEqual(['192.168.100.100', '172.16.0.100']);
  });
});
