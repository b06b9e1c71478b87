/**
 * The namespaces always go away: on SIGTERM (delivered twice, as `timeout` and process-group
 * kills do) the harness tears everything down and exits 143; after a SIGKILL, which no
 * handler sees, the next run's stale-namespace cleanup removes what the dead run left.
 * A child process builds a one-node, one-pod topology and waits to be killed.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupStaleNamespaces, listOwnNamespaces } from '../../src/verify/lifecycle.js';
import { kernelGate } from './scenarios.js';

const gate = kernelGate('namespace lifecycle tests');
const dir = mkdtempSync(join(tmpdir(), 'dpv-lifecycle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const netnsModule = resolve(import.meta.dirname, '../../src/verify/netns.ts');
const CHILD = `
import { NetnsTopology } from ${JSON.stringify(netnsModule)};
const topo = await NetnsTopology.create({
  clientIP: '192.168.100.1',
  nodes: [{ name: 'node1', ip: '192.168.100.100', podCIDR: '10.233.64.0/24' }],
  pods: [{ name: 'p', nodeName: 'node1', ip: '10.233.64.2', tcpPorts: [8080] }],
  clientRoutes: [],
});
process.stdout.write('ready ' + topo.prefix + '\\n');
setTimeout(() => {}, 60_000);
`;

function startChild(): Promise<{ child: ChildProcess; prefix: string }> {
  const file = join(dir, `child-${Math.random().toString(16).slice(2)}.mts`);
  writeFileSync(file, CHILD);
  const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((res, rej) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => rej(new Error(`child not ready: ${err}`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /ready (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res({ child, prefix: m[1] });
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.on('exit', (code) => rej(new Error(`child exited ${code}: ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((res) => {
    if (child.exitCode !== null) res(child.exitCode);
    else child.once('exit', (code) => res(code));
  });
}

const ours = (prefix: string) => listOwnNamespaces().filter((n) => n.startsWith(`${prefix}-`));

describe('namespace lifecycle', () => {
  it.skipIf(gate.skip)(
    'a SIGTERM delivered twice still removes every namespace, and the process exits 143',
    async () => {
      const { child, prefix } = await startChild();
      expect(ours(prefix).length).toBe(4); // lan, client, node, pod
      child.kill('SIGTERM');
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(143);
      expect(ours(prefix)).toEqual([]);
    },
  );

  it.skipIf(gate.skip)(
    'after a SIGKILL, the stale-namespace cleanup removes what the dead run left',
    async () => {
      const { child, prefix } = await startChild();
      child.kill('SIGKILL');
      await exited(child);
      expect(ours(prefix).length).toBe(4);
      const removed = cleanupStaleNamespaces();
      expect(removed.filter((n) => n.startsWith(`${prefix}-`)).length).toBe(4);
      expect(ours(prefix)).toEqual([]);
    },
  );

  it.skipIf(gate.skip)('the cleanup leaves namespaces of a live process alone', () => {
    const name = `dpv${process.pid}-9999-keep`;
    execFileSync('ip', ['netns', 'add', name]);
    try {
      cleanupStaleNamespaces();
      expect(listOwnNamespaces()).toContain(name);
    } finally {
      execFileSync('ip', ['netns', 'del', name]);
    }
  });
});
