/**
 * A reusable barrier for worker threads over a SharedArrayBuffer (Atomics.wait/notify), so
 * every worker starts a timed pass at the same instant and the passes overlap in wall time.
 * A barrier can be aborted (a worker failed): waiting threads then throw instead of hanging.
 */

/** Int32 words of a barrier: [arrived, generation, aborted]. */
const ARRIVED = 0;
const GENERATION = 1;
const ABORTED = 2;

export class BarrierAbortedError extends Error {
  override name = 'BarrierAbortedError';
}

export function createBarrierState(): SharedArrayBuffer {
  return new SharedArrayBuffer(3 * 4);
}

/** Blocks until `parties` threads called it with the same state (worker threads only). */
export function arriveAndWait(state: Int32Array, parties: number): void {
  if (Atomics.load(state, ABORTED) !== 0) throw new BarrierAbortedError('another worker failed');
  const generation = Atomics.load(state, GENERATION);
  if (Atomics.add(state, ARRIVED, 1) === parties - 1) {
    Atomics.store(state, ARRIVED, 0);
    Atomics.add(state, GENERATION, 1);
    Atomics.notify(state, GENERATION);
    return;
  }
  while (Atomics.load(state, GENERATION) === generation) Atomics.wait(state, GENERATION, generation);
  if (Atomics.load(state, ABORTED) !== 0) throw new BarrierAbortedError('another worker failed');
}

/** Wakes every waiter with BarrierAbortedError; later arrivals throw at once. */
export function abortBarrier(state: Int32Array): void {
  Atomics.store(state, ABORTED, 1);
  Atomics.add(state, GENERATION, 1);
  Atomics.notify(state, GENERATION);
}
