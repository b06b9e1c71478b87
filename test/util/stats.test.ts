import { describe, expect, it } from 'vitest';
import {
  chiSquareStatistic,
  chiSquareSurvival,
  chiSquareUniformTest,
  lnGamma,
  regularizedUpperGamma,
  StatsError,
} from '../../src/util/stats.js';

describe('lnGamma', () => {
  it('matches ln((n-1)!) at integers and ln(sqrt(pi)) at 1/2', () => {
    expect(lnGamma(1)).toBeCloseTo(0, 13);
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lnGamma(21)).toBeCloseTo(Math.log(2432902008176640000), 10);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
  });
});

describe('regularizedUpperGamma', () => {
  it('equals exp(-x) for a = 1 on both sides of the series/continued-fraction split', () => {
    for (const x of [0.1, 1, 1.9, 2.1, 5, 30])
      expect(regularizedUpperGamma(1, x)).toBeCloseTo(Math.exp(-x), 13);
  });

  it('equals exp(-x)(1 + x + x²/2) for a = 3', () => {
    for (const x of [0.5, 3, 4.5, 12])
      expect(regularizedUpperGamma(3, x)).toBeCloseTo(Math.exp(-x) * (1 + x + (x * x) / 2), 12);
  });

  it('is 1 at x = 0 and rejects a <= 0', () => {
    expect(regularizedUpperGamma(2.5, 0)).toBe(1);
    expect(() => regularizedUpperGamma(0, 1)).toThrow(StatsError);
  });
});

describe('chiSquareSurvival', () => {
  it('gives 0.05 at the textbook 95% critical values', () => {
    const critical: [number, number][] = [
      [1, 3.841458820694124],
      [2, 5.991464547107979],
      [5, 11.070497693516351],
      [10, 18.307038053275146],
      [30, 43.77297182574219],
      [100, 124.34211340400407],
    ];
    for (const [df, x] of critical) expect(chiSquareSurvival(x, df)).toBeCloseTo(0.05, 9);
  });

  it('gives 0.01 at the 99% critical value for 63 degrees of freedom', () => {
    expect(chiSquareSurvival(92.01002, 63)).toBeCloseTo(0.01, 5);
  });

  it('equals erfc(1) = 0.15729920705028513 for x = 2 with 1 degree of freedom', () => {
    expect(chiSquareSurvival(2, 1)).toBeCloseTo(0.15729920705028513, 12);
  });
});

describe('chiSquareStatistic / chiSquareUniformTest', () => {
  it('is 0 for a perfect fit and the textbook value otherwise', () => {
    expect(chiSquareStatistic([10, 10], [10, 10])).toBe(0);
    expect(chiSquareStatistic([12, 8], [10, 10])).toBeCloseTo(0.8, 12);
  });

  it('rejects a blatantly skewed sample and accepts an even one', () => {
    expect(chiSquareUniformTest([1000, 0, 0, 0]).pValue).toBeLessThan(1e-12);
    expect(chiSquareUniformTest([250, 250, 250, 250]).pValue).toBe(1);
  });

  it('reports mismatched lengths and empty samples as StatsError', () => {
    expect(() => chiSquareStatistic([1], [1, 2])).toThrow(StatsError);
    expect(() => chiSquareUniformTest([0, 0])).toThrow(StatsError);
  });
});
