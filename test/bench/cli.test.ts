import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { type BenchIo, parseCount, registerBench } from '../../src/cli/bench.js';

function harness() {
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

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('dpsim bench', () => {
  it('hotpath --json prints the result object', async () => {
    const h = harness();
    await h.run([
      'bench',
      'hotpath',
      '--mode',
      'ebpf',
      '--flows',
      '200',
      '--packets',
      '1k',
      '--passes',
      '2',
      '--json',
    ]);
    const r = JSON.parse(h.out());
    expect(r).toMatchObject({ mode: 'ebpf', flows: 200, packets: 1000, passes: 2, workers: 1 });
    expect(Object.keys(r)).toEqual(expect.arrayContaining(['pps', 'nsPerPacket', 'machine']));
    expect(Object.keys(r.machine).sort()).toEqual(['cpus', 'model', 'node']);
    expect(h.code()).toBe(0);
  });

  it('hotpath with an unknown mode lists the available ones and exits 1', async () => {
    const h = harness();
    await h.run(['bench', 'hotpath', '--mode', 'pf']);
    expect(h.err()).toMatch(
      /unknown hot-path mode "pf"; available: ebpf, ebpf-maglev, naive-js-map, plain-js/,
    );
    expect(h.code()).toBe(1);
  });

  it('report writes the page and names the empty plots', async () => {
    const d = mkdtempSync(join(tmpdir(), 'dpsim-cli-report-'));
    dirs.push(d);
    writeFileSync(
      join(d, 'x.extra.json'),
      JSON.stringify({ cases: [{ name: 'memory/ebpf/flows=1000', value: 65000, unit: 'bytes' }] }),
    );
    const h = harness();
    await h.run(['bench', 'report', '--results', d, '--out', join(d, 'out')]);
    expect(h.out()).toMatch(/wrote .*index\.html and 1 SVG file\(s\) \(7 empty plot\(s\)\)/);
    expect(h.err()).toContain('empty plot "New-connection cost vs number of Services"');
  });

  it('parses counts with k/M suffixes and rejects junk', () => {
    expect(parseCount('--flows', '100k')).toBe(100_000);
    expect(parseCount('--flows', '1M')).toBe(1_000_000);
    expect(parseCount('--flows', '1e6')).toBe(1_000_000);
    expect(parseCount('--flows', '10_000')).toBe(10_000);
    expect(() => parseCount('--flows', '0')).toThrow(/positive whole number/);
    expect(() => parseCount('--flows', '1.5')).toThrow(/positive whole number/);
    expect(() => parseCount('--flows', 'ten')).toThrow(/positive whole number/);
  });
});
