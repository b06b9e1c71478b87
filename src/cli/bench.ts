/**
 * `dpsim bench hotpath --mode M --flows F --packets N [--passes P] [--workers W] [--seed S] [--json]`,
 * `dpsim bench newconn --mode M --services N [--endpoints E] [--json]`,
 * `dpsim bench compile --mode M --services N --endpoints E [--json]`
 * and `dpsim bench report [--results DIR] [--out DIR] [--sweep DIR]`. Thin: the work is in src/bench.
 */
import type { Command } from 'commander';
import { formatHotpathResult, HotpathError, type HotpathResult, runHotpath } from '../bench/hotpath.js';
import { hotpathModes, UnknownHotpathModeError } from '../bench/hotpath-modes.js';
import {
  formatCompileResult,
  formatNewconnComparison,
  formatNewconnResult,
  runCompile,
  runNewconn,
  runNewconnSizes,
} from '../bench/newconn.js';
import { runHotpathParallel } from '../bench/parallel.js';
import { buildReport } from '../bench/report.js';
import { WorkloadError } from '../bench/workload.js';
import { PROXY_MODES } from '../proxy/common/datapath.js';
import { formatSweepSummary, mergeShards, readShardDir, SweepMergeError } from '../sweep/shard.js';
import { SyntheticModelError } from '../traffic/synthetic-model.js';
import { ensureDirectory } from './fs-checks.js';
import { type CliIo, processIo } from './io.js';
import { writeSweepResult } from './sweep.js';

export type BenchIo = CliIo;

/** A whole number from a flag; accepts 1e6, 100k, 10M and 1_000_000 spellings. */
export function parseCount(flag: string, text: string): number {
  const m = /^(\d[\d_]*(?:\.\d+)?(?:e\d+)?)([kKmM]?)$/.exec(text.trim());
  const value = m === null ? Number.NaN : Number(m[1].replace(/_/g, '')) * scaleOf(m[2]);
  if (!Number.isInteger(value) || value < 1) {
    throw new HotpathError(`${flag} must be a positive whole number (e.g. 100000, 100k, 1e6), got "${text}"`);
  }
  return value;
}

function scaleOf(suffix: string): number {
  if (suffix === 'k' || suffix === 'K') return 1e3;
  if (suffix === 'm' || suffix === 'M') return 1e6;
  return 1;
}

function isUserError(e: unknown): e is Error {
  return (
    e instanceof HotpathError ||
    e instanceof UnknownHotpathModeError ||
    e instanceof WorkloadError ||
    e instanceof SyntheticModelError
  );
}

