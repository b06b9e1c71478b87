/**
 * The strongest faithfulness check: the real kernel and iptables 1.8.9 (nf_tables) accept
 * dpsim's iptables-save rendering, print it back identically, and end up with the same
 * tables when driven the way kube-proxy drives them (bootstrap commands, then
 * `iptables-restore --noflush` of the restore input). Each case uses a throw-away
 * network namespace, deleted whatever happens.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { ProxyModel } from '../../../src/proxy/common/model.js';
import { compileIptables, renderIptablesSave } from '../../../src/proxy/iptables/index.js';
import { everyTypeModel, originModel } from './helpers.js';

function missingPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', 'iptables', 'iptables-restore', 'iptables-save']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not installed`;
  }
  const probe = `dpsim-t-${process.pid}-probe`;
  const ok = spawnSync('ip', ['netns', 'add', probe]).status === 0;
  spawnSync('ip', ['netns', 'del', probe]);
  return ok ? null : 'cannot create network namespaces';
}

const missing = missingPrerequisite();
if (missing !== null && !process.env.CI) {
  console.warn(`SKIPPED real-kernel iptables tests: ${missing}`);
}

let nsCounter = 0;

function withNamespace<T>(fn: (exec: (args: string[], input?: string) => string) => T): T {
  // Only reached without prerequisites under CI, where these tests must fail, not skip.
  if (missing !== null) throw new Error(`real-kernel iptables test prerequisite missing: ${missing}`);
  const ns = `dpsim-t-${process.pid}-${nsCounter++}`;
  const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`ip netns add ${ns}: ${add.stderr}`);
  try {
    return fn((args, input) => {
      const r = spawnSync('ip', ['netns', 'exec', ns, ...args], { input, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${args.join(' ')} failed (rc ${r.status}): ${r.stderr}`);
      return r.stdout;
    });
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** iptables-save output without the header/footer comments, which carry the date. */
const body = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .join('\n');

const scenarios: [string, () => ProxyModel, string][] = [
  ['the origin NodePort service', originModel, 'node-1'],
  ['every Service type', everyTypeModel, 'test-node'],
];

describe.skipIf(missing !== null && !process.env.CI)(
  `real kernel: iptables-restore / iptables-save 1.8.9 in a network namespace${missing ? ` (${missing})` : ''}`,
  () => {
    it.each(scenarios)(
      'accepts and round-trips the iptables-save rendering for %s',
      (_name, makeModel, node) => {
        const text = renderIptablesSave(compileIptables(makeModel(), node).ruleset);
        withNamespace((exec) => {
          exec(['iptables-restore', '--test'], text);
          exec(['iptables-restore'], text);
          expect(body(exec(['iptables-save']))).toBe(body(text));
          expect(body(exec(['iptables-save', '-c']))).toBe(body(text).replace(/^-A /gm, '[0:0] -A '));
        });
      },
    );

    it.each(scenarios)(
      'reaches the same tables for %s when driven like kube-proxy (bootstrap commands, then restore --noflush)',
      (_name, makeModel, node) => {
        const out = compileIptables(makeModel(), node);
        withNamespace((exec) => {
          // One shell for all commands: spawning ip netns exec per command is slow.
          const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
          const script = out.bootstrapCommands
            .map((cmd) => ['iptables', ...cmd].map(quote).join(' '))
            .join(' &&\n');
          exec(['sh', '-e'], `${script}\n`);
          exec(['iptables-restore', '--noflush', '--counters'], out.restoreInput);
          expect(body(exec(['iptables-save']))).toBe(body(renderIptablesSave(out.ruleset)));
        });
      },
    );
  },
);
