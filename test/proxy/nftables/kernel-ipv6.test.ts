/**
 * The real nft 1.0.6 judges kube-proxy's IPv6 table: dpsim's `table ip6 kube-proxy` is
 * accepted by `nft -c -f` and `nft -f` in a throw-away network namespace and `nft list table
 * ip6 kube-proxy` prints it back byte for byte (IPv6 address printing, element order and
 * wrapping, `dnat to [addr]:port`, `ip6 daddr != ::1`, plain `reject` as the family's ICMPv6
 * port unreachable). Needs root, `ip` and `nft`: skipped visibly otherwise, failing under CI.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toProxyModel } from '../../../src/k8s/proxy-model.js';
import type { ProxyModel } from '../../../src/proxy/common/model.js';
import { compileNftables, type NftCompileOptions } from '../../../src/proxy/nftables/compile.js';
import { renderTable } from '../../../src/proxy/nftables/render.js';
import { dualStackCluster } from '../iptables/ipv6-scenario.js';
import { proxyModel6, wideModel6 } from './ipv6-model.js';

const NETNS = `dpsim-nft6-${process.pid}`;

function missingPrerequisite(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root';
  for (const tool of ['ip', 'nft']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return null;
}

const missing = missingPrerequisite();
const skip = missing !== null && !process.env.CI;
if (skip) console.warn(`[nftables IPv6 kernel tests] skipped: ${missing}`);

function inNetns(args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', NETNS, ...args], {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function roundTrip(text: string): string {
  inNetns(['nft', 'flush', 'ruleset']);
  inNetns(['nft', '-c', '-f', '-'], text);
  inNetns(['nft', '-f', '-'], text);
  return inNetns(['nft', 'list', 'table', 'ip6', 'kube-proxy']);
}

const dualStackV6 = (): ProxyModel => {
  const m = toProxyModel(dualStackCluster(), 'IPv6');
  return { ...m, nodes: m.nodes.map((n) => (n.name === 'node1' ? { ...n, name: 'node-a' } : n)) };
};

const scenarios: [string, () => ProxyModel, NftCompileOptions][] = [
  [
    'the dual-stack scenario (NodePort, IPv6-only, affinity with an IPv6 externalIP, no endpoints, eTP=Local)',
    dualStackV6,
    {},
  ],
  [
    'the dual-stack scenario with match-all nodeport addresses and masquerade-all',
    dualStackV6,
    { nodePortAddresses: 'all', masqueradeAll: true },
  ],
  ['36 IPv6 Services with wide element lists, source ranges and a 40-endpoint numgen', wideModel6, {}],
  [
    'no Services, two IPv6 Service CIDRs and no cluster CIDR',
    () => proxyModel6([], { clusterCIDR: '', serviceCIDR: 'fd85:ee78:d8a6:8607::1000/116,fd00:10:96::/112' }),
    {},
  ],
];

describe.skipIf(skip)(
  `nftables ip6 kube-proxy against the real kernel${skip ? ` (skipped: ${missing})` : ''}`,
  () => {
    beforeAll(() => {
      if (missing !== null) throw new Error(`nftables kernel tests need root, ip and nft: ${missing}`);
      execFileSync('ip', ['netns', 'add', NETNS], { stdio: 'pipe' });
    });

    afterAll(() => {
      try {
        execFileSync('ip', ['netns', 'del', NETNS], { stdio: 'pipe' });
      } catch {
        // Never created (prerequisite missing) or already gone.
      }
    });

    for (const [name, model, options] of scenarios) {
      it(`nft accepts and lists back exactly our ip6 rendering of ${name}`, () => {
        const text = renderTable(compileNftables(model(), 'node-a', { family: 'ip6', ...options }));
        expect(text.startsWith('table ip6 kube-proxy {\n')).toBe(true);
        expect(roundTrip(text)).toBe(text);
      });
    }
  },
);
