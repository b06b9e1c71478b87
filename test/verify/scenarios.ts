/** The verification scenarios (fixtures/verify plus the origin scenario) and the test gating. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { originScenarioYaml } from '../../src/k8s/scenarios/origin.js';
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

export const MODES: readonly KernelMode[] = ['iptables', 'nftables'];

/**
 * Why the kernel tests cannot run here (null when they can). Under CI a missing prerequisite
 * is a failure, not a skip: the caller turns `reason` into a failing test.
 */
export function kernelGate(label: string): { skip: boolean; reason: string | null } {
  const missing = missingKernelPrerequisites(MODES);
  const reason = missing.length > 0 ? missing.join('; ') : null;
  const skip = reason !== null && !process.env.CI;
  if (skip) console.warn(`[${label}] skipped: ${reason}`);
  return { skip, reason };
}
