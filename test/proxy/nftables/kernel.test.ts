/**
 * The real kernel as oracle: our rendering must be accepted by `nft -c -f`, load with
 * `nft -f` in a throw-away network namespace, and list back (`nft list table ip kube-proxy`)
 * byte for byte. Needs root, `ip` and `nft`: without them the tests fail under CI and are
 * skipped visibly otherwise.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyModel } from '../../../src/proxy/common/model.js';
import { compileNftables, type NftCompileOptions } from '../../../src/proxy/nftables/compile.js';
import { renderTable } from '../../../src/proxy/nftables/render.js';
import {
  endpoint,
  everyServiceTypeModel,
  originLikeModel,
  proxyModel,
  servicePort,
} from './model-builder.js';

const NETNS = `dpsim-nft-${process.pid}`;

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
if (skip) console.warn(`[nftables kernel tests] skipped: ${missing}`);

function inNetns(args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', NETNS, ...args], {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Loads `text` into the namespace's empty ruleset and returns what nft lists back. */
function roundTrip(text: string): string {
  inNetns(['nft', 'flush', 'ruleset']);
  inNetns(['nft', '-c', '-f', '-'], text);
  inNetns(['nft', '-f', '-'], text);
  return inNetns(['nft', 'list', 'table', 'ip', 'kube-proxy']);
}

/** 40 Services over three protocols with ports chosen to exercise nft's element ordering and wrapping. */
function wideModel(): ProxyModel {
  const ports = [];
  const protocols = ['TCP', 'UDP', 'SCTP'] as const;
  for (let i = 0; i < 40; i++) {
    const eps = [];
    const n = i === 0 ? 64 : (i % 5) + 1;
    for (let e = 0; e < n; e++)
      eps.push(endpoint(`10.244.${(e % 2) + 1}.${e + 2}`, 8000 + i, e % 2 === 0 ? 'node-a' : 'node-b'));
    ports.push(
      servicePort({
        namespace: `ns${i % 7}`,
        name: `svc-${i}`,
        portName: i % 3 === 0 ? '' : `p${i}`,
        protocol: protocols[i % 3],
        clusterIP: `10.233.${i % 4}.${(i * 37) % 251}`,
        port: [80, 443, 53, 8080, 300, 30001][i % 6],
        nodePort: i % 2 === 0 ? 30000 + ((i * 97) % 2000) : 0,
        externalIPs: i % 9 === 0 ? [`203.0.113.${i}`] : [],
        endpoints: i % 11 === 5 ? [] : eps,
      }),
    );
  }
  return proxyModel(ports);
}

const scenarios: [string, ProxyModel, NftCompileOptions][] = [
  ['the origin-like scenario', originLikeModel(), {}],
  ['every Service type', everyServiceTypeModel(), {}],
  [
    'every Service type with match-all nodeport addresses and masquerade-all',
    everyServiceTypeModel(),
    { nodePortAddresses: 'all', masqueradeAll: true },
  ],
  ['40 Services with wide element lists and a 64-endpoint numgen', wideModel(), {}],
  [
    'no Services and no cluster CIDR',
    proxyModel([], { clusterCIDR: '', serviceCIDR: '10.96.0.0/12,10.200.0.0/16' }),
    {},
  ],
];

describe.skipIf(skip)(
  `nftables rendering against the real kernel${skip ? ` (skipped: ${missing})` : ''}`,
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
      it(`nft accepts and lists back exactly our rendering of ${name}`, () => {
        const text = renderTable(compileNftables(model, 'node-a', options));
        expect(roundTrip(text)).toBe(text);
      });
    }
  },
);
