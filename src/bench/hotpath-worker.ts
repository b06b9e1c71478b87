/**
 * Worker-thread entry of `dpsim bench hotpath --workers N`: runs one RSS shard (its frames sit
 * in the shared buffer; its datapath and flow tables are its own) and posts the pass timings.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { abortBarrier, arriveAndWait } from './barrier.js';
import { runShard } from './hotpath.js';
import type { WorkerReply, WorkerTask } from './parallel.js';

const task = workerData as WorkerTask;
let reply: WorkerReply;
try {
  const frames = new Uint8Array(task.frames, task.byteOffset, task.frameCount * task.frameSize);
  const barrier = new Int32Array(task.barrier);
  const r = runShard({
    mode: task.mode,
    frames,
    frameCount: task.frameCount,
    packets: task.packets,
    passes: task.passes,
    seed: task.seed,
    batch: task.batch,
    beforePass: () => arriveAndWait(barrier, task.parties),
  });
  reply = { ok: true, passNs: r.passNs, verifiedFrames: r.verifiedFrames, flowEntries: r.flowEntries };
} catch (err) {
  reply = { ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  // A failed shard must not leave the others blocked at the barrier.
  abortBarrier(new Int32Array(task.barrier));
}
parentPort!.postMessage(reply);
