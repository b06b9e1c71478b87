/**
 * Issue 11 item 3, end to end: DaemonSet and StatefulSet pods are Service backends that
 * answer through the simulated dataplane.
 */
import { describe, expect, it } from 'vitest';
import { buildSimulation } from '../../src/sim/simulation.js';
import { MODES, type WiredMode } from './harness.js';

const YAML = `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: go-myweb:1.0}]
---
apiVersion: v1
kind: Service
metadata: {name: agent}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: agent}
  ports: [{port: 80, targetPort: 8080, nodePort: 30090}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: go-myweb:1.0}]
---
apiVersion: v1
kind: Service
metadata: {name: db-rw}
spec:
  selector: {app: db}
  ports: [{port: 80, targetPort: 8080}]
`;

describe.each(MODES)('%s mode: DaemonSet and StatefulSet backends', (mode: WiredMode) => {
  it('serves each node’s NodePort from that node’s DaemonSet pod, and a ClusterIP from <sts>-0/-1', () => {
    const sim = buildSimulation({ manifests: YAML, mode, conntrackMax: 4096 });
    const dsPods = new Map(
      sim.cluster
        .pods()
        .filter((p) => p.metadata?.name?.startsWith('agent-'))
        .map((p) => [p.spec?.nodeName, p.metadata?.name]),
    );
    for (const [node, ip] of [
      ['node1', '192.168.100.100'],
      ['node2', '192.168.100.101'],
      ['node3', '192.168.100.102'],
    ]) {
      const out = sim.curl({ from: 'client', url: `http://${ip}:30090/` });
      expect(out.stdout).toBe(`Hello World!\n${dsPods.get(node)}\n`);
    }
    const clusterIP = sim.cluster.getService('db-rw')?.spec?.clusterIP;
    const served = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const out = sim.curl({ from: 'node2', url: `http://${clusterIP}/` });
      expect(out.exitCode, out.stderr).toBe(0);
      served.add(out.stdout.split('\n')[1]);
    }
    expect([...served].sort()).toEqual(['db-0', 'db-1']);
  });
});
