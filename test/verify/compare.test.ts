/** The comparator, the probe plan and the conntrack reader, on synthetic observations (no kernel). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toProxyModel } from '../../src/k8s/proxy-model.js';
import { podApps } from '../../src/sim/pod-apps.js';
import { compareSides, homogeneity, outcomeSummary, uniformFit } from '../../src/verify/compare.js';
import { natShapesFor, parseConntrack } from '../../src/verify/conntrack-text.js';
import { classifyCurl } from '../../src/verify/dpsim-side.js';
import { ObservationBuilder, type ProbeObservation, type SideResult } from '../../src/verify/observation.js';
import { type Probe, type ProbePlan, planProbes } from '../../src/verify/plan.js';
import { formatReport } from '../../src/verify/report-text.js';
import { clusterFromManifests } from '../../src/verify/run.js';
import { SCENARIOS } from './scenarios.js';

function planOf(name: string): ProbePlan {
  const s = SCENARIOS.find((x) => x.name === name)!;
  const cluster = clusterFromManifests(s.manifests);
  return planProbes(toProxyModel(cluster), podApps(cluster.pods()), { clientIP: cluster.config.clientIP });
}

/** An observation of `probe` as kube-proxy specifies it: `n` answers spread evenly, expected peers and NAT. */
function ideal(plan: ProbePlan, probe: Probe, n: number, skew?: string): ProbeObservation {
  const b = new ObservationBuilder(probe, plan.addressLabels);
  const ipOf = Object.fromEntries(Object.entries(plan.addressLabels).map(([ip, l]) => [l, ip]));
  const backends = probe.expected.backends;
  for (let i = 0; i < n; i++) {
    if (probe.expected.failure !== null) {
      b.add(probe.expected.failure);
      continue;
    }
    const pod = probe.sessionAffinity
      ? backends[0]
      : skew && i % 4 !== 0
        ? skew
        : backends[i % backends.length];
    b.add('ok', { pod, peer: `${ipOf[probe.expected.peerByBackend[pod]]}:4000${i % 10}` });
  }
  const shapes = probe.expected.failure
    ? []
    : [...new Set(Object.keys(b.build([]).backends))].map((pod) => {
        const peer = probe.expected.peerByBackend[pod];
        const dst = peer === plan.addressLabels[probe.sourceIP] ? 'orig-src' : peer;
        return `dnat→pod/${pod} snat→${dst}`;
      });
  return b.build(shapes);
}

function side(name: 'kernel' | 'dpsim', probes: ProbeObservation[]): SideResult {
  return { side: name, mode: 'iptables', probes, conntrack: {}, elapsedMs: 1 };
}

describe('probe plan', () => {
  it('expects refused for a Service without endpoints and a timeout for eTP=Local without a local endpoint', () => {
    const none = planOf('no-endpoints');
    expect(none.probes.length).toBe(5); // 3 NodePorts + ClusterIP from a node and from a pod
    expect(none.probes.every((p) => p.expected.failure === 'refused')).toBe(true);

    const local = planOf('external-traffic-local');
    const byEntry = Object.fromEntries(
      local.probes.filter((p) => p.kind === 'nodeport').map((p) => [p.entryNode, p.expected]),
    );
    expect(byEntry.node1.failure).toBe('timeout');
    expect(byEntry.node3.failure).toBe('timeout');
    expect(byEntry.node2.failure).toBeNull();
    expect(Object.values(byEntry.node2.peerByBackend)).toEqual(['client']);
    const internal = local.probes.filter((p) => p.kind === 'clusterip');
    expect(internal.every((p) => p.expected.failure === null && p.expected.backends.length === 1)).toBe(true);
  });

  it('expects the LoadBalancer VIP outside the source ranges to drop, its NodePort to answer masqueraded', () => {
    const plan = planOf('loadbalancer-source-ranges');
    const lb = plan.probes.filter((p) => p.kind === 'loadbalancer');
    expect(lb.map((p) => [p.servicePortName, p.expected.failure])).toEqual([
      ['default/lb-closed', 'timeout'],
      ['default/lb-open', null],
    ]);
    expect(lb.every((p) => p.entryNode === 'node1')).toBe(true);
    const np = plan.probes.find((p) => p.kind === 'nodeport' && p.servicePortName === 'default/lb-closed')!;
    expect(np.expected.failure).toBeNull();
    expect(new Set(Object.values(np.expected.peerByBackend))).toEqual(new Set([`node/${np.entryNode}`]));
  });

  it('picks a source pod that backs no Service, and expects a hairpinned pod to see its node', () => {
    expect(planOf('clusterip-endpoints').sourcePod).toBe('a-client');
    const origin = planOf('origin NodePort');
    const fromPod = origin.probes.find((p) => p.from.startsWith('pod/'))!;
    const self = fromPod.from.slice(4);
    expect(fromPod.expected.peerByBackend[self]).toBe(`node/${origin.podNodes[self]}`);
    const other = fromPod.expected.backends.find((b) => b !== self)!;
    expect(fromPod.expected.peerByBackend[other]).toBe(fromPod.from);
  });

  it('skips the kubernetes Service, whose endpoint is the apiserver rather than a pod', () => {
    expect(
      planOf('origin NodePort').probes.some((p) => p.servicePortName.startsWith('default/kubernetes')),
    ).toBe(false);
  });
});

