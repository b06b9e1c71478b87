/**
 * `dpsim bench newconn` and `dpsim bench compile`: one figure of bench/modes.bench.ts alone,
 * for quick side-by-side comparisons in one run.
 *
 * newconn: µs for the first packet of a new connection with N Services × E endpoints (the
 * harness of src/bench/mode-harness.ts). Each timed pass runs the op until at least
 * `passMs` have elapsed (the clock is read every 64 ops, so its cost is spread thin);
 * the median pass is reported. compile: full compile and one-endpoint incremental sync
 * (src/bench/compile-timing.ts).
 */
import { PROXY_MODES, type ProxyMode } from '../proxy/common/datapath.js';
import { syntheticModel } from '../traffic/synthetic-model.js';
import { elapsedMs, retainedHeapBytes, timeCompile } from './compile-timing.js';
import { HotpathError, median } from './hotpath.js';
import { type MachineInfo, machineInfo } from './machine.js';
import { buildHarness } from './mode-harness.js';

export interface NewconnOptions {
  readonly mode: string;
  readonly services: number;
  /** Endpoints per Service (default 10). */
  readonly endpoints?: number;
  /** Timed passes; the median is reported (default 5). */
  readonly passes?: number;
  /** Minimum length of one timed pass in ms (default 200). */
  readonly passMs?: number;
}

export interface NewconnResult {
  readonly mode: ProxyMode;
  readonly services: number;
  readonly endpoints: number;
  /** µs per first packet of a new connection (median pass). */
  readonly us: number;
  /** µs of the fastest pass: on a shared machine, the pass least disturbed by other work. */
  readonly minUs: number;
  /** µs of every timed pass, in order. */
  readonly passesUs: readonly number[];
  /** New connections timed in all. */
  readonly ops: number;
  /** Building the node's tables and the harness, ms (untimed setup). */
  readonly buildMs: number;
  readonly machine: MachineInfo;
}

export interface CompileOptions {
  readonly mode: string;
  readonly services: number;
  readonly endpoints: number;
  /** Runs of each (median reported; default 3, eBPF's incremental sync always 21). */
  readonly runs?: number;
}

export interface CompileResult {
  readonly mode: ProxyMode;
  readonly services: number;
  readonly endpoints: number;
  /** Full compile: a fresh node proxy for the model, ms. */
  readonly fullMs: number;
  /** One endpoint of one Service changed, sync told which Service, ms. */
  readonly incrementalMs: number;
  readonly runs: number;
  readonly incrementalRuns: number;
  /** Heap one node's compiled tables keep alive after a full compile (full GC before and after), bytes. */
  readonly heapBytes: number;
  /** heapBytes ÷ Services. */
  readonly heapBytesPerService: number;
  readonly machine: MachineInfo;
}

const CLOCK_EVERY = 64;

export function proxyModeOf(text: string): ProxyMode {
  const mode = PROXY_MODES.find((m) => m === text);
  if (mode === undefined)
    throw new HotpathError(`--mode must be one of ${PROXY_MODES.join(', ')}, got "${text}"`);
  return mode;
}

function syntheticFor(services: number, endpoints: number) {
  if (!Number.isInteger(endpoints) || endpoints < 1 || endpoints > 1000)
    throw new HotpathError(`--endpoints must be a whole number in 1..1000, got ${endpoints}`);
  if (services * endpoints > 2_000_000)
    throw new HotpathError(`services × endpoints must be at most 2000000, got ${services * endpoints}`);
  return syntheticModel({ services, endpointsOf: () => endpoints });
}

export function runNewconn(options: NewconnOptions): NewconnResult {
  return runNewconnSizes({ ...options, services: [options.services] }).results[0];
}

export interface NewconnSizesOptions extends Omit<NewconnOptions, 'services'> {
  readonly services: readonly number[];
}

export interface NewconnComparison {
  readonly mode: ProxyMode;
  readonly endpoints: number;
  readonly results: readonly NewconnResult[];
  /** Last size ÷ first size, of the medians and of the fastest passes (same run, interleaved passes). */
  readonly ratio: { readonly of: string; readonly median: number; readonly min: number };
}

