/**
 * How evenly a load balancer spread work over its backends: max/mean share, Jain's fairness
 * index J = (Σx)² / (n·Σx²) (1 for equal shares, 1/n when one backend takes everything), and
 * the chi-square goodness of fit to equal shares with its p-value (a small p-value says the
 * spread is unlikely to come from a uniform choice).
 */
import { chiSquareUniformTest } from '../util/stats.js';

export interface FairnessSummary {
  readonly backends: number;
  readonly total: number;
  /** Largest share ÷ mean share (1 = perfectly even); 0 when nothing was counted. */
  readonly maxOverMean: number;
  readonly jainIndex: number;
  /** Chi-square statistic and p-value against equal shares; null with fewer than 2 backends or no counts. */
  readonly chiSquare: number | null;
  readonly pValue: number | null;
}

/** Jain's index of `counts`; 1 for an empty or all-zero list (nothing is unfair about no work). */
export function jainIndex(counts: ArrayLike<number>): number {
  const n = counts.length;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    sum += counts[i];
    sumSq += counts[i] * counts[i];
  }
  if (n === 0 || sumSq === 0) return 1;
  return (sum * sum) / (n * sumSq);
}

export function fairness(counts: ArrayLike<number>): FairnessSummary {
  const n = counts.length;
  let total = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    total += counts[i];
    if (counts[i] > max) max = counts[i];
  }
  const mean = n === 0 ? 0 : total / n;
  let chiSquare: number | null = null;
  let pValue: number | null = null;
  if (n >= 2 && total > 0) {
    const t = chiSquareUniformTest(counts);
    chiSquare = t.statistic;
    pValue = t.pValue;
  }
  return {
    backends: n,
    total,
    maxOverMean: mean === 0 ? 0 : max / mean,
    jainIndex: jainIndex(counts),
    chiSquare,
    pValue,
  };
}
