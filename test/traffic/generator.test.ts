import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerLoad } from '../../src/cli/load.js';
import { buildSimulation } from '../../src/sim/simulation.js';
import { LoadError, LoadGenerator, runLoad } from '../../src/traffic/generator.js';

describe('load generator', () => {
  for (const mode of ['iptables', 'nftables', 'ebpf'] as const) {
    it(`${mode}: per-backend flow counts add up to the flows that were delivered and established`, () => {
      const sim = buildSimulation({ mode, seed: 11 });
      const r = runLoad(sim, { flows: 60, packets: 1500, dist: 'zipf', seed: 11 });
      expect(r.drops).toEqual({});
      const svc = r.services.find((s) => s.service === 'default/myweb-svc-np')!;
      const flows = svc.backends.reduce((a, b) => a + b.flows, 0);
      const packets = svc.backends.reduce((a, b) => a + b.packets, 0);
      expect(flows).toBe(r.flows.delivered);
      // Counted at the other end: handshakes completed at the sources.
      expect(flows).toBe(r.flows.established);
      expect(r.flows.established).toBe(r.flows.opened);
      // Every generator packet reached a backend: SYNs as flows, the rest as packets.
      expect(flows + packets).toBe(r.packets.injected);
      expect(r.packets.deliveredToBackends).toBe(r.packets.injected);
      expect(r.packets.syn + r.packets.data).toBe(r.packets.requested);
      expect(svc.backends.length).toBe(3);
      expect(r.conntrack.length).toBe(3);
      expect(r.conntrack.reduce((a, c) => a + c.entries, 0)).toBeGreaterThan(0);
    });
  }

  it('with --rate, simulated time follows the packet rate', () => {
    const sim = buildSimulation({ mode: 'nftables', seed: 2 });
    const r = runLoad(sim, { flows: 20, packets: 1000, rate: 10_000, seed: 2 });
    // 1000 packets at 10k pps: ~0.1 s (the last one's journey adds well under a millisecond).
    expect(r.simulatedSeconds).toBeGreaterThan(0.0999);
    expect(r.simulatedSeconds).toBeLessThan(0.102);
    expect(r.flows.established).toBe(r.flows.opened);
  });

  it('openFlows establishes every flow and a burst delivers each of its segments', () => {
    const sim = buildSimulation({ mode: 'ebpf', seed: 6 });
    const gen = new LoadGenerator(sim, { flows: 30, packets: 0, seed: 6 });
    expect(gen.openFlows()).toBe(30);
    const before = sim.network.drops.delivered;
    expect(gen.burst(45)).toBe(45);
    expect(sim.network.drops.delivered - before).toBe(45);
    expect(sim.network.drops.totalDropped).toBe(0);
  });

  it('refuses flow counts the sources cannot hold', () => {
    const sim = buildSimulation({ mode: 'iptables', seed: 1 });
    expect(() => runLoad(sim, { flows: 10_000_000, packets: 1 })).toThrow(LoadError);
    expect(() => runLoad(sim, { flows: 0, packets: 1 })).toThrow(/--flows/);
  });
});

describe('dpsim load --json', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints the documented fields', async () => {
    const chunks: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      chunks.push(String(s));
      return true;
    });
    const program = new Command('dpsim').exitOverride();
    registerLoad(program);
    await program.parseAsync([
      'node',
      'dpsim',
      'load',
      '--json',
      '--mode',
      'iptables',
      '--flows',
      '10',
      '--packets',
      '200',
      '--churn',
      'unready=1@100',
    ]);
    const r = JSON.parse(chunks.join(''));
    for (const key of [
      'mode',
      'seed',
      'dist',
      'rate',
      'flows',
      'packets',
      'wallSeconds',
      'mpps',
      'interfaceTraversals',
      'traversalsPerSecond',
      'simulatedSeconds',
      'drops',
      'services',
      'conntrack',
      'churn',
    ])
      expect(r).toHaveProperty(key);
    expect(r.mode).toBe('iptables');
    expect(r.flows).toMatchObject({ population: 10 });
    expect(Object.keys(r.packets).sort()).toEqual(
      [
        'data',
        'deliveredToBackends',
        'handshakeAcks',
        'injected',
        'replyAcks',
        'fins',
        'requested',
        'skippedSourceGone',
        'syn',
      ].sort(),
    );
    expect(r.services[0].fairness).toHaveProperty('jainIndex');
    expect(r.services[0].fairness).toHaveProperty('pValue');
    expect(r.services[0].backends[0]).toHaveProperty('flows');
    expect(r.conntrack[0]).toMatchObject({ table: 'nf_conntrack' });
    expect(r.churn[0]).toMatchObject({ kind: 'unready', atPacket: 100, ok: true });
  });
});
