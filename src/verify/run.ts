/**
 * One verification run: the scenario's cluster (taken from dpsim's Simulation, so both
 * sides see the same ClusterIPs, NodePorts and pods), the probe plan, the kernel side, the
 * dpsim side, and the comparison — in one address family (IPv4, or the IPv6 side of a
 * dual-stack cluster: its IPv6 proxier's rules, IPv6 hosts and IPv6 connections).
 */
import type { Cluster } from '../k8s/cluster.js';
import { loadManifests } from '../k8s/manifests.js';
import { originScenarioYaml } from '../k8s/scenarios/origin.js';
import { compareSides, DEFAULT_ALPHA, type VerifyReport } from './compare.js';
import {
  type BuildSimulation,
  type DpsimSimulation,
  loadBuildSimulation,
  runDpsimSide,
} from './dpsim-side.js';
import { ScenarioError } from './errors.js';
import { type FamilyView, familyView, type VerifyFamily } from './family.js';
import { runKernelSide } from './kernel-side.js';
import type { SideResult } from './observation.js';
import { type ProbePlan, planProbes } from './plan.js';
import { connectionsForPower, DEFAULT_POWER_TARGET, shareTestPower } from './power.js';
import type { KernelMode } from './prerequisites.js';
import type { RuleTransform } from './rules.js';
import { compiledShareRows, kernelShareRows, sharesByProbe } from './shares-check.js';

export interface VerifyOptions {
  /** Manifests (YAML text); default: the origin scenario. */
  readonly manifests?: string;
  /** Name shown in the report. */
  readonly scenario?: string;
  readonly mode: KernelMode;
  /** The address family verified (default ipv4); ipv6 needs a dual-stack cluster. */
  readonly family?: VerifyFamily;
  /** `--dual-stack`: the default cluster gets kubespray's IPv6 ranges and IPv6 node addresses. */
  readonly dualStack?: boolean;
  /** Seed of dpsim's cluster and simulation (default 1). */
  readonly seed?: number;
  /**
   * Connections per probe (default: the fewest with which the distribution check detects a
   * `deviation` in one backend's share with probability `power` at `alpha`).
   */
  readonly n?: number;
  /** Absolute share deviation the sampled check must detect (default 0.10). */
  readonly deviation?: number;
  /** Probability of detecting it (default 0.99). */
  readonly power?: number;
  /** Post-processes each node's rendered rules before the kernel loads them. */
  readonly transformRules?: RuleTransform;
  readonly alpha?: number;
  /**
   * Node the kernel's client routes LoadBalancer VIPs to (default: the first node, which is
   * where dpsim's Simulation routes them too; another node only makes sense kernel-only).
   */
  readonly lbEntryNode?: string;
  readonly concurrency?: number;
  /** Connect timeout of every probe connection, on both sides (default: connectTimeoutFor(family)). */
  readonly connectTimeoutMs?: number;
  readonly log?: (line: string) => void;
  /** dpsim's buildSimulation (default: loaded from src/sim/simulation.ts). */
  readonly buildSimulation?: BuildSimulation;
}

export const MAX_CONNECTIONS = 2000;

/**
 * The probes' connect timeout: curl's `--connect-timeout 1` for IPv4. For IPv6, 2.5 s: in the
 * namespace sandbox the REJECT's ICMPv6 error comes back within the prober's own connect()
 * call, while that call still holds the socket (the kernel counts it in LockDroppedIcmps and
 * keeps it only as a soft error), so the refusal is seen on the SYN retransmitted at 1 s — a
 * timing of the sandbox, where a real client a link away sees the first error. The timeout
 * leaves that retransmission room on a loaded machine, so REJECT still reads as refused and
 * DROP as a timeout.
 */
export function connectTimeoutFor(family: VerifyFamily): number {
  return family === 'ipv6' ? 2500 : 1000;
}

function checkN(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONNECTIONS) {
    throw new ScenarioError(`connections per probe must be an integer in [1, ${MAX_CONNECTIONS}], got ${n}`);
  }
  return n;
}

function planFor(view: FamilyView, options: VerifyOptions): ProbePlan {
  const plan = planProbes(view.model, view.pods, {
    clientIP: view.clientIP,
    ...(options.lbEntryNode !== undefined ? { lbEntryNode: options.lbEntryNode } : {}),
  });
  if (plan.probes.length === 0) {
    const why = plan.skipped.map((s) => `${s.servicePortName}: ${s.reason}`).join('; ');
    const what =
      view.family === 'ipv6'
        ? 'no TCP or UDP Service with an IPv6 ClusterIP (ipFamilyPolicy PreferDualStack or RequireDualStack, or ipFamilies [IPv6]) backed by pods'
        : 'no TCP or UDP Service backed by pods';
    throw new ScenarioError(`nothing to probe: the manifests define ${what}${why ? ` (${why})` : ''}`);
  }
  return plan;
}

