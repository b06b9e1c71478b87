/**
 * Namespaces and processes created by this process, and the guarantee that they go away:
 * teardown on normal completion (the caller's finally), on SIGINT/SIGTERM/SIGHUP and at
 * process exit, plus removal of namespaces left by an earlier run that was SIGKILLed.
 *
 * Names are `dpv<pid>-<run>-<role>`; the pid lets a later run tell a stale namespace (its
 * creator is gone) from one that a concurrent run still uses. A signal can arrive twice
 * (`timeout` and process-group kills deliver it to the whole group): once teardown starts,
 * further signals are swallowed instead of interrupting it half way.
 */
import { execFileSync } from 'node:child_process';

export const NAMESPACE_PREFIX = 'dpv';
const OWN_NAME = new RegExp(`^${NAMESPACE_PREFIX}(\\d+)-`);

interface Registration {
  readonly namespaces: string[];
  readonly pids: number[];
}

const live = new Set<Registration>();
let handlersInstalled = false;
let tearingDown = false;
let runCounter = 0;

/** A fresh prefix for one topology: `dpv<pid>-<n>`. */
export function newRunPrefix(): string {
  runCounter += 1;
  return `${NAMESPACE_PREFIX}${process.pid}-${runCounter}`;
}

/** Tracks namespaces and pids so they are removed even if the process is interrupted. */
export function register(): Registration {
  const r: Registration = { namespaces: [], pids: [] };
  live.add(r);
  installHandlers();
  return r;
}

/** The registration is torn down (by its owner): stop tracking it. */
export function unregister(r: Registration): void {
  live.delete(r);
  if (live.size === 0) removeHandlers();
}

function quiet(argv: readonly string[]): string {
  try {
    return execFileSync(argv[0], argv.slice(1), {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    });
  } catch {
    return '';
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Pids of the processes running inside namespace `ns` (all of them were started by this harness). */
function pidsIn(ns: string): number[] {
  return quiet(['ip', 'netns', 'pids', ns])
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Blocking teardown: used from signal and exit handlers, where nothing asynchronous runs. */
export function destroySync(namespaces: readonly string[], pids: readonly number[]): void {
  for (const pid of pids) killQuietly(pid, 'SIGTERM');
  const inside = namespaces.flatMap(pidsIn);
  for (const pid of inside) killQuietly(pid, 'SIGTERM');
  if (inside.length > 0) quiet(['sleep', '0.2']);
  for (const ns of namespaces) for (const pid of pidsIn(ns)) killQuietly(pid, 'SIGKILL');
  if (namespaces.length > 0) {
    try {
      execFileSync('ip', ['-force', '-batch', '-'], {
        input: namespaces.map((ns) => `netns del ${ns}\n`).join(''),
        stdio: ['pipe', 'ignore', 'ignore'],
        timeout: 10_000,
      });
    } catch {
      // -force keeps going past a missing namespace; whatever is left is reported by listOwnNamespaces()
    }
  }
}

function teardownAll(): void {
  for (const r of live) destroySync(r.namespaces, r.pids);
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  if (tearingDown) return; // a second delivery of the same signal: let the first teardown finish
  tearingDown = true;
  teardownAll();
  process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
}

function onExit(): void {
  tearingDown = true;
  teardownAll();
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', onExit);
}

function removeHandlers(): void {
  if (!handlersInstalled || tearingDown) return;
  handlersInstalled = false;
  for (const s of SIGNALS) process.off(s, onSignal);
  process.off('exit', onExit);
}

/** Namespaces named by this harness (any run, any process). */
export function listOwnNamespaces(): string[] {
  return quiet(['ip', 'netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n !== undefined && OWN_NAME.test(n));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes namespaces of earlier runs whose creating process is gone (a SIGKILLed run cannot
 * clean up after itself). Namespaces of live processes — including concurrent runs — are kept.
 * Returns the names removed.
 */
export function cleanupStaleNamespaces(): string[] {
  const stale = listOwnNamespaces().filter((ns) => {
    const pid = Number(OWN_NAME.exec(ns)?.[1]);
    return pid !== process.pid && !processAlive(pid);
  });
  destroySync(stale, []);
  const left = new Set(listOwnNamespaces());
  return stale.filter((ns) => !left.has(ns));
}