describe('comparator', () => {
  const plan = planOf('origin NodePort');

  it('agrees when both sides behave as kube-proxy specifies', () => {
    const k = plan.probes.map((p) => ideal(plan, p, 60));
    const report = compareSides(plan, side('kernel', k), side('dpsim', k), { scenario: 'ideal' });
    expect(report.disagreements).toEqual([]);
    expect(report.agree).toBe(true);
    expect(formatReport(report)).toContain('AGREE');
  });

  it('reports refused against timed out', () => {
    const p = planOf('no-endpoints');
    const k = p.probes.map((x) => ideal(p, x, 10));
    const d = p.probes.map((x, i) => {
      if (i !== 0) return ideal(p, x, 10);
      const b = new ObservationBuilder(x, p.addressLabels);
      for (let j = 0; j < 10; j++) b.add('timeout');
      return b.build([]);
    });
    const report = compareSides(p, side('kernel', k), side('dpsim', d));
    expect(report.agree).toBe(false);
    const c = report.probes[0].checks.find((x) => x.name === 'outcome')!;
    expect([c.agree, c.kernel, c.dpsim, c.offSpec]).toEqual([false, 'refused', 'timeout', ['dpsim']]);
  });

  it('reports a skewed distribution on one side with its p-value, and names that side off-spec', () => {
    const target = plan.probes[0];
    const k = plan.probes.map((p) => ideal(plan, p, 120));
    const d = plan.probes.map((p) =>
      p === target ? ideal(plan, p, 120, p.expected.backends[0]) : ideal(plan, p, 120),
    );
    const report = compareSides(plan, side('kernel', k), side('dpsim', d));
    const dist = report.probes[0].checks.find((c) => c.name === 'distribution')!;
    expect(dist.agree).toBe(false);
    expect(dist.offSpec).toEqual(['dpsim']);
    expect(dist.detail).toMatch(/homogeneity kernel vs dpsim p=/);
    expect(report.probes.slice(1).every((p) => p.agree)).toBe(true);
  });

  it('reports a masquerade difference (pod saw the client instead of the node)', () => {
    const target = plan.probes[0];
    const k = plan.probes.map((p) => ideal(plan, p, 30));
    const b = new ObservationBuilder(target, plan.addressLabels);
    for (let i = 0; i < 30; i++)
      b.add('ok', { pod: target.expected.backends[i % 3], peer: `${plan.clientIP}:${40000 + i}` });
    const d = [b.build(k[0].natShapes), ...k.slice(1)];
    const report = compareSides(plan, side('kernel', k), side('dpsim', d));
    const m = report.probes[0].checks.find((c) => c.name === 'masquerade')!;
    expect([m.agree, m.kernel, m.dpsim]).toEqual([false, 'node/node1', 'client']);
  });

  it('reports NAT tuples that differ, and an answered probe without any conntrack entry', () => {
    const k = plan.probes.map((p) => ideal(plan, p, 30));
    const d = k.map((o, i) =>
      i === 0
        ? { ...o, natShapes: o.natShapes.map((s) => s.replace(/snat→\S+/, 'snat→orig-src')) }
        : i === 1
          ? { ...o, natShapes: [] }
          : o,
    );
    const report = compareSides(plan, side('kernel', k), side('dpsim', d));
    const nat0 = report.probes[0].checks.find((c) => c.name === 'nat')!;
    const nat1 = report.probes[1].checks.find((c) => c.name === 'nat')!;
    expect([nat0.agree, nat0.dpsim]).toEqual([false, 'snat→orig-src']);
    expect([nat1.agree, nat1.dpsim, nat1.offSpec]).toEqual([false, 'no entry', ['dpsim']]);
  });

  it('accepts a backend seen on one side only when the other could plausibly have missed it', () => {
    const p = plan.probes[0];
    const full = ideal(plan, p, 3);
    const [a, b] = p.expected.backends;
    const missing = {
      ...full,
      backends: { [a]: 2, [b]: 1 },
      peersByBackend: { [a]: full.peersByBackend[a], [b]: full.peersByBackend[b] },
    };
    const report = compareSides({ ...plan, probes: [p] }, side('kernel', [full]), side('dpsim', [missing]));
    expect(report.probes[0].checks.find((c) => c.name === 'backends')!.agree).toBe(true);
    // With 300 answers, never seeing one of three pods is not chance.
    const many = ideal(plan, p, 300);
    const manyMissing = { ...many, backends: { [a]: 150, [b]: 150 } };
    const r2 = compareSides({ ...plan, probes: [p] }, side('kernel', [many]), side('dpsim', [manyMissing]));
    const c2 = r2.probes[0].checks.find((c) => c.name === 'backends')!;
    expect([c2.agree, c2.offSpec]).toEqual([false, ['dpsim']]);
  });

  it('checks ClientIP affinity as stickiness, not as the same pod on both sides', () => {
    const p = planOf('session-affinity');
    const k = p.probes.map((x) => ideal(p, x, 20));
    const d = p.probes.map((x) => {
      const b = new ObservationBuilder(x, p.addressLabels);
      const pod = x.expected.backends[x.expected.backends.length - 1];
      const ip = Object.entries(p.addressLabels).find(([, l]) => l === x.expected.peerByBackend[pod])![0];
      for (let i = 0; i < 20; i++) b.add('ok', { pod, peer: `${ip}:1` });
      return b.build([]);
    });
    const report = compareSides(p, side('kernel', k), side('dpsim', d));
    const aff = report.probes.map((x) => x.checks.find((c) => c.name === 'affinity')!);
    expect(aff.every((c) => c.agree)).toBe(true);
    const notSticky = p.probes.map((x) => ideal(p, { ...x, sessionAffinity: false }, 20));
    const r2 = compareSides(p, side('kernel', k), side('dpsim', notSticky));
    expect(r2.probes[0].checks.find((c) => c.name === 'affinity')!.dpsim).toMatch(/^not sticky/);
  });

  it('a side compared with an identical copy of itself never shows a kernel/dpsim difference', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 50 }), { minLength: 3, maxLength: 3 }),
        fc.constantFrom('ok', 'refused', 'timeout'),
        (counts, cls) => {
          const p = plan.probes[0];
          const b = new ObservationBuilder(p, plan.addressLabels);
          counts.forEach((c, i) => {
            for (let j = 0; j < c; j++)
              cls === 'ok'
                ? b.add('ok', { pod: p.expected.backends[i], peer: '192.168.100.100:1' })
                : b.add(cls as 'refused' | 'timeout');
          });
          const o = b.build([]);
          const report = compareSides({ ...plan, probes: [p] }, side('kernel', [o]), side('dpsim', [o]));
          return report.probes[0].checks.every((c) => c.agree);
        },
      ),
    );
  });
});

