/**
 * eBPF mode in the simulator syncs only the Services a control-plane event changed
 * (`syncFromCluster` takes them from the cluster's change tracker). After each event the maps
 * must be what a full sync gives: a full sync right after changes nothing.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../../src/k8s/cluster.js';
import { podApps } from '../../src/sim/pod-apps.js';
import type { Simulation } from '../../src/sim/simulation.js';
import { buildSmall, fixture, NODE_NAMES } from './harness.js';

const EVERY_TYPE = fixture('every-service-type.yaml');

function dumps(sim: Simulation): string[] {
  return NODE_NAMES.map((n) => sim.rules(n));
}

describe('ebpf mode, incremental sync from the cluster', () => {
  it('leaves every node the maps a full sync gives, through scaling, deletions, readiness, Service removal and re-creation', () => {
    const sim = buildSmall({ manifests: EVERY_TYPE, mode: 'ebpf', seed: 5, capture: false });
    const web = () => podApps(sim.cluster.pods()).filter((p) => p.name.startsWith('web-'));
    const events: (() => ClusterEvent)[] = [
      () => ({ type: 'scaleDeployment', name: 'web', replicas: 5 }),
      () => ({ type: 'setPodReady', name: web()[0].name, ready: false }),
      () => ({ type: 'deletePod', name: web()[1].name }),
      () => ({ type: 'terminatePod', name: web()[2].name, gracePeriodSeconds: 5 }),
      () => ({ type: 'advanceClock', seconds: 10 }),
      () => ({ type: 'removeService', name: 'web-nodeport' }),
      () => ({ type: 'removeEndpointSlice', name: 'legacy-db-1' }),
      () => ({
        type: 'addService',
        service: {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web-nodeport' },
          spec: {
            type: 'NodePort',
            selector: { app: 'web' },
            ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }],
          },
        },
      }),
      () => ({ type: 'scaleDeployment', name: 'web', replicas: 1 }),
    ];
    const initial = dumps(sim);
    for (const event of events) {
      const e = event();
      const result = sim.cluster.apply(e);
      expect(result.ok, `${e.type}: ${result.message}`).toBe(true);
      sim.syncFromCluster();
      // A real, partial change: the incremental path ran on some Services, not all.
      const changed = sim.lastSyncChanges;
      expect(changed?.size, `${e.type} changed no Service`).toBeGreaterThan(0);
      expect(changed!.size).toBeLessThan(sim.model.servicePorts.length);
      const after = dumps(sim);
      for (const proxy of sim.proxies.values()) proxy.sync(sim.model); // full sync
      expect(dumps(sim), `after ${e.type}`).toEqual(after);
    }
    expect(dumps(sim)).not.toEqual(initial);
  });
});
