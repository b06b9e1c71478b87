/**
 * Issue 13 item 5: the conntrack insert race behind the "5-second DNS delay" (weave#3287).
 * A resolver sends its A and AAAA queries back to back from one socket; on the node they are
 * processed in parallel on two CPUs, each creates a conntrack entry for the same original
 * tuple and may DNAT to a different backend; the second to confirm clashes. What happens is
 * the kernel's (the node's `spec.kernel.version`): before 4.19 insert_failed drops it, 4.19 –
 * 5.5 keeps it only when both chose the same backend, 5.6+ lets it through and NATs its reply.
 */
import { describe, expect, it } from 'vitest';
import { CtStat, formatConntrackList } from '../../src/conntrack/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { buildSmall } from '../sim/harness.js';
import { clusterIPOf, RecordingSocket } from './helpers.js';
import { UDP_YAML } from './scenarios.js';

function withKernel(version: string, cpus = 2): string {
  return `${UDP_YAML}
---
apiVersion: dpsim/v1alpha1
kind: Cluster
spec:
  kernel: { version: "${version}", cpus: ${cpus} }
`;
}

const PAIRS = 30;

/** PAIRS sockets, each sending two queries at the same instant; per socket the replies it got. */
function race(version: string, mode: 'iptables' | 'nftables', cpus = 2) {
  const sim = buildSmall({ manifests: withKernel(version, cpus), mode, seed: 7, capture: false });
  const vip = parseIPv4(clusterIPOf(sim, 'udp-echo'));
  const sockets: RecordingSocket[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const s = new RecordingSocket(sim, 'pod/udp-client');
    s.socket.connect(vip, 53);
    s.socket.send(new TextEncoder().encode('A'));
    s.socket.send(new TextEncoder().encode('AAAA'));
    sim.advance(20);
    sockets.push(s);
  }
  const ct = sim.proxies.get('node1')!.conntrack!;
  return { sim, sockets, ct, answered: sockets.map((s) => s.replies.length) };
}

describe('A/AAAA insert race through conntrack, by kernel version', () => {
  for (const mode of ['iptables', 'nftables'] as const) {
    it(`${mode}, kernel 6.1: clash resolution — every query of every pair is answered, from the Service address, though a pair's two queries may reach two backends`, () => {
      const { sim, sockets, ct, answered } = race('6.1.0', mode);
      expect(answered).toEqual(new Array(PAIRS).fill(2));
      for (const s of sockets)
        for (const r of s.replies) expect(r.from).toBe(`${clusterIPOf(sim, 'udp-echo')}:53`);
      const split = sockets.filter((s) => s.replies[0].text !== s.replies[1].text).length;
      expect(split).toBeGreaterThan(0);
      expect(ct.stats[CtStat.CLASH_RESOLVE]).toBe(PAIRS);
      expect(ct.stats[CtStat.INSERT_FAILED]).toBe(0);
      // conntrack -L shows one entry per socket: the losers lived for their one reply only.
      const { stdout } = formatConntrackList(ct, sim.network.nowNs);
      expect(stdout.split('\n').filter((l) => l.includes('dport=53 ')).length).toBe(PAIRS);
      expect(sim.network.drops.totalDropped).toBe(0);
    });
  }

  it('kernel 5.4: a pair whose queries chose the same backend is merged, a pair split over two backends loses one query (insert_failed)', () => {
    const { ct, answered, sim } = race('5.4.0', 'iptables');
    const lost = answered.filter((n) => n === 1).length;
    expect(answered.every((n) => n === 1 || n === 2)).toBe(true);
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThan(PAIRS);
    expect(ct.stats[CtStat.INSERT_FAILED]).toBe(lost);
    expect(ct.stats[CtStat.CLASH_RESOLVE]).toBe(PAIRS - lost);
    expect(sim.network.drops.toRecord()).toEqual({ NAT_FAILED: lost });
  });

  it('kernel 4.14: every pair loses its second query to insert_failed', () => {
    const { ct, answered } = race('4.14.0', 'iptables');
    expect(answered).toEqual(new Array(PAIRS).fill(1));
    expect(ct.stats[CtStat.INSERT_FAILED]).toBe(PAIRS);
  });

  it('kernel 4.14 on a one-CPU node: no parallel processing, no race — both queries share one entry', () => {
    const { ct, answered, sockets } = race('4.14.0', 'iptables', 1);
    expect(answered).toEqual(new Array(PAIRS).fill(2));
    for (const s of sockets) expect(s.replies[0].text).toBe(s.replies[1].text);
    expect(ct.stats[CtStat.INSERT_FAILED]).toBe(0);
  });
});
