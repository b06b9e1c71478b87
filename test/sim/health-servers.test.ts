/**
 * kube-proxy's health servers (and Cilium's in eBPF mode), reached with curl as a cloud load
 * balancer reaches them: a Service's healthCheckNodePort on every node, and :10256/healthz.
 */
import { describe, expect, it } from 'vitest';
import { encodeReply } from '../../src/apps/http-responder.js';
import { latin1 } from '../../src/apps/http1.js';
import { goTimeString, kubeProxyServiceHealthHandler } from '../../src/apps/kube-proxy-health.js';
import type { ProxyMode } from '../../src/proxy/common/datapath.js';
import { buildSimulation, type Simulation } from '../../src/sim/simulation.js';

/** One web pod (so one node has a local endpoint and two have none) behind an eTP=Local LoadBalancer. */
const SCENARIO = `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: web, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web-lb, namespace: default}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  healthCheckNodePort: 32000
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`;

const NODES: Record<string, string> = {
  node1: '192.168.100.100',
  node2: '192.168.100.101',
  node3: '192.168.100.102',
};

function podNode(sim: Simulation): string {
  const sp = sim.model.servicePorts.find((s) => s.name === 'web-lb');
  const node = sp?.endpoints[0]?.nodeName;
  if (node === undefined) throw new Error('web-lb has no endpoint');
  return node;
}

const kubeProxyBody = (n: number): string =>
  `{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web-lb"\n\t},\n\t"localEndpoints": ${n},\n\t"serviceProxyHealthy": true\n}`;

describe('kube-proxy health servers', () => {
  for (const mode of ['iptables', 'nftables', 'ipvs'] as ProxyMode[]) {
    it(`${mode}: curl <node>:<healthCheckNodePort> prints kube-proxy's JSON with the node's local endpoint count`, () => {
      const sim = buildSimulation({ mode, manifests: SCENARIO });
      const local = podNode(sim);
      for (const [node, ip] of Object.entries(NODES)) {
        const r = sim.curl({ from: 'client', url: `http://${ip}:32000/` });
        expect(r.stderr).toBe('');
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toBe(kubeProxyBody(node === local ? 1 : 0));
      }
    });
  }

  it('curl <node>:10256/healthz prints lastUpdated, currentTime (Go time format, cluster clock) and nodeEligible', () => {
    const sim = buildSimulation({ mode: 'iptables', manifests: SCENARIO });
    const r = sim.curl({ from: 'client', url: 'http://192.168.100.101:10256/healthz' });
    expect(r.exitCode).toBe(0);
    const m =
      /^\{"lastUpdated": "(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \+0000 UTC m=\+\d+\.\d{9})","currentTime": "(.*)", "nodeEligible": true\}$/.exec(
        r.stdout,
      );
    expect(m, r.stdout).not.toBeNull();
    expect(m?.[2]).toBe(m?.[1]);
    // The cluster clock, not 1970: the same day the pods' HTTP Date headers show.
    const day = new Date(sim.cluster.now()).toISOString().slice(0, 10);
    expect(m?.[1].startsWith(day)).toBe(true);
    const livez = sim.curl({ from: 'node2', url: 'http://192.168.100.100:10256/livez' });
    expect(livez.stdout).toMatch(/^\{"lastUpdated": "[^"]+","currentTime": "[^"]+"\}$/);
    const other = sim.curl({ from: 'client', url: 'http://192.168.100.100:10256/metrics' });
    expect(other.stdout).toBe('404 page not found\n');
  });

  it("ebpf: Cilium's health server answers the healthCheckNodePort in its compact JSON, and nothing listens on :10256", () => {
    const sim = buildSimulation({ mode: 'ebpf', manifests: SCENARIO });
    const local = podNode(sim);
    for (const [node, ip] of Object.entries(NODES)) {
      const r = sim.curl({ from: 'client', url: `http://${ip}:32000/` });
      expect(r.stdout).toBe(
        `{"service":{"namespace":"default","name":"web-lb"},"localEndpoints":${node === local ? 1 : 0}}\n`,
      );
    }
    const r = sim.curl({ from: 'client', url: 'http://192.168.100.100:10256/healthz' });
    expect(r.exitCode).toBe(7);
    expect(r.stderr).toContain('curl: (7) Failed to connect to 192.168.100.100 port 10256');
  });

  it('follows the cluster: scaling up raises the local counts, deleting the Service closes its port (connection refused)', () => {
    const sim = buildSimulation({ mode: 'nftables', manifests: SCENARIO });
    expect(sim.curl({ from: 'client', url: 'http://192.168.100.100:32000/' }).exitCode).toBe(0);
    sim.cluster.apply({ type: 'scaleReplicaSet', name: 'web', replicas: 3 });
    sim.syncFromCluster();
    const counts = Object.values(NODES).map(
      (ip) =>
        /"localEndpoints": (\d+)/.exec(sim.curl({ from: 'client', url: `http://${ip}:32000/` }).stdout)?.[1],
    );
    expect(counts.map(Number).reduce((a, b) => a + b, 0)).toBe(3);
    expect(sim.cluster.apply({ type: 'removeService', name: 'web-lb' }).ok).toBe(true);
    sim.syncFromCluster();
    const r = sim.curl({ from: 'client', url: 'http://192.168.100.100:32000/' });
    expect(r.exitCode).toBe(7);
  });

  it('the service health reply is 200 with local endpoints and 503 without, headers as Go writes them', () => {
    const clock = Date.UTC(2025, 0, 1, 0, 5, 0);
    const reply = (n: number) =>
      latin1(
        encodeReply(
          kubeProxyServiceHealthHandler({ namespace: 'default', name: 'web-lb', localEndpoints: () => n })(),
          clock,
          'GET',
        ),
      );
    expect(reply(2)).toBe(
      `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nDate: Wed, 01 Jan 2025 00:05:00 GMT\r\nContent-Length: ${kubeProxyBody(2).length}\r\n\r\n${kubeProxyBody(2)}`,
    );
    expect(reply(0).split('\r\n')[0]).toBe('HTTP/1.1 503 Service Unavailable');
  });

  it("formats times as Go's time.Time.String(): trailing zeros trimmed, monotonic reading with 9 digits", () => {
    const at = BigInt(Date.UTC(2025, 5, 1, 12, 0, 5)) * 1_000_000n;
    expect(goTimeString(at + 100_000n, 305_000_100_000n)).toBe(
      '2025-06-01 12:00:05.0001 +0000 UTC m=+305.000100000',
    );
    expect(goTimeString(at, 300_000_000_000n)).toBe('2025-06-01 12:00:05 +0000 UTC m=+300.000000000');
  });
});
