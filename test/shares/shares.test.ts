import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kubeProxyProbability } from '../../src/proxy/iptables/format.js';
import { parseIptables } from '../../src/proxy/iptables/parse.js';
import type { IpvsVirtualServerSpec } from '../../src/proxy/ipvs/compile.js';
import {
  add,
  frac,
  iptablesChainShares,
  ipvsShares,
  nodeShares,
  numgenIndexShare,
  ONE,
  randomSlotShare,
  within,
  ZERO,
} from '../../src/shares/index.js';
import { buildSimulation } from '../../src/sim/simulation.js';
import { plantOneOverN } from '../helpers/plant-one-over-n.js';

/** An iptables-save with one KUBE-SVC chain whose rules carry the given probabilities. */
function cascade(probabilities: readonly (string | null)[]): string {
  const seps = probabilities.map((_, i) => `KUBE-SEP-E${i}`);
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':KUBE-SVC-TEST - [0:0]',
    ...seps.map((s) => `:${s} - [0:0]`),
    ...probabilities.map(
      (p, i) =>
        `-A KUBE-SVC-TEST${p === null ? '' : ` -m statistic --mode random --probability ${p}`} -j ${seps[i]}`,
    ),
    ...seps.map((s, i) => `-A ${s} -p tcp -m tcp -j DNAT --to-destination 10.0.0.${i + 1}:80`),
    'COMMIT',
    '',
  ].join('\n');
}

const kubeProxyCascade = (n: number) =>
  Array.from({ length: n }, (_, i) => (i === n - 1 ? null : kubeProxyProbability(n - i)));

const sum = (xs: Iterable<ReturnType<typeof frac>>) => [...xs].reduce(add, ZERO);

