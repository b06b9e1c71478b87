/**
 * Faithfulness against the real tools: the kernel, iptables-restore/-save 1.8.9
 * (nf_tables) and ipset accept the IPVS-mode iptables rules dpsim compiles, print them back
 * identically, and count the same ipset references. Each case runs in a throw-away network
 * namespace `dpsim-ipvs-<pid>-<n>`, deleted whatever happens. `-m set` needs the sets to
 * exist, so they are created first with the real `ipset` tool, members included.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { release as osRelease } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ProxyModel } from '../../../src/proxy/common/model.js';
import { compileIpvs, type IpsetTable, renderIpsetList } from '../../../src/proxy/ipvs/index.js';
import { ep, model, ORIGIN, servicePort, WEB } from './fixtures.js';

function commandMissing(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0;
}

function missingPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', 'ipset', 'iptables-restore', 'iptables-save']) {
    if (commandMissing(tool)) return `${tool} not installed`;
  }
  const probe = `dpsim-ipvs-${process.pid}-probe`;
  const ok = spawnSync('ip', ['netns', 'add', probe]).status === 0;
  spawnSync('ip', ['netns', 'del', probe]);
  return ok ? null : 'cannot create network namespaces';
}

const missing = missingPrerequisite();
if (missing !== null && !process.env.CI) console.warn(`SKIPPED real-kernel IPVS iptables tests: ${missing}`);

let nsCounter = 0;

function withNamespace<T>(fn: (exec: (args: string[], input?: string) => string) => T): T {
  // Only reached without prerequisites under CI, where these tests must fail, not skip.
  if (missing !== null) throw new Error(`real-kernel IPVS test prerequisite missing: ${missing}`);
  const ns = `dpsim-ipvs-${process.pid}-${nsCounter++}`;
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

/** `ipset restore` input creating kube-proxy's sets (with comments, as kube-proxy does) and their members. */
function ipsetRestore(sets: IpsetTable): string {
  const lines: string[] = [];
  for (const set of sets.sets.values()) {
    const range = set.spec.type === 'bitmap:port' ? ' range 0-65535' : '';
    lines.push(`create ${set.spec.name} ${set.spec.type}${range} comment`);
    for (const entry of set.sortedEntries()) lines.push(`add ${set.spec.name} ${entry}`);
  }
  return `${lines.join('\n')}\n`;
}

/** iptables-save output without the header/footer comments, which carry the date. */
const body = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .join('\n');

/** `ipset list` without the lines that depend on kernel memory layout and the random initval. */
const stable = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('Header:') && !l.startsWith('Size in memory:'))
    .join('\n');

/** External IPs (physdev rules), an LB whose source range contains the node (no -m ipvs), eTP=Local. */
function externalModel(): ProxyModel {
  const lb = servicePort({
    name: 'lb',
    type: 'LoadBalancer',
    clusterIP: '10.233.1.3',
    port: 443,
    nodePort: 30443,
    externalIPs: ['198.51.100.7'],
    loadBalancerIPs: ['203.0.113.10'],
    loadBalancerSourceRanges: ['192.168.100.0/24'],
    externalTrafficPolicy: 'Local',
    healthCheckNodePort: 32000,
    endpoints: [ep('10.233.64.7', 8443, 'node1')],
  });
  return model([WEB, lb]);
}

/**
 * Which of three cases this kernel is in for the xt_ipvs match, read from the kernel's own
 * lists rather than guessed from a failed restore (which would hide any other failure):
 * - `registered`: /proc/net/ip_tables_matches lists `ipvs` (built in, or already loaded);
 * - `loadable`: the running kernel's modules.dep lists xt_ipvs.ko, so nft_compat's
 *   request_module loads it on the first `-m ipvs` rule;
 * - `absent`: neither — the kernel config (when readable) says why.
 */
interface XtIpvsCase {
  readonly kind: 'registered' | 'loadable' | 'absent';
  readonly evidence: string;
}

