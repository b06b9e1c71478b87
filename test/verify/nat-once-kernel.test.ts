/**
 * NAT once per connection, shown against the real kernel: 3 connections to a NodePort whose
 * only endpoint never answers, each SYN retransmitted once (at 1 s; the next would be at 3 s) before the client
 * gives up. The kernel walks the nat table once per connection (nf_nat_initialized), so the
 * NodePort and DNAT rules count 3 packets while filter FORWARD counts all 6 SYNs; dpsim's
 * counters must be the same, rule for rule. Needs root and iptables (CI fails without them).
 */
import { describe, expect, it } from 'vitest';
import { runRetransmitDifferential } from '../../src/verify/retransmit.js';
import { BLACKHOLE_YAML } from '../sim/scenarios.js';
import { kernelGate } from './scenarios.js';

const gate = kernelGate('nat-once kernel differential');

describe('rule counters after retransmitted SYNs: dpsim agrees with the real kernel', () => {
  if (gate.reason !== null && !gate.skip) {
    it('has the prerequisites (root, ip, iptables)', () => {
      throw new Error(`kernel prerequisites missing under CI: ${gate.reason}`);
    });
  }
  it.skipIf(gate.skip)(
    'iptables: 3 connections × 2 SYNs give [3:180] on KUBE-NODEPORTS and the DNAT rule, [6:360] on FORWARD, on both sides',
    async () => {
      const { kernel, dpsim } = await runRetransmitDifferential({
        manifests: BLACKHOLE_YAML,
        host: '192.168.100.100',
        port: 30090,
        entryNode: 'node1',
        connections: 3,
        // Between the retransmission at 1 s and the next at 3 s (the client's namespace doubles
        // its SYN timeouts as dpsim does): a full second of margin either side.
        connectTimeoutMs: 2000,
      });
      const pick = (m: Map<string, string>, table: string, needle: string) =>
        [...m].find(([k]) => k.startsWith(`${table} `) && k.includes(needle))?.[1];
      const nodePort =
        '-A KUBE-NODEPORTS -p tcp -m comment --comment "default/blackhole:http" -m tcp --dport 30090';
      const dnat = '--to-destination 10.233.65.250:8080';
      const forward = '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD';
      expect(pick(kernel, 'nat', nodePort)).toBe('[3:180]');
      expect(pick(kernel, 'nat', dnat)).toBe('[3:180]');
      expect(pick(kernel, 'filter', forward)).toBe('[6:360]');
      // Every rule of kube-proxy's nat chains and the filter FORWARD/KUBE-FORWARD rules: the same
      // counters on both sides. (Not the jumps from nat PREROUTING/OUTPUT/POSTROUTING: on the
      // kernel side they also count the IGMP reports the namespaces' interfaces send on the LAN.)
      const compared = [...kernel.keys()].filter(
        (k) => k.startsWith('nat -A KUBE-') || k.includes('-A FORWARD ') || k.includes('-A KUBE-FORWARD '),
      );
      expect(compared.length).toBeGreaterThan(10);
      expect(Object.fromEntries(compared.map((k) => [k, dpsim.get(k)]))).toEqual(
        Object.fromEntries(compared.map((k) => [k, kernel.get(k)])),
      );
    },
    60_000,
  );
});
