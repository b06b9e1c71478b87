/**
 * Small statistics helpers for tests and benchmarks: the chi-square goodness-of-fit
 * statistic and its p-value (survival function), computed from the regularized upper
 * incomplete gamma function Q(a, x) — a power series below x < a + 1, a Lentz continued
 * fraction above (the classic split, which converges quickly on each side).
 */

export class StatsError extends Error {
  override name = 'StatsError';
}

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos approximation, ~15 significant digits). */
export function lnGamma(x: number): number {
  if (!(x > 0)) throw new StatsError(`lnGamma needs x > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < LANCZOS_G + 2; i++) sum += LANCZOS[i] / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

const EPS = 1e-15;
const MAX_ITER = 10_000;
const TINY = 1e-300;

/** Regularized lower incomplete gamma P(a, x) by its series (use when x < a + 1). */
function lowerGammaSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITER; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
}

/** Regularized upper incomplete gamma Q(a, x) by its continued fraction (use when x ≥ a + 1). */
function upperGammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

/** Q(a, x) = Γ(a, x) / Γ(a), for a > 0, x ≥ 0. */
export function regularizedUpperGamma(a: number, x: number): number {
  if (!(a > 0)) throw new StatsError(`regularizedUpperGamma needs a > 0, got ${a}`);
  if (!(x >= 0)) throw new StatsError(`regularizedUpperGamma needs x >= 0, got ${x}`);
  if (x === 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  return x < a + 1 ? 1 - lowerGammaSeries(a, x) : upperGammaContinuedFraction(a, x);
}

/** P(X ≥ x) for X ~ χ²(degreesOfFreedom): the p-value of a chi-square statistic. */
export function chiSquareSurvival(x: number, degreesOfFreedom: number): number {
  if (!(degreesOfFreedom > 0))
    throw new StatsError(`degrees of freedom must be positive, got ${degreesOfFreedom}`);
  if (!(x >= 0)) throw new StatsError(`chi-square statistic must be >= 0, got ${x}`);
  return regularizedUpperGamma(degreesOfFreedom / 2, x / 2);
}

/** Σ (observed − expected)² / expected. */
export function chiSquareStatistic(observed: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (observed.length !== expected.length) {
    throw new StatsError(`observed has ${observed.length} cells but expected has ${expected.length}`);
  }
  let chi2 = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = expected[i];
    if (!(e > 0)) throw new StatsError(`expected count of cell ${i} must be positive, got ${e}`);
    const d = observed[i] - e;
    chi2 += (d * d) / e;
  }
  return chi2;
}

export interface ChiSquareUniformResult {
  readonly statistic: number;
  readonly degreesOfFreedom: number;
  readonly pValue: number;
}

/** Goodness of fit of `counts` to the uniform distribution over its cells (k − 1 degrees of freedom). */
export function chiSquareUniformTest(counts: ArrayLike<number>): ChiSquareUniformResult {
  const k = counts.length;
  if (k < 2) throw new StatsError(`a uniformity test needs at least 2 cells, got ${k}`);
  let total = 0;
  for (let i = 0; i < k; i++) total += counts[i];
  if (!(total > 0)) throw new StatsError('a uniformity test needs at least one observation');
  const expected = new Float64Array(k).fill(total / k);
  const statistic = chiSquareStatistic(counts, expected);
  return { statistic, degreesOfFreedom: k - 1, pValue: chiSquareSurvival(statistic, k - 1) };
}
