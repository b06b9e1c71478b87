/**
 * Real-kernel iptables tests' sandbox: a throw-away network namespace per case, deleted
 * whatever happens, and the reason the tests cannot run here (not root, a tool missing).
 * Outside CI a missing prerequisite skips the tests with the reason in their name; under
 * CI=true they run and fail instead.
 */
import { spawnSync } from 'node:child_process';

export function missingIptablesPrerequisite(
  tools: readonly string[] = ['iptables', 'iptables-restore', 'iptables-save'],
): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', ...tools]) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not installed`;
  }
  const probe = `dpsim-t-${process.pid}-probe`;
  const ok = spawnSync('ip', ['netns', 'add', probe]).status === 0;
  spawnSync('ip', ['netns', 'del', probe]);
  return ok ? null : 'cannot create network namespaces';
}

let nsCounter = 0;

export type NetnsExec = (args: string[], input?: string) => string;

/** Runs `fn` with a command runner inside a fresh namespace; `missing` is the prerequisite check's answer. */
export function withNamespace<T>(missing: string | null, fn: (exec: NetnsExec) => T): T {
  // Only reached without prerequisites under CI, where these tests must fail, not skip.
  if (missing !== null) throw new Error(`real-kernel iptables test prerequisite missing: ${missing}`);
  const ns = `dpsim-t-${process.pid}-${nsCounter++}`;
  const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`ip netns add ${ns}: ${add.stderr}`);
  try {
    return fn((args, input) => {
      const r = spawnSync('ip', ['netns', 'exec', ns, ...args], {
        input,
        encoding: 'utf8',
        maxBuffer: 512 * 1024 * 1024,
      });
      if (r.status !== 0) throw new Error(`${args.join(' ')} failed (rc ${r.status}): ${r.stderr}`);
      return r.stdout;
    });
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** iptables-save output without the header/footer comments, which carry the date. */
export const saveBody = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .join('\n');

/** kube-proxy's bootstrap commands (argv after `iptables`) as one shell script: one `ip netns exec` instead of dozens. */
export function bootstrapScript(commands: readonly (readonly string[])[], iptables = 'iptables'): string {
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  return `${commands.map((cmd) => [iptables, ...cmd].map(quote).join(' ')).join(' &&\n')}\n`;
}
