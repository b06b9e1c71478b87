/**
 * `dpsim sweep SPEC.yaml [--shard I] [--out DIR] | --all | --local [--parallel P] | --emit-job`.
 * Thin: the work is in src/sweep.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { sweepJobYaml } from '../sweep/job.js';
import { runShardsLocally } from '../sweep/local.js';
import {
  formatSweepSummary,
  mergeShards,
  readShardDir,
  runAllCells,
  runShard,
  type SweepResult,
  shardFileName,
} from '../sweep/shard.js';
import { parseSweepSpec, type SweepSpec } from '../sweep/spec.js';
import { CliError, parseInteger } from './common.js';
import { type CliIo, processIo } from './io.js';

interface SweepFlags {
  shard?: number;
  out: string;
  all?: boolean;
  local?: boolean;
  parallel?: number;
  emitJob?: boolean;
  image: string;
  resultsClaim: string;
  namespace?: string;
}

export const SWEEP_RESULT_FILE = 'sweep.json';

function readSpec(path: string): { spec: SweepSpec; text: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(
      `error: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return { spec: parseSweepSpec(text, path), text };
}

/** --shard, else JOB_COMPLETION_INDEX (set by Kubernetes in each pod of an Indexed Job). */
function shardIndex(flags: SweepFlags, spec: SweepSpec): number | undefined {
  if (flags.shard !== undefined) return flags.shard;
  const env = process.env.JOB_COMPLETION_INDEX;
  if (env === undefined || env === '') return undefined;
  if (!/^\d+$/.test(env))
    throw new CliError(`error: JOB_COMPLETION_INDEX must be a whole number, got "${env}"`);
  const index = Number(env);
  if (index >= spec.shards)
    throw new CliError(
      `error: JOB_COMPLETION_INDEX ${index} is not a shard of this spec (0..${spec.shards - 1})`,
    );
  return index;
}

export function writeSweepResult(outDir: string, result: SweepResult): string {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, SWEEP_RESULT_FILE);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

export function registerSweep(program: Command, io: CliIo = processIo): Command {
  return program
    .command('sweep')
    .argument('<spec>', 'sweep spec (YAML): modes × services × seeds × settings')
    .description(
      'run a matrix of new-connection what-ifs in shards: one shard (--shard I, or JOB_COMPLETION_INDEX as in a Kubernetes Indexed Job), all shards here (--local), or print the Indexed Job (--emit-job)',
    )
    .option(
      '--shard <i>',
      'run shard I (0-based) and write its JSON into --out',
      parseInteger('--shard', 0, 1_000_000),
    )
    .option(
      '--out <dir>',
      'directory for shard results (shard-I-of-N.json) and the merged sweep.json',
      'sweep-results',
    )
    .option('--all', 'run every cell in this one process and write the merged sweep.json')
    .option('--local', 'run every shard as a child process here, then merge')
    .option('--parallel <p>', 'with --local: shards running at once', parseInteger('--parallel', 1, 1024))
    .option(
      '--emit-job',
      'print a ConfigMap with the spec and a batch/v1 Indexed Job running one shard per pod',
    )
    .option(
      '--image <ref>',
      'with --emit-job: container image built from the repository Dockerfile',
      'dpsim:latest',
    )
    .option(
      '--results-claim <name>',
      'with --emit-job: PersistentVolumeClaim for the results',
      'dpsim-sweep-results',
    )
    .option('--namespace <ns>', 'with --emit-job: namespace of the objects')
    .action(async (specPath: string, flags: SweepFlags) => {
      const { spec, text } = readSpec(specPath);
      const modes = [flags.emitJob, flags.local, flags.all, flags.shard !== undefined].filter(Boolean).length;
      if (modes > 1) throw new CliError('error: give only one of --shard, --all, --local, --emit-job');
      if (flags.parallel !== undefined && !flags.local)
        throw new CliError('error: --parallel goes with --local');
      if (flags.emitJob) {
        io.stdout(
          sweepJobYaml(spec, text, {
            image: flags.image,
            resultsClaim: flags.resultsClaim,
            ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
          }),
        );
        return;
      }
      if (flags.all) {
        const result = runAllCells(spec);
        const path = writeSweepResult(flags.out, result);
        io.stdout(`${formatSweepSummary(result)}wrote ${path}\n`);
        return;
      }
      if (flags.local) {
        const parallel = flags.parallel ?? spec.parallelism;
        const failures = await runShardsLocally({
          specPath: resolve(specPath),
          shards: spec.shards,
          parallel,
          outDir: resolve(flags.out),
          onShardDone: (shard, code) =>
            io.stderr(`shard ${shard + 1}/${spec.shards} ${code === 0 ? 'done' : `failed (exit ${code})`}\n`),
        });
        if (failures.length > 0)
          throw new CliError(
            `error: ${failures.length} of ${spec.shards} shards failed; first: shard ${failures[0].shard} (exit ${failures[0].code}): ${failures[0].message}`,
          );
        const result = mergeShards(readShardDir(flags.out).filter((s) => s.specHash === spec.hash));
        const path = writeSweepResult(flags.out, result);
        io.stdout(`${formatSweepSummary(result)}wrote ${path}\n`);
        return;
      }
      const shard = shardIndex(flags, spec);
      if (shard === undefined)
        throw new CliError(
          'error: no shard to run: give --shard I, set JOB_COMPLETION_INDEX, or use --all, --local or --emit-job',
        );
      const result = runShard(spec, shard);
      mkdirSync(flags.out, { recursive: true });
      const path = join(flags.out, shardFileName(shard, spec.shards));
      writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
      io.stdout(`shard ${shard} of ${spec.shards}: ${result.outcomes.length} cell(s), wrote ${path}\n`);
    });
}
