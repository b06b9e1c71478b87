import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flowSampler, PopularityError } from '../../src/traffic/popularity.js';
import { Rng } from '../../src/util/rng.js';
import { chiSquareStatistic, chiSquareSurvival } from '../../src/util/stats.js';

describe('flow popularity', () => {
  it('a Zipf sampler gives rank k a probability proportional to 1/k^s', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.double({ min: 0.2, max: 3, noNaN: true }), (n, s) => {
        const z = flowSampler('zipf', n, s);
        let total = 0;
        for (let i = 0; i < n; i++) {
          total += z.probability(i);
          expect(z.probability(i) / z.probability(0)).toBeCloseTo((i + 1) ** -s, 10);
        }
        expect(total).toBeCloseTo(1, 10);
      }),
    );
  });

  it('Zipf draws follow the law: a chi-square test does not reject it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.double({ min: 0.5, max: 2, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (n, s, seed) => {
          const z = flowSampler('zipf', n, s);
          const rng = new Rng(seed);
          const draws = 20_000;
          const observed = new Float64Array(n);
          for (let i = 0; i < draws; i++) observed[z.next(rng)]++;
          // Merge the tail so every cell expects at least 5 draws (the test's validity condition).
          const obs: number[] = [];
          const exp: number[] = [];
          let o = 0;
          let e = 0;
          for (let i = 0; i < n; i++) {
            o += observed[i];
            e += z.probability(i) * draws;
            if (e >= 5) {
              obs.push(o);
              exp.push(e);
              o = 0;
              e = 0;
            }
          }
          if (e > 0) {
            obs[obs.length - 1] += o;
            exp[exp.length - 1] += e;
          }
          if (obs.length < 2) return;
          const p = chiSquareSurvival(chiSquareStatistic(obs, exp), obs.length - 1);
          expect(p).toBeGreaterThan(1e-6);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('the most popular Zipf flow (s = 1, 100 flows) takes about 1/H(100) ≈ 19.3 % of draws', () => {
    const z = flowSampler('zipf', 100, 1);
    const rng = new Rng(5);
    let first = 0;
    for (let i = 0; i < 50_000; i++) if (z.next(rng) === 0) first++;
    expect(first / 50_000).toBeGreaterThan(0.185);
    expect(first / 50_000).toBeLessThan(0.2);
  });

  it('uniform draws stay in range and every flow is equally likely', () => {
    const u = flowSampler('uniform', 7);
    const rng = new Rng(9);
    const counts = new Float64Array(7);
    for (let i = 0; i < 70_000; i++) counts[u.next(rng)]++;
    for (const c of counts) expect(c).toBeGreaterThan(9_500);
    expect(u.probability(3)).toBeCloseTo(1 / 7, 12);
    expect(u.probability(7)).toBe(0);
  });

  it('refuses a non-positive flow count or exponent with a specific error', () => {
    expect(() => flowSampler('zipf', 0)).toThrow(PopularityError);
    expect(() => flowSampler('zipf', 10, 0)).toThrow(/exponent/);
    expect(() => flowSampler('pareto' as 'zipf', 10)).toThrow(/unknown popularity law/);
  });
});