function readText(path: string): string | null {
  try {
    return path.endsWith('.gz')
      ? gunzipSync(readFileSync(path)).toString('utf8')
      : readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function registeredMatches(): string[] | null {
  return (
    readText('/proc/net/ip_tables_matches')
      ?.split('\n')
      .filter((l) => l !== '') ?? null
  );
}

function detectXtIpvs(): XtIpvsCase {
  const matches = registeredMatches();
  if (matches?.includes('ipvs'))
    return { kind: 'registered', evidence: '/proc/net/ip_tables_matches lists ipvs' };
  const release = osRelease();
  const dep = readText(`/lib/modules/${release}/modules.dep`);
  if (dep !== null && /(^|\/)xt_ipvs\.ko(\.[gx]z|\.zst)?:/m.test(dep))
    return { kind: 'loadable', evidence: `/lib/modules/${release}/modules.dep lists xt_ipvs.ko` };
  const config = readText('/proc/config.gz') ?? readText(`/boot/config-${release}`);
  const option =
    config === null ? null : (/^.*CONFIG_NETFILTER_XT_MATCH_IPVS\b.*$/m.exec(config)?.[0] ?? null);
  const ipvs = config === null ? null : (/^.*CONFIG_IP_VS[= ].*$/m.exec(config)?.[0] ?? null);
  const why = [
    matches === null ? 'no /proc/net/ip_tables_matches' : 'not in /proc/net/ip_tables_matches',
    dep === null ? `no /lib/modules/${release}/modules.dep` : 'not in modules.dep',
    config === null
      ? 'kernel config unreadable'
      : `config: ${option ?? 'no CONFIG_NETFILTER_XT_MATCH_IPVS'}, ${ipvs ?? 'no CONFIG_IP_VS'}`,
  ];
  return { kind: 'absent', evidence: why.join('; ') };
}

const scenarios: [string, () => ProxyModel][] = [
  ['the origin scenario', () => ORIGIN],
  ['external IPs and a local-policy load balancer', externalModel],
];

describe.skipIf(missing !== null && !process.env.CI)(
  `real kernel: IPVS-mode iptables rules through iptables-restore 1.8.9 and ipset${missing ? ` (${missing})` : ''}`,
  () => {
    it.each(scenarios)(
      'iptables-restore --test accepts, and iptables-save prints back, the rules for %s',
      (_n, make) => {
        const state = compileIpvs(make(), 'node1');
        withNamespace((exec) => {
          exec(['ipset', 'restore'], ipsetRestore(state.ipsets));
          exec(['iptables-restore', '--test'], state.iptablesSave);
          exec(['iptables-restore'], state.iptablesSave);
          expect(body(exec(['iptables-save']))).toBe(body(state.iptablesSave));
          // The kernel counts a reference per `-m set` rule: dpsim's ipset list agrees.
          expect(stable(renderIpsetList(state.ipsets, { iptablesSave: state.iptablesSave }))).toBe(
            stable(exec(['ipset', 'list', '-sorted'])),
          );
        });
      },
    );

    it('iptables-restore refuses the rules when the ipsets do not exist, naming the set', () => {
      const { iptablesSave } = compileIpvs(ORIGIN, 'node1');
      withNamespace((exec) => {
        expect(() => exec(['iptables-restore', '--test'], iptablesSave)).toThrow(
          /Set KUBE-\S+ doesn't exist/,
        );
      });
    });

    function lbExcludingNode() {
      const lb = servicePort({
        name: 'lb',
        type: 'LoadBalancer',
        clusterIP: '10.233.1.3',
        port: 443,
        nodePort: 30443,
        loadBalancerIPs: ['203.0.113.10'],
        loadBalancerSourceRanges: ['198.51.100.0/24'],
        endpoints: [ep('10.233.64.7', 8443, 'node1')],
      });
      return compileIpvs(model([lb]), 'node1');
    }

    it('iptables-restore --test (libxt_ipvs in userspace) accepts the -m ipvs rule of an LB whose source ranges exclude the node', () => {
      const state = lbExcludingNode();
      expect(state.iptablesSave).toContain('-m ipvs --vproto 6 --vaddr 203.0.113.10 --vport 443 -j DROP');
      withNamespace((exec) => {
        exec(['ipset', 'restore'], ipsetRestore(state.ipsets));
        exec(['iptables-restore', '--test'], state.iptablesSave);
      });
    });

    const xtIpvs = detectXtIpvs();
    if (missing === null) console.info(`xt_ipvs on this kernel: ${xtIpvs.kind} (${xtIpvs.evidence})`);
    // Only the case detected above runs; its name says which one it was and why.
    if (xtIpvs.kind === 'absent') {
      it(`xt_ipvs absent (${xtIpvs.evidence}): the real restore refuses exactly the -m ipvs rule, for the missing extension, and the rest of the same rules loads and prints back`, () => {
        const state = lbExcludingNode();
        const lines = state.iptablesSave.split('\n');
        const ipvsLine = lines.findIndex((l) => l.includes(' -m ipvs ')) + 1;
        expect(ipvsLine).toBeGreaterThan(0);
        withNamespace((exec) => {
          exec(['ipset', 'restore'], ipsetRestore(state.ipsets));
          let refusal = '';
          try {
            exec(['iptables-restore'], state.iptablesSave);
          } catch (e) {
            refusal = (e as Error).message;
          }
          expect(refusal).toContain('Extension ipvs revision 0 not supported, missing kernel module?');
          expect(refusal).toContain(
            `line ${ipvsLine}: RULE_APPEND failed (No such file or directory): rule in chain KUBE-IPVS-OUT-FILTER`,
          );
          // Nothing else in the rules is refused: without that one line they load as written.
          const rest = lines.filter((_, i) => i !== ipvsLine - 1).join('\n');
          exec(['iptables-restore'], rest);
          expect(body(exec(['iptables-save']))).toBe(body(rest));
        });
      });
    } else {
      it(`xt_ipvs ${xtIpvs.kind} (${xtIpvs.evidence}): the kernel loads the -m ipvs rule, iptables-save prints it back, and the match is registered`, () => {
        const state = lbExcludingNode();
        withNamespace((exec) => {
          exec(['ipset', 'restore'], ipsetRestore(state.ipsets));
          exec(['iptables-restore'], state.iptablesSave);
          expect(body(exec(['iptables-save']))).toBe(body(state.iptablesSave));
        });
        expect(registeredMatches()).toContain('ipvs');
      });
    }
  },
);
