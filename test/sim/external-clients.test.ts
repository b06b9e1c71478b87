/**
 * Where a cluster's traffic comes from (issue 12 item 5): a LoadBalancer address given by a
 * cloud controller in status.loadBalancer.ingress, and named external clients, on the nodes'
 * segment or anywhere behind a router, so loadBalancerSourceRanges and
 * externalTrafficPolicy meet realistic sources.
 */
import { describe, expect, it } from 'vitest';
import { loadManifests } from '../../src/k8s/manifests.js';
import { buildSimulation } from '../../src/sim/simulation.js';
import { dpsim } from '../cli/harness.js';

const CLUSTER = `apiVersion: dpsim/v1alpha1
kind: Cluster
spec:
  clients:
    - { name: office, ip: 203.0.113.2 }
    - { name: partner, ip: 198.51.100.7 }
    - { name: desk, ip: 192.168.100.50 }
`;

const workload = (
  etp: 'Local' | 'Cluster',
  status = '    ingress: [ { ip: 198.18.0.10 } ]\n',
) => `${CLUSTER}---
apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: web }
spec:
  replicas: 3
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [ { name: web, image: go-myweb } ] }
---
apiVersion: v1
kind: Service
metadata: { name: web-lb }
spec:
  type: LoadBalancer
  externalTrafficPolicy: ${etp}
  loadBalancerSourceRanges: [203.0.113.0/24]
  selector: { app: web }
  ports: [ { port: 80, targetPort: 8080 } ]
status:
  loadBalancer:
${status}`;

describe('status.loadBalancer.ingress from the manifest', () => {
  it('is used as the Service’s VIP instead of an address from dpsim’s pool', () => {
    const c = loadManifests(workload('Cluster')).cluster;
    const svc = c.services().find((s) => s.metadata?.name === 'web-lb')!;
    expect(svc.status?.loadBalancer?.ingress).toEqual([{ ip: '198.18.0.10', ipMode: 'VIP' }]);
  });

  it('an address from the pool given in a manifest is reserved: the next LoadBalancer gets another', () => {
    const second = `---
apiVersion: v1
kind: Service
metadata: { name: other }
spec: { type: LoadBalancer, selector: { app: web }, ports: [ { port: 81, targetPort: 8080 } ] }
`;
    const c = loadManifests(
      workload('Cluster', '    ingress: [ { ip: 192.168.100.200 } ]\n') + second,
    ).cluster;
    const ips = Object.fromEntries(
      c.services().map((s) => [s.metadata?.name, s.status?.loadBalancer?.ingress?.[0]?.ip]),
    );
    expect(ips).toMatchObject({ 'web-lb': '192.168.100.200', other: '192.168.100.201' });
  });

  it('an ingress entry without a valid IP is rejected as the apiserver words it', () => {
    const r = loadManifests(workload('Cluster', '    ingress: [ { ip: not-an-ip } ]\n'));
    expect(r.rejected).toBe(true);
    expect(r.outcomes.find((o) => o.status === 'rejected')?.message).toContain(
      'status.loadBalancer.ingress[0].ip: Invalid value: "not-an-ip": must be a valid IP address',
    );
  });
});

describe('named external clients', () => {
  it('eTP=Local: a client behind the router inside loadBalancerSourceRanges reaches a pod that sees its own address', () => {
    const sim = buildSimulation({ manifests: workload('Local'), mode: 'iptables', seed: 1 });
    const r = sim.curl({ from: 'office', url: 'http://198.18.0.10/' });
    expect(r.exitCode).toBe(0);
    expect(r.servedBy?.peer).toMatch(/^203\.0\.113\.2:\d+$/);
    expect(sim.topology.router?.name).toBe('router');
  });

  it('sources outside loadBalancerSourceRanges are dropped: another routed client, a client on the nodes’ /24, the default client', () => {
    for (const mode of ['iptables', 'nftables'] as const) {
      const sim = buildSimulation({ manifests: workload('Local'), mode, seed: 1 });
      for (const from of ['partner', 'desk', 'client'])
        expect([
          mode,
          from,
          sim.curl({ from, url: 'http://198.18.0.10/', connectTimeoutMs: 1000 }).exitCode,
        ]).toEqual([mode, from, 28]);
    }
  });

  it('eTP=Cluster: the pod sees the node that masqueraded, not the routed client', () => {
    const sim = buildSimulation({ manifests: workload('Cluster'), mode: 'iptables', seed: 1 });
    const r = sim.curl({ from: 'office', url: 'http://198.18.0.10/' });
    expect(r.exitCode).toBe(0);
    expect(r.servedBy?.peer).toMatch(/^192\.168\.100\.10[0-2]:\d+$/);
  });

  it('every mode carries a routed client’s connection to a NodePort on each node', () => {
    for (const mode of ['iptables', 'nftables', 'ipvs', 'ebpf'] as const) {
      const sim = buildSimulation({ manifests: workload('Cluster'), mode, seed: 1 });
      const port = sim.model.servicePorts.find((s) => s.name === 'web-lb')!.nodePort;
      for (const ip of ['192.168.100.100', '192.168.100.101', '192.168.100.102'])
        expect([mode, ip, sim.curl({ from: 'partner', url: `http://${ip}:${port}/` }).exitCode]).toEqual([
          mode,
          ip,
          0,
        ]);
    }
  });

  it('the Cluster document rejects a reserved or duplicate name, a taken address and an unknown field, naming it', () => {
    const bad = (clients: string) =>
      loadManifests(`apiVersion: dpsim/v1alpha1\nkind: Cluster\nspec:\n  clients: ${clients}\n`)
        .outcomes.filter((o) => o.status === 'rejected')
        .map((o) => o.message)
        .join('\n');
    expect(bad('[ { name: client, ip: 203.0.113.2 } ]')).toMatch(/clients\[0\]\.name "client"/);
    expect(bad('[ { name: a, ip: 203.0.113.2 }, { name: a, ip: 203.0.113.3 } ]')).toMatch(
      /clients\[1\]\.name "a"/,
    );
    expect(bad('[ { name: a, ip: 192.168.100.101 } ]')).toMatch(
      /192\.168\.100\.101 is already the address of node node2/,
    );
    expect(bad('[ { name: a, ip: 203.0.113.2, port: 1 } ]')).toMatch(/clients\[0\]: unknown field "port"/);
  });

  it('dpsim curl --from NAME runs curl on that client', async () => {
    const dir = await import('node:fs').then((fs) => fs.mkdtempSync('/tmp/dpsim-clients-'));
    const file = `${dir}/lb.yaml`;
    (await import('node:fs')).writeFileSync(file, workload('Local'));
    const ok = await dpsim(['curl', '-f', file, '--from', 'office', 'http://198.18.0.10/']);
    expect([ok.exitCode, ok.stdout]).toEqual([0, expect.stringMatching(/^Hello World!\nweb-/)]);
    const unknown = await dpsim(['curl', '-f', file, '--from', 'nobody', 'http://198.18.0.10/']);
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.stderr).toContain('use client, office, partner, desk, a node');
  });
});
