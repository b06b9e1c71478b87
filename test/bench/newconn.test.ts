import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { type BenchIo, registerBench } from '../../src/cli/bench.js';

function cli() {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  const io: BenchIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    setExitCode: (c) => {
      code = c;
    },
  };
  const program = new Command('dpsim').exitOverride();
  registerBench(program, io);
  return {
    run: (args: string[]) => program.parseAsync(['node', 'dpsim', ...args]),
    out: () => out.join(''),
    err: () => err.join(''),
    code: () => code,
  };
}

describe('dpsim bench newconn / compile', () => {
  it.each(['iptables', 'nftables', 'ipvs', 'ebpf'])(
    'newconn --mode %s --json reports µs per new connection of the requested size',
    async (mode) => {
      const h = cli();
      await h.run([
        'bench',
        'newconn',
        '--mode',
        mode,
        '--services',
        '20',
        '--passes',
        '2',
        '--pass-ms',
        '5',
        '--json',
      ]);
      expect(h.err()).toBe('');
      const r = JSON.parse(h.out());
      expect(r).toMatchObject({ mode, services: 20, endpoints: 10 });
      expect(r.passesUs).toHaveLength(2);
      expect(r.us).toBeGreaterThan(0);
      expect(Math.min(...r.passesUs)).toBeLessThanOrEqual(r.us);
      expect(Math.max(...r.passesUs)).toBeGreaterThanOrEqual(r.us);
      expect(r.ops).toBeGreaterThanOrEqual(2 * 64);
      expect(h.code()).toBe(0);
    },
  );

  it('newconn --services 5,20 measures both sizes in one run and reports their ratio (medians and fastest passes)', async () => {
    const h = cli();
    await h.run([
      'bench',
      'newconn',
      '--mode',
      'nftables',
      '--services',
      '5,20',
      '--passes',
      '3',
      '--pass-ms',
      '5',
      '--json',
    ]);
    expect(h.err()).toBe('');
    const c = JSON.parse(h.out());
    expect(c.mode).toBe('nftables');
    expect(c.results.map((r: { services: number }) => r.services)).toEqual([5, 20]);
    for (const r of c.results) {
      expect(r.passesUs).toHaveLength(3);
      expect(r.minUs).toBe(Math.min(...r.passesUs));
    }
    expect(c.ratio.of).toBe('services=20 ÷ services=5');
    expect(c.ratio.median).toBeCloseTo(c.results[1].us / c.results[0].us, 10);
    expect(c.ratio.min).toBeCloseTo(c.results[1].minUs / c.results[0].minUs, 10);
  });

  it('newconn without --json prints one line naming mode and size', async () => {
    const h = cli();
    await h.run(['bench', 'newconn', '--mode', 'ebpf', '--services', '5', '--passes', '1', '--pass-ms', '1']);
    expect(h.out()).toMatch(/^newconn ebpf: \d+\.\d\d µs per first packet .*5 Services × 10 endpoints/);
  });

  it('compile --json reports fullMs and incrementalMs (eBPF: 21 incremental runs)', async () => {
    const h = cli();
    await h.run([
      'bench',
      'compile',
      '--mode',
      'ebpf',
      '--services',
      '30',
      '--endpoints',
      '4',
      '--runs',
      '1',
      '--json',
    ]);
    const r = JSON.parse(h.out());
    expect(r).toMatchObject({ mode: 'ebpf', services: 30, endpoints: 4, runs: 1, incrementalRuns: 21 });
    expect(r.fullMs).toBeGreaterThan(0);
    expect(r.incrementalMs).toBeGreaterThan(0);
    expect(r.heapBytesPerService).toBeCloseTo(r.heapBytes / 30, 6);
  });

  it('compile of a kube-proxy mode times a full resync as its incremental sync', async () => {
    const h = cli();
    await h.run([
      'bench',
      'compile',
      '--mode',
      'nftables',
      '--services',
      '30',
      '--endpoints',
      '2',
      '--runs',
      '1',
      '--json',
    ]);
    const r = JSON.parse(h.out());
    expect(r).toMatchObject({ mode: 'nftables', runs: 1, incrementalRuns: 1 });
    expect(r.fullMs).toBeGreaterThan(0);
  });

  it.each([
    [['newconn', '--mode', 'pf'], /--mode must be one of iptables, nftables, ipvs, ebpf, got "pf"/],
    [['newconn', '--services', '0'], /--services must be a positive whole number/],
    [['compile', '--endpoints', 'x'], /--endpoints must be a positive whole number/],
    [
      ['compile', '--services', '300000', '--endpoints', '10'],
      /services × endpoints must be at most 2000000/,
    ],
  ])('bad input %j gives one line on stderr and exit code 1', async (args, message) => {
    const h = cli();
    await h.run(['bench', ...args]);
    expect(h.err()).toMatch(message);
    expect(h.err().trim().split('\n')).toHaveLength(1);
    expect(h.code()).toBe(1);
    expect(h.out()).toBe('');
  });
});
