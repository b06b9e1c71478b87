import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BoundedFrequencyRunner,
  BoundedFrequencyRunnerError,
  FULL_SYNC_PERIOD_NS,
  kubeProxyRunnerSettings,
  type RunRecord,
} from '../../../src/proxy/common/bounded-frequency-runner.js';

const S = 1e9;

function recorder(outcomes: (n: number) => { ok: boolean; durationNs?: number } = () => ({ ok: true })) {
  const runs: { at: number; trigger: string }[] = [];
  const fn = (at: number, trigger: string) => {
    runs.push({ at, trigger });
    return outcomes(runs.length - 1);
  };
  return { runs, fn };
}

describe('BoundedFrequencyRunner', () => {
  it('runs a request at once when idle, and coalesces requests inside minInterval into one run at its end', () => {
    const { runs, fn } = recorder();
    const r = new BoundedFrequencyRunner(
      { minIntervalNs: 1 * S, retryIntervalNs: 30 * S, maxIntervalNs: 3600 * S },
      fn,
    );
    r.request(5 * S);
    r.advanceTo(5 * S);
    r.request(5.1 * S);
    r.request(5.5 * S);
    r.request(5.9 * S);
    r.advanceTo(10 * S);
    expect(runs).toEqual([
      { at: 5 * S, trigger: 'request' },
      { at: 6 * S, trigger: 'request' },
    ]);
  });

  it('with minSyncPeriod 0 every request is its own run', () => {
    const { runs, fn } = recorder();
    const r = new BoundedFrequencyRunner(
      { minIntervalNs: 0, retryIntervalNs: 30 * S, maxIntervalNs: 3600 * S },
      fn,
    );
    for (const t of [1, 2, 3]) {
      r.request(t * S);
      r.advanceTo(t * S);
    }
    expect(runs.map((x) => x.at)).toEqual([1 * S, 2 * S, 3 * S]);
  });

  it('counts minInterval from the end of a run that takes time, and queues a request made during the run', () => {
    const { runs, fn } = recorder(() => ({ ok: true, durationNs: 4 * S }));
    const r = new BoundedFrequencyRunner(
      { minIntervalNs: 1 * S, retryIntervalNs: 30 * S, maxIntervalNs: 3600 * S },
      fn,
    );
    r.request(0);
    expect(r.fire(0)).toEqual({ startNs: 0, endNs: 4 * S, trigger: 'request', ok: true });
    r.request(2 * S); // while the restore is still running
    expect(r.nextRunAt()).toBe(5 * S);
    r.advanceTo(20 * S);
    expect(runs.map((x) => x.at)).toEqual([0, 5 * S]);
  });

  it('retries a failed run after retryInterval, and a success disarms the retry', () => {
    const { runs, fn } = recorder((n) => ({ ok: n !== 0 }));
    const r = new BoundedFrequencyRunner(
      { minIntervalNs: 1 * S, retryIntervalNs: 30 * S, maxIntervalNs: 3600 * S },
      fn,
    );
    r.request(0);
    r.advanceTo(100 * S);
    expect(runs).toEqual([
      { at: 0, trigger: 'request' },
      { at: 30 * S, trigger: 'retry' },
    ]);
    expect(r.nextRunAt()).toBe(30 * S + 3600 * S);
  });

  it('runs periodically every maxInterval without requests', () => {
    const { runs, fn } = recorder();
    const r = new BoundedFrequencyRunner(
      { minIntervalNs: 1 * S, retryIntervalNs: 30 * S, maxIntervalNs: 10 * S },
      fn,
    );
    r.advanceTo(35 * S);
    expect(runs).toEqual([
      { at: 10 * S, trigger: 'periodic' },
      { at: 20 * S, trigger: 'periodic' },
      { at: 30 * S, trigger: 'periodic' },
    ]);
  });

  it('a request after a late driver still runs no earlier than the request', () => {
    const { runs, fn } = recorder();
    const r = new BoundedFrequencyRunner(
      { minIntervalNs: 1 * S, retryIntervalNs: 30 * S, maxIntervalNs: 3600 * S },
      fn,
    );
    r.request(100 * S);
    r.advanceTo(200 * S);
    expect(runs.map((x) => x.at)).toEqual([100 * S]);
  });

  it('refuses maxInterval < minInterval, negative intervals and time going backwards, each with one clear message', () => {
    const fn = () => ({ ok: true });
    expect(
      () => new BoundedFrequencyRunner({ minIntervalNs: 2, retryIntervalNs: 1, maxIntervalNs: 1 }, fn),
    ).toThrow('maxInterval (1 ns) must be >= minInterval (2 ns)');
    expect(
      () => new BoundedFrequencyRunner({ minIntervalNs: -1, retryIntervalNs: 1, maxIntervalNs: 1 }, fn),
    ).toThrow(BoundedFrequencyRunnerError);
    const r = new BoundedFrequencyRunner({ minIntervalNs: 0, retryIntervalNs: 1, maxIntervalNs: 10 }, fn);
    expect(
      () => new BoundedFrequencyRunner({ minIntervalNs: 0, retryIntervalNs: 0, maxIntervalNs: 1 }, fn),
    ).toThrow('retryInterval and maxInterval must be > 0');
    r.request(5);
    expect(() => r.request(4)).toThrow('time went backwards: 4 ns after 5 ns');
  });

  it('takes kube-proxy settings from the configuration: min = minSyncPeriod, retry = syncPeriod, max = FullSyncPeriod', () => {
    expect(kubeProxyRunnerSettings({ minSyncPeriodNs: 1 * S, syncPeriodNs: 30 * S })).toEqual({
      minIntervalNs: 1 * S,
      retryIntervalNs: 30 * S,
      maxIntervalNs: FULL_SYNC_PERIOD_NS,
    });
    expect(FULL_SYNC_PERIOD_NS).toBe(3600 * S);
  });

  const scenario = fc.record({
    min: fc.integer({ min: 0, max: 5000 }),
    extraMax: fc.integer({ min: 100, max: 20000 }),
    retry: fc.integer({ min: 100, max: 20000 }),
    // Requests as gaps between them, run durations, failures.
    gaps: fc.array(fc.integer({ min: 0, max: 8000 }), { maxLength: 40 }),
    durations: fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 8 }),
    failEvery: fc.integer({ min: 0, max: 5 }),
  });

  interface Scenario {
    min: number;
    extraMax: number;
    retry: number;
    gaps: number[];
    durations: number[];
    failEvery: number;
  }

  function simulate(s: Scenario) {
    const settings = { minIntervalNs: s.min, retryIntervalNs: s.retry, maxIntervalNs: s.min + s.extraMax };
    const runs: RunRecord[] = [];
    let n = 0;
    const runner = new BoundedFrequencyRunner(settings, () => {
      const i = n++;
      return {
        ok: s.failEvery === 0 || i % s.failEvery !== 0,
        durationNs: s.durations[i % s.durations.length],
      };
    });
    const requests: number[] = [];
    let t = 0;
    for (const gap of s.gaps) {
      t += gap;
      runs.push(...runner.advanceTo(t - 1));
      runner.request(t);
      requests.push(t);
    }
    const horizon = t + 3 * (settings.maxIntervalNs + s.retry + s.min + 3000) + 1;
    runs.push(...runner.advanceTo(horizon));
    return { settings, runs, requests, horizon };
  }

  it('property: two runs never start closer than minInterval after the previous run ended', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { runs, settings } = simulate(s);
        for (let i = 1; i < runs.length; i++) {
          expect(runs[i].startNs).toBeGreaterThanOrEqual(runs[i - 1].endNs + settings.minIntervalNs);
        }
      }),
    );
  });

  it('property: a run starts at least every maxInterval after the previous run ended (first one maxInterval after start)', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { runs, settings, horizon } = simulate(s);
        let lastEnd = 0;
        for (const run of runs) {
          expect(run.startNs).toBeLessThanOrEqual(lastEnd + settings.maxIntervalNs);
          lastEnd = run.endNs;
        }
        expect(horizon).toBeLessThan(lastEnd + settings.maxIntervalNs);
      }),
    );
  });

  it('property: a requested run is never lost — the first run at or after a request starts by max(request, previous end + minInterval)', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { runs, requests, settings } = simulate(s);
        for (const r of requests) {
          const served = runs.find((run) => run.startNs >= r);
          expect(served).toBeDefined();
          const before = runs.filter((run) => run.startNs < r);
          const prevEnd = before.length === 0 ? Number.NEGATIVE_INFINITY : before[before.length - 1].endNs;
          expect(served!.startNs).toBeLessThanOrEqual(Math.max(r, prevEnd + settings.minIntervalNs));
        }
      }),
    );
  });

  it('property: a failed run is followed by another within max(minInterval, retryInterval) of its end', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { runs, settings, horizon } = simulate(s);
        const bound = Math.max(settings.minIntervalNs, settings.retryIntervalNs);
        runs.forEach((run, i) => {
          // Runs near the end of the simulated window have their successor beyond it.
          if (run.ok || run.endNs + bound > horizon) return;
          const next = runs[i + 1];
          expect(next).toBeDefined();
          expect(next.startNs).toBeLessThanOrEqual(run.endNs + bound);
        });
      }),
    );
  });

  it('property: the same inputs give the same runs (deterministic)', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        expect(simulate(s).runs).toEqual(simulate(s).runs);
      }),
    );
  });
});

