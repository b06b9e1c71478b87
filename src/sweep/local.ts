/**
 * `dpsim sweep SPEC.yaml --local --parallel P`: the shards as child processes on this
 * machine, at most P at a time, each running `dpsim sweep SPEC.yaml --shard I --out DIR`
 * exactly as a pod of the Indexed Job would. A shard that fails is reported with its exit
 * code and the last line it printed on stderr.
 */
import { spawn } from 'node:child_process';

export interface LocalRunOptions {
  readonly specPath: string;
  readonly shards: number;
  readonly parallel: number;
  readonly outDir: string;
  /** How to start the CLI (default: this process's node, its flags and its script). */
  readonly command?: readonly string[];
  readonly onShardDone?: (shard: number, code: number, stderrTail: string) => void;
}

export interface LocalRunFailure {
  readonly shard: number;
  readonly code: number;
  readonly message: string;
}

export function defaultCliCommand(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1]];
}

export async function runShardsLocally(options: LocalRunOptions): Promise<LocalRunFailure[]> {
  const [exe, ...prefix] = options.command ?? defaultCliCommand();
  const failures: LocalRunFailure[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.shards) {
      const shard = next++;
      const args = [...prefix, 'sweep', options.specPath, '--shard', String(shard), '--out', options.outDir];
      const { code, stderr } = await run(exe, args);
      const tail = stderr.trim().split('\n').pop() ?? '';
      options.onShardDone?.(shard, code, tail);
      if (code !== 0) failures.push({ shard, code, message: tail });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.parallel, options.shards) }, worker));
  return failures.sort((a, b) => a.shard - b.shard);
}

function run(exe: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe'], env: withoutIndex(process.env) });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4096);
    });
    child.on('error', (e) => resolve({ code: 127, stderr: `cannot start ${exe}: ${e.message}` }));
    child.on('close', (code, signal) =>
      resolve({ code: code ?? 128, stderr: signal ? `${stderr}\nkilled by ${signal}` : stderr }),
    );
  });
}

/** The children get --shard explicitly; an inherited JOB_COMPLETION_INDEX must not confuse anyone. */
function withoutIndex(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { JOB_COMPLETION_INDEX: _, ...rest } = env;
  return rest;
}