describe('exact backend shares from the rules', () => {
  it('iptables: kube-proxy’s 1/(n−i) cascade gives every one of n endpoints 1/n to within n·2^-31, and the shares sum to 1 (property over n ≤ 64)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), (n) => {
        const r = iptablesChainShares(parseIptables(cascade(kubeProxyCascade(n))).ruleset, 'KUBE-SVC-TEST')!;
        expect(r.shares.size).toBe(n);
        expect(sum(r.shares.values())).toEqual(ONE);
        expect(r.unmatched).toEqual(ZERO);
        for (const s of r.shares.values()) expect(within(s, frac(1, n), frac(n, 2n ** 31n))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('iptables: the quantised probability is the kernel’s lround(p·2^31), so 0.3333333333 gives 715827883/2^31', () => {
    const r = iptablesChainShares(parseIptables(cascade(kubeProxyCascade(3))).ruleset, 'KUBE-SVC-TEST')!;
    expect(r.shares.get('10.0.0.1:80')).toEqual(frac(715827883, 2n ** 31n));
  });

  it('iptables: the planted 1/n probabilities give 1/3, 2/9, 4/9 (up to the 2^-31 quantisation)', () => {
    const third = kubeProxyProbability(3);
    const r = iptablesChainShares(parseIptables(cascade([third, third, null])).ruleset, 'KUBE-SVC-TEST')!;
    const shares = [...r.shares.values()];
    expect(within(shares[0], frac(1, 3), frac(1, 2n ** 30n))).toBe(true);
    expect(within(shares[1], frac(2, 9), frac(1, 2n ** 30n))).toBe(true);
    expect(within(shares[2], frac(4, 9), frac(1, 2n ** 30n))).toBe(true);
  });

  it('nftables: numgen random mod N gives index i exactly its reciprocal_scale range, each within 2^-32 of 1/N, summing to 1 (property over N)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), (n) => {
        const shares = Array.from({ length: Math.min(n, 40) }, (_, i) => numgenIndexShare(i, n));
        for (const s of shares) expect(within(s, frac(1, n), frac(1, 2n ** 32n))).toBe(true);
        if (n <= 40) expect(sum(shares)).toEqual(ONE);
      }),
    );
    // 2^32 = 3·1431655765 + 1: reciprocal_scale gives the spare value to index 0.
    expect(numgenIndexShare(0, 3)).toEqual(frac(1431655766, 2n ** 32n));
  });

  it('eBPF random: slot s of count gets the 32-bit values ≡ s−1 (mod count), summing to 1 (property over count)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), (count) => {
        const shares = Array.from({ length: count }, (_, i) => randomSlotShare(i + 1, count));
        expect(sum(shares)).toEqual(ONE);
      }),
    );
    expect(randomSlotShare(1, 3)).toEqual(frac(1431655766, 2n ** 32n));
  });

  it('IPVS: rr gives 1/n, wrr w/Σw; sh says its share depends on the client’s address', () => {
    const vs = (scheduler: 'rr' | 'wrr' | 'sh', weights: number[]): IpvsVirtualServerSpec => ({
      kind: 'ClusterIP',
      servicePortName: 'default/x',
      protocol: 'TCP',
      address: '10.233.0.9',
      port: 80,
      scheduler,
      flags: 0,
      timeoutS: 0,
      bound: true,
      endpointSelection: 'cluster',
      realServers: weights.map((weight, i) => ({ ip: `10.0.0.${i + 1}`, port: 80, weight, podName: '' })),
    });
    expect([...ipvsShares(vs('rr', [1, 1, 1])).shares.values()]).toEqual([
      frac(1, 3),
      frac(1, 3),
      frac(1, 3),
    ]);
    expect([...ipvsShares(vs('wrr', [1, 2, 0])).shares.values()]).toEqual([frac(1, 3), frac(2, 3), ZERO]);
    expect(ipvsShares(vs('rr', [1, 2])).dependsOn).toBeNull();
    expect(ipvsShares(vs('sh', [1, 1])).dependsOn).toMatch(/source address/);
  });

  it('every mode’s origin rules agree with kube-proxy’s/Cilium’s equal shares on every node', () => {
    for (const mode of ['iptables', 'nftables', 'ipvs', 'ebpf'] as const) {
      const sim = buildSimulation({ mode, seed: 1 });
      const rows = sim.shares();
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.filter((r) => !r.agree).map((r) => `${mode} ${r.node} ${r.path}: ${r.problem}`)).toEqual(
        [],
      );
      expect(new Set(rows.map((r) => r.node))).toEqual(new Set(['node1', 'node2', 'node3']));
    }
  });

  it('eBPF Maglev: each backend holds ⌊M/n⌋ or ⌈M/n⌉ of the M slots, and the row says the hash decides', () => {
    const sim = buildSimulation({ mode: 'ebpf', seed: 1, ebpfAlgorithm: 'maglev', maglevTableSize: 251 });
    const row = sim.shares('node1').find((r) => r.servicePortName.startsWith('default/myweb-svc-np'))!;
    expect(row.agree).toBe(true);
    expect(row.rules.mechanism).toMatch(/Maglev lookup table of 251 slots/);
    expect(row.rules.dependsOn).toMatch(/hash/);
    for (const s of row.rules.shares.values()) expect([frac(83, 251), frac(84, 251)]).toContainEqual(s);
  });

  it('a planted 1/n iptables dump is reported: the myweb Service’s rows disagree, naming the 22.2% and 44.4% shares', () => {
    const sim = buildSimulation({ mode: 'iptables', seed: 1 });
    const planted = plantOneOverN(sim.rules('node1'));
    const rows = nodeShares(sim.model, 'node1', {
      mode: 'iptables',
      ruleset: parseIptables(planted).ruleset,
    });
    const myweb = rows.filter((r) => r.servicePortName.startsWith('default/myweb-svc-np'));
    expect(myweb.length).toBeGreaterThan(0);
    for (const r of myweb) {
      expect(r.agree).toBe(false);
      expect(r.problem).toMatch(/gets 22\.2222%, intended 33\.3333%/);
      expect(r.problem).toMatch(/gets 44\.4444%, intended 33\.3333%/);
    }
    // The one-endpoint kubernetes Service is unaffected by 1/n = 1/(n−i).
    expect(rows.find((r) => r.servicePortName === 'default/kubernetes:https')?.agree).toBe(true);
  });
});