describe('statistics', () => {
  it('uniformFit gives a small p-value to a skewed sample and a large one to an even sample', () => {
    expect(uniformFit({ a: 40, b: 40, c: 40 }, ['a', 'b', 'c'])!.pValue).toBeCloseTo(1, 6);
    expect(uniformFit({ a: 100, b: 10, c: 10 }, ['a', 'b', 'c'])!.pValue).toBeLessThan(1e-10);
    expect(uniformFit({ a: 2, b: 1 }, ['a', 'b'])).toBeNull(); // too few answers to judge
  });

  it('homogeneity separates two samples drawn from different shares', () => {
    expect(homogeneity({ a: 50, b: 50 }, { a: 48, b: 52 }, ['a', 'b'])!.pValue).toBeGreaterThan(0.5);
    expect(homogeneity({ a: 50, b: 50 }, { a: 95, b: 5 }, ['a', 'b'])!.pValue).toBeLessThan(1e-6);
  });

  it('summarises outcomes as one class or a mix', () => {
    const base = { probeId: 'x', attempts: 3, backends: {}, peersByBackend: {}, natShapes: [] };
    expect(outcomeSummary({ ...base, outcomes: { ok: 3 } })).toBe('ok');
    expect(outcomeSummary({ ...base, outcomes: { timeout: 1, ok: 2 } })).toBe('mixed(ok+timeout)');
  });
});

