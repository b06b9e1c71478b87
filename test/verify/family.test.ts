/** The IPv6 view of a scenario: the IPv6 proxier's model, the pods at their IPv6 addresses, IPv6 probes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScenarioError } from '../../src/verify/errors.js';
import { familyView } from '../../src/verify/family.js';
import { peerAddress } from '../../src/verify/observation.js';
import { planProbes } from '../../src/verify/plan.js';
import { clusterFromManifests } from '../../src/verify/run.js';

const DUAL = readFileSync(join(import.meta.dirname, '../../fixtures/origin-dual-stack.yaml'), 'utf8');

describe('the IPv6 side of a dual-stack scenario', () => {
  it('has the nodes, pods and client at their IPv6 addresses and probes the IPv6 ClusterIP and NodePorts', () => {
    const view = familyView(clusterFromManifests(DUAL, 1, true), 'ipv6');
    expect(view.clientIP).toBe('fd00:192:168:100::1');
    expect(view.model.nodes.map((n) => n.ip)).toEqual([
      'fd00:192:168:100::100',
      'fd00:192:168:100::101',
      'fd00:192:168:100::102',
    ]);
    expect(view.pods.every((p) => p.ip.startsWith('fd85:ee78:d8a6:8607::1:'))).toBe(true);
    const plan = planProbes(view.model, view.pods, { clientIP: view.clientIP });
    expect(plan.probes.map((p) => p.id.replace(/ from .*/, ''))).toEqual([
      'nodeport default/myweb-svc-np [fd00:192:168:100::100]:31244',
      'nodeport default/myweb-svc-np [fd00:192:168:100::101]:31244',
      'nodeport default/myweb-svc-np [fd00:192:168:100::102]:31244',
      'clusterip default/myweb-svc-np [fd85:ee78:d8a6:8607::1e32]:80',
      'clusterip default/myweb-svc-np [fd85:ee78:d8a6:8607::1e32]:80',
    ]);
    expect(plan.probes.every((p) => p.expected.backends.length === 3)).toBe(true);
  });

  it('is refused with one line on a single-stack cluster', () => {
    const single = clusterFromManifests(DUAL, 1, false);
    expect(() => familyView(single, 'ipv6')).toThrow(ScenarioError);
    expect(() => familyView(single, 'ipv6')).toThrow(
      /^--family ipv6: the cluster is single-stack \(use --dual-stack/,
    );
  });

  it('reads the peer address out of "ip:port" and "[ip]:port"', () => {
    expect(peerAddress('192.168.100.100:40000')).toBe('192.168.100.100');
    expect(peerAddress('[fd00:192:168:100::100]:40000')).toBe('fd00:192:168:100::100');
  });
});
