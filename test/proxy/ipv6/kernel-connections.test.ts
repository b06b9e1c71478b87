/**
 * dpsim's IPv6 rules carry real IPv6 connections in the kernel: a node namespace loads the
 * dual-stack node's `ip6tables-restore` input (iptables mode) or its `table ip6 kube-proxy`
 * (nftables mode), with the three pods' namespaces and a client behind veths, and TCP
 * connections over IPv6 to the NodePort on the node's IPv6 address (from the client) and to the
 * IPv6 ClusterIPs (from a pod) are answered by exactly the pods those rules name; a Service
 * without endpoints is refused (the family's ICMPv6 port unreachable). Needs root, ip,
 * ip6tables-restore, nft and curl: skipped visibly otherwise, failing under CI.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from '../../../src/k8s/cluster.js';
import { renderIptablesSave } from '../../../src/proxy/iptables/index.js';
import { renderTable } from '../../../src/proxy/nftables/render.js';
import { compileIpv6Iptables, compileIpv6Nftables } from '../../../src/sim/ipv6-rules.js';
import { dualStackCluster } from '../iptables/ipv6-scenario.js';

function missingPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', 'ip6tables-restore', 'nft', 'curl']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not installed`;
  }
  return null;
}

const missing = missingPrerequisite();
const skip = missing !== null && !process.env.CI;
if (skip) console.warn(`SKIPPED real-kernel IPv6 connection tests: ${missing}`);

const PREFIX = `d6c${process.pid % 100000}`;
const CLIENT_NS = `${PREFIX}-cl`;
const NODE_NS = `${PREFIX}-n1`;
const CLIENT_IP = 'fd00:192:168:100::1';
const NODE = 'node1';

function sh(args: string[], input?: string): string {
  const r = spawnSync(args[0], args.slice(1), { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (rc ${r.status}): ${r.stderr}`);
  return r.stdout;
}
const inNs = (ns: string, args: string[], input?: string) => sh(['ip', 'netns', 'exec', ns, ...args], input);

interface Pod {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
}

let cluster: Cluster;
let pods: Pod[] = [];
const responders: ChildProcess[] = [];

/** One HTTP/1.0 answer per connection with the pod's name, on [::]:8080. */
const RESPONDER = `require('net').createServer((s) => { s.on('error', () => {}); s.once('data', () => s.end('HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n' + process.argv[1] + '\\n')); }).listen(8080, '::', () => console.log('ready'));`;

