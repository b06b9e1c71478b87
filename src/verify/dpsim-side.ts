/**
 * The dpsim side of the differential test: the same probes sent through dpsim's simulated
 * topology (src/sim/simulation.ts, `buildSimulation`), observed the same way as the kernel
 * side (answers, peers, conntrack), with curl's 1 s connect timeout like the kernel prober.
 *
 * The Simulation is imported lazily so that the kernel side and the comparator work (and
 * are tested) even when the simulator cannot load; that case is a SimulationUnavailableError.
 */
import type { Cluster } from '../k8s/cluster.js';
import type { ServiceShares } from '../shares/types.js';
import { natShapesFor } from './conntrack-text.js';
import { SimulationUnavailableError } from './errors.js';
import { hostPort, type VerifyFamily } from './family.js';
import { ObservationBuilder, type OutcomeClass, type SideResult } from './observation.js';
import type { ProbePlan } from './plan.js';

/** What `sim.curl` returns (curl's exit codes: 0 ok, 7 refused, 28 timeout, 56 reset). */
export interface CurlOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly servedBy?: { readonly pod: string; readonly peer: string };
  readonly elapsedMs: number;
}

/** The part of dpsim's Simulation the verification uses (tests may pass a stand-in). */
/** What `sim.udpRequest` returns (the part used here). */
export interface UdpOutcome {
  readonly result: 'ok' | 'refused' | 'timeout' | 'unreachable';
  readonly servedBy?: { readonly pod: string; readonly peer: string };
}

export interface DpsimSimulation {
  readonly cluster: Cluster;
  curl(request: { from: string; url: string; connectTimeoutMs?: number }): CurlOutcome | Promise<CurlOutcome>;
  /** One datagram from a new connected socket (UDP probes). */
  udpRequest?(request: { from: string; dst: string; port: number; timeoutMs?: number }): UdpOutcome;
  /** `conntrack -L` (`family` 'ipv6': `conntrack -L -f ipv6`, the node's IPv6 table). */
  conntrackList(nodeName: string, family?: VerifyFamily): string;
  /** Exact share rows of a node's rules (dpsim's Simulation has them; a stand-in may not). */
  shares?(nodeName: string): readonly ServiceShares[];
}

export interface BuildSimulationOptions {
  /** YAML text; default: the origin scenario. */
  readonly manifests?: string;
  readonly mode: 'iptables' | 'nftables' | 'ipvs' | 'ebpf';
  readonly seed?: number;
  /** `dualStack`: the default cluster gets kubespray's IPv6 ranges and IPv6 node addresses. */
  readonly clusterOptions?: { readonly dualStack?: boolean };
}

export type BuildSimulation = (options: BuildSimulationOptions) => DpsimSimulation;

// Compile-time proof that dpsim's real Simulation fits the shape used here.
type SimulationModule = typeof import('../sim/simulation.js');
const _fits: (m: SimulationModule) => BuildSimulation = (m) => m.buildSimulation;
void _fits;

/** dpsim's `buildSimulation`, loaded on first use so the kernel side never depends on it. */
export async function loadBuildSimulation(): Promise<BuildSimulation> {
  let mod: SimulationModule;
  try {
    mod = await import('../sim/simulation.js');
  } catch (e) {
    throw new SimulationUnavailableError(
      `dpsim's simulated topology (src/sim/simulation.ts) could not be loaded: ${(e as Error).message}`,
    );
  }
  return mod.buildSimulation;
}

/** curl's exit code → outcome class. */
export function classifyCurl(outcome: CurlOutcome): OutcomeClass {
  switch (outcome.exitCode) {
    case 0:
      return 'ok';
    case 7:
      return /no route|unreachable/i.test(outcome.stderr) ? 'unreachable' : 'refused';
    case 28:
      return 'timeout';
    case 56:
      return 'reset';
    default:
      return 'other';
  }
}

/** Sends every probe `n` times through the simulation and collects the observations. */
export async function runDpsimSide(
  sim: DpsimSimulation,
  plan: ProbePlan,
  mode: string,
  n: number,
  connectTimeoutMs = 1000,
  family: VerifyFamily = 'ipv4',
): Promise<SideResult> {
  const started = Date.now();
  const builders = plan.probes.map((p) => new ObservationBuilder(p, plan.addressLabels));
  for (let i = 0; i < plan.probes.length; i++) {
    const p = plan.probes[i];
    if (p.protocol === 'UDP') {
      if (sim.udpRequest === undefined) throw new SimulationUnavailableError('this simulation sends no UDP');
      for (let c = 0; c < n; c++) {
        // The kernel prober waits connect + response timeouts for a datagram back.
        const out = sim.udpRequest({
          from: p.from,
          dst: p.dstIP,
          port: p.dstPort,
          timeoutMs: connectTimeoutMs + 2000,
        });
        builders[i].add(out.result, out.servedBy, out.result === 'ok' ? undefined : out.result);
      }
      continue;
    }
    const url = `http://${hostPort(p.dstIP, p.dstPort)}/`;
    for (let c = 0; c < n; c++) {
      const out = await sim.curl({ from: p.from, url, connectTimeoutMs });
      const cls = classifyCurl(out);
      builders[i].add(
        cls,
        out.servedBy,
        cls === 'ok' ? undefined : out.stderr.trim() || `curl exit ${out.exitCode}`,
      );
    }
  }
  const conntrack: Record<string, string> = {};
  for (const node of sim.cluster.nodes()) {
    const name = node.metadata!.name!;
    conntrack[name] = family === 'ipv6' ? sim.conntrackList(name, family) : sim.conntrackList(name);
  }
  const tables = Object.values(conntrack);
  const probes = plan.probes.map((p, i) =>
    builders[i].build(
      natShapesFor(
        tables,
        p.sourceIP,
        p.dstIP,
        p.dstPort,
        plan.addressLabels,
        p.protocol === 'UDP' ? 'udp' : 'tcp',
      ),
    ),
  );
  return { side: 'dpsim', mode, probes, conntrack, elapsedMs: Date.now() - started };
}
