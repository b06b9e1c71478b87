/**
 * Issue 11 item 6: a `kind: Node` joins the topology — its InternalIP on the segment, a pod
 * CIDR from the node IPAM, its pods' veths, and a route to its pod CIDR on every other node —
 * so its NodePort serves traffic and its pods answer, whether the Node comes with the
 * manifests or registers while the simulation runs.
 */
import { describe, expect, it } from 'vitest';
import { Cluster, type KubeObject } from '../../src/k8s/cluster.js';
import { runGet } from '../../src/k8s/printers.js';
import { podApps } from '../../src/sim/pod-apps.js';
import { buildSimulation, type Simulation } from '../../src/sim/simulation.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { MODES, type WiredMode } from './harness.js';

const NODE4 = `
apiVersion: v1
kind: Node
metadata: {name: node4, labels: {zone: b}}
status:
  addresses: [{type: InternalIP, address: 192.168.100.103}]
`;

/** Four replicas, one per node; externalTrafficPolicy Local keeps node4's NodePort on node4's pod. */
const WEB = `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: go-myweb:1.0}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
`;

function podOn(sim: Simulation, node: string): string {
  const pod = podApps(sim.cluster.pods()).find((p) => p.nodeName === node);
  if (pod === undefined) throw new Error(`no pod on ${node}`);
  return pod.name;
}

function routesOf(sim: Simulation, node: string): string[] {
  const host = sim.topology.nodes.get(node);
  if (host === undefined) throw new Error(`no node ${node}`);
  return host.routes.format((i) => sim.network.interfaces[i]?.name ?? `if${i}`);
}

describe.each(MODES)('%s mode: a Node given by manifest', (mode: WiredMode) => {
  it('serves its NodePort from its own pod, with a pod CIDR from the node IPAM routed on every other node', () => {
    const sim = buildSimulation({ manifests: `${NODE4}---${WEB}`, mode, conntrackMax: 4096 });
    const pod = podOn(sim, 'node4');
    const out = sim.curl({ from: 'client', url: 'http://192.168.100.103:30080/' });
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe(`Hello World!\n${pod}\n`);
    // Client IP preserved under Local: the pod saw the client itself.
    expect(out.servedBy?.peer.split(':')[0]).toBe('192.168.100.1');
    for (const other of ['node1', 'node2', 'node3'])
      expect(routesOf(sim, other)).toContain('10.233.67.0/24 via 192.168.100.103 dev eth0');
    expect(routesOf(sim, 'node4')).toContain('10.233.64.0/24 via 192.168.100.100 dev eth0');
    // And a pod elsewhere reaches node4's pod across the nodes.
    const fromPod = sim.curl({
      from: `pod/${podOn(sim, 'node1')}`,
      url: `http://${sim.cluster.getPod(pod)?.status?.podIP}:8080/`,
    });
    expect(fromPod.stdout).toBe(`Hello World!\n${pod}\n`);
  });
});

describe('a Node object', () => {
  it('is shown with its InternalIP, kubelet labels and an IPAM pod CIDR', () => {
    const sim = buildSimulation({ manifests: `${NODE4}---${WEB}` });
    const node = sim.cluster.nodes().find((n) => n.metadata?.name === 'node4');
    expect(node?.spec?.podCIDR).toBe('10.233.67.0/24');
    expect(node?.metadata?.labels).toMatchObject({ zone: 'b', 'kubernetes.io/hostname': 'node4' });
    const wide = runGet(sim.cluster, { args: ['nodes'], output: 'wide' }).stdout;
    expect(wide).toMatch(/^node4\s+Ready\s+<none>\s+\S+\s+v1\.30\.4\s+192\.168\.100\.103\s/m);
  });

  it('registering while the simulation runs joins the topology and serves traffic', () => {
    const sim = buildSimulation({ manifests: WEB.replace('replicas: 4', 'replicas: 3') });
    const joined = sim.cluster.apply({
      type: 'applyObject',
      object: {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'node4' },
        status: { addresses: [{ type: 'InternalIP', address: '192.168.100.103' }] },
      },
    });
    expect(joined.message).toBe('node/node4 created');
    sim.cluster.apply({ type: 'scaleReplicaSet', name: 'web', replicas: 4 });
    sim.syncFromCluster();
    const pod = podOn(sim, 'node4');
    const out = sim.curl({ from: 'client', url: 'http://192.168.100.103:30080/' });
    expect(out.stdout).toBe(`Hello World!\n${pod}\n`);
    expect(sim.rules('node4')).toContain('default/web');
    expect(sim.topology.nodes.get('node1')?.routes.lookup(parseIPv4('10.233.67.2'))).toBeGreaterThanOrEqual(
      0,
    );
  });

  it('is rejected with one line when its InternalIP is off the nodes’ segment, taken, or missing', () => {
    const c = new Cluster();
    const node = (name: string, address?: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name },
      ...(address ? { status: { addresses: [{ type: 'InternalIP', address }] } } : {}),
    });
    expect(c.applyObject(node('far', '10.0.0.5')).message).toBe(
      'dpsim: node "far" InternalIP 10.0.0.5 is not on the nodes\' segment 192.168.100.0/24 (the client\'s, 192.168.100.1)',
    );
    expect(c.applyObject(node('dup', '192.168.100.101')).message).toBe(
      'dpsim: node "dup" InternalIP 192.168.100.101 is already node "node2"\'s',
    );
    expect(c.applyObject(node('none')).message).toBe(
      'dpsim: node "none" needs status.addresses with an InternalIP (or list it in the Cluster document)',
    );
  });
});