async function startResponder(pod: Pod): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', pod.ns, process.execPath, '-e', RESPONDER, pod.name], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  responders.push(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`responder of ${pod.name} not ready`)), 10_000);
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function buildTopology(): void {
  sh(['ip', 'netns', 'add', CLIENT_NS]);
  sh(['ip', 'netns', 'add', NODE_NS]);
  for (const ns of [CLIENT_NS, NODE_NS]) inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
  inNs(NODE_NS, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
  inNs(NODE_NS, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CLIENT_NS]);
  inNs(NODE_NS, ['ip', 'addr', 'add', 'fd00:192:168:100::100/64', 'dev', 'eth0', 'nodad']);
  inNs(CLIENT_NS, ['ip', 'addr', 'add', `${CLIENT_IP}/64`, 'dev', 'eth0', 'nodad']);
  for (const ns of [CLIENT_NS, NODE_NS]) inNs(ns, ['ip', 'link', 'set', 'eth0', 'up']);
  // Every pod of the scenario hangs off this node (the rules of node1 DNAT to all three).
  pods.forEach((pod, i) => {
    sh(['ip', 'netns', 'add', pod.ns]);
    inNs(pod.ns, ['ip', 'link', 'set', 'lo', 'up']);
    inNs(NODE_NS, ['ip', 'link', 'add', `cali${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.ns]);
    inNs(NODE_NS, ['ip', 'addr', 'add', 'fe80::1/64', 'dev', `cali${i}`, 'nodad']);
    inNs(NODE_NS, ['ip', 'link', 'set', `cali${i}`, 'up']);
    inNs(NODE_NS, ['ip', '-6', 'route', 'add', `${pod.ip}/128`, 'dev', `cali${i}`]);
    inNs(pod.ns, ['ip', 'addr', 'add', `${pod.ip}/128`, 'dev', 'eth0', 'nodad']);
    inNs(pod.ns, ['ip', 'link', 'set', 'eth0', 'up']);
    inNs(pod.ns, ['ip', '-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0']);
  });
  // The client reaches the Service range through the node, as a router would send it.
  inNs(CLIENT_NS, ['ip', '-6', 'route', 'add', 'default', 'via', 'fd00:192:168:100::100']);
}

function teardown(): void {
  for (const r of responders) r.kill('SIGKILL');
  responders.length = 0;
  for (const ns of [CLIENT_NS, NODE_NS, ...pods.map((p) => p.ns)]) spawnSync('ip', ['netns', 'del', ns]);
}

/** curl over IPv6 from `ns`: the answering pod's name, or `exit N`. */
function curl(ns: string, addr: string, port: number): string {
  const r = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'curl',
      '-6',
      '-s',
      '--connect-timeout',
      '2',
      '-m',
      '3',
      `http://[${addr}]:${port}/`,
    ],
    { encoding: 'utf8' },
  );
  return r.status === 0 ? r.stdout.trim() : `exit ${r.status}`;
}

function loadIp6tables(): void {
  inNs(NODE_NS, ['nft', 'flush', 'ruleset']);
  const text = renderIptablesSave(compileIpv6Iptables(cluster, NODE, undefined, undefined).ruleset, {
    ipv6: true,
  });
  inNs(NODE_NS, ['ip6tables-restore'], text);
}

function loadNft(): void {
  inNs(NODE_NS, ['nft', 'flush', 'ruleset']);
  inNs(NODE_NS, ['nft', '-f', '-'], renderTable(compileIpv6Nftables(cluster, NODE, undefined, undefined)));
}

const v6ClusterIP = (name: string) =>
  cluster.getService(name)!.spec!.clusterIPs!.find((ip) => ip.includes(':'))!;
const nodePort = (name: string) => cluster.getService(name)!.spec!.ports![0].nodePort!;

describe.skipIf(skip)(
  `real kernel: IPv6 connections through dpsim's IPv6 rules${skip ? ` (${missing})` : ''}`,
  () => {
    beforeAll(async () => {
      if (missing !== null)
        throw new Error(`IPv6 connection tests need root, ip, ip6tables, nft, curl: ${missing}`);
      cluster = dualStackCluster();
      pods = cluster.pods().map((p, i) => ({
        name: p.metadata!.name!,
        ns: `${PREFIX}-p${i}`,
        ip: p.status!.podIPs!.find((a) => a.ip!.includes(':'))!.ip!,
      }));
      try {
        buildTopology();
        for (const p of pods) await startResponder(p);
      } catch (e) {
        teardown();
        throw e;
      }
    }, 60_000);

    afterAll(() => teardown());

    const podNames = () => new Set(pods.map((p) => p.name));

    for (const [mode, load] of [
      ['ip6tables', loadIp6tables],
      ['nft ip6 kube-proxy', loadNft],
    ] as const) {
      it(`${mode}: the NodePort on the node’s IPv6 address and the IPv6 ClusterIPs are answered by the pods the rules name; no endpoints is refused`, () => {
        load();
        const fromClient = new Set<string>();
        for (let i = 0; i < 12; i++)
          fromClient.add(curl(CLIENT_NS, 'fd00:192:168:100::100', nodePort('web-np')));
        for (const who of fromClient) expect(podNames().has(who), `NodePort answered by ${who}`).toBe(true);
        expect(fromClient.size).toBeGreaterThan(1);
        const fromPod = new Set<string>();
        for (let i = 0; i < 12; i++) fromPod.add(curl(pods[0].ns, v6ClusterIP('web-np'), 80));
        for (const who of fromPod) expect(podNames().has(who), `ClusterIP answered by ${who}`).toBe(true);
        expect(curl(pods[1].ns, v6ClusterIP('web-v6'), 8080)).toMatch(/^web-/);
        // No endpoints: REJECT / reject — ICMPv6 port unreachable, curl's "couldn't connect" (7).
        expect(curl(CLIENT_NS, 'fd00:192:168:100::100', nodePort('empty'))).toBe('exit 7');
        expect(curl(pods[2].ns, v6ClusterIP('empty'), 82)).toBe('exit 7');
      }, 120_000);
    }
  },
);
