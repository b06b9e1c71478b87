/**
 * The kernel side on its own (no dpsim run): dpsim's rules for the origin scenario loaded
 * into real netfilter and probed with real connections. Compared with itself, the kernel's
 * run must meet kube-proxy's semantics on every probe (right pods, masquerading, uniform
 * shares, NAT tuples), and the DNAT rule counters must account for every answered
 * connection. (Every scenario and mode runs against dpsim in differential.test.ts, whose
 * kernel side gets the same on-spec checks.)
 */
import { describe, expect, it } from 'vitest';
import { compareSides } from '../../src/verify/compare.js';
import { formatReport } from '../../src/verify/report-text.js';
import { runKernelOnly } from '../../src/verify/run.js';
import { kernelGate } from './scenarios.js';

const gate = kernelGate('kernel oracle tests');
const N = 40;

describe('real netfilter runs dpsim rules as kube-proxy specifies', () => {
  if (gate.reason !== null && !gate.skip) {
    it('has the prerequisites (root, ip, conntrack, iptables, nft)', () => {
      throw new Error(`kernel oracle prerequisites missing under CI: ${gate.reason}`);
    });
  }
  it.skipIf(gate.skip)(
    'iptables: the origin scenario meets kube-proxy semantics on every probe',
    async () => {
      const { plan, kernel } = await runKernelOnly({ mode: 'iptables', n: N });
      const report = compareSides(plan, kernel, kernel, { scenario: 'origin', alpha: 1e-6 });
      if (!report.agree) console.error(formatReport(report));
      expect(report.disagreements).toEqual([]);
      expect(kernel.probes.map((p) => p.outcomes.ok)).toEqual(plan.probes.map(() => N));
      // Each answered connection was DNATed exactly once, on the node it entered.
      const dnat = Object.values(kernel.dnatCounters ?? {}).flatMap((c) => Object.values(c));
      expect(dnat.reduce((a, b) => a + b, 0)).toBe(plan.probes.length * N);
    },
  );
});
