/**
 * kube-proxy's random-selection ladder in a KUBE-SVC chain, pinned value by value for several
 * endpoint counts: rule i of n carries `--probability` 1/(n−i) as kube-proxy writes it
 * (computeProbability: Go `fmt.Sprintf("%0.10f", 1.0/float64(n))`, the iptables-restore input),
 * and as `iptables-save` prints it back (libxt_statistic keeps lround(p × 2^31) and prints
 * `%.11f` of it); the last rule has no statistic match. The chi-square test in
 * test/proxy/balance.test.ts sees a wrong ladder only when it skews the spread measurably;
 * these rows see a digit.
 */
import { describe, expect, it } from 'vitest';
import { compileIptables, renderIptablesSave } from '../../../src/proxy/iptables/index.js';
import { model, servicePort } from './helpers.js';

/** [endpoints, restore input (%0.10f), iptables-save (%.11f of the kernel threshold)]. */
const LADDERS: readonly (readonly [n: number, restore: readonly string[], saved: readonly string[]])[] = [
  [1, [], []],
  [2, ['0.5000000000'], ['0.50000000000']],
  [3, ['0.3333333333', '0.5000000000'], ['0.33333333349', '0.50000000000']],
  [4, ['0.2500000000', '0.3333333333', '0.5000000000'], ['0.25000000000', '0.33333333349', '0.50000000000']],
  [
    5,
    ['0.2000000000', '0.2500000000', '0.3333333333', '0.5000000000'],
    ['0.20000000019', '0.25000000000', '0.33333333349', '0.50000000000'],
  ],
  [
    6,
    ['0.1666666667', '0.2000000000', '0.2500000000', '0.3333333333', '0.5000000000'],
    ['0.16666666651', '0.20000000019', '0.25000000000', '0.33333333349', '0.50000000000'],
  ],
  [
    7,
    ['0.1428571429', '0.1666666667', '0.2000000000', '0.2500000000', '0.3333333333', '0.5000000000'],
    ['0.14285714272', '0.16666666651', '0.20000000019', '0.25000000000', '0.33333333349', '0.50000000000'],
  ],
  [
    12,
    [
      '0.0833333333',
      '0.0909090909',
      '0.1000000000',
      '0.1111111111',
      '0.1250000000',
      '0.1428571429',
      '0.1666666667',
      '0.2000000000',
      '0.2500000000',
      '0.3333333333',
      '0.5000000000',
    ],
    [
      '0.08333333349',
      '0.09090909082',
      '0.10000000009',
      '0.11111111101',
      '0.12500000000',
      '0.14285714272',
      '0.16666666651',
      '0.20000000019',
      '0.25000000000',
      '0.33333333349',
      '0.50000000000',
    ],
  ],
];

/** Endpoint i's address; three-digit octets keep kube-proxy's "ip:port" string order equal to i's. */
const endpointIP = (i: number) => `10.${100 + Math.floor(i / 100)}.${100 + (i % 100)}.1`;

/** A one-Service model with n endpoints, compiled for the node. */
function compileOne(n: number) {
  const endpoints = Array.from({ length: n }, (_, i) => ({ ip: endpointIP(i), port: 8080 }));
  return compileIptables(
    model({
      servicePorts: [
        servicePort({ namespace: 'ns', name: 'web', clusterIP: '172.30.0.10', port: 80, endpoints }),
      ],
    }),
    'test-node',
  );
}

/** The KUBE-SVC rules of a one-Service model with n endpoints, as restore input and as saved. */
function ladderOf(n: number): { restore: string[]; saved: string[] } {
  const out = compileOne(n);
  const svcRules = (text: string) =>
    text.split('\n').filter((l) => l.startsWith('-A KUBE-SVC-') && / -j KUBE-SEP-\w+$/.test(l));
  return {
    restore: svcRules(out.restoreInput),
    saved: svcRules(renderIptablesSave(out.ruleset, { tables: ['nat'] })),
  };
}

const probabilityOf = (rule: string) => / --probability (\S+) /.exec(rule)?.[1] ?? null;

describe('the iptables probability ladder, value by value', () => {
  it.each(LADDERS)(
    '%i endpoints: rule i carries 1/(n−i) — restore input %j, iptables-save %j — and the last rule none',
    (n, restore, saved) => {
      const ladder = ladderOf(n);
      expect(ladder.restore).toHaveLength(n);
      expect(ladder.saved).toHaveLength(n);
      expect(ladder.restore.map(probabilityOf)).toEqual([...restore, null]);
      expect(ladder.saved.map(probabilityOf)).toEqual([...saved, null]);
      // Rung i sends to endpoint i (kube-proxy's sorted order), each to its own KUBE-SEP chain.
      const text = compileOne(n).restoreInput;
      const destinations = ladder.restore.map((rule) => {
        const sep = / -j (KUBE-SEP-\w+)$/.exec(rule)?.[1];
        const dnat = text.split('\n').find((l) => l.startsWith(`-A ${sep} `) && l.includes(' -j DNAT '));
        return / --to-destination (\S+)$/.exec(dnat ?? '')?.[1];
      });
      expect(destinations).toEqual(Array.from({ length: n }, (_, i) => `${endpointIP(i)}:8080`));
    },
  );

  it('2048 endpoints: the first rung, 1/2048 = 0.00048828125 exactly, is rounded half to even as Go’s %0.10f does (0.0004882812, not toFixed’s 0.0004882813), and iptables-save prints the kernel’s 0.00048828125', () => {
    const { restore, saved } = ladderOf(2048);
    expect(restore).toHaveLength(2048);
    const rungs = restore.map(probabilityOf);
    expect([rungs[0], rungs[1], rungs[1024], rungs[2046], rungs[2047]]).toEqual([
      '0.0004882812',
      '0.0004885198',
      '0.0009765625',
      '0.5000000000',
      null,
    ]);
    expect(probabilityOf(saved[0])).toBe('0.00048828125');
  });
});
