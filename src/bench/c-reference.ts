/**
 * The C yardstick of the hot-path benchmark: compiles bench/c/hotpath-ref.c (the same
 * per-packet work as the eBPF datapath's batch entry point, see that file) with the system's
 * `cc -O2` into a temporary directory and runs it over frames written by the benchmark's own
 * workload, so `npm run bench` can state dpsim's packet rate as a ratio of C's on this machine.
 * No C compiler ⇒ a reason instead of a binary, and the comparison is skipped.
 *
 * Bench-time tooling (spawns processes, writes temp files); nothing here runs per packet.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A compiled reference, or why there is none. */
export type CReference =
  | { readonly ok: true; readonly binary: string; readonly compiler: string; readonly dir: string }
  | { readonly ok: false; readonly reason: string };

/** One run of the reference (its JSON line). */
export interface CReferenceRun {
  readonly flows: number;
  /** The CT table's max entries. */
  readonly capacity: number;
  readonly packets: number;
  readonly passes: number;
  /** Wall-clock packets/s of each timed pass. */
  readonly passPps: number[];
  /** Packets per second of process CPU time of each timed pass. */
  readonly passCpuPps: number[];
  readonly verified: number;
}

export class CReferenceError extends Error {
  override name = 'CReferenceError';
}

/**
 * Compiles `source` with `cc -O2` into a fresh temporary directory. Returns the reason
 * ("no C compiler (cc not found)", or the compiler's first error line) when it cannot.
 */
export function buildCReference(source: string, cc = 'cc'): CReference {
  const version = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (version.error !== undefined) {
    const code = (version.error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      reason: code === 'ENOENT' ? `no C compiler (${cc} not found)` : version.error.message,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'dpsim-hotpath-c-'));
  const binary = join(dir, 'hotpath-ref');
  const build = spawnSync(cc, ['-O2', '-o', binary, source], { encoding: 'utf8' });
  if (build.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const first = `${build.stderr ?? ''}`.split('\n').find((l) => l.trim() !== '') ?? `exit ${build.status}`;
    return { ok: false, reason: `${cc} -O2 failed: ${first}` };
  }
  const compiler = `${version.stdout}`.split('\n')[0].trim();
  return { ok: true, binary, compiler, dir };
}

/** Writes frames (back to back, 54 bytes each) where the reference reads them; returns the path. */
export function writeReferenceFrames(
  ref: CReference & { ok: true },
  name: string,
  frames: Uint8Array,
): string {
  const path = join(ref.dir, name);
  writeFileSync(path, frames);
  return path;
}

/**
 * Runs the reference over a frames file (`capacity`: the CT table's max entries, default one
 * per flow); throws CReferenceError when it fails or prints nonsense.
 */
export function runCReference(
  ref: CReference & { ok: true },
  framesFile: string,
  packets: number,
  passes: number,
  options: { readonly batch?: number; readonly capacity?: number } = {},
): CReferenceRun {
  const args = [framesFile, String(packets), String(passes), String(options.batch ?? 256)];
  if (options.capacity !== undefined) args.push(String(options.capacity));
  const r = spawnSync(ref.binary, args, { encoding: 'utf8' });
  if (r.error !== undefined) throw new CReferenceError(`hotpath-ref: ${r.error.message}`);
  if (r.status !== 0) {
    throw new CReferenceError(`hotpath-ref exited ${r.status}: ${`${r.stderr}`.trim() || 'no message'}`);
  }
  let run: CReferenceRun;
  try {
    run = JSON.parse(`${r.stdout}`.trim()) as CReferenceRun;
  } catch {
    throw new CReferenceError(`hotpath-ref printed no JSON line: ${`${r.stdout}`.slice(0, 200)}`);
  }
  if (!Array.isArray(run.passPps) || run.passPps.length !== passes || !Array.isArray(run.passCpuPps)) {
    throw new CReferenceError(`hotpath-ref: unexpected output ${`${r.stdout}`.slice(0, 200)}`);
  }
  return run;
}

/** Removes the temporary directory of a compiled reference. */
export function disposeCReference(ref: CReference): void {
  if (ref.ok) rmSync(ref.dir, { recursive: true, force: true });
}
