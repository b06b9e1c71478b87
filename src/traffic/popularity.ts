/**
 * Flow popularity: which flow the next packet belongs to. Uniform gives every flow the same
 * share; Zipf gives the flow of rank k (1-based) a share proportional to 1/k^s, the
 * heavy-tailed popularity measured for real traffic (a few elephant flows, many mice).
 *
 * Sampling is inverse-CDF over a precomputed cumulative table (binary search): O(log F) per
 * draw, no allocation, and every draw comes from the caller's seeded Rng.
 */
import type { Rng } from '../util/rng.js';

export type PopularityLaw = 'uniform' | 'zipf';
export const POPULARITY_LAWS: readonly PopularityLaw[] = ['uniform', 'zipf'];

/** Zipf exponent used when none is given: s = 1, the classic law. */
export const DEFAULT_ZIPF_EXPONENT = 1;

export class PopularityError extends Error {
  override name = 'PopularityError';
}

export interface FlowSampler {
  readonly law: PopularityLaw;
  readonly flows: number;
  /** Probability that a draw returns flow `index` (0-based; index i has rank i + 1). */
  probability(index: number): number;
  /** One draw: a flow index in [0, flows). */
  next(rng: Rng): number;
}

class UniformSampler implements FlowSampler {
  readonly law = 'uniform' as const;
  constructor(readonly flows: number) {}
  probability(index: number): number {
    return index >= 0 && index < this.flows ? 1 / this.flows : 0;
  }
  next(rng: Rng): number {
    return rng.nextInt(this.flows);
  }
}

class ZipfSampler implements FlowSampler {
  readonly law = 'zipf' as const;
  /** cumulative[i] = P(index ≤ i); the last entry is exactly 1. */
  private readonly cumulative: Float64Array;
  private readonly weights: Float64Array;
  private readonly total: number;

  constructor(
    readonly flows: number,
    readonly exponent: number,
  ) {
    this.weights = new Float64Array(flows);
    this.cumulative = new Float64Array(flows);
    let total = 0;
    for (let i = 0; i < flows; i++) {
      const w = (i + 1) ** -exponent;
      this.weights[i] = w;
      total += w;
      this.cumulative[i] = total;
    }
    this.total = total;
    for (let i = 0; i < flows; i++) this.cumulative[i] /= total;
    this.cumulative[flows - 1] = 1;
  }

  probability(index: number): number {
    return index >= 0 && index < this.flows ? this.weights[index] / this.total : 0;
  }

  next(rng: Rng): number {
    const u = rng.nextFloat();
    const c = this.cumulative;
    // Smallest i with c[i] > u.
    let lo = 0;
    let hi = this.flows - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** A sampler over `flows` flows; `exponent` is Zipf's s (ignored for uniform). */
export function flowSampler(
  law: PopularityLaw,
  flows: number,
  exponent = DEFAULT_ZIPF_EXPONENT,
): FlowSampler {
  if (!Number.isInteger(flows) || flows < 1) {
    throw new PopularityError(`the number of flows must be a positive integer, got ${flows}`);
  }
  if (law === 'uniform') return new UniformSampler(flows);
  if (law === 'zipf') {
    if (!(exponent > 0) || !Number.isFinite(exponent)) {
      throw new PopularityError(`the Zipf exponent must be a positive number, got ${exponent}`);
    }
    return new ZipfSampler(flows, exponent);
  }
  throw new PopularityError(
    `unknown popularity law "${String(law)}" (expected ${POPULARITY_LAWS.join(' or ')})`,
  );
}
