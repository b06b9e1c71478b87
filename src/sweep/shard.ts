/**
 * Running a sweep shard and merging shard results.
 *
 * A shard result file (`shard-<I>-of-<N>.json`) holds the spec's name and hash, the shard
 * index, and one outcome per cell. Merging checks that the files are shards of one spec,
 * that every shard is there exactly once, and sorts the outcomes by cell index: the merged
 * result of N shard runs is then the same document as the one-process run
 * ({@link runAllCells}), timings apart.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CellOutcome, type CellResult, runCell } from './cell.js';
import { cellsOfShard, expandCells, type SweepSpec } from './spec.js';

export class SweepMergeError extends Error {
  override name = 'SweepMergeError';
}

export interface ShardResult {
  readonly kind: 'dpsim-sweep-shard';
  readonly spec: string;
  readonly specHash: string;
  readonly shard: number;
  readonly shards: number;
  readonly outcomes: readonly CellOutcome[];
}

/** Per (mode, services, setting): the deterministic results summed over seeds. */
export interface SweepSummaryRow {
  readonly mode: string;
  readonly services: number;
  readonly setting: string;
  readonly seeds: number;
  readonly connections: number;
  readonly dnat: number;
  readonly rankHistogram: readonly number[];
  /** max/mean of the rank histogram (1 = perfectly even). */
  readonly maxOverMean: number;
  /** Median of the cells' µs per new connection (timing: not part of the equality). */
  readonly medianUs: number;
}

export interface SweepResult {
  readonly kind: 'dpsim-sweep';
  readonly spec: string;
  readonly specHash: string;
  readonly shards: number;
  readonly outcomes: readonly CellOutcome[];
  readonly summary: readonly SweepSummaryRow[];
}

export function shardFileName(shard: number, shards: number): string {
  return `shard-${String(shard).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.json`;
}

export function runShard(spec: SweepSpec, shard: number, onCell?: (o: CellOutcome) => void): ShardResult {
  const outcomes = cellsOfShard(spec, shard).map((cell) => {
    const o = runCell(cell, spec.connections);
    onCell?.(o);
    return o;
  });
  return {
    kind: 'dpsim-sweep-shard',
    spec: spec.name,
    specHash: spec.hash,
    shard,
    shards: spec.shards,
    outcomes,
  };
}

/** The whole matrix in this process: what the merged shards must equal. */
export function runAllCells(spec: SweepSpec): SweepResult {
  const outcomes = expandCells(spec).map((cell) => runCell(cell, spec.connections));
  return result(spec.name, spec.hash, spec.shards, outcomes);
}

export function mergeShards(shards: readonly ShardResult[]): SweepResult {
  if (shards.length === 0) throw new SweepMergeError('no shard results to merge');
  const first = shards[0];
  const seen = new Set<number>();
  for (const s of shards) {
    if (s.specHash !== first.specHash || s.shards !== first.shards)
      throw new SweepMergeError(
        `shard ${s.shard} of "${s.spec}" belongs to another spec or shard count than shard ${first.shard} of "${first.spec}"`,
      );
    if (seen.has(s.shard)) throw new SweepMergeError(`shard ${s.shard} appears twice`);
    seen.add(s.shard);
  }
  const missing: number[] = [];
  for (let i = 0; i < first.shards; i++) if (!seen.has(i)) missing.push(i);
  if (missing.length > 0)
    throw new SweepMergeError(
      `${missing.length} of ${first.shards} shards missing: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`,
    );
  const outcomes = shards.flatMap((s) => s.outcomes).sort((a, b) => a.cell.index - b.cell.index);
  return result(first.spec, first.specHash, first.shards, outcomes);
}

/** Reads every `shard-*.json` in `dir`. */
export function readShardDir(dir: string): ShardResult[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /^shard-\d+-of-\d+\.json$/.test(f));
  } catch (e) {
    throw new SweepMergeError(`cannot read ${dir}: ${(e as Error).message}`);
  }
  if (files.length === 0) throw new SweepMergeError(`no shard-*.json files in ${dir}`);
  return files.sort().map((f) => {
    const path = join(dir, f);
    let doc: ShardResult;
    try {
      doc = JSON.parse(readFileSync(path, 'utf8')) as ShardResult;
    } catch (e) {
      throw new SweepMergeError(`${path}: not JSON: ${(e as Error).message}`);
    }
    if (doc?.kind !== 'dpsim-sweep-shard' || !Array.isArray(doc.outcomes))
      throw new SweepMergeError(`${path}: not a dpsim sweep shard result`);
    return doc;
  });
}

/** The deterministic content of a sweep result: what shard runs and a one-process run agree on. */
export function deterministicPart(r: SweepResult): unknown {
  return {
    spec: r.spec,
    specHash: r.specHash,
    outcomes: r.outcomes.map((o) => ({ cell: o.cell, result: o.result })),
    summary: r.summary.map(({ medianUs: _timing, ...row }) => row),
  };
}

function result(
  spec: string,
  specHash: string,
  shards: number,
  outcomes: readonly CellOutcome[],
): SweepResult {
  return { kind: 'dpsim-sweep', spec, specHash, shards, outcomes, summary: summarise(outcomes) };
}

function summarise(outcomes: readonly CellOutcome[]): SweepSummaryRow[] {
  const groups = new Map<string, CellOutcome[]>();
  for (const o of outcomes) {
    const key = `${o.cell.mode}\u0000${o.cell.services}\u0000${o.cell.setting.name}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [o]);
    else g.push(o);
  }
  return [...groups.values()].map((g) => {
    const c = g[0].cell;
    const hist = new Array<number>(c.setting.endpoints).fill(0);
    let connections = 0;
    let dnat = 0;
    for (const o of g) {
      connections += o.result.connections;
      dnat += o.result.dnat;
      o.result.rankHistogram.forEach((n, r) => {
        hist[r] += n;
      });
    }
    const mean = dnat / hist.length;
    const us = g.map((o) => o.timing.us).sort((a, b) => a - b);
    return {
      mode: c.mode,
      services: c.services,
      setting: c.setting.name,
      seeds: g.length,
      connections,
      dnat,
      rankHistogram: hist,
      maxOverMean: mean === 0 ? 0 : Math.max(...hist) / mean,
      medianUs: us[us.length >> 1],
    };
  });
}

export function formatSweepSummary(r: SweepResult): string {
  const lines = [`sweep "${r.spec}": ${r.outcomes.length} cells from ${r.shards} shard(s)`];
  lines.push('MODE       SERVICES  SETTING     SEEDS  CONNECTIONS  DNAT      MAX/MEAN  µs/NEWCONN');
  for (const s of r.summary)
    lines.push(
      [
        s.mode.padEnd(10),
        String(s.services).padEnd(9),
        s.setting.padEnd(11),
        String(s.seeds).padEnd(6),
        String(s.connections).padEnd(12),
        String(s.dnat).padEnd(9),
        s.maxOverMean.toFixed(3).padEnd(9),
        s.medianUs.toFixed(2),
      ].join(' '),
    );
  return `${lines.join('\n')}\n`;
}

export type { CellResult };
