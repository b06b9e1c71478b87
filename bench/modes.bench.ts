/**
 * Per-mode scale benchmarks: what a proxy mode costs as the number of Services grows.
 *
 * - `newconn/<mode>/services=<n>` (benny, ops/s): the first packet of a new connection, pod →
 *   ClusterIP of a random one of n Services × 10 endpoints, through the node's work
 *   (conntrack miss, the mode's rules/maps, DNAT, byte rewrite). `dpsim bench newconn` times
 *   the same op alone.
 * - `established/<mode>/services=<n>` (benny): a packet of one of 1024 established flows.
 *   Both ops are the harness of src/bench/mode-harness.ts (its header says exactly what they do).
 * - `compile-full|compile-incremental/<mode>/services=<n>` (.extra.json, ms): full compile and
 *   one-endpoint sync with 10 endpoints per Service (src/bench/compile-timing.ts; `dpsim bench
 *   compile` gives one figure alone). Timed by hand (median of a few runs; one at 10 k Services
 *   where a run takes seconds; 21 for eBPF's sub-millisecond incremental sync).
 * - `memory/<mode>/per=flow` (bytes per tracked flow) and `memory-per-service/<mode>/services=<n>`
 *   (native dump text bytes per Service; `ebpf-maps`: LB map entry bytes) in .extra.json.
 *
 * Each (mode, size) harness is built, measured and dropped before the next (one small benny
 * suite each; the results are merged into one benny-shaped file), so at most one 30 k-Service
 * table set is alive at a time. Run alone: `npx tsx bench/modes.bench.ts` (~2½ minutes on a
 * 2-core machine with other work competing; building the 30 k-Service tables, iptables above
 * all, is a third of it — `DPSIM_BENCH_QUICK=1` runs small sizes only). Writes
 * bench/results/modes.{json,csv,extra.json}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import b from 'benny';
import type { CaseResult, Summary } from 'benny/lib/internal/common-types.js';
import { elapsedMs, timeCompile } from '../src/bench/compile-timing.js';
import { buildHarness, ebpfMapBytesPerService, perServiceDumpBytes } from '../src/bench/mode-harness.js';
import type { ExtraCase, ExtraFile } from '../src/bench/results.js';
import { PROXY_MODES, type ProxyMode } from '../src/proxy/common/datapath.js';
import { syntheticModel } from '../src/traffic/synthetic-model.js';

const RESULTS = 'bench/results';
/** DPSIM_BENCH_QUICK=1: small sizes only, to check the suite works (figures not comparable). */
const QUICK = process.env.DPSIM_BENCH_QUICK === '1';
const NEWCONN_SIZES = QUICK ? [100, 1_000, 2_000] : [100, 1_000, 10_000, 30_000];
const ESTABLISHED_SIZES = QUICK ? [100, 2_000] : [100, 10_000];
const COMPILE_SIZES = QUICK ? [1_000] : [1_000, 10_000];
const MEMORY_SIZES = QUICK ? [1_000, 2_000] : [1_000, 10_000];
/** Endpoints per Service in the new-connection and established cases (as `dpsim bench newconn`). */
const NEWCONN_ENDPOINTS = 10;
const CASE_OPTIONS = { minSamples: 3, maxTime: 0.6 };
/** Size whose harness gives `memory/<mode>/per=flow` (the per-flow cost does not depend on it). */
const PER_FLOW_SIZE = 1_000;
const log = (s: string) => process.stderr.write(`${s}\n`);

function modesAvailable(): ProxyMode[] {
  const out: ProxyMode[] = [];
  const probe = syntheticModel({ services: 10 });
  for (const mode of PROXY_MODES) {
    try {
      buildHarness(mode, probe, 10);
      out.push(mode);
    } catch (e) {
      log(`modes bench: ${mode} mode left out: ${(e as Error).message}`);
    }
  }
  return out;
}

/** One benny case: its name and the op it times. */
interface TimedCase {
  readonly name: string;
  readonly fn: () => void;
}

/**
 * Runs `cases` as one small benny suite and returns its results. One suite per harness: benny
 * prepares every case of a suite before running any, so a single suite would keep every
 * (mode, size) harness — gigabytes at 30 k Services — alive at once.
 */
async function timeCases(title: string, cases: readonly TimedCase[]): Promise<CaseResult[]> {
  const summary = await b.suite(title, ...cases.map((c) => b.add(c.name, c.fn, CASE_OPTIONS)), b.cycle());
  return summary.results;
}

/** The per-harness suites as one, in benny's summary shape (percentSlower against the fastest of all). */
function mergeResults(name: string, results: readonly CaseResult[]): Summary {
  const fastest = results.reduce((f, r, i) => (r.ops > results[f].ops ? i : f), 0);
  const slowest = results.reduce((f, r, i) => (r.ops < results[f].ops ? i : f), 0);
  return {
    name,
    date: new Date(),
    results: results.map((r, i) => ({
      ...r,
      percentSlower: i === fastest ? 0 : Number(((1 - r.ops / results[fastest].ops) * 100).toFixed(2)),
    })),
    fastest: { name: results[fastest].name, index: fastest },
    slowest: { name: results[slowest].name, index: slowest },
  };
}

/** bench/results/modes.{json,csv} exactly as benny's `save` writes them (without details). */
function saveLikeBenny(summary: Summary, file: string): void {
  const rows = summary.results.map(({ name, ops, margin, percentSlower }) => ({
    name,
    ops,
    margin,
    percentSlower,
  }));
  const json = {
    name: summary.name,
    date: summary.date.toISOString(),
    version: null,
    results: rows,
    fastest: summary.fastest,
    slowest: summary.slowest,
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `${file}.json`), JSON.stringify(json, null, 2));
  const csv = [
    '"name","ops","margin","percentSlower"',
    ...rows.map((r) => `${JSON.stringify(r.name)},${r.ops},${r.margin},${r.percentSlower}`),
  ];
  writeFileSync(join(RESULTS, `${file}.csv`), csv.join('\n'));
  log(`Saved to: ${join(RESULTS, `${file}.json`)} and .csv`);
}

