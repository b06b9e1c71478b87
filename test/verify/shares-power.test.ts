/**
 * verify's balance checks without a kernel: the exact share check on the rules each side
 * runs (a planted 1/n iptables dump is caught on the kernel side only), and the power
 * calculation that sizes the sampled part.
 */
import { describe, expect, it } from 'vitest';
import { toProxyModel } from '../../src/k8s/proxy-model.js';
import { podApps } from '../../src/sim/pod-apps.js';
import { buildSimulation } from '../../src/sim/simulation.js';
import { chiSquareStatistic, chiSquareSurvival } from '../../src/util/stats.js';
import { planProbes } from '../../src/verify/plan.js';
import { connectionsForPower, shareTestPower } from '../../src/verify/power.js';
import { sampleSize } from '../../src/verify/run.js';
import { kernelShareRows, sharesByProbe, sharesCheck } from '../../src/verify/shares-check.js';
import { plantOneOverN } from '../helpers/plant-one-over-n.js';

function origin() {
  const sim = buildSimulation({ mode: 'iptables', seed: 1 });
  const model = toProxyModel(sim.cluster);
  const plan = planProbes(model, podApps(sim.cluster.pods()), { clientIP: sim.cluster.config.clientIP });
  return { sim, model, plan };
}

describe('verify: exact shares', () => {
  it('a kernel given planted 1/n probabilities is off-spec on every probe (33/22/44 %), dpsim is not', () => {
    const { sim, model, plan } = origin();
    const kernel = sharesByProbe(
      plan,
      model,
      'iptables',
      kernelShareRows(model, 'iptables', (_node, text) => plantOneOverN(text)),
    );
    const dpsim = sharesByProbe(plan, model, 'iptables', (n) => sim.shares(n));
    expect(plan.probes.length).toBe(5);
    for (const p of plan.probes) {
      const c = sharesCheck(p, kernel.get(p.id), dpsim.get(p.id))!;
      expect(c.agree).toBe(false);
      expect(c.offSpec).toEqual(['kernel']);
      expect(c.kernel).toBe('33.3333%/22.2222%/44.4444%');
      expect(c.dpsim).toBe('33.3333%/33.3333%/33.3333%');
      expect(c.detail).toMatch(/^kernel: .* gets 22\.2222%, intended 33\.3333%/);
    }
  });

  it('unplanted, both sides read the same exact shares and agree with kube-proxy', () => {
    const { sim, model, plan } = origin();
    const kernel = sharesByProbe(plan, model, 'iptables', kernelShareRows(model, 'iptables', undefined));
    const dpsim = sharesByProbe(plan, model, 'iptables', (n) => sim.shares(n));
    for (const p of plan.probes) {
      const c = sharesCheck(p, kernel.get(p.id), dpsim.get(p.id))!;
      expect([c.agree, c.offSpec]).toEqual([true, []]);
    }
  });
});

describe('verify: sample size by power', () => {
  it('60 connections over 3 backends detect a 10-point deviation with under 5 % power at alpha 1e-4 (the old fixed size)', () => {
    expect(shareTestPower(60, 3, 0.1, 1e-4)).toBeLessThan(0.05);
  });

  it('the sized N is the smallest reaching 99 % power: N−1 falls short', () => {
    for (const k of [2, 3, 5]) {
      const n = connectionsForPower(k, { deviation: 0.1, power: 0.99, alpha: 1e-4 });
      expect(shareTestPower(n, k, 0.1, 1e-4)).toBeGreaterThanOrEqual(0.99);
      expect(shareTestPower(n - 1, k, 0.1, 1e-4)).toBeLessThan(0.99);
    }
    expect(connectionsForPower(3, { deviation: 0.1, power: 0.99, alpha: 1e-4 })).toBe(710);
  });

  it('the computed power matches a seeded simulation of the test (3 backends, shares +10/−10 points, N from the calculation)', () => {
    const n = connectionsForPower(3, { deviation: 0.1, power: 0.9, alpha: 1e-3 });
    const p = [1 / 3 + 0.1, 1 / 3 - 0.1, 1 / 3];
    let seed = 12345;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const runs = 1500;
    let rejected = 0;
    for (let r = 0; r < runs; r++) {
      const c = [0, 0, 0];
      for (let i = 0; i < n; i++) {
        const u = rand();
        c[u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2]++;
      }
      if (chiSquareSurvival(chiSquareStatistic(c, [n / 3, n / 3, n / 3]), 2) < 1e-3) rejected++;
    }
    // 1500 runs: the standard error of the rate is ~0.8 points.
    expect(Math.abs(rejected / runs - 0.9)).toBeLessThan(0.035);
  });

  it('verify sizes the origin scenario at 710 connections per probe and says why; -n overrides', () => {
    const { plan } = origin();
    const auto = sampleSize(plan, { mode: 'iptables' });
    expect(auto.n).toBe(710);
    expect(auto.why).toMatch(
      /10-point share deviation over 3 backends is detected with 99\.0 % power at alpha 0\.0001/,
    );
    expect(sampleSize(plan, { mode: 'iptables', n: 60 }).n).toBe(60);
  });
});
