/**
 * The differential test for the IPv6 side of dual-stack clusters: the origin scenario built
 * dual-stack and the verification scenarios with their Services made PreferDualStack, sent
 * through the real kernel (dpsim's IPv6 rules in throw-away IPv6 namespaces, IPv6
 * connections) and through dpsim's IPv6 datapath; the comparison must find
 * no difference and neither side off-spec, exactly as for IPv4, in iptables and nftables mode
 * (the IPv6 proxier's `ip6tables-restore` input or its `table ip6 kube-proxy`). A wrong DNAT
 * port planted in the ip6tables rules the kernel loads must be reported.
 * Needs root and the netfilter tools (fails under CI without them, skips visibly otherwise).
 */
import { describe, expect, it } from 'vitest';
import { formatReport } from '../../src/verify/report-text.js';
import { verifyScenario } from '../../src/verify/run.js';
import { DUAL_STACK_SCENARIOS, kernelGate, MODES } from './scenarios.js';

const gate = kernelGate('IPv6 differential kernel tests', 'ipv6');
const N = 40;
// As in differential.test.ts: both sides are random, so each statistical check runs at 1e-6.
const ALPHA = 1e-6;
const KERNEL_CASE_MS = 240_000;
const ORIGIN = DUAL_STACK_SCENARIOS[0];

describe.concurrent('dpsim agrees with the real kernel over IPv6 (dual-stack clusters)', () => {
  if (gate.reason !== null && !gate.skip) {
    it('has the prerequisites (root, ip, conntrack, ip6tables, nft, IPv6)', () => {
      throw new Error(`kernel prerequisites missing under CI: ${gate.reason}`);
    });
  }
  for (const mode of MODES) {
    for (const s of DUAL_STACK_SCENARIOS) {
      it.skipIf(gate.skip)(
        `${mode}, IPv6: ${s.name}`,
        async () => {
          const report = await verifyScenario({
            manifests: s.manifests,
            scenario: s.name,
            mode,
            family: 'ipv6',
            dualStack: true,
            n: N,
            alpha: ALPHA,
          });
          if (!report.agree) console.error(formatReport(report));
          expect(report.family).toBe('ipv6');
          expect(report.disagreements).toEqual([]);
          expect(report.probes.length).toBeGreaterThan(0);
          for (const pc of report.probes) expect(pc.probe.dstIP).toContain(':');
        },
        KERNEL_CASE_MS,
      );
    }
  }

  it.skipIf(gate.skip)(
    'iptables, IPv6: a kernel loaded with a wrong DNAT port for one pod disagrees with dpsim on the outcome of every probe that reaches that pod',
    async () => {
      let target = '';
      const report = await verifyScenario({
        manifests: ORIGIN.manifests,
        scenario: ORIGIN.name,
        mode: 'iptables',
        family: 'ipv6',
        dualStack: true,
        n: N,
        alpha: ALPHA,
        // `--to-destination [fd85:…:1:2]:8080` → `:8081` for the first endpoint: its pod listens on
        // 8080 only, so a third of the kernel's connections are refused (RST from the pod).
        transformRules: (_node, text) => {
          const m = /--to-destination (\[[0-9a-f:]+\]):8080/.exec(text);
          if (m === null) throw new Error('no IPv6 DNAT rule in the ip6tables text');
          target = m[1];
          return text.replaceAll(`--to-destination ${target}:8080`, `--to-destination ${target}:8081`);
        },
      });
      expect(target).toMatch(/^\[fd85:/);
      expect(report.agree).toBe(false);
      const outcome = report.probes.flatMap((p) => p.checks).filter((c) => c.name === 'outcome');
      expect(outcome.length).toBe(report.probes.length);
      expect(outcome.every((c) => !c.agree && c.dpsim === 'ok' && /refused/.test(c.kernel))).toBe(true);
      expect(outcome.every((c) => c.offSpec.join() === 'kernel')).toBe(true);
    },
    KERNEL_CASE_MS,
  );
});
