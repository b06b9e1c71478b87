/**
 * What the simulation builds only when first needed — a node's proxy program (compiled on the
 * first packet at the node or the first dump) and a pod's app (started on the first packet for
 * the pod) — must leave every output as building it all up front did.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../../src/k8s/cluster.js';
import { ipvsBoundAddresses } from '../../src/proxy/ipvs/bound-addresses.js';
import { compileIpvs } from '../../src/proxy/ipvs/compile.js';
import type { DumpPart } from '../../src/sim/modes.js';
import { podApps } from '../../src/sim/pod-apps.js';
import type { Simulation } from '../../src/sim/simulation.js';
import { ep, model, NODES, ORIGIN, servicePort, WEB } from '../proxy/ipvs/fixtures.js';
import { buildSmall, fixture, NODE_NAMES } from './harness.js';

const EVERY_TYPE = fixture('every-service-type.yaml');

const PARTS: Record<string, readonly (DumpPart | undefined)[]> = {
  iptables: [undefined],
  nftables: [undefined],
  ipvs: ['ipvsadm', 'ipset', 'iptables', 'connections'],
  ebpf: ['bpftool', 'cilium-service'],
};

function dumps(sim: Simulation, mode: string): string[] {
  return NODE_NAMES.flatMap((n) =>
    PARTS[mode]!.map((part) => sim.rules(n, part === undefined ? {} : { part })),
  );
}

function events(sim: Simulation): (() => ClusterEvent)[] {
  const web = () => podApps(sim.cluster.pods()).filter((p) => p.name.startsWith('web-'));
  return [
    () => ({ type: 'scaleDeployment', name: 'web', replicas: 5 }),
    () => ({ type: 'terminatePod', name: web()[0].name, gracePeriodSeconds: 5 }),
    () => ({ type: 'advanceClock', seconds: 10 }),
    () => ({ type: 'removeService', name: 'web-nodeport' }),
    () => ({ type: 'scaleDeployment', name: 'web', replicas: 1 }),
  ];
}

describe('lazily built node programs', () => {
  for (const mode of ['iptables', 'nftables', 'ipvs', 'ebpf'] as const) {
    it(`${mode}: a node first dumped after several syncs shows what dumping it after every sync shows`, () => {
      const eager = buildSmall({ manifests: EVERY_TYPE, mode, seed: 9, capture: false });
      const lazy = buildSmall({ manifests: EVERY_TYPE, mode, seed: 9, capture: false });
      // Traffic through node1 first, so graceful termination has connections to keep.
      for (const sim of [eager, lazy]) {
        const np = sim.model.servicePorts.find((sp) => sp.nodePort !== 0)!;
        expect(sim.curl({ from: 'client', url: `http://192.168.100.100:${np.nodePort}/` }).exitCode).toBe(0);
      }
      dumps(eager, mode);
      const eagerEvents = events(eager);
      const lazyEvents = events(lazy);
      for (let i = 0; i < eagerEvents.length; i++) {
        expect(eager.cluster.apply(eagerEvents[i]!()).ok).toBe(true);
        eager.syncFromCluster();
        dumps(eager, mode); // every node built at every step
        expect(lazy.cluster.apply(lazyEvents[i]!()).ok).toBe(true);
        lazy.syncFromCluster();
      }
      expect(dumps(lazy, mode)).toEqual(dumps(eager, mode));
    });
  }

  it('ipvs: a node binds its kube-ipvs0 addresses before its first packet (a curl from the node to a ClusterIP)', () => {
    const sim = buildSmall({ manifests: EVERY_TYPE, mode: 'ipvs', seed: 3, capture: false });
    const sp = sim.model.servicePorts.find(
      (s) => s.endpoints.length > 0 && s.protocol === 'TCP' && s.port === 80,
    )!;
    const out = sim.curl({ from: 'node3', url: `http://${sp.clusterIP}:${sp.port}/` });
    expect(out.exitCode, out.stderr).toBe(0);
  });
});

describe('ipvsBoundAddresses', () => {
  it('is the bound address list compileIpvs gives: ClusterIPs, and external/LoadBalancer IPs not on the node', () => {
    const withExternal = servicePort({
      name: 'ext',
      type: 'LoadBalancer',
      clusterIP: '10.233.5.5',
      port: 443,
      externalIPs: ['192.168.100.100', '203.0.113.7'],
      loadBalancerIPs: ['203.0.113.10', '10.233.5.5'],
      endpoints: [ep('10.233.64.9', 8443, 'node1')],
    });
    const headless = servicePort({ name: 'headless', clusterIP: 'None', port: 80, endpoints: [] });
    for (const m of [ORIGIN, model([WEB, withExternal, headless])]) {
      for (const node of NODES) {
        const addresses = [node.ip, '127.0.0.1'];
        expect(ipvsBoundAddresses(m, addresses)).toEqual(
          compileIpvs(m, node.name, { nodeAddresses: addresses }).boundAddresses,
        );
      }
    }
  });
});
