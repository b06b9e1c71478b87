/** The verification scenarios (fixtures/verify plus the origin scenario) and the test gating. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { originScenarioYaml } from '../../src/k8s/scenarios/origin.js';
import type { VerifyFamily } from '../../src/verify/family.js';
import { type KernelMode, missingKernelPrerequisites } from '../../src/verify/prerequisites.js';

export interface Scenario {
  readonly name: string;
  readonly manifests: string;
}

const FIXTURES = join(import.meta.dirname, '../../fixtures/verify');

export const SCENARIOS: readonly Scenario[] = [
  { name: 'origin NodePort', manifests: originScenarioYaml },
  ...[
    'clusterip-endpoints',
    'external-traffic-local',
    'no-endpoints',
    'session-affinity',
    'loadbalancer-source-ranges',
    'udp',
  ].map((f) => ({ name: f, manifests: readFileSync(join(FIXTURES, `${f}.yaml`), 'utf8') })),
];

/** The manifests with every Service that names no family asking for both (PreferDualStack). */
export function preferDualStack(manifests: string): string {
  return parseAllDocuments(manifests)
    .map((doc) => {
      if (
        doc.get('kind') === 'Service' &&
        !doc.hasIn(['spec', 'ipFamilyPolicy']) &&
        !doc.hasIn(['spec', 'ipFamilies'])
      )
        doc.setIn(['spec', 'ipFamilyPolicy'], 'PreferDualStack');
      return doc.toString();
    })
    .join('---\n');
}

/**
 * The IPv6 side of the scenarios, for a --dual-stack cluster: the origin scenario built
 * dual-stack, then every verification scenario with its Services PreferDualStack. (The
 * LoadBalancer one is left out: the VIP pool is IPv4, so its IPv6 side is only NodePorts and
 * ClusterIPs, which the others cover.)
 */
export const DUAL_STACK_SCENARIOS: readonly Scenario[] = [
  {
    name: 'origin dual-stack',
    manifests: readFileSync(join(import.meta.dirname, '../../fixtures/origin-dual-stack.yaml'), 'utf8'),
  },
  ...SCENARIOS.filter((s) => s.name !== 'origin NodePort' && s.name !== 'loadbalancer-source-ranges').map(
    (s) => ({ name: `${s.name} (dual-stack)`, manifests: preferDualStack(s.manifests) }),
  ),
];

export const MODES: readonly KernelMode[] = ['iptables', 'nftables'];

/**
 * Why the kernel tests cannot run here (null when they can). Under CI a missing prerequisite
 * is a failure, not a skip: the caller turns `reason` into a failing test.
 */
export function kernelGate(
  label: string,
  family: VerifyFamily = 'ipv4',
): { skip: boolean; reason: string | null } {
  const missing = missingKernelPrerequisites(MODES, family);
  const reason = missing.length > 0 ? missing.join('; ') : null;
  const skip = reason !== null && !process.env.CI;
  if (skip) console.warn(`[${label}] skipped: ${reason}`);
  return { skip, reason };
}
