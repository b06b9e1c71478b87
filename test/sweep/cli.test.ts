import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { registerSweep } from '../../src/cli/sweep.js';
import { deterministicPart, type SweepResult } from '../../src/sweep/shard.js';

const SPEC = 'name: cli\nmodes: [nftables, ebpf]\nservices: [6]\nseeds: [1, 2]\nconnections: 80\nshards: 3\n';
const dir = mkdtempSync(join(tmpdir(), 'dpsim-sweep-cli-'));
const specPath = join(dir, 'spec.yaml');
writeFileSync(specPath, SPEC);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The real CLI in a child process, as a pod or a shell would start it. */
function dpsim(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 240_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The sweep command in this process (stdout lines collected). */
async function inProcess(args: string[], lines: string[]): Promise<void> {
  const program = new Command('dpsim').exitOverride();
  registerSweep(program);
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    lines.push(
      ...String(chunk)
        .split('\n')
        .filter((l) => l !== ''),
    );
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'dpsim', ...args]);
  } finally {
    process.stdout.write = write;
  }
}

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as SweepResult;

describe('dpsim sweep (CLI, child processes)', () => {
  it('--local --parallel 2 runs the 3 shards as processes; the merge equals --all in one process', () => {
    const local = dpsim(['sweep', specPath, '--local', '--parallel', '2', '--out', join(dir, 'local')]);
    expect(local.stderr).toMatch(/shard 3\/3 done/);
    expect(local.code).toBe(0);
    expect(local.stdout).toMatch(/sweep "cli": 4 cells from 3 shard\(s\)/);
    const all = dpsim(['sweep', specPath, '--all', '--out', join(dir, 'all')]);
    expect(all.code).toBe(0);
    expect(deterministicPart(read(join(dir, 'local', 'sweep.json')))).toEqual(
      deterministicPart(read(join(dir, 'all', 'sweep.json'))),
    );
  }, 300_000);

  it('without --shard it runs the shard in JOB_COMPLETION_INDEX (Kubernetes Indexed Job), and bench report merges', async () => {
    const out = join(dir, 'job');
    const lines: string[] = [];
    for (const index of ['0', '1', '2']) {
      process.env.JOB_COMPLETION_INDEX = index;
      try {
        await inProcess(['sweep', specPath, '--out', out], lines);
      } finally {
        delete process.env.JOB_COMPLETION_INDEX;
      }
    }
    expect(lines.filter((l) => /^shard \d of 3: /.test(l))).toHaveLength(3);
    expect(existsSync(join(out, 'shard-00001-of-00003.json'))).toBe(true);
    const report = dpsim(['bench', 'report', '--sweep', out]);
    expect(report.code).toBe(0);
    expect(report.stdout).toMatch(/MODE +SERVICES/);
    expect(deterministicPart(read(join(out, 'sweep.json')))).toEqual(
      deterministicPart(read(join(dir, 'all', 'sweep.json'))),
    );
  }, 300_000);

  it.each([
    [
      { JOB_COMPLETION_INDEX: '' },
      [],
      'error: no shard to run: give --shard I, set JOB_COMPLETION_INDEX, or use --all, --local or --emit-job',
    ],
    [{ JOB_COMPLETION_INDEX: '7' }, [], 'error: JOB_COMPLETION_INDEX 7 is not a shard of this spec (0..2)'],
    [{ JOB_COMPLETION_INDEX: 'x' }, [], 'error: JOB_COMPLETION_INDEX must be a whole number, got "x"'],
    [{}, ['--all', '--local'], 'error: give only one of --shard, --all, --local, --emit-job'],
    [{}, ['--parallel', '2'], 'error: --parallel goes with --local'],
  ])('bad input %j %j is one clear CliError', async (env, extra, message) => {
    Object.assign(process.env, env);
    try {
      await expect(inProcess(['sweep', specPath, ...extra], [])).rejects.toThrow(message);
    } finally {
      delete process.env.JOB_COMPLETION_INDEX;
    }
  });

  it('a missing spec file and an empty results directory are one line each, exit 1', () => {
    const missing = dpsim(['sweep', join(dir, 'nope.yaml'), '--all']);
    expect(missing.stderr.trim()).toMatch(/^error: cannot read .*nope\.yaml: ENOENT$/);
    expect(missing.code).toBe(1);
  }, 300_000);
});
