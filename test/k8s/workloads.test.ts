/**
 * Issue 11 item 3: DaemonSet and StatefulSet pods are simulated as real Service backends —
 * one DaemonSet pod per node (`<ds>-xxxxx`), StatefulSet pods `<sts>-0..n-1` with stable names
 * and DNS names under their headless serviceName — and `get` prints them as kubectl does.
 */
import { describe, expect, it } from 'vitest';
import { resolveDns } from '../../src/k8s/cluster-dns.js';
import { loadManifests } from '../../src/k8s/manifests.js';
import { runGet } from '../../src/k8s/printers.js';

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
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: go-myweb:1.0}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 8080}]
`;

function load() {
  const r = loadManifests(YAML, { source: 'w.yaml' });
  expect(r.outcomes.map((o) => o.message)).toEqual([
    'daemonset.apps/agent created',
    'statefulset.apps/db created',
    'service/db created',
  ]);
  return r.cluster;
}

describe('DaemonSet', () => {
  it('runs one pod per node, named <ds>-<5 random chars>', () => {
    const c = load();
    const pods = c.pods().filter((p) => p.metadata?.name?.startsWith('agent-'));
    expect(pods.map((p) => p.spec?.nodeName).sort()).toEqual(['node1', 'node2', 'node3']);
    for (const p of pods) expect(p.metadata?.name).toMatch(/^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('gives a node that registers later its pod, and replaces a deleted pod on the same node', () => {
    const c = load();
    c.applyObject({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node4' },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.100.103' }] },
    });
    const onNode = (n: string) =>
      c.pods().filter((p) => p.metadata?.name?.startsWith('agent-') && p.spec?.nodeName === n);
    expect(onNode('node4')).toHaveLength(1);
    const victim = onNode('node2')[0].metadata?.name ?? '';
    expect(c.apply({ type: 'deletePod', name: victim }).ok).toBe(true);
    expect(onNode('node2')).toHaveLength(1);
    expect(onNode('node2')[0].metadata?.name).not.toBe(victim);
    expect(c.daemonSets()[0].status?.desiredNumberScheduled).toBe(4);
  });

  it('prints kubectl’s daemonset.apps columns', () => {
    expect(runGet(load(), { args: ['ds,sts'] }).stdout).toBe(
      [
        'NAME                   DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE',
        'daemonset.apps/agent   3         3         3       3            3           <none>          0s',
        '',
        'NAME                  READY   AGE',
        'statefulset.apps/db   3/3     0s',
        '',
      ].join('\n'),
    );
  });
});

describe('StatefulSet', () => {
  it('creates <sts>-0..n-1 with hostname and subdomain, and removes from the highest ordinal down', () => {
    const c = load();
    const names = () =>
      c
        .pods()
        .filter((p) => p.metadata?.name?.startsWith('db-') && p.metadata.deletionTimestamp === undefined)
        .map((p) => p.metadata?.name);
    expect(names()).toEqual(['db-0', 'db-1', 'db-2']);
    const p1 = c.getPod('db-1');
    expect([p1?.spec?.hostname, p1?.spec?.subdomain]).toEqual(['db-1', 'db']);
    expect(p1?.metadata?.labels?.['statefulset.kubernetes.io/pod-name']).toBe('db-1');
    const sts = c.statefulSets()[0];
    c.applyObject({ ...sts, spec: { ...sts.spec!, replicas: 1 }, status: undefined });
    expect(names()).toEqual(['db-0']);
  });

  it('brings a deleted pod back under the same name, with a stable DNS name under the headless Service', () => {
    const c = load();
    const before = c.getPod('db-1')?.metadata?.uid;
    expect(c.apply({ type: 'deletePod', name: 'db-1' }).ok).toBe(true);
    const after = c.getPod('db-1');
    expect(after?.metadata?.uid).not.toBe(before);
    expect(resolveDns(c, 'db-1.db.default.svc.cluster.local')).toEqual({
      type: 'A',
      addresses: [after?.status?.podIP],
    });
    expect(resolveDns(c, 'db-1.db.default.svc')).toEqual(resolveDns(c, 'db-1.db.default.svc.cluster.local'));
    expect(resolveDns(c, 'db-7.db.default.svc.cluster.local')).toBeUndefined();
    const all = resolveDns(c, 'db');
    expect(all?.type === 'A' ? all.addresses.length : 0).toBe(3);
  });
});
