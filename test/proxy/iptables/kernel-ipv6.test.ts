/**
 * The real ip6tables 1.8.9 (nf_tables) judges dpsim's IPv6 rules: `ip6tables-restore` accepts
 * the ip6tables-save rendering of a dual-stack node and `ip6tables-save` prints it back line for
 * line, and driving it as kube-proxy's IPv6 proxier does (bootstrap ip6tables commands, then
 * `ip6tables-restore --noflush` of the restore input) leaves exactly the tables dpsim shows.
 * Each case runs in a throw-away network namespace. Skipped visibly without root/ip6tables
 * (failing under CI).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { renderIptablesSave } from '../../../src/proxy/iptables/index.js';
import { compileIpv6Iptables } from '../../../src/sim/ipv6-rules.js';
import { dualStackCluster } from './ipv6-scenario.js';

function missingPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', 'ip6tables', 'ip6tables-restore', 'ip6tables-save']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not installed`;
  }
  const probe = `dpsim-t6-${process.pid}-probe`;
  const ok = spawnSync('ip', ['netns', 'add', probe]).status === 0;
  spawnSync('ip', ['netns', 'del', probe]);
  return ok ? null : 'cannot create network namespaces';
}

const missing = missingPrerequisite();
if (missing !== null && !process.env.CI) console.warn(`SKIPPED real-kernel ip6tables tests: ${missing}`);

let nsCounter = 0;

function withNamespace<T>(fn: (exec: (args: string[], input?: string) => string) => T): T {
  if (missing !== null) throw new Error(`real-kernel ip6tables test prerequisite missing: ${missing}`);
  const ns = `dpsim-t6-${process.pid}-${nsCounter++}`;
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

const body = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .join('\n');

describe.skipIf(missing !== null && !process.env.CI)(
  `real kernel: ip6tables-restore / ip6tables-save 1.8.9 in a network namespace${missing ? ` (${missing})` : ''}`,
  () => {
    it.each(['node1', 'node3'])(
      'accepts and prints back line for line the ip6tables-save rendering of %s',
      (node) => {
        const text = renderIptablesSave(
          compileIpv6Iptables(dualStackCluster(), node, undefined, undefined).ruleset,
          {
            ipv6: true,
          },
        );
        withNamespace((exec) => {
          exec(['ip6tables-restore', '--test'], text);
          exec(['ip6tables-restore'], text);
          expect(body(exec(['ip6tables-save']))).toBe(body(text));
        });
      },
    );

    it('reaches the same tables when driven like kube-proxy’s IPv6 proxier (bootstrap commands, then restore --noflush)', () => {
      const out = compileIpv6Iptables(dualStackCluster(), 'node2', undefined, undefined);
      withNamespace((exec) => {
        const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
        const script = out.bootstrapCommands
          .map((cmd) => ['ip6tables', ...cmd].map(quote).join(' '))
          .join(' &&\n');
        exec(['sh', '-e'], `${script}\n`);
        exec(['ip6tables-restore', '--noflush', '--counters'], out.restoreInput);
        expect(body(exec(['ip6tables-save']))).toBe(body(renderIptablesSave(out.ruleset, { ipv6: true })));
      });
    });
  },
);
