/**
 * How many connections a probe needs so that the sampled distribution check can see a
 * wrong balance: the chi-square goodness-of-fit test against equal shares over k backends,
 * at level alpha, must reject with probability `power` when one backend's share is
 * `deviation` (absolute, e.g. 0.10 = ten percentage points) too high and another's as much
 * too low — the least detectable way to be off by that much. Under that alternative the
 * statistic is non-central chi-square with k−1 degrees of freedom and non-centrality
 * λ = N·w², w² = Σ (p_i − 1/k)² / (1/k) = 2·k·deviation².
 */
import { chiSquareSurvival } from '../util/stats.js';

/** The chi-square statistic's critical value at level alpha (bisection on the survival function). */
export function chiSquareCritical(alpha: number, dof: number): number {
  let lo = 0;
  let hi = 1;
  while (chiSquareSurvival(hi, dof) > alpha) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-9 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (chiSquareSurvival(mid, dof) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** P(X > x) for X ~ non-central χ²(dof, λ): a Poisson(λ/2) mixture of central χ²(dof + 2j). */
export function noncentralChiSquareSurvival(x: number, dof: number, lambda: number): number {
  if (lambda === 0) return chiSquareSurvival(x, dof);
  const half = lambda / 2;
  // Sum the Poisson weights outward from their mode until they are negligible.
  const mode = Math.floor(half);
  const logWeight = (j: number) => -half + j * Math.log(half) - lnFactorial(j);
  let total = 0;
  for (let j = mode; j < mode + 10_000; j++) {
    const w = Math.exp(logWeight(j));
    total += w * chiSquareSurvival(x, dof + 2 * j);
    if (w < 1e-17 && j > mode + 10) break;
  }
  for (let j = mode - 1; j >= 0; j--) {
    const w = Math.exp(logWeight(j));
    total += w * chiSquareSurvival(x, dof + 2 * j);
    if (w < 1e-17) break;
  }
  return Math.min(1, total);
}

function lnFactorial(n: number): number {
  let s = 0;
  for (let i = 2; i <= n; i++) s += Math.log(i);
  return s;
}

/** The power of the test with N connections over k backends against `deviation`. */
export function shareTestPower(n: number, k: number, deviation: number, alpha: number): number {
  if (k < 2) return 1;
  const dof = k - 1;
  return noncentralChiSquareSurvival(chiSquareCritical(alpha, dof), dof, n * 2 * k * deviation * deviation);
}

export interface PowerTarget {
  /** Absolute share deviation to detect (default 0.10). */
  readonly deviation: number;
  /** Probability of detecting it (default 0.99). */
  readonly power: number;
  readonly alpha: number;
}

export const DEFAULT_POWER_TARGET = { deviation: 0.1, power: 0.99 } as const;

/** The fewest connections with which the test over k backends reaches the target power. */
export function connectionsForPower(k: number, target: PowerTarget): number {
  if (k < 2) return 1;
  if (target.deviation * k >= 1 + 1e-12 && k === 2 && target.deviation > 0.5) return 1;
  const ok = (n: number) => shareTestPower(n, k, target.deviation, target.alpha) >= target.power;
  let hi = 8;
  while (!ok(hi)) hi *= 2;
  let lo = hi / 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