function kernelSide(
  view: FamilyView,
  plan: ProbePlan,
  options: VerifyOptions,
  n: number,
): Promise<SideResult> {
  return runKernelSide({
    model: view.model,
    pods: view.pods,
    plan,
    mode: options.mode,
    family: view.family,
    n,
    ...(options.transformRules ? { transformRules: options.transformRules } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    connectTimeoutMs: options.connectTimeoutMs ?? connectTimeoutFor(view.family),
    ...(options.log ? { log: options.log } : {}),
  });
}

/**
 * Connections per probe: as given, or sized by the power calculation for the probe with the
 * most backends to tell apart (fewer backends need more connections, so the smallest k ≥ 2
 * decides), capped at MAX_CONNECTIONS.
 */
export function sampleSize(plan: ProbePlan, options: VerifyOptions): { n: number; why: string } {
  if (options.n !== undefined)
    return { n: checkN(options.n), why: `${options.n} connection(s) per probe, as asked` };
  const target = {
    deviation: options.deviation ?? DEFAULT_POWER_TARGET.deviation,
    power: options.power ?? DEFAULT_POWER_TARGET.power,
    alpha: options.alpha ?? DEFAULT_ALPHA,
  };
  if (!(target.deviation > 0 && target.deviation < 1) || !(target.power > 0 && target.power < 1))
    throw new ScenarioError('the deviation to detect and the power must be between 0 and 1');
  const ks = plan.probes
    .filter((p) => !p.sessionAffinity && p.expected.backends.length >= 2)
    .map((p) => p.expected.backends.length);
  if (ks.length === 0)
    return { n: 20, why: 'no probe has two backends to balance: 20 connections per probe' };
  const k = Math.min(...ks);
  const needed = connectionsForPower(k, target);
  const n = Math.min(needed, MAX_CONNECTIONS);
  const why =
    `${n} connections per probe: a ${(target.deviation * 100).toFixed(0)}-point share deviation over ${k} backends ` +
    `is detected with ${(shareTestPower(n, k, target.deviation, target.alpha) * 100).toFixed(1)} % power at alpha ${target.alpha}` +
    (needed > n ? ` (${needed} would reach ${target.power * 100} %; capped at ${MAX_CONNECTIONS})` : '');
  return { n, why };
}

/** The dpsim side's exact share rows: its Simulation's own for IPv4, its IPv6 proxier's compiled rules for IPv6. */
function dpsimShareRows(sim: DpsimSimulation, view: FamilyView, mode: KernelMode) {
  if (view.family === 'ipv6') return compiledShareRows(view.model, mode, 'ipv6');
  return sim.shares === undefined ? undefined : (node: string) => sim.shares!(node);
}

/** Runs the scenario through the real kernel and through dpsim and compares them. */
export async function verifyScenario(options: VerifyOptions): Promise<VerifyReport> {
  const build = options.buildSimulation ?? (await loadBuildSimulation());
  const family = options.family ?? 'ipv4';
  const sim = build({
    manifests: options.manifests ?? originScenarioYaml,
    mode: options.mode,
    seed: options.seed ?? 1,
    ...(options.dualStack ? { clusterOptions: { dualStack: true } } : {}),
  });
  const view = familyView(sim.cluster, family);
  const plan = planFor(view, options);
  const { n, why } = sampleSize(plan, options);
  options.log?.(`sampling: ${why}`);
  const model = view.model;
  const dpsimRows = dpsimShareRows(sim, view, options.mode);
  const shares =
    dpsimRows === undefined
      ? undefined
      : {
          kernel: sharesByProbe(
            plan,
            model,
            options.mode,
            kernelShareRows(model, options.mode, options.transformRules, family),
          ),
          dpsim: sharesByProbe(plan, model, options.mode, dpsimRows),
        };
  const kernel = await kernelSide(view, plan, options, n);
  const connectTimeoutMs = options.connectTimeoutMs ?? connectTimeoutFor(family);
  const dpsim = await runDpsimSide(sim, plan, options.mode, n, connectTimeoutMs, family);
  options.log?.(
    `dpsim(${options.mode}${family === 'ipv6' ? ', IPv6' : ''}): ${plan.probes.length} probe(s) × ${n} connection(s) simulated`,
  );
  return compareSides(plan, kernel, dpsim, {
    scenario: options.scenario ?? 'scenario',
    family,
    sampling: why,
    ...(options.alpha !== undefined ? { alpha: options.alpha } : {}),
    ...(shares !== undefined ? { shares } : {}),
  });
}

/** The cluster dpsim's control plane builds from the manifests (what the Simulation also uses). */
export function clusterFromManifests(manifests: string | undefined, seed = 1, dualStack = false): Cluster {
  const loaded = loadManifests(manifests ?? originScenarioYaml, {
    seed,
    ...(dualStack ? { dualStack } : {}),
  });
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
  const cluster = clusterFromManifests(options.manifests, options.seed ?? 1, options.dualStack ?? false);
  const view = familyView(cluster, options.family ?? 'ipv4');
  const plan = planFor(view, options);
  const { n } = sampleSize(plan, options);
  return { plan, kernel: await kernelSide(view, plan, options, n) };
}
