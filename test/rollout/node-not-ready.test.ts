/**
 * `--node-not-ready NODE`: the node stops (powered off or cut off). Nothing reaches it or its
 * pods; its kubelet posts no more status, so the node lifecycle controller marks it NotReady
 * only once node-monitor-grace-period has passed since its last Lease renewal, and only then
 * do its pods' endpoints leave the other nodes' rules. What drops, where, and why.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { originDeploymentYaml } from '../../src/k8s/index.js';
import { runRollout } from '../../src/rollout/engine.js';
import { nodeFailureTimes } from '../../src/rollout/node-lifecycle.js';
import { parseVariant } from '../../src/rollout/variants.js';
import { Rng } from '../../src/util/rng.js';
import { dpsim } from '../cli/harness.js';

const origin = [{ source: 'origin-deployment.yaml', text: originDeploymentYaml }];
const lbLocal = [{ source: 'lb.yaml', text: readFileSync('fixtures/rollout-lb-local.yaml', 'utf8') }];

const AT_S = 2;

function reason(r: ReturnType<typeof runRollout>, pattern: RegExp) {
  return r.reasons.filter((x) => pattern.test(x.reason));
}

describe('a node going NotReady', () => {
  it('property: the controller marks the node NotReady strictly after grace since the last heartbeat, within grace + 15 s of the stop', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.constantFrom(20e9, 40e9, 50e9),
        (seed, downMs, grace) => {
          const down = downMs * 1e6;
          const t = nodeFailureTimes(down, grace, new Rng(seed));
          expect(t.lastHeartbeatNs).toBeLessThanOrEqual(down);
          expect(down - t.lastHeartbeatNs).toBeLessThan(10e9);
          expect(t.notReadyNs).toBeGreaterThan(t.lastHeartbeatNs + grace);
          expect(t.notReadyNs - (t.lastHeartbeatNs + grace)).toBeLessThanOrEqual(5e9);
          expect(t.evictNs - t.notReadyNs).toBe(300e9);
        },
      ),
    );
  });

  it('NodePort without a health check: requests to the stopped node time out all along; requests other nodes send to its pod time out until the controller marks it NotReady', () => {
    const grace = '20s';
    const r = runRollout({
      manifests: origin,
      deployment: 'myweb',
      transition: { kind: 'node-not-ready', node: 'node2' },
      rps: 30,
      durationS: 45,
      atS: AT_S,
      seed: 3,
      settings: parseVariant(`nodeMonitorGracePeriod=${grace}`).settings,
    });
    const notReady = r.podEvents.find((e) => e.pod === 'node/node2');
    expect(notReady?.what).toMatch(/^NotReady \(no heartbeat for \d+\.\ds\)$/);
    const markedNs = notReady!.timeNs;
    // Between grace and grace + a lease interval + a monitor period after the stop.
    expect(markedNs - AT_S * 1e9).toBeGreaterThan(10e9);
    expect(markedNs - AT_S * 1e9).toBeLessThanOrEqual(20e9 + 15e9);
    expect(
      r.messages.some((m) =>
        /^node\/node2 NotReady .*taint node\.kubernetes\.io\/unreachable; pods marked not ready: .*myweb-/.test(
          m,
        ),
      ),
    ).toBe(true);

    // 1. The client keeps round-robining to node2's NodePort: a third of the requests, start to end.
    const [entry] = reason(r, /^node2 is down: the client still sent to its NodePort/);
    expect(entry.count).toBeGreaterThan(0.25 * 30 * (45 - AT_S));
    expect(entry.timeout).toBe(entry.count);
    expect(entry.firstNs).toBeGreaterThanOrEqual(AT_S * 1e9);
    expect(entry.lastNs).toBeGreaterThan(40e9);

    // 2. node1 and node3 still balance to the pod on node2 while its endpoint is ready in the API.
    const [ready] = reason(r, /^myweb-[a-z0-9-]+ unreachable on node2 \(down\) while still a ready endpoint/);
    expect(ready.count).toBeGreaterThan(10);
    expect(ready.firstNs).toBeGreaterThanOrEqual(AT_S * 1e9);
    expect(ready.lastNs).toBeLessThan(markedNs);

    // 3. After the mark and the other nodes' syncs, nothing through node1/node3 drops but the
    //    odd connection whose reused source port meets the old conntrack entry.
    const syncedNs = Math.max(
      ...r.syncs.filter((s) => s.version === r.syncs.at(-1)!.version).map((s) => s.timeNs),
    );
    const afterSync = r.seconds.filter((b) => b.second * 1e9 > syncedNs + 1e9 && b.second < 43);
    for (const b of afterSync) expect(b.timeout).toBeLessThanOrEqual(Math.ceil(b.sent / 3) + 2);
    // Every failure is explained by the stopped node.
    for (const x of r.reasons) expect(x.reason).toMatch(/node2|unreachable/);
    // And the other reasons are the ones listed here.
    const explained = reason(r, /node2 is down|while still a ready endpoint|stale (rules|conntrack entry)/);
    expect(explained.reduce((n, x) => n + x.count, 0)).toBe(r.totals.failed);
  });

  it('a shorter node-monitor-grace-period shortens the window in which other nodes still send to the stopped pod', () => {
    const run = (grace: string) =>
      runRollout({
        manifests: origin,
        deployment: 'myweb',
        transition: { kind: 'node-not-ready', node: 'node2' },
        rps: 30,
        durationS: 70,
        atS: AT_S,
        seed: 3,
        settings: parseVariant(`nodeMonitorGracePeriod=${grace}`).settings,
      });
    const count = (r: ReturnType<typeof runRollout>) =>
      reason(r, /while still a ready endpoint/).reduce((n, x) => n + x.count, 0);
    const slow = run('50s');
    const fast = run('20s');
    expect(count(slow)).toBeGreaterThan(count(fast) * 1.8);
  });

  it('LoadBalancer with health checks: only the requests the balancer sends before it drops the node fail', () => {
    const r = runRollout({
      manifests: lbLocal,
      deployment: 'web',
      transition: { kind: 'node-not-ready', node: 'node2' },
      rps: 30,
      durationS: 30,
      atS: AT_S,
      seed: 1,
      settings: parseVariant('nodeMonitorGracePeriod=20s').settings,
    });
    const out = r.lbEvents.find((e) => e.node === 'node2' && !e.healthy);
    expect(out).toBeDefined();
    // Two failed checks 5 s apart (each given up after 1 s) after the stop.
    expect(out!.timeNs - AT_S * 1e9).toBeLessThanOrEqual(2 * 5e9 + 1e9);
    expect(r.totals.failed).toBeGreaterThan(0);
    expect(r.reasons.map((x) => x.reason)).toEqual([
      'health check late: the load balancer still sent to node2, which is down',
    ]);
    expect(r.reasons[0].lastNs).toBeLessThan(out!.timeNs);
  });

  it('once the pods’ 300 s toleration of the unreachable taint runs out, the taint manager evicts them and their controllers start replacements', () => {
    const run = (durationS: number) =>
      runRollout({
        manifests: origin,
        deployment: 'myweb',
        transition: { kind: 'node-not-ready', node: 'node2' },
        rps: 2,
        durationS,
        atS: AT_S,
        seed: 3,
        settings: parseVariant('nodeMonitorGracePeriod=20s').settings,
      });
    const r = run(340);
    const markedNs = r.podEvents.find((e) => e.pod === 'node/node2')!.timeNs;
    const stranded = r.podEvents.filter((e) => e.what === 'not ready (node2 NotReady)').map((e) => e.pod);
    expect(stranded.some((p) => p.startsWith('default/myweb-'))).toBe(true);
    // Every pod bound to node2 is evicted — the web pod and the CoreDNS replica alike.
    const evicted = r.messages
      .map((m) => /^taint manager: evicting pod (\S+) from unreachable node\/node2$/.exec(m)?.[1])
      .filter((p) => p !== undefined);
    expect(evicted.sort()).toEqual([...stranded].sort());
    // Their replacements start after the toleration (300 s from the NotReady mark), not before.
    const started = r.podEvents.filter((e) => e.what === 'container started' && e.timeNs > markedNs);
    expect(started).toHaveLength(stranded.length);
    for (const e of started) {
      expect(stranded).not.toContain(e.pod);
      expect(e.timeNs).toBeGreaterThanOrEqual(markedNs + 300e9);
      expect(e.timeNs).toBeLessThan(markedNs + 310e9);
    }
    // The new web pod's endpoint reaches the other nodes' rules: a slice write once it started (ready at once: no probe), synced on node1 and node3.
    const webStart = started.find((e) => e.pod.startsWith('default/myweb-'))!.timeNs;
    const write = r.sliceWrites.find((w) => w.timeNs >= webStart)!;
    for (const node of ['node1', 'node3'])
      expect(r.syncs.some((s) => s.node === node && s.version >= write.version)).toBe(true);
    // Cut off before the toleration ends, the same run evicts nothing.
    expect(run(300).messages.some((m) => m.startsWith('taint manager:'))).toBe(false);
  });

  it.each([
    ['nftables', 'tcp'],
    ['iptables', 'udp'],
    ['nftables', 'udp'],
  ] as const)(
    '%s mode, %s: other nodes time out on the stopped pod only until the controller marks node2 NotReady',
    (mode, proto) => {
      const udpEcho = [{ source: 'udp-echo.yaml', text: readFileSync('fixtures/udp-echo.yaml', 'utf8') }];
      const r = runRollout({
        manifests: proto === 'udp' ? udpEcho : origin,
        deployment: proto === 'udp' ? 'dnsecho' : 'myweb',
        proto,
        mode,
        transition: { kind: 'node-not-ready', node: 'node2' },
        rps: 30,
        durationS: 45,
        atS: AT_S,
        seed: 3,
        settings: parseVariant('nodeMonitorGracePeriod=20s').settings,
      });
      expect(r.mode).toBe(mode);
      expect(r.proto).toBe(proto);
      const markedNs = r.podEvents.find((e) => e.pod === 'node/node2')!.timeNs;
      const [down] = reason(r, /^node2 is down: the client still sent to its NodePort/);
      expect(down.count).toBeGreaterThan(0.25 * 30 * (45 - AT_S));
      const [ready] = reason(r, /unreachable on node2 \(down\) while still a ready endpoint/);
      expect(ready.count).toBeGreaterThan(10);
      expect(ready.lastNs).toBeLessThan(markedNs);
      // Every failure is explained by the stopped node.
      for (const x of r.reasons) expect(x.reason).toMatch(/node2|unreachable/);
    },
  );

  it('dpsim rollout --node-not-ready: an unknown node is a one-line error', async () => {
    const r = await dpsim(['rollout', '--node-not-ready', 'node9', '--rps', '10', '--duration', '2']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toBe('error: nodes "node9" not found\n');
  });
});