export function registerBench(program: Command, io: BenchIo = processIo): Command {
  const bench = program.command('bench').description('benchmarks of the datapaths, and their report');

  bench
    .command('hotpath')
    .description(
      'packets/s of a mode’s per-packet datapath at one node: pre-built 54-byte TCP frames over F flows to one ClusterIP with 16 endpoints',
    )
    .option('--mode <mode>', `datapath (${hotpathModes().join(', ')})`, 'ebpf')
    .option('--flows <n>', 'distinct flows', '100000')
    .option('--packets <n>', 'packets per timed pass', '10000000')
    .option('--passes <n>', 'timed passes (the median is reported)', '5')
    .option('--workers <n>', 'worker threads, flows sharded by a symmetric flow hash (RSS)', '1')
    .option('--seed <n>', 'seed of the flows and of the datapath’s random choices', '1')
    .option('--json', 'print the result as JSON')
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      try {
        const request = {
          mode: String(opts.mode),
          flows: parseCount('--flows', String(opts.flows)),
          packets: parseCount('--packets', String(opts.packets)),
          passes: parseCount('--passes', String(opts.passes)),
          seed: parseCount('--seed', String(opts.seed)),
        };
        const workers = parseCount('--workers', String(opts.workers));
        const result: HotpathResult =
          workers === 1 ? runHotpath(request) : await runHotpathParallel({ ...request, workers });
        io.stdout(
          opts.json === true ? `${JSON.stringify(result, null, 2)}\n` : `${formatHotpathResult(result)}\n`,
        );
      } catch (e) {
        if (!isUserError(e)) throw e;
        io.stderr(`error: ${e.message}\n`);
        io.setExitCode(e.name === 'HotpathVerificationError' ? 3 : 1);
      }
    });

  bench
    .command('newconn')
    .description(
      'µs for the first packet of a new connection (pod → random ClusterIP) with N Services × E endpoints, at one node',
    )
    .option('--mode <mode>', `proxy mode (${PROXY_MODES.join(', ')})`, 'nftables')
    .option(
      '--services <n>',
      'ClusterIP Services; several, comma-separated (100,30000), are measured in one run with interleaved passes and their ratio printed',
      '1000',
    )
    .option('--endpoints <n>', 'endpoints per Service', '10')
    .option('--passes <n>', 'timed passes (the median is reported)', '5')
    .option('--pass-ms <n>', 'minimum length of one timed pass, ms', '200')
    .option('--json', 'print the result as JSON (field `us`)')
    .action((opts: Record<string, string | boolean | undefined>) =>
      reportErrors(io, () => {
        const sizes = String(opts.services)
          .split(',')
          .map((t) => parseCount('--services', t));
        const request = {
          mode: String(opts.mode),
          endpoints: parseCount('--endpoints', String(opts.endpoints)),
          passes: parseCount('--passes', String(opts.passes)),
          passMs: parseCount('--pass-ms', String(opts.passMs)),
        };
        if (sizes.length === 1) {
          const result = runNewconn({ ...request, services: sizes[0] });
          io.stdout(
            opts.json === true ? `${JSON.stringify(result, null, 2)}\n` : `${formatNewconnResult(result)}\n`,
          );
          return;
        }
        const comparison = runNewconnSizes({ ...request, services: sizes });
        io.stdout(
          opts.json === true
            ? `${JSON.stringify(comparison, null, 2)}\n`
            : `${formatNewconnComparison(comparison)}\n`,
        );
      }),
    );

  bench
    .command('compile')
    .description(
      'ms for a full rule compile and for a one-endpoint sync with N Services × E endpoints, at one node',
    )
    .option('--mode <mode>', `proxy mode (${PROXY_MODES.join(', ')})`, 'nftables')
    .option('--services <n>', 'ClusterIP Services', '10000')
    .option('--endpoints <n>', 'endpoints per Service', '10')
    .option('--runs <n>', 'runs of each (the median is reported; eBPF’s incremental sync: 21)', '3')
    .option('--json', 'print the result as JSON (fields `fullMs`, `incrementalMs`)')
    .action((opts: Record<string, string | boolean | undefined>) =>
      reportErrors(io, () => {
        const result = runCompile({
          mode: String(opts.mode),
          services: parseCount('--services', String(opts.services)),
          endpoints: parseCount('--endpoints', String(opts.endpoints)),
          runs: parseCount('--runs', String(opts.runs)),
        });
        io.stdout(
          opts.json === true ? `${JSON.stringify(result, null, 2)}\n` : `${formatCompileResult(result)}\n`,
        );
      }),
    );

  bench
    .command('report')
    .description(
      'turn bench/results/*.json into an offline HTML page with SVG plots (and standalone SVGs); with --sweep DIR, merge the shard results of a sweep',
    )
    .option('--results <dir>', 'directory of benny (and .extra.json) results', 'bench/results')
    .option('--out <dir>', 'output directory', 'bench/report')
    .option('--sweep <dir>', 'merge the shard-*.json of `dpsim sweep` in DIR into DIR/sweep.json instead')
    .action(async (opts: { results: string; out: string; sweep?: string }) => {
      if (opts.sweep !== undefined) {
        try {
          const result = mergeShards(readShardDir(opts.sweep));
          const path = writeSweepResult(opts.sweep, result);
          io.stdout(`${formatSweepSummary(result)}wrote ${path}\n`);
        } catch (e) {
          if (!(e instanceof SweepMergeError)) throw e;
          io.stderr(`error: ${e.message}\n`);
          io.setExitCode(1);
        }
        return;
      }
      // Node's recursive mkdir never returns for some paths (/proc/x); create it step by step first.
      ensureDirectory(opts.out, '--out');
      const summary = await buildReport({ resultsDir: opts.results, outDir: opts.out });
      for (const problem of summary.results.problems) io.stderr(`warning: ${problem}\n`);
      for (const p of summary.plots) {
        if (p.svg === null) io.stderr(`empty plot "${p.title}": ${p.emptyReason}\n`);
      }
      io.stdout(
        `wrote ${summary.htmlPath} and ${summary.svgPaths.length} SVG file(s) ` +
          `(${summary.plots.length - summary.svgPaths.length} empty plot(s))\n`,
      );
    });

  return bench;
}

/** Runs `body`; a user error becomes one line on stderr and exit code 1, anything else propagates. */
function reportErrors(io: BenchIo, body: () => void): void {
  try {
    body();
  } catch (e) {
    if (!isUserError(e)) throw e;
    io.stderr(`error: ${e.message}\n`);
    io.setExitCode(1);
  }
}
