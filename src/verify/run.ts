/**
 * One verification run: the scenario's cluster (taken from dpsim's Simulation, so both
 * sides see the same ClusterIPs, NodePorts and pods), the probe plan, the kernel side, the
 * dpsim side, and the comparison.
 */
import type { Cluster } from '../k8s/cluster.js';
import { loadManifests } from '../k8s/manifests.js';
import { toProxyModel } from '../k8s/proxy-model.js';
import { originScenarioYaml } from '../k8s/scenarios/origin.js';
import { podApps } from '../sim/pod-apps.js';
import { compareSides, type VerifyReport } from './compare.js';
import { type BuildSimulation, loadBuildSimulation, runDpsimSide } from './dpsim-side.js';
import { ScenarioError } from './errors.js';
import { runKernelSide } from './kernel-side.js';
import type { SideResult } from './observation.js';
import { type ProbePlan, planProbes } from './plan.js';
import type { KernelMode } from './prerequisites.js';
import type { RuleTransform } from './rules.js';

export interface VerifyOptions {
  /** Manifests (YAML text); default: the origin scenario. */
  readonly manifests?: string;
  /** Name shown in the report. */
  readonly scenario?: string;
  readonly mode: KernelMode;
  /** Seed of dpsim's cluster and simulation (default 1). */
  readonly seed?: number;
  /** Connections per probe (default 60). */
  readonly n?: number;
  /** Post-processes each node's rendered rules before the kernel loads them. */
  readonly transformRules?: RuleTransform;
  readonly alpha?: number;
  /**
   * Node the kernel's client routes LoadBalancer VIPs to (default: the first node, which is
   * where dpsim's Simulation routes them too; another node only makes sense kernel-only).
   */
  readonly lbEntryNode?: string;
  readonly concurrency?: number;
  readonly connectTimeoutMs?: number;
  readonly log?: (line: string) => void;
  /** dpsim's buildSimulation (default: loaded from src/sim/simulation.ts). */
  readonly buildSimulation?: BuildSimulation;
}

export const DEFAULT_CONNECTIONS = 60;
const MAX_CONNECTIONS = 2000;

function checkN(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONNECTIONS) {
    throw new ScenarioError(`connections per probe must be an integer in [1, ${MAX_CONNECTIONS}], got ${n}`);
  }
  return n;
}

function planFor(cluster: Cluster, options: VerifyOptions): ProbePlan {
  const plan = planProbes(toProxyModel(cluster), podApps(cluster.pods()), {
    clientIP: cluster.config.clientIP,
    ...(options.lbEntryNode !== undefined ? { lbEntryNode: options.lbEntryNode } : {}),
  });
  if (plan.probes.length === 0) {
    const why = plan.skipped.map((s) => `${s.servicePortName}: ${s.reason}`).join('; ');
    throw new ScenarioError(
      `nothing to probe: the manifests define no TCP Service backed by pods${why ? ` (${why})` : ''}`,
    );
  }
  return plan;
}

function kernelSide(
  cluster: Cluster,
  plan: ProbePlan,
  options: VerifyOptions,
  n: number,
): Promise<SideResult> {
  return runKernelSide({
    model: toProxyModel(cluster),
    pods: podApps(cluster.pods()),
    plan,
    mode: options.mode,
    n,
    ...(options.transformRules ? { transformRules: options.transformRules } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
}

/** Runs the scenario through the real kernel and through dpsim and compares them. */
export async function verifyScenario(options: VerifyOptions): Promise<VerifyReport> {
  const n = checkN(options.n ?? DEFAULT_CONNECTIONS);
  const build = options.buildSimulation ?? (await loadBuildSimulation());
  const sim = build({
    manifests: options.manifests ?? originScenarioYaml,
    mode: options.mode,
    seed: options.seed ?? 1,
  });
  const plan = planFor(sim.cluster, options);
  const kernel = await kernelSide(sim.cluster, plan, options, n);
  const dpsim = await runDpsimSide(sim, plan, options.mode, n, options.connectTimeoutMs ?? 1000);
  options.log?.(`dpsim(${options.mode}): ${plan.probes.length} probe(s) × ${n} connection(s) simulated`);
  return compareSides(plan, kernel, dpsim, {
    scenario: options.scenario ?? 'scenario',
    ...(options.alpha !== undefined ? { alpha: options.alpha } : {}),
  });
}

/** The cluster dpsim's control plane builds from the manifests (what the Simulation also uses). */
export function clusterFromManifests(manifests: string | undefined, seed = 1): Cluster {
  const loaded = loadManifests(manifests ?? originScenarioYaml, { seed });
  if (loaded.rejected) {
    const msgs = loaded.outcomes.filter((o) => o.status === 'rejected').map((o) => o.message);
    throw new ScenarioError(`the manifests were rejected:\n${msgs.join('\n')}`);
  }
  return loaded.cluster;
}

/** The kernel side alone (no dpsim run): the plan and what the real kernel did. */
export async function runKernelOnly(
  options: Omit<VerifyOptions, 'buildSimulation'>,
): Promise<{ plan: ProbePlan; kernel: SideResult }> {
  const n = checkN(options.n ?? DEFAULT_CONNECTIONS);
  const cluster = clusterFromManifests(options.manifests, options.seed ?? 1);
  const plan = planFor(cluster, options);
  return { plan, kernel: await kernelSide(cluster, plan, options, n) };
}