describe('syncPeriodsForMode', () => {
  it("gives each mode kube-proxy's defaults without a configuration and the mode's own section with one", async () => {
    const { syncPeriodsForMode, parseKubeProxyConfiguration } = await import(
      '../../../src/config/kube-proxy-config.js'
    );
    expect(syncPeriodsForMode(undefined, 'iptables')).toEqual({
      syncPeriodNs: 30 * S,
      minSyncPeriodNs: 1 * S,
    });
    expect(syncPeriodsForMode(undefined, 'nftables')).toEqual({
      syncPeriodNs: 30 * S,
      minSyncPeriodNs: 1 * S,
    });
    expect(syncPeriodsForMode(undefined, 'ipvs')).toEqual({ syncPeriodNs: 30 * S, minSyncPeriodNs: 0 });
    const config = parseKubeProxyConfiguration({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
      // v1alpha1 defaulting turns a zero minSyncPeriod into 1 s (only the flag can say 0s).
      iptables: { minSyncPeriod: '0s', syncPeriod: '10s' },
      nftables: { minSyncPeriod: '2s' },
    });
    expect(syncPeriodsForMode(config, 'iptables')).toEqual({ syncPeriodNs: 10 * S, minSyncPeriodNs: 1 * S });
    expect(syncPeriodsForMode(config, 'nftables')).toEqual({ syncPeriodNs: 30 * S, minSyncPeriodNs: 2 * S });
  });
});