describe('conntrack text and curl outcomes', () => {
  const text = [
    'tcp      6 119 TIME_WAIT src=192.168.100.1 dst=192.168.100.100 sport=49404 dport=30532 src=10.244.1.2 dst=192.168.100.100 sport=8080 dport=56721 [ASSURED] mark=0 use=1',
    'tcp      6 117 TIME_WAIT src=10.233.66.4 dst=10.233.0.10 sport=1000 dport=80 src=10.233.65.2 dst=10.233.66.4 sport=8080 dport=1000 [ASSURED] mark=0 use=1',
    'udp      17 29 src=10.0.0.1 dst=10.0.0.2 sport=53 dport=53 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=53 dport=53 mark=0 use=1',
    'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.',
  ].join('\n');

  it('parses both tuples, the state and the flags of each entry', () => {
    const e = parseConntrack(text);
    expect(e.length).toBe(3);
    expect(e[0]).toMatchObject({
      proto: 'tcp',
      state: 'TIME_WAIT',
      orig: { src: '192.168.100.1', dst: '192.168.100.100', sport: 49404, dport: 30532 },
      reply: { src: '10.244.1.2', dst: '192.168.100.100', sport: 8080, dport: 56721 },
      flags: ['ASSURED'],
    });
    expect(e[2].flags).toEqual(['UNREPLIED']);
  });

  it('reduces a probe’s entries to labelled NAT shapes', () => {
    const labels = {
      '192.168.100.1': 'client',
      '192.168.100.100': 'node/node1',
      '10.244.1.2': 'pod/a',
      '10.233.65.2': 'pod/b',
      '10.233.66.4': 'pod/c',
    };
    expect(natShapesFor([text], '192.168.100.1', '192.168.100.100', 30532, labels)).toEqual([
      'dnat→pod/a snat→node/node1',
    ]);
    expect(natShapesFor([text], '10.233.66.4', '10.233.0.10', 80, labels)).toEqual([
      'dnat→pod/b snat→orig-src',
    ]);
    expect(natShapesFor([text], '10.233.66.4', '10.233.0.10', 81, labels)).toEqual([]);
  });

  it('maps curl exit codes to outcome classes', () => {
    const o = (exitCode: number, stderr = '') => ({ exitCode, stdout: '', stderr, elapsedMs: 0 });
    expect([0, 7, 28, 56, 52].map((c) => classifyCurl(o(c)))).toEqual([
      'ok',
      'refused',
      'timeout',
      'reset',
      'other',
    ]);
    expect(classifyCurl(o(7, 'curl: (7) Failed to connect: No route to host'))).toBe('unreachable');
  });
});
