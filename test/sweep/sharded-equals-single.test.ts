import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  deterministicPart,
  mergeShards,
  readShardDir,
  runAllCells,
  runShard,
  type ShardResult,
  SweepMergeError,
  shardFileName,
} from '../../src/sweep/shard.js';
import { parseSweepSpec } from '../../src/sweep/spec.js';

const SPEC = `
name: equality
modes: [iptables, nftables, ipvs, ebpf]
services: [8, 20]
seeds: [1, 2]
settings:
  - { name: ten, endpoints: 10 }
  - { name: three, endpoints: 3 }
connections: 150
shards: 3
`;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dpsim-sweep-test-'));
  dirs.push(d);
  return d;
}

describe('sweep: shards run separately and merged equal the one-process run', () => {
  const spec = parseSweepSpec(SPEC);
  const single = runAllCells(spec);
  const dir = tempDir();
  // Each shard on its own, written to disk and read back, as separate pods would.
  for (let i = 0; i < spec.shards; i++) {
    writeFileSync(join(dir, shardFileName(i, spec.shards)), JSON.stringify(runShard(spec, i)));
  }
  const shards = readShardDir(dir);

  it('the merged deterministic content (cells, counts, rank histograms, summary) equals the single run', () => {
    const merged = mergeShards(shards);
    expect(merged.outcomes).toHaveLength(32);
    expect(deterministicPart(merged)).toEqual(deterministicPart(single));
  });

  it('every connection of every cell was translated to an endpoint, in every mode', () => {
    for (const o of single.outcomes) {
      expect(o.result.dnat).toBe(150);
      expect(o.result.rankHistogram.reduce((a, b) => a + b, 0)).toBe(150);
      expect(o.result.rankHistogram).toHaveLength(o.cell.setting.endpoints);
      expect(o.timing.us).toBeGreaterThan(0);
    }
  });

  it('the seed matters: the two seeds of a random-selection mode choose differently', () => {
    const ebpf = single.outcomes.filter((o) => o.cell.mode === 'ebpf' && o.cell.services === 20);
    const bySeed = (s: number) => ebpf.filter((o) => o.cell.seed === s).map((o) => o.result.rankHistogram);
    expect(bySeed(1)).not.toEqual(bySeed(2));
  });

  it('timings are not part of the equality: shards merged in any order give the same document', () => {
    const reversed = mergeShards([...shards].reverse());
    expect(reversed.outcomes.map((o) => o.cell.index)).toEqual(single.outcomes.map((o) => o.cell.index));
    expect(deterministicPart(reversed)).toEqual(deterministicPart(single));
  });

  it('a missing, duplicated or foreign shard is refused', () => {
    expect(() => mergeShards(shards.slice(1))).toThrow(/1 of 3 shards missing: 0/);
    expect(() => mergeShards([...shards, shards[0]])).toThrow(/shard 0 appears twice/);
    const foreign: ShardResult = { ...shards[1], specHash: 'x'.repeat(64) };
    expect(() => mergeShards([shards[0], foreign, shards[2]])).toThrow(SweepMergeError);
    expect(() => readShardDir(tempDir())).toThrow(/no shard-\*\.json files/);
  });

  it('a shard file on disk is plain JSON naming its shard and spec', () => {
    const doc = JSON.parse(readFileSync(join(dir, shardFileName(1, 3)), 'utf8'));
    expect(doc).toMatchObject({ kind: 'dpsim-sweep-shard', spec: 'equality', shard: 1, shards: 3 });
    expect(doc.outcomes.map((o: { cell: { index: number } }) => o.cell.index)).toEqual([
      1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31,
    ]);
  });
});
