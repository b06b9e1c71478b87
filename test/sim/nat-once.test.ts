/**
 * NAT is set up once per connection, as the kernel's nf_nat_inet_fn does: the nat table is
 * traversed only while the conntrack entry has no binding for the hook's manipulation
 * (nf_nat_initialized), not for every packet whose ctstate is NEW. A SYN retransmitted on a
 * confirmed, unanswered connection is still ctstate NEW but walks no nat chain, draws no
 * random number and sets no `-m recent` entry. Checked on a real kernel in a namespace: one
 * connection with 5 SYNs leaves the nat DNAT rule at [1:60] and the FORWARD rule at [5:300].
 */
import { describe, expect, it } from 'vitest';
import { buildSmall } from './harness.js';
import { BLACKHOLE_YAML } from './scenarios.js';

/** The `[packets:bytes]` of the first rule of `chain` in an `iptables-save -c` dump whose text contains `needle`. */
function counterOf(dump: string, chain: string, needle: string): string {
  const line = dump.split('\n').find((l) => l.includes(`-A ${chain}`) && l.includes(needle));
  if (line === undefined) throw new Error(`no rule in ${chain} containing ${needle}:\n${dump}`);
  return line.slice(0, line.indexOf(']') + 1);
}

describe('nat runs once per connection (nf_nat_initialized), not once per ctstate NEW packet', () => {
  for (const mode of ['iptables', 'ipvs'] as const) {
    it(`${mode}: 3 connections whose SYNs are retransmitted unanswered count [3:180] on the NodePort's nat rule, while filter FORWARD sees every SYN`, () => {
      const sim = buildSmall({ manifests: BLACKHOLE_YAML, mode, seed: 1 });
      for (let i = 0; i < 3; i++) {
        // connect timeout 3.5 s: the SYN at 0 s and its retransmissions at 1 s and 3 s.
        const out = sim.curl({
          from: 'client',
          url: 'http://192.168.100.100:30090/',
          connectTimeoutMs: 3500,
        });
        expect(out.exitCode).toBe(28);
      }
      const proxy = sim.proxies.get('node1')!;
      const dump = proxy.dump({ counters: true, part: 'iptables' });
      if (mode === 'iptables') {
        expect(counterOf(dump, 'KUBE-NODEPORTS', '--dport 30090')).toBe('[3:180]');
        // The DNAT rule itself: once per connection as well.
        expect(counterOf(dump, 'KUBE-SEP-', '--to-destination 10.233.65.250:8080')).toBe('[3:180]');
        // filter FORWARD sees every one of the 9 SYNs (the kernel's [5:300] for 5 SYNs).
        expect(counterOf(dump, 'FORWARD', 'KUBE-FORWARD')).toBe('[9:540]');
      } else {
        // IPVS mode's remaining iptables: KUBE-SERVICES' NodePort match runs in nat PREROUTING.
        expect(counterOf(dump, 'PREROUTING', 'KUBE-SERVICES')).toBe('[3:180]');
      }
    });
  }
});
