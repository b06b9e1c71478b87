/**
 * The differential test: every scenario, in iptables and nftables mode, sent through the
 * real kernel (dpsim's rules in netfilter, in throw-away namespaces) and through dpsim's
 * Simulation; the comparison must find no difference and neither side off-spec. And a
 * planted bug in the rules the kernel loads must be reported as a disagreement with dpsim.
 * Needs root and the netfilter tools (fails under CI without them, skips visibly otherwise).
 */
import { describe, expect, it } from 'vitest';
import { formatReport } from '../../src/verify/report-text.js';
import { verifyScenario } from '../../src/verify/run.js';
import { plantOneOverN } from '../helpers/plant-one-over-n.js';
import { kernelGate, MODES, SCENARIOS } from './scenarios.js';

const gate = kernelGate('differential kernel tests');
const N = 40;
// Both sides are random; the kernel's sample alone can fail a test at this level. With ~60
// probes of up to three tests each, a false alarm is ~1 in 5000 suite runs.
const ALPHA = 1e-6;
// Each case builds namespaces and runs real connections: its time is spawn and I/O, which a
// busy 2-core machine stretches well past vitest's 60 s default. A slow case is not a wrong one
// (a wrong one disagrees), so the budget is generous.
const KERNEL_CASE_MS = 240_000;

describe.concurrent('dpsim agrees with the real kernel', () => {
  if (gate.reason !== null && !gate.skip) {
    it('has the prerequisites (root, ip, conntrack, iptables, nft)', () => {
      throw new Error(`kernel prerequisites missing under CI: ${gate.reason}`);
    });
  }
  for (const mode of MODES) {
    for (const s of SCENARIOS) {
      it.skipIf(gate.skip)(`${mode}: ${s.name}`, async () => {
        const report = await verifyScenario({
          manifests: s.manifests,
          scenario: s.name,
          mode,
          n: N,
          alpha: ALPHA,
        });
        if (!report.agree) console.error(formatReport(report));
        expect(report.disagreements).toEqual([]);
        expect(report.probes.length).toBeGreaterThan(0);
      }, KERNEL_CASE_MS);
    }
  }

  it.skipIf(gate.skip)(
    'iptables: a kernel loaded with a skewed --probability and no MASQUERADE disagrees with dpsim',
    async () => {
      const report = await verifyScenario({
        mode: 'iptables',
        n: 60,
        alpha: ALPHA,
        transformRules: (_node, text) =>
          text
            .replace(/--probability 0\.33333333349/g, '--probability 0.90000000000')
            .split('\n')
            .filter((l) => !l.includes('-j MASQUERADE'))
            .join('\n'),
      });
      expect(report.agree).toBe(false);
      const diffs = report.probes.flatMap((p) => p.checks.filter((c) => !c.agree));
      const masq = diffs.find((c) => c.name === 'masquerade');
      expect(masq).toMatchObject({ kernel: 'client', dpsim: 'node/node1', offSpec: ['kernel'] });
      const dist = diffs.filter((c) => c.name === 'distribution');
      expect(dist.length).toBeGreaterThan(0);
      expect(dist.every((c) => c.offSpec.includes('kernel') && !c.offSpec.includes('dpsim'))).toBe(true);
    },
    KERNEL_CASE_MS,
  );

  it.skipIf(gate.skip)(
    'iptables: a kernel loaded with planted 1/n probabilities is caught by the exact share check on every probe',
    async () => {
      const report = await verifyScenario({
        mode: 'iptables',
        n: 60,
        alpha: ALPHA,
        transformRules: (_node, text) => plantOneOverN(text),
      });
      expect(report.agree).toBe(false);
      const shares = report.probes.flatMap((p) => p.checks.filter((c) => c.name === 'shares'));
      expect(shares.length).toBe(report.probes.length);
      expect(shares.every((c) => !c.agree && c.offSpec.join() === 'kernel')).toBe(true);
      expect(shares.every((c) => c.kernel === '33.3333%/22.2222%/44.4444%')).toBe(true);
    },
    KERNEL_CASE_MS,
  );

  it.skipIf(gate.skip)(
    'nftables: a kernel loaded with a numgen map missing a slot disagrees with dpsim',
    async () => {
      const report = await verifyScenario({
        mode: 'nftables',
        n: 60,
        alpha: ALPHA,
        // `numgen random mod 3 vmap { 0 : …, 1 : …, 2 : … }` without the slot for 2: a third of
        // the new connections match no endpoint and fall through without DNAT.
        transformRules: (_node, text) => text.replace(/, 2 : goto endpoint-[^ }]+/g, ''),
      });
      expect(report.agree).toBe(false);
      const outcome = report.probes.flatMap((p) => p.checks).filter((c) => c.name === 'outcome' && !c.agree);
      expect(outcome.length).toBe(report.probes.length);
      expect(outcome.every((c) => /^mixed\(ok\+/.test(c.kernel) && c.dpsim === 'ok')).toBe(true);
    },
    KERNEL_CASE_MS,
  );

  it.skipIf(gate.skip)(
    'iptables, UDP: a kernel loaded without MASQUERADE and without the no-endpoints REJECT disagrees with dpsim on the peer the echo pods see and on the ICMP refusal',
    async () => {
      const udp = SCENARIOS.find((s) => s.name === 'udp')!;
      const report = await verifyScenario({
        manifests: udp.manifests,
        scenario: udp.name,
        mode: 'iptables',
        n: 20,
        alpha: ALPHA,
        transformRules: (_node, text) =>
          text
            .split('\n')
            .filter((l) => !l.includes('-j MASQUERADE') && !l.includes('-j REJECT'))
            .join('\n'),
      });
      expect(report.agree).toBe(false);
      const diffs = report.probes.flatMap((p) =>
        p.checks.filter((c) => !c.agree).map((c) => ({ ...c, probe: p.probe.id })),
      );
      const masq = diffs.filter((c) => c.name === 'masquerade' && c.probe.includes('udp-echo'));
      expect(masq.length).toBeGreaterThan(0);
      expect(masq.every((c) => c.kernel === 'client' && c.offSpec.includes('kernel'))).toBe(true);
      const refused = diffs.filter((c) => c.name === 'outcome' && c.probe.includes('udp-empty'));
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((c) => c.dpsim === 'refused' && c.kernel !== 'refused')).toBe(true);
    },
    KERNEL_CASE_MS,
  );
});
