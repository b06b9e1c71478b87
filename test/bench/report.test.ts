import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/bench/report.js';
import { loadResults, parseCaseName } from '../../src/bench/results.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'dpsim-report-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function benny(name: string, cases: [string, number][]): string {
  return JSON.stringify({
    name,
    date: '2026-01-02T03:04:05.000Z',
    version: null,
    results: cases.map(([n, ops]) => ({ name: n, ops, margin: 1.5, percentSlower: 0 })),
  });
}

describe('case names', () => {
  it('parses <metric>/<mode>/<param>=<value> with numeric and text values', () => {
    expect(parseCaseName('newconn/iptables/services=1000')).toEqual({
      metric: 'newconn',
      mode: 'iptables',
      params: [['services', 1000]],
    });
    expect(parseCaseName('memory/ebpf/flows=1e5/kind=ct')?.params).toEqual([
      ['flows', 100000],
      ['kind', 'ct'],
    ]);
    expect(parseCaseName('BpfHashMap.lookupWords (typed arrays)')).toBeNull();
    expect(parseCaseName('a/b/not-a-param')).toBeNull();
    expect(parseCaseName('a/b')).toBeNull();
  });
});

describe('bench report', () => {
  it('plots every series present, names empty plots and why, and writes standalone SVGs', async () => {
    const results = tmp();
    writeFileSync(
      join(results, 'modes.json'),
      benny('modes', [
        ['newconn/iptables/services=10', 50_000],
        ['newconn/iptables/services=1000', 900],
        ['newconn/nftables/services=10', 60_000],
        ['newconn/nftables/services=1000', 55_000],
        ['compile-full/ebpf/services=100', 200],
        ['compile-incremental/ebpf/services=100', 9000],
        ['weird/ipvs/services=10', 5],
        ['not a structured name', 1],
      ]),
    );
    writeFileSync(
      join(results, 'hotpath.extra.json'),
      JSON.stringify({
        cases: [
          { name: 'hotpath/ebpf/flows=100000', value: 2.5e7, unit: 'pps' },
          { name: 'hotpath/naive-js-map/flows=100000', value: 1e6, unit: 'pps' },
        ],
      }),
    );
    writeFileSync(join(results, 'broken.json'), '{ "results": 3 ');
    const out = join(tmp(), 'report');
    const summary = await buildReport({ resultsDir: results, outDir: out });

    const byId = new Map(summary.plots.map((p) => [p.id, p]));
    const newconn = byId.get('newconn-vs-services')!;
    expect(newconn.series).toEqual(['iptables', 'nftables']);
    expect(newconn.svg).toMatch(/^<svg/);
    expect(newconn.svg).toContain('>iptables<');
    expect(newconn.svg).toContain('>nftables<');
    // 1e6 / ops: microseconds per new connection.
    expect(newconn.points).toContainEqual({ series: 'iptables', x: 1000, y: 1e6 / 900 });

    const compile = byId.get('compile-time')!;
    expect(compile.series).toEqual(['ebpf compile-full', 'ebpf compile-incremental']);
    expect(compile.svg).toContain('ebpf compile-full');

    const hotpath = byId.get('hotpath-throughput')!;
    expect(hotpath.svg).toContain('naive-js-map');
    expect(hotpath.points).toContainEqual({
      series: 'flows=100000',
      x: 'ebpf',
      y: 25,
      group: 'flows=100000',
    });

    // A metric no fixed plot claims still gets a plot.
    expect(byId.get('metric-weird')?.series).toEqual(['ipvs']);

    const memory = byId.get('memory')!;
    expect(memory.svg).toBeNull();
    expect(memory.emptyReason).toContain('memory-per-service/<mode>/services=<n>');
    expect(memory.emptyReason).toContain('hotpath.extra.json, modes.json');

    expect(summary.results.problems).toEqual([expect.stringMatching(/^broken\.json: not valid JSON/)]);
    const html = readFileSync(summary.htmlPath, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('Memory per Service (rules or maps) vs number of Services');
    expect(html).toContain('not a structured name');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(existsSync(join(out, 'newconn-vs-services.svg'))).toBe(true);
    expect(existsSync(join(out, 'memory.svg'))).toBe(false);
    expect(summary.svgPaths).toHaveLength(summary.plots.filter((p) => p.svg !== null).length);
  });

  it('says the results directory is missing instead of failing', async () => {
    const out = join(tmp(), 'r');
    const summary = await buildReport({ resultsDir: join(out, 'nowhere'), outDir: out });
    expect(summary.svgPaths).toEqual([]);
    for (const p of summary.plots) expect(p.emptyReason).toMatch(/does not exist/);
    expect(readFileSync(summary.htmlPath, 'utf8')).toContain('does not exist');
  });

  it('lists files that are not results with the reason', () => {
    const d = tmp();
    writeFileSync(join(d, 'a.json'), JSON.stringify({ name: 'x', results: [{ name: 'c' }] }));
    writeFileSync(join(d, 'b.extra.json'), JSON.stringify({ cases: [{ name: 'c', value: 'fast' }] }));
    const r = loadResults(d);
    expect(r.problems).toEqual([
      'a.json: results[0] lacks a string "name" and a numeric "ops"',
      'b.extra.json: cases[0] needs {name: string, value: number, unit: string}',
    ]);
    expect(r.measurements).toEqual([]);
  });
});
