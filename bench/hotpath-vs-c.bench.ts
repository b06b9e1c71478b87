/**
 * Hot path against C: `dpsim bench hotpath --mode ebpf` beside bench/c/hotpath-ref.c (the same
 * per-packet work in plain C, compiled here with `cc -O2`), at 1k, 100k and 1M flows, and the
 * eBPF hot path on 2 worker threads against 1.
 *
 * The machine is shared, so the two run in interleaved rounds (C, dpsim, C, dpsim, …) over the
 * same frames (same workload seed) and the same CT table size (the eBPF CT map's capacity,
 * Cilium's 524288 by default), and each round's ratio is taken from packets per second of
 * CPU time (what the process got, robust to other load; wall-clock ratios are kept too); the
 * figure is the median over rounds. The load average is recorded with the results.
 *
 * Each round also runs `plain-js` (src/bench/hotpath-plain.ts: the C program line for line in
 * plain typed-array JS, same table): what V8 itself makes of this work, so the gap dpsim's
 * structure adds (ebpf ÷ plain-js) is told apart from the gap V8 leaves (plain-js ÷ C).
 *
 * Why not the C (../shared/peers/hotpath-c/hotpath.c)? It does less per packet (a
 * 3-word key, no control bytes, no CT refresh writes, no backend table) on a table sized to the
 * flows (the power of two ≥ 2F slots of 20 bytes: 5 MB at 100k flows), where dpsim walks
 * Cilium's preallocated 524,288-entry CT map (21 MB); at 100k flows the table size alone costs
 * hotpath-ref.c 1.2–1.8× (capacity = flows against 524,288, in runs here). Comparing dpsim with
 * that C would measure a smaller table and less work, not the code.
 *
 * Writes bench/results/hotpath-vs-c.extra.json:
 *   `hotpath-vs-c/ebpf/flows=F`   dpsim ÷ C (CPU-time packet rates), unit `ratio`
 *   `hotpath-vs-c/plain-js/flows=F` plain typed-array JS ÷ C, unit `ratio`
 *   `hotpath-cpu-pps/c|ebpf|plain-js/flows=F` median packets per CPU-second, unit `pps`
 *   `hotpath-scaling/ebpf/workers=2` 2 workers ÷ 1 (wall clock, flows=100k), unit `ratio`
 * Without a C compiler the C cases are absent and the file says why (`skipped`).
 * Run alone: `npx tsx bench/hotpath-vs-c.bench.ts` (about a minute).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildCReference,
  type CReference,
  disposeCReference,
  runCReference,
  writeReferenceFrames,
} from '../src/bench/c-reference.js';
import { DEFAULT_SEED, median, runHotpath } from '../src/bench/hotpath.js';
import { runHotpathParallel } from '../src/bench/parallel.js';
import type { ExtraCase, ExtraFile } from '../src/bench/results.js';
import { HOTPATH_FRAME_SIZE, makeFlows, writeFlowFrames } from '../src/bench/workload.js';
import { DEFAULT_MAP_SIZES } from '../src/proxy/ebpf/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, 'results');
const SOURCE = join(here, 'c', 'hotpath-ref.c');
/** Flow counts and packets per timed pass (each side runs PASSES passes per round). */
const POINTS = [
  { flows: 1_000, packets: 4_000_000 },
  { flows: 100_000, packets: 2_000_000 },
  { flows: 1_000_000, packets: 2_000_000 },
];
const PASSES = 3;
const ROUNDS = 3;
const SCALING = { flows: 100_000, packets: 2_000_000, passes: 3 };

interface PointResult {
  readonly flows: number;
  readonly ratios: number[];
  readonly wallRatios: number[];
  readonly cCpuPps: number[];
  readonly ebpfCpuPps: number[];
  readonly plainRatios: number[];
  readonly plainCpuPps: number[];
}

function mpps(x: number): string {
  return (x / 1e6).toFixed(2);
}

