/**
 * Running the host tools (ip, iptables-restore, nft, conntrack) with a deadline. Async so a
 * signal is handled while a tool runs; every call is bounded by `timeoutMs`.
 */
import { spawn } from 'node:child_process';
import { NetnsError } from './errors.js';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly input?: string;
  /** Default 15 s: no tool here legitimately takes longer on a small topology. */
  readonly timeoutMs?: number;
}

/** Runs argv[0] with the rest as arguments; resolves with the exit code (never rejects on a non-zero exit). */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 15_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new NetnsError(`cannot run ${argv[0]}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n(killed after ${options.timeoutMs ?? 15_000} ms)`;
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => {
      // The tool may exit before reading its input; its exit code tells what happened.
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Like run(), but a non-zero exit is a NetnsError naming the command. */
export async function runOk(argv: readonly string[], options: RunOptions = {}): Promise<string> {
  const r = await run(argv, options);
  if (r.code !== 0) {
    throw new NetnsError(`\`${argv.join(' ')}\` exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** argv that runs `argv` inside network namespace `ns`. */
export function inNetns(ns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}
