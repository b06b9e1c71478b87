/**
 * The real ipset and ip6tables 1.8.9 (nf_tables) judge the IPv6 IPVS proxier's state: the
 * `family inet6` KUBE-6- sets are created with the real `ipset` (members included), the
 * ip6tables rules that match them load with `ip6tables-restore` and `ip6tables-save` prints
 * them back line for line, and `ipset list -sorted` agrees with dpsim's listing (members,
 * family, references). Each case runs in a throw-away network namespace. Skipped visibly
 * without root/ipset/ip6tables (failing under CI).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { type IpsetTable, renderIpsetList } from '../../../src/proxy/ipvs/index.js';
import { compileIpv6Ipvs } from '../../../src/sim/ipv6-rules.js';
import { dualStackCluster } from '../iptables/ipv6-scenario.js';

function missingPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', 'ipset', 'ip6tables-restore', 'ip6tables-save']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not installed`;
  }
  const probe = `dpsim-ipvs6-${process.pid}-probe`;
  const ok = spawnSync('ip', ['netns', 'add', probe]).status === 0;
  spawnSync('ip', ['netns', 'del', probe]);
  return ok ? null : 'cannot create network namespaces';
}

const missing = missingPrerequisite();
if (missing !== null && !process.env.CI) console.warn(`SKIPPED real-kernel IPVS IPv6 tests: ${missing}`);

let nsCounter = 0;

function withNamespace<T>(fn: (exec: (args: string[], input?: string) => string) => T): T {
  if (missing !== null) throw new Error(`real-kernel IPVS IPv6 test prerequisite missing: ${missing}`);
  const ns = `dpsim-ipvs6-${process.pid}-${nsCounter++}`;
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

/** `ipset restore` input creating the IPv6 proxier's sets as kube-proxy does (family inet6, comments). */
function ipsetRestore(sets: IpsetTable): string {
  const lines: string[] = [];
  for (const set of sets.sets.values()) {
    const name = sets.kernelName(set.spec.name);
    const opts = set.spec.type === 'bitmap:port' ? ' range 0-65535' : ' family inet6';
    lines.push(`create ${name} ${set.spec.type}${opts} comment`);
    for (const entry of set.sortedEntries()) lines.push(`add ${name} ${entry}`);
  }
  return `${lines.join('\n')}\n`;
}

const body = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .join('\n');

const stable = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('Size in memory:'))
    .map((l) => l.replace(/initval 0x[0-9a-f]{8}/, 'initval 0x00000000'))
    .join('\n');

describe.skipIf(missing !== null && !process.env.CI)(
  `real kernel: the IPv6 IPVS proxier's ipsets and ip6tables rules${missing ? ` (${missing})` : ''}`,
  () => {
    it.each(['node1', 'node3'])(
      'ipset takes the inet6 KUBE-6- sets and ip6tables-restore/-save round-trip the rules of %s',
      (node) => {
        const state = compileIpv6Ipvs(dualStackCluster(), node, undefined, undefined);
        withNamespace((exec) => {
          exec(['ipset', 'restore'], ipsetRestore(state.ipsets));
          exec(['ip6tables-restore', '--test'], state.iptablesSave);
          exec(['ip6tables-restore'], state.iptablesSave);
          expect(body(exec(['ip6tables-save']))).toBe(body(state.iptablesSave));
          expect(stable(renderIpsetList(state.ipsets, { iptablesSave: state.iptablesSave }))).toBe(
            stable(exec(['ipset', 'list', '-sorted'])),
          );
        });
      },
    );
  },
);