function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function compareAt(ref: CReference & { ok: true }, flows: number, packets: number): PointResult {
  const frames = new Uint8Array(flows * HOTPATH_FRAME_SIZE);
  writeFlowFrames(frames, 0, makeFlows(flows, DEFAULT_SEED)); // the frames runHotpath builds
  const file = writeReferenceFrames(ref, `frames-${flows}.bin`, frames);
  const out: PointResult = {
    flows,
    ratios: [],
    wallRatios: [],
    cCpuPps: [],
    ebpfCpuPps: [],
    plainRatios: [],
    plainCpuPps: [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    // The same CT table as dpsim's: the eBPF CT map's capacity (EbpfHotpath sizes it so).
    const c = runCReference(ref, file, packets, PASSES, {
      capacity: Math.max(DEFAULT_MAP_SIZES.ctTcpMax, flows),
    });
    const js = runHotpath({ mode: 'ebpf', flows, packets, passes: PASSES });
    const plain = runHotpath({ mode: 'plain-js', flows, packets, passes: PASSES });
    const cCpu = median(c.passCpuPps);
    const jsCpu = js.cpuPps ?? js.pps;
    const plainCpu = plain.cpuPps ?? plain.pps;
    out.plainCpuPps.push(plainCpu);
    out.plainRatios.push(plainCpu / cCpu);
    out.cCpuPps.push(cCpu);
    out.ebpfCpuPps.push(jsCpu);
    out.ratios.push(jsCpu / cCpu);
    out.wallRatios.push(js.pps / median(c.passPps));
    console.log(
      `  flows=${flows} round ${round + 1}: C ${mpps(cCpu)} M pkt/CPU-s, ebpf ${mpps(jsCpu)} → ` +
        `${(jsCpu / cCpu).toFixed(2)} (wall ${(js.pps / median(c.passPps)).toFixed(2)}), ` +
        `plain-js ${mpps(plainCpu)} → ${(plainCpu / cCpu).toFixed(2)}; load ${load()}`,
    );
  }
  return out;
}

export default async function run(): Promise<void> {
  const cases: ExtraCase[] = [];
  const loadBefore = load();
  const ref = buildCReference(SOURCE);
  let skipped: string | null = null;
  if (!ref.ok) {
    skipped = ref.reason;
    console.log(`hotpath vs C: skipped: ${ref.reason}`);
  } else {
    console.log(`hotpath vs C: ${ref.compiler}; load average ${loadBefore}`);
    const rows: Record<string, string>[] = [];
    try {
      for (const { flows, packets } of POINTS) {
        const r = compareAt(ref, flows, packets);
        cases.push(
          { name: `hotpath-vs-c/ebpf/flows=${flows}`, value: median(r.ratios), unit: 'ratio' },
          { name: `hotpath-cpu-pps/c/flows=${flows}`, value: median(r.cCpuPps), unit: 'pps' },
          { name: `hotpath-cpu-pps/ebpf/flows=${flows}`, value: median(r.ebpfCpuPps), unit: 'pps' },
          { name: `hotpath-vs-c/plain-js/flows=${flows}`, value: median(r.plainRatios), unit: 'ratio' },
          { name: `hotpath-cpu-pps/plain-js/flows=${flows}`, value: median(r.plainCpuPps), unit: 'pps' },
        );
        rows.push({
          flows: String(flows),
          'C M pkt/CPU-s': mpps(median(r.cCpuPps)),
          'ebpf M pkt/CPU-s': mpps(median(r.ebpfCpuPps)),
          'ebpf ÷ C': median(r.ratios).toFixed(2),
          'rounds (÷ C)': r.ratios.map((x) => x.toFixed(2)).join(' '),
          'wall ÷ C': median(r.wallRatios).toFixed(2),
          'plain-js ÷ C': median(r.plainRatios).toFixed(2),
        });
      }
    } finally {
      disposeCReference(ref);
    }
    console.table(rows);
  }

  const par = await runHotpathParallel({ mode: 'ebpf', workers: 2, ...SCALING });
  if (par.scaling !== undefined) {
    cases.push({ name: 'hotpath-scaling/ebpf/workers=2', value: par.scaling.speedup, unit: 'ratio' });
    console.log(
      `2 workers: ${mpps(par.pps)} M pkt/s vs 1: ${mpps(par.scaling.singlePps)} → ` +
        `${par.scaling.speedup.toFixed(2)}× (flows=${SCALING.flows}, wall clock; load ${load()})`,
    );
  }

  const extra: ExtraFile & { skipped?: string; load?: { before: string; after: string } } = {
    cases,
    ...(skipped === null ? {} : { skipped }),
    load: { before: loadBefore, after: load() },
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'hotpath-vs-c.extra.json'), `${JSON.stringify(extra, null, 2)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await run();
}
