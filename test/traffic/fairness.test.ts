import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fairness, jainIndex } from '../../src/traffic/fairness.js';

describe('fairness summary', () => {
  it("Jain's index of equal shares is 1", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 1_000_000 }), (n, share) => {
        expect(jainIndex(new Array(n).fill(share))).toBeCloseTo(1, 12);
      }),
    );
  });

  it("Jain's index lies between 1/n and 1, reaching 1/n when one backend takes everything", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 10_000 }), { minLength: 1, maxLength: 32 }), (counts) => {
        const j = jainIndex(counts);
        expect(j).toBeGreaterThanOrEqual(1 / counts.length - 1e-12);
        expect(j).toBeLessThanOrEqual(1 + 1e-12);
      }),
    );
    expect(jainIndex([10, 0, 0, 0])).toBeCloseTo(0.25, 12);
  });

  it('reports max/mean and a chi-square p-value against equal shares', () => {
    const even = fairness([100, 100, 100]);
    expect(even.maxOverMean).toBe(1);
    expect(even.chiSquare).toBe(0);
    expect(even.pValue).toBeCloseTo(1, 12);
    const skewed = fairness([300, 0, 0]);
    expect(skewed.maxOverMean).toBe(3);
    expect(skewed.pValue!).toBeLessThan(1e-100);
    expect(fairness([5]).pValue).toBeNull();
    expect(fairness([0, 0]).chiSquare).toBeNull();
  });
});
