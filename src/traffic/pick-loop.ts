/**
 * The pacing loop every load generator shares: draw a flow from the popularity law for each of
 * N picks, apply the churn events due by then, pace the picks at `rate` per simulated second
 * (or let the network settle after each pick when there is no rate), report progress. What a
 * pick sends — a TCP request, a datagram, an SCTP DATA chunk — is the generator's own.
 */
import type { Simulation } from '../sim/simulation.js';
import type { Rng } from '../util/rng.js';
import { type AppliedChurn, applyChurn, type ChurnEvent } from './churn.js';
import { DEFAULT_ZIPF_EXPONENT, flowSampler, type PopularityLaw } from './popularity.js';

export interface PickLoopOptions {
  readonly packets: number;
  readonly dist?: PopularityLaw;
  readonly zipfExponent?: number;
  /** Picks per simulated second; 0 or unset: as fast as the network settles. */
  readonly rate?: number;
  readonly churn?: readonly ChurnEvent[];
  readonly onProgress?: (sent: number, total: number) => void;
  readonly progressEvery?: number;
}

/** What a generator sends for one pick, and how it re-reads the backends after churn. */
export interface PickTarget {
  sendPick(flow: number): void;
  attachBackends(): void;
}

export interface PickLoopResult {
  readonly law: PopularityLaw;
  readonly applied: AppliedChurn[];
  /** The pacing rate, null when unpaced. */
  readonly rate: number | null;
  readonly wallSeconds: number;
  /** Simulated time when the first pick went out. */
  readonly startNs: number;
  /** Interface traversals during the loop. */
  readonly traversals: number;
}

/** Runs `o.packets` picks over `flows` flows; forks `rng` twice (picks, then churn). */
export function runPickLoop(
  sim: Simulation,
  rng: Rng,
  flows: number,
  o: PickLoopOptions,
  target: PickTarget,
): PickLoopResult {
  const net = sim.network;
  const total = o.packets;
  const sampler = flowSampler(o.dist ?? 'uniform', flows, o.zipfExponent ?? DEFAULT_ZIPF_EXPONENT);
  const pickRng = rng.fork();
  const churnRng = rng.fork();
  const churn = [...(o.churn ?? [])].sort((a, b) => a.atPacket - b.atPacket);
  const applied: AppliedChurn[] = [];
  let nextChurn = 0;
  const rate = o.rate ?? 0;
  const intervalNs = rate > 0 ? 1e9 / rate : 0;
  const startNs = net.nowNs;
  const startTraversals = net.transmissions;
  const every = Math.max(1, o.progressEvery ?? 1024);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    while (nextChurn < churn.length && churn[nextChurn].atPacket <= i) {
      applied.push(applyChurn(sim, churn[nextChurn++], churnRng));
      target.attachBackends();
    }
    if (rate > 0) net.run(startNs + i * intervalNs);
    target.sendPick(sampler.next(pickRng));
    if (rate === 0) sim.settle();
    if (o.onProgress !== undefined && (i + 1) % every === 0) o.onProgress(i + 1, total);
  }
  // Events scheduled after the last pick (a churn spec beyond N) still happen, for the record.
  while (nextChurn < churn.length) {
    applied.push(applyChurn(sim, churn[nextChurn++], churnRng));
    target.attachBackends();
  }
  sim.settle();
  const wallSeconds = (performance.now() - t0) / 1000;
  o.onProgress?.(total, total);
  return {
    law: sampler.law,
    applied,
    rate: rate > 0 ? rate : null,
    wallSeconds,
    startNs,
    traversals: net.transmissions - startTraversals,
  };
}
