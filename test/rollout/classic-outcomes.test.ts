/**
 * The classic outcomes of issue 14, each as the broken and the fixed variant of one scenario
 * on one seed, with real TCP connections through the iptables datapath:
 * - a rolling update of the origin Deployment without a preStop hook drops requests, and the
 *   report blames stale rules on named nodes; with `preStop: sleep 5` (longer than watch
 *   delay + minSyncPeriod) it drops none;
 * - draining a node behind an `externalTrafficPolicy: Local` LoadBalancer drops connections
 *   when proxies ignore serving-terminating endpoints (before KEP-1669) and none with the
 *   fallback, while the load balancer's health check takes the node out.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { originDeploymentYaml } from '../../src/k8s/index.js';
import { runRollout } from '../../src/rollout/engine.js';
import { parseVariant } from '../../src/rollout/variants.js';

const origin = [{ source: 'origin-deployment.yaml', text: originDeploymentYaml }];
const lbLocal = [
  { source: 'rollout-lb-local.yaml', text: readFileSync('fixtures/rollout-lb-local.yaml', 'utf8') },
];

describe('rolling update of the origin Deployment', () => {
  const common = {
    manifests: origin,
    deployment: 'myweb',
    transition: { kind: 'image', image: 'hello-world-web:2.0' } as const,
    rps: 100,
    durationS: 10,
    atS: 2,
    seed: 1,
  };

  it('without preStop drops requests, each blamed on stale rules on a named node', () => {
    const r = runRollout(common);
    expect(r.totals.requests).toBe(100 * 10);
    expect(r.totals.failed).toBeGreaterThan(0);
    expect(r.totals.succeeded + r.totals.failed).toBe(r.totals.requests);
    const stale = r.reasons.filter((x) =>
      /^stale rules on node[123]: sent to myweb-[a-z0-9]+-[a-z0-9]{5}, which/.test(x.reason),
    );
    expect(stale.length).toBeGreaterThan(0);
    // Most of the failures are stale rules; every failure comes after the roll-out began.
    const staleCount = stale.reduce((s, x) => s + x.count, 0);
    expect(staleCount / r.totals.failed).toBeGreaterThan(0.8);
    for (const x of r.reasons) expect(x.firstNs).toBeGreaterThanOrEqual(2e9);
    // The old pods exited on SIGTERM the moment they were deleted.
    expect(r.podEvents.some((e) => e.what === 'app exited on SIGTERM')).toBe(true);
  });

  it('with preStop: sleep 5 (longer than the propagation delay) drops none', () => {
    const r = runRollout({ ...common, variant: parseVariant('preStop=sleep 5') });
    expect(r.totals.requests).toBe(100 * 10);
    expect(r.totals.failed).toBe(0);
    // The roll-out did happen: three old pods slept in preStop, then exited.
    expect(r.podEvents.filter((e) => e.what === 'preStop sleep 5s')).toHaveLength(3);
    expect(r.podEvents.filter((e) => e.what === 'app exited on SIGTERM')).toHaveLength(3);
  });
});

describe('externalTrafficPolicy: Local LoadBalancer, drain of a node', () => {
  const common = {
    manifests: lbLocal,
    deployment: 'web',
    transition: { kind: 'drain', node: 'node2' } as const,
    rps: 100,
    durationS: 30,
    atS: 5,
    seed: 1,
  };

  it('without the terminating-endpoint fallback drops connections until the health check takes the node out', () => {
    const r = runRollout({ ...common, variant: parseVariant('terminatingFallback=off') });
    expect(r.totals.failed).toBeGreaterThan(0);
    const late = r.reasons.find((x) =>
      x.reason.startsWith('health check late: the load balancer still sent to node2'),
    );
    expect(late?.count).toBe(r.totals.failed);
    const out = r.lbEvents.find((e) => e.node === 'node2' && !e.healthy);
    expect(out).toBeDefined();
    // No failure after the balancer stopped sending to node2.
    expect(late!.lastNs).toBeLessThanOrEqual(out!.timeNs);
  });

  it('with the fallback (KEP-1669) drops none: the terminating pods serve until the node is out', () => {
    const r = runRollout(common);
    expect(r.totals.requests).toBe(100 * 30);
    expect(r.totals.failed).toBe(0);
    expect(r.lbEvents.some((e) => e.node === 'node2' && !e.healthy)).toBe(true);
    expect(r.messages).toContain('node/node2 drained');
  });
});
