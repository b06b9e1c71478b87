/**
 * `dpsim bench hotpath --workers N`: the hot path on N worker threads, flows sharded as RSS
 * spreads them over a NIC's queues (a symmetric flow hash, so both directions of a connection
 * would meet the same CPU). Each worker builds its own datapath over its own shard — per-CPU
 * flow state, no sharing — and reads its frames from one SharedArrayBuffer. A barrier starts
 * every timed pass on all workers at once; a pass's throughput is the packets of all workers
 * over the slowest worker's elapsed time. Scaling efficiency = pps(N) / (N · pps(1)), with
 * pps(1) measured on one thread over all flows just before.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { abortBarrier, createBarrierState } from './barrier.js';
import {
  DEFAULT_PASSES,
  DEFAULT_SEED,
  HotpathError,
  type HotpathOptions,
  type HotpathResult,
  median,
  runHotpath,
  validateCounts,
} from './hotpath.js';
import { createHotpathDatapath } from './hotpath-modes.js';
import { machineInfo } from './machine.js';
import { HOTPATH_FRAME_SIZE, makeFlows, shardFlows, writeFlowFrames } from './workload.js';

/** What the main thread sends a worker (structured-cloned; the buffers are shared). */
export interface WorkerTask {
  readonly mode: string;
  readonly frames: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly frameCount: number;
  readonly frameSize: number;
  readonly packets: number;
  readonly passes: number;
  readonly seed: number;
  readonly batch: number | undefined;
  readonly barrier: SharedArrayBuffer;
  readonly parties: number;
}

export type WorkerReply =
  | {
      readonly ok: true;
      readonly passNs: number[];
      readonly verifiedFrames: number;
      readonly flowEntries: number | null;
    }
  | { readonly ok: false; readonly error: string };

export interface ParallelHotpathOptions extends HotpathOptions {
  readonly workers: number;
  /** Also run on one thread for the scaling efficiency (default true). */
  readonly baseline?: boolean;
}

export const MAX_WORKERS = 64;

/**
 * Starts the worker entry with the loader this process runs under: from `dist/` the compiled
 * `.js` entry directly; from TypeScript sources (tsx, vitest) a small bootstrap that registers
 * tsx's ESM hooks inside the worker first (Node 20 does not pass `--import` hooks to workers).
 */
function spawnWorker(task: WorkerTask): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./hotpath-worker.js', here), { workerData: task });
  const entry = new URL('./hotpath-worker.ts', here).href;
  const loader = tsxEsmApiUrl();
  const code =
    `import(${JSON.stringify(loader)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true, workerData: task });
}

/** URL of tsx's ESM registration API, resolved from this package. */
function tsxEsmApiUrl(): string {
  try {
    // Resolves the CommonJS build (`…/dist/esm/api/index.cjs`); the ESM build sits beside it.
    const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
    return pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href;
  } catch {
    throw new HotpathError(
      'worker threads need tsx to run the TypeScript sources: install it or run the compiled dist/',
    );
  }
}

function runWorker(task: WorkerTask): { worker: Worker; done: Promise<WorkerReply> } {
  const worker = spawnWorker(task);
  const done = new Promise<WorkerReply>((resolve) => {
    let settled = false;
    worker.once('message', (m: WorkerReply) => {
      settled = true;
      resolve(m);
    });
    // A worker that dies without reporting must not leave the others waiting at the barrier.
    worker.once('error', (err) => {
      settled = true;
      abortBarrier(new Int32Array(task.barrier));
      resolve({ ok: false, error: `${err.name}: ${err.message}` });
    });
    worker.once('exit', (code) => {
      if (settled) return;
      abortBarrier(new Int32Array(task.barrier));
      resolve({ ok: false, error: `worker exited with code ${code} before reporting` });
    });
  });
  return { worker, done };
}

export async function runHotpathParallel(options: ParallelHotpathOptions): Promise<HotpathResult> {
  const passes = options.passes ?? DEFAULT_PASSES;
  const seed = options.seed ?? DEFAULT_SEED;
  const workers = options.workers;
  validateCounts(options.flows, options.packets, passes);
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new HotpathError(`--workers must be an integer in 1..${MAX_WORKERS}, got ${workers}`);
  }
  createHotpathDatapath(options.mode); // unknown mode: fail before any work
  const single = workers > 1 && options.baseline !== false ? runHotpath(options) : null;

  const frameCount = Math.min(options.flows, options.packets);
  const flows = makeFlows(frameCount, seed);
  const shards = shardFlows(flows, workers);
  const sab = new SharedArrayBuffer(frameCount * HOTPATH_FRAME_SIZE);
  const all = new Uint8Array(sab);
  const barrier = createBarrierState();
  const live = shards.filter((s) => s.length > 0);
  const tasks: WorkerTask[] = [];
  let offset = 0;
  for (const [w, shard] of live.entries()) {
    writeFlowFrames(all, offset, flows, shard);
    tasks.push({
      mode: options.mode,
      frames: sab,
      byteOffset: offset,
      frameCount: shard.length,
      frameSize: HOTPATH_FRAME_SIZE,
      // Every flow gets the same packet rate: a shard's share of N follows its share of flows.
      packets: Math.max(1, Math.round((options.packets * shard.length) / frameCount)),
      passes,
      seed: (seed + Math.imul(w + 1, 0x9e3779b1)) >>> 0,
      batch: options.batch,
      barrier,
      parties: live.length,
    });
    offset += shard.length * HOTPATH_FRAME_SIZE;
  }

  const running = tasks.map(runWorker);
  const replies = await Promise.all(running.map((r) => r.done));
  await Promise.all(running.map((r) => r.worker.terminate()));
  const failures = replies.flatMap((r, w) => (r.ok ? [] : [`worker ${w}: ${r.error}`]));
  if (failures.length > 0) throw new HotpathError(`hot-path workers failed:\n  ${failures.join('\n  ')}`);
  const ok = replies as Extract<WorkerReply, { ok: true }>[];

  const totalPackets = tasks.reduce((s, t) => s + t.packets, 0);
  const passPps: number[] = [];
  for (let p = 0; p < passes; p++) {
    const slowest = Math.max(...ok.map((r) => r.passNs[p]));
    passPps.push((totalPackets * 1e9) / slowest);
  }
  const pps = median(passPps);
  const flowEntries = ok.every((r) => r.flowEntries !== null)
    ? ok.reduce((s, r) => s + (r.flowEntries ?? 0), 0)
    : null;
  return {
    mode: options.mode,
    flows: frameCount,
    packets: totalPackets,
    passes,
    pps,
    nsPerPacket: 1e9 / pps,
    workers,
    machine: machineInfo(),
    passPps,
    seed,
    verifiedFrames: ok.reduce((s, r) => s + r.verifiedFrames, 0),
    flowEntries,
    shardFlows: shards.map((s) => s.length),
    ...(single === null
      ? {}
      : {
          scaling: {
            singlePps: single.pps,
            speedup: pps / single.pps,
            efficiency: pps / (workers * single.pps),
          },
        }),
  };
}
