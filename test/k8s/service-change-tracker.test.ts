/**
 * Issue 10 item 5: one change tracker. The control plane records every Service its
 * controllers touch; the simulation's proxies re-plan exactly what it drained. The oracle here
 * diffs the proxy models Service by Service: whatever changed in the model must have been
 * recorded, under any sequence of control-plane events.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cluster, type ClusterEvent } from '../../src/k8s/cluster.js';
import { loadManifests } from '../../src/k8s/manifests.js';
import { toProxyModel } from '../../src/k8s/proxy-model.js';
import { ServiceChangeTracker } from '../../src/k8s/service-change-tracker.js';
import type { ProxyModel } from '../../src/proxy/common/model.js';

const YAML = `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: go-myweb:1.0}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: other}
spec: {selector: {app: other}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: legacy}
spec: {ports: [{port: 80}]}
`;

/** The oracle: each Service's compiled ports, as text, by `ns/name`. */
function byService(model: ProxyModel): Map<string, string> {
  const out = new Map<string, string>();
  for (const sp of model.servicePorts) {
    const key = `${sp.namespace}/${sp.name}`;
    out.set(key, (out.get(key) ?? '') + JSON.stringify(sp));
  }
  return out;
}

function modelChanges(before: ProxyModel, after: ProxyModel): Set<string> {
  const a = byService(before);
  const b = byService(after);
  const changed = new Set<string>();
  for (const k of new Set([...a.keys(), ...b.keys()])) if (a.get(k) !== b.get(k)) changed.add(k);
  return changed;
}

const eventArb = (podNames: () => string[]): fc.Arbitrary<() => ClusterEvent> =>
  fc.oneof(
    fc
      .integer({ min: 0, max: 4 })
      .map((n) => () => ({ type: 'scaleReplicaSet', name: 'web', replicas: n }) as const),
    fc
      .nat()
      .map(
        (i) => () =>
          ({ type: 'deletePod', name: podNames()[i % Math.max(1, podNames().length)] ?? 'x' }) as const,
      ),
    fc.tuple(fc.nat(), fc.boolean()).map(
      ([i, ready]) =>
        () =>
          ({
            type: 'setPodReady',
            name: podNames()[i % Math.max(1, podNames().length)] ?? 'x',
            ready,
          }) as const,
    ),
    fc.nat().map(
      (i) => () =>
        ({
          type: 'terminatePod',
          name: podNames()[i % Math.max(1, podNames().length)] ?? 'x',
          gracePeriodSeconds: 5,
        }) as const,
    ),
    fc.constant(() => ({ type: 'advanceClock', seconds: 10 }) as const),
    fc.constant(() => ({ type: 'removeService', name: 'other' }) as const),
    fc.integer({ min: 1, max: 3 }).map(
      (n) => (): ClusterEvent =>
        ({
          type: 'addEndpointSlice',
          slice: {
            apiVersion: 'discovery.k8s.io/v1',
            kind: 'EndpointSlice',
            metadata: { name: 'legacy-1', labels: { 'kubernetes.io/service-name': 'legacy' } },
            addressType: 'IPv4',
            endpoints: Array.from({ length: n }, (_, i) => ({ addresses: [`10.233.70.${i + 2}`] })),
            ports: [{ port: 80, protocol: 'TCP' }],
          },
        }) as const,
    ),
  );

describe('ServiceChangeTracker', () => {
  it('records every Service whose proxy model changed, under any sequence of control-plane events', () => {
    // The events name pods of the cluster under test, looked up when each event is made.
    let livePods: () => string[] = () => [];
    fc.assert(
      fc.property(
        fc.array(
          eventArb(() => livePods()),
          { minLength: 1, maxLength: 12 },
        ),
        fc.integer({ min: 1, max: 50 }),
        (events, seed) => {
          const { cluster } = loadManifests(YAML, { seed });
          livePods = () => cluster.pods().map((p) => p.metadata?.name ?? '');
          cluster.changes.drain();
          let model = toProxyModel(cluster);
          for (const make of events) {
            cluster.apply(make());
            const next = toProxyModel(cluster);
            const recorded = cluster.changes.drain();
            for (const k of modelChanges(model, next)) expect(recorded.services.has(k), k).toBe(true);
            model = next;
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('accumulates until drained, then starts empty', () => {
    const t = new ServiceChangeTracker();
    t.recordService('default/a');
    t.recordService('default/b');
    t.recordService('default/a');
    expect([...t.drain().services]).toEqual(['default/a', 'default/b']);
    expect(t.drain()).toEqual({ services: new Set(), full: false });
  });

  it('asks for a full sync when a node registers', () => {
    const c = new Cluster();
    c.changes.drain();
    c.applyObject({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node4' },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.100.103' }] },
    });
    expect(c.changes.drain().full).toBe(true);
  });

  it('records a Service change and the Services a user EndpointSlice is moved between', () => {
    const { cluster } = loadManifests(YAML);
    cluster.changes.drain();
    const slice = (svc: string) => ({
      apiVersion: 'discovery.k8s.io/v1' as const,
      kind: 'EndpointSlice' as const,
      metadata: { name: 's1', labels: { 'kubernetes.io/service-name': svc } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.233.70.2'] }],
      ports: [{ port: 80 }],
    });
    cluster.applyObject(slice('legacy'));
    expect([...cluster.changes.drain().services]).toEqual(['default/legacy']);
    cluster.applyObject(slice('other'));
    expect([...cluster.changes.drain().services].sort()).toEqual(['default/legacy', 'default/other']);
  });
});
