/**
 * `dpsim rollout` from the command line: the per-second table and totals, `--json` with
 * `totals: {requests, succeeded, failed, …}`, `--compare` side by side on the same seed,
 * `--svg` with the syncs marked, byte-identical output for the same seed, and one-line errors.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dpsim } from '../cli/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'dpsim-rollout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHORT = ['--rps', '50', '--duration', '6', '--at', '1'];

describe('dpsim rollout', () => {
  it('prints a per-second table with the syncs, the totals and why requests failed', async () => {
    const r = await dpsim(['rollout', '--image', 'hello-world-web:2.0', ...SHORT]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(
      /^deployment\/myweb: image → hello-world-web:2\.0 at 1s; 6s of traffic at 50 requests\/s to service\/myweb-svc-np\n/,
    );
    expect(r.stdout).toContain(
      'iptables mode, seed 1; sync loop minSyncPeriod 1s; watch delay uniform:50ms-500ms',
    );
    expect(r.stdout).toMatch(/\n +1 +50 .*sync node[123],node[123],node[123] \(v1\)/);
    expect(r.stdout).toMatch(/\ntotals: 300 requests, \d+ succeeded, \d+ failed/);
    expect(r.stdout).toMatch(/why they failed:\n.*\n.* stale rules on node\d: sent to myweb-/);
  });

  it('--json: totals {requests, succeeded, failed, refused, reset, timedOut}; same seed, same bytes', async () => {
    const a = await dpsim(['rollout', '--scale', '1', '--json', ...SHORT]);
    const b = await dpsim(['rollout', '--scale', '1', '--json', ...SHORT]);
    expect(a.exitCode).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const j = JSON.parse(a.stdout);
    expect(Object.keys(j.totals)).toEqual([
      'requests',
      'succeeded',
      'failed',
      'refused',
      'reset',
      'timedOut',
    ]);
    expect(j.totals.requests).toBe(300);
    expect(j.totals.succeeded + j.totals.failed).toBe(300);
    expect(j.seconds).toHaveLength(6);
    expect(j.transition).toEqual({ kind: 'scale', replicas: 1 });
    expect(j.syncs.length).toBeGreaterThan(0);
    const other = await dpsim(['rollout', '--scale', '1', '--json', '--seed', '2', ...SHORT]);
    expect(other.stdout).not.toBe(a.stdout);
  });

  it('--compare runs variants on the same seed side by side; --svg draws them with the syncs marked', async () => {
    const svg = join(dir, 't.svg');
    const r = await dpsim([
      'rollout',
      '--image',
      'hello-world-web:2.0',
      ...SHORT,
      '--compare',
      'preStop=sleep 5',
      '--compare',
      'minSyncPeriod=0s,watchDelay=10ms',
      '--svg',
      svg,
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/\nvariant +requests succeeded +failed refused +reset timeout\nbase +300 /);
    expect(r.stdout).toMatch(/\npreStop=sleep 5 +300 +300 +0 +0 +0 +0\n/);
    expect(r.stdout).toMatch(/\nminSyncPeriod=0s,watchDelay=10ms +300 /);
    const text = readFileSync(svg, 'utf8');
    expect(text).toMatch(/^<svg/);
    expect(text).toContain('preStop=sleep 5: 0 of 300 failed');
    expect(text).toContain('sync node1');
  });

  it.each([
    [
      ['rollout', '--rps', '10', '--duration', '2'],
      /^error: give exactly one of --image, --scale, --drain, --delete-pod/,
    ],
    [['rollout', '--scale', '1', '--image', 'x', '--duration', '2'], /^error: give exactly one of/],
    [
      ['rollout', '--deployment', 'nope', '--scale', '1', '--duration', '2'],
      /^error: deployments.apps "nope" not found \(have: deployment\/myweb/,
    ],
    [
      ['rollout', '--scale', '1', '--duration', '2', '--compare', 'preStop=soon'],
      /^error: preStop=soon: expected "sleep N" or "none"/,
    ],
    [
      ['rollout', '--scale', '1', '--duration', '2', '--compare', 'colour=blue'],
      /^error: variant "colour=blue": unknown key "colour"/,
    ],
    [
      ['rollout', '--scale', '1', '--duration', '2', '--watch-delay', 'uniform:5s-1s'],
      /^error: delay "uniform:5s-1s": 1s is below 5s/,
    ],
    [['rollout', '--drain', 'node9', '--duration', '2'], /^error: nodes "node9" not found/],
    [
      ['rollout', '--scale', '1', '--duration', '2', '--proto', 'udp'],
      /^error: no Service with a UDP port selects the pods of deployment "myweb"\n$/,
    ],
  ])('bad input %j: one line, exit 1', async (args, message) => {
    const r = await dpsim(args as string[]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
