/**
 * Hot path: per-packet service translation at one node for every mode with a batch datapath
 * (and the string-keyed `Map` baseline doing the same work), at 10k and 100k flows to one
 * ClusterIP with 16 endpoints. An op is one batch of 1024 54-byte frames taken in turn from
 * the flows' frames (shuffled once, every flow already in the flow table: the established
 * path). Every frame's output is verified once before timing (src/bench/hotpath.ts).
 *
 * Writes bench/results/hotpath.json (benny; cases `hotpath-batch/<mode>/flows=<F>`) and
 * bench/results/hotpath.extra.json (`hotpath/<mode>/flows=<F>` in packets/s = ops × 1024).
 * Run alone: `npx tsx bench/hotpath.bench.ts` (about 30–40 s).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types.js';
import { HotpathRunner } from '../src/bench/hotpath.js';
import { hotpathModes } from '../src/bench/hotpath-modes.js';
import type { ExtraFile } from '../src/bench/results.js';
import { HOTPATH_FRAME_SIZE, makeFlows, writeFlowFrames } from '../src/bench/workload.js';

const FLOW_COUNTS = [10_000, 100_000];
const BATCH = 1024;
const SEED = 7;
const RESULTS = 'bench/results';
/** Keeps the suite near half a minute: ~2.5 s per case. */
const CASE_OPTIONS = { minSamples: 5, maxTime: 2 };

function runnerFor(mode: string, flowCount: number): HotpathRunner {
  const flows = makeFlows(flowCount, SEED);
  const frames = new Uint8Array(flowCount * HOTPATH_FRAME_SIZE);
  writeFlowFrames(frames, 0, flows);
  const runner = new HotpathRunner(mode, frames, flowCount, SEED);
  runner.shuffle();
  runner.verify(); // first packets: every flow enters the flow table, output checked
  return runner;
}

export default async function run(): Promise<Summary> {
  const cases: { name: string; mode: string; flows: number }[] = [];
  const adds = [];
  for (const mode of hotpathModes()) {
    for (const flows of FLOW_COUNTS) {
      const runner = runnerFor(mode, flows);
      const name = `hotpath-batch/${mode}/flows=${flows}`;
      cases.push({ name, mode, flows });
      adds.push(
        b.add(
          name,
          () => {
            if (runner.pass(BATCH) !== BATCH) throw new Error(`${mode} dropped packets`);
          },
          CASE_OPTIONS,
        ),
      );
    }
  }
  const summary = await b.suite(
    `hotpath: established flows to one ClusterIP with 16 endpoints (ops = batches of ${BATCH} frames)`,
    ...adds,
    b.cycle(),
    b.complete((s) => {
      console.table(
        s.results.map((r) => ({
          case: r.name,
          'batches/s': r.ops,
          'M packets/s': ((r.ops * BATCH) / 1e6).toFixed(2),
          '±%': r.margin,
        })),
      );
    }),
    b.save({ file: 'hotpath', folder: RESULTS, format: 'json' }),
  );
  const extra: ExtraFile = {
    cases: cases.map((c) => {
      const ops = summary.results.find((r) => r.name === c.name)?.ops ?? 0;
      return { name: `hotpath/${c.mode}/flows=${c.flows}`, value: ops * BATCH, unit: 'pps' };
    }),
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'hotpath.extra.json'), `${JSON.stringify(extra, null, 2)}\n`);
  const pps = (mode: string, flows: number): number =>
    extra.cases.find((c) => c.name === `hotpath/${mode}/flows=${flows}`)?.value ?? Number.NaN;
  for (const flows of FLOW_COUNTS) {
    console.log(
      `flows=${flows}: ebpf ${(pps('ebpf', flows) / 1e6).toFixed(2)} M pps, ` +
        `${(pps('ebpf', flows) / pps('naive-js-map', flows)).toFixed(1)}× the string-keyed Map baseline`,
    );
  }
  return summary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await run();
}