export default async function run(): Promise<Summary> {
  const started = performance.now();
  const modes = modesAvailable();
  const extra: ExtraCase[] = [];
  const notes: string[] = [];

  // ---- new connections and established flows: each (mode, size) harness is built, measured
  // (memory first: dumps of big tables are slow to render, and timing runs fill the CT tables)
  // and dropped before the next one is built.
  const results: CaseResult[] = [];
  for (const n of NEWCONN_SIZES) {
    const model = syntheticModel({ services: n, endpointsOf: () => NEWCONN_ENDPOINTS });
    for (const mode of modes) {
      const [h, ms] = elapsedMs(() => buildHarness(mode, model, n));
      log(`built ${mode} for ${n} Services in ${(ms / 1000).toFixed(1)} s`);
      if (n === PER_FLOW_SIZE) {
        const flow = h.perFlowBytes();
        extra.push({ name: `memory/${mode}/per=flow`, value: flow.value, unit: 'B' });
        notes.push(`memory/${mode}/per=flow: ${flow.note}`);
      }
      if (MEMORY_SIZES.includes(n)) {
        extra.push({
          name: `memory-per-service/${mode}/services=${n}`,
          value: perServiceDumpBytes(h),
          unit: 'B (native dump text)',
        });
        if (mode === 'ebpf')
          extra.push({
            name: `memory-per-service/ebpf-maps/services=${n}`,
            value: ebpfMapBytesPerService(h, model),
            unit: 'B (LB map entries)',
          });
      }
      const cases: TimedCase[] = [{ name: `newconn/${mode}/services=${n}`, fn: () => h.newConn() }];
      if (ESTABLISHED_SIZES.includes(n))
        cases.push({ name: `established/${mode}/services=${n}`, fn: () => h.established() });
      results.push(...(await timeCases(`modes: ${mode} with ${n} Services`, cases)));
    }
  }
  const summary = mergeResults(
    'modes: first packet of a new connection and established packets vs number of ClusterIP Services',
    results,
  );
  console.table(
    summary.results.map((r) => ({
      case: r.name,
      'ops/s': r.ops,
      'µs/op': (1e6 / r.ops).toFixed(2),
      '±%': r.margin,
    })),
  );
  saveLikeBenny(summary, 'modes');

  // ---- compile time, full and incremental, 10 endpoints per Service (timed by hand).
  for (const n of COMPILE_SIZES) {
    const model = syntheticModel({ services: n, endpointsOf: () => 10 });
    for (const mode of modes) {
      const t = timeCompile(mode, model, n >= 10_000 ? 1 : 3);
      extra.push({ name: `compile-full/${mode}/services=${n}`, value: t.full, unit: 'ms' });
      extra.push({ name: `compile-incremental/${mode}/services=${n}`, value: t.incremental, unit: 'ms' });
      log(
        `compile ${mode} ${n}×10: full ${t.full.toFixed(0)} ms (median of ${t.runs}), ` +
          `incremental ${t.incremental.toFixed(3)} ms (median of ${t.incrementalRuns})`,
      );
    }
  }
  notes.push(
    'compile-incremental: iptables, nftables and ipvs recompile whole tables on each sync (full sync; partial sync not modelled); ebpf re-plans only the changed Service (lb.sync(model, changed))',
  );

  const opsOf = (name: string) => summary.results.find((r) => r.name === name)?.ops ?? Number.NaN;
  const file: ExtraFile = { cases: extra };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'modes.extra.json'), `${JSON.stringify(file, null, 2)}\n`);

  // ---- the compact summary: ratios within this run.
  const value = (name: string) => extra.find((c) => c.name === name)?.value ?? Number.NaN;
  const lo = NEWCONN_SIZES[0];
  const hi = NEWCONN_SIZES[NEWCONN_SIZES.length - 1];
  const [eLo, eHi] = [ESTABLISHED_SIZES[0], ESTABLISHED_SIZES[ESTABLISHED_SIZES.length - 1]];
  const cHi = COMPILE_SIZES[COMPILE_SIZES.length - 1];
  const mHi = MEMORY_SIZES[MEMORY_SIZES.length - 1];
  console.table(
    modes.map((mode) => {
      const usLo = 1e6 / opsOf(`newconn/${mode}/services=${lo}`);
      const usHi = 1e6 / opsOf(`newconn/${mode}/services=${hi}`);
      return {
        mode,
        [`newconn µs @${lo}`]: usLo.toFixed(2),
        [`newconn µs @${hi}`]: usHi.toFixed(2),
        [`cost ×(${hi}/${lo})`]: (usHi / usLo).toFixed(2),
        [`estab µs @${eLo}`]: (1e6 / opsOf(`established/${mode}/services=${eLo}`)).toFixed(2),
        [`estab µs @${eHi}`]: (1e6 / opsOf(`established/${mode}/services=${eHi}`)).toFixed(2),
        [`compile full @${cHi} ms`]: value(`compile-full/${mode}/services=${cHi}`).toFixed(0),
        [`compile incr @${cHi} ms`]: value(`compile-incremental/${mode}/services=${cHi}`).toFixed(3),
        'B/flow': value(`memory/${mode}/per=flow`).toFixed(0),
        [`B/svc text @${mHi}`]: value(`memory-per-service/${mode}/services=${mHi}`).toFixed(0),
      };
    }),
  );
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`modes bench: ${((performance.now() - started) / 1000).toFixed(0)} s in all`);
  return summary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await run();
}
