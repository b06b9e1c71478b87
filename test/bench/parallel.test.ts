import { describe, expect, it } from 'vitest';
import { HotpathError } from '../../src/bench/hotpath.js';
import { registerHotpathMode } from '../../src/bench/hotpath-modes.js';
import { NaiveMapHotpath } from '../../src/bench/hotpath-naive.js';
import { runHotpathParallel } from '../../src/bench/parallel.js';

describe('hot path on worker threads', () => {
  it('shards the flows over the workers, verifies every frame in each, and reports the scaling', async () => {
    const r = await runHotpathParallel({ mode: 'ebpf', flows: 600, packets: 3000, passes: 2, workers: 2 });
    expect(r.workers).toBe(2);
    expect(r.shardFlows).toHaveLength(2);
    expect(r.shardFlows!.reduce((a, b) => a + b, 0)).toBe(600);
    expect(r.shardFlows!.every((n) => n > 0)).toBe(true);
    // Each worker verifies all of its frames twice; each owns the flow entries of its shard.
    expect(r.verifiedFrames).toBe(1200);
    expect(r.flowEntries).toBe(600);
    expect(r.packets).toBe(3000);
    expect(r.passPps).toHaveLength(2);
    expect(r.scaling).toBeDefined();
    expect(r.scaling!.efficiency).toBeCloseTo(r.pps / (2 * r.scaling!.singlePps), 9);
  });

  it('reports a worker failure instead of hanging (modes must be registered statically)', async () => {
    registerHotpathMode('test-main-thread-only', () => new NaiveMapHotpath());
    await expect(
      runHotpathParallel({
        mode: 'test-main-thread-only',
        flows: 100,
        packets: 100,
        passes: 1,
        workers: 2,
        baseline: false,
      }),
    ).rejects.toThrow(/workers failed[\s\S]*unknown hot-path mode "test-main-thread-only"/);
  });

  it('rejects a bad worker count', async () => {
    await expect(runHotpathParallel({ mode: 'ebpf', flows: 10, packets: 10, workers: 0 })).rejects.toThrow(
      HotpathError,
    );
  });
});