/**
 * Several Service counts in one run: every harness is built first, then the timed passes
 * alternate between them (pass 1 of each size, pass 2 of each …), so load from other work on
 * the machine falls on every size alike and their ratio is meaningful.
 */
export function runNewconnSizes(options: NewconnSizesOptions): NewconnComparison {
  const mode = proxyModeOf(options.mode);
  const endpoints = options.endpoints ?? 10;
  const passes = options.passes ?? 5;
  const passMs = options.passMs ?? 200;
  const built = options.services.map((services) => {
    const model = syntheticFor(services, endpoints);
    const [h, buildMs] = elapsedMs(() => buildHarness(mode, model, services));
    // Warm-up (untimed): lets V8 optimise the path before the first timed pass.
    timePass(() => h.newConn(), Math.min(passMs, 100));
    return { services, h, buildMs, passesUs: [] as number[], ops: 0 };
  });
  for (let p = 0; p < passes; p++) {
    for (const b of built) {
      const pass = timePass(() => b.h.newConn(), passMs);
      b.passesUs.push(pass.us);
      b.ops += pass.ops;
    }
  }
  const machine = machineInfo();
  const results = built.map((b) => ({
    mode,
    services: b.services,
    endpoints,
    us: median(b.passesUs),
    minUs: Math.min(...b.passesUs),
    passesUs: b.passesUs,
    ops: b.ops,
    buildMs: b.buildMs,
    machine,
  }));
  const first = results[0];
  const last = results[results.length - 1];
  return {
    mode,
    endpoints,
    results,
    ratio: {
      of: `services=${last.services} ÷ services=${first.services}`,
      median: last.us / first.us,
      min: last.minUs / first.minUs,
    },
  };
}

export function formatNewconnComparison(c: NewconnComparison): string {
  return [
    ...c.results.map(formatNewconnResult),
    `ratio ${c.ratio.of}: ${c.ratio.median.toFixed(2)}× (medians), ${c.ratio.min.toFixed(2)}× (fastest passes); passes interleaved in one run`,
  ].join('\n');
}

function timePass(op: () => void, minMs: number): { us: number; ops: number } {
  let ops = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < CLOCK_EVERY; i++) op();
    ops += CLOCK_EVERY;
    elapsed = performance.now() - t0;
  } while (elapsed < minMs);
  return { us: (elapsed * 1000) / ops, ops };
}

export function runCompile(options: CompileOptions): CompileResult {
  const mode = proxyModeOf(options.mode);
  const model = syntheticFor(options.services, options.endpoints);
  const t = timeCompile(mode, model, options.runs ?? 3);
  // Measured after the timings, so its full GCs fall outside them.
  const heapBytes = retainedHeapBytes(mode, model);
  return {
    mode,
    services: options.services,
    endpoints: options.endpoints,
    fullMs: t.full,
    incrementalMs: t.incremental,
    runs: t.runs,
    incrementalRuns: t.incrementalRuns,
    heapBytes,
    heapBytesPerService: heapBytes / options.services,
    machine: machineInfo(),
  };
}

export function formatNewconnResult(r: NewconnResult): string {
  return (
    `newconn ${r.mode}: ${r.us.toFixed(2)} µs per first packet of a new connection ` +
    `(${r.services} Services × ${r.endpoints} endpoints; median of ${r.passesUs.length} passes, fastest ${r.minUs.toFixed(2)}, ${r.ops} connections; ` +
    `tables built in ${(r.buildMs / 1000).toFixed(1)} s)`
  );
}

export function formatCompileResult(r: CompileResult): string {
  return (
    `compile ${r.mode}: full ${r.fullMs.toFixed(1)} ms (median of ${r.runs}), ` +
    `one endpoint changed ${r.incrementalMs.toFixed(3)} ms (median of ${r.incrementalRuns}) ` +
    `at ${r.services} Services × ${r.endpoints} endpoints; ` +
    `the compiled node keeps ${(r.heapBytes / 1e6).toFixed(1)} MB of heap (${(r.heapBytesPerService / 1024).toFixed(2)} KiB per Service)`
  );
}
