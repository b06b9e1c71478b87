import { describe, expect, it } from 'vitest';
import { applyIptablesRestoreNoflush, renderIptablesSave } from '../../src/proxy/iptables/index.js';
import { applyNftTransaction, type NftTable, renderTable } from '../../src/proxy/nftables/index.js';
import { dpsim } from './harness.js';

describe('dpsim rules --sync-log', () => {
  it('shows the first full sync, the scripted changes, and one partial sync for the changes minSyncPeriod coalesced', async () => {
    const r = await dpsim(['rules', '--sync-log', '--changes', 'delete=1@200,unready=1@600']);
    expect(r.exitCode).toBe(0);
    const headers = r.stdout.split('\n').filter((l) => l.startsWith('# '));
    expect(headers[0]).toMatch(
      /^# 0\.000s node1: full sync \(first\), 3 Services; rules written: filter \d+, nat \d+/, // with kube-system/kube-dns
    );
    expect(headers[1]).toMatch(/^# 0\.200s change delete=1: pod "myweb-rs-\w+" deleted$/);
    expect(headers[2]).toMatch(/^# 0\.600s change unready=1: /);
    // minSyncPeriod 1 s after the first sync: both changes land in one partial sync at 1 s. The
    // deleted pod's KUBE-SEP chain goes; its replacement, made unready before the sync, never got one.
    expect(headers[3]).toMatch(
      /^# 1\.000s node1: partial sync, 1 changed Service \(default\/myweb-svc-np\); .*deleted chains: KUBE-SEP-\w+$/,
    );
    expect(headers).toHaveLength(4);
    // The partial restore rewrites the top-level chains, but not the unchanged kubernetes Service's chain.
    const partial = r.stdout.slice(r.stdout.indexOf(headers[3]));
    const apiChain = /"default\/kubernetes:https cluster IP" .* -j (KUBE-SVC-\w+)/.exec(r.stdout)![1];
    expect(r.stdout.slice(0, r.stdout.indexOf(headers[1]))).toContain(`:${apiChain} - [0:0]`);
    expect(partial).toContain(':KUBE-SERVICES - [0:0]');
    expect(partial).toContain(`-j ${apiChain}`);
    expect(partial).not.toContain(`:${apiChain} - [0:0]`);
  });

  it('prints restore input iptables-restore accepts: applying the syncs in order gives the node the new tables', async () => {
    const r = await dpsim(['rules', '--sync-log', '--changes', 'scale=5@0']);
    const restores = r.stdout.split(/^# .*\n/m).filter((t) => t.startsWith('*'));
    expect(restores).toHaveLength(2);
    // The first restore onto empty tables, then the partial one on top.
    const afterFirst = applyIptablesRestoreNoflush({ tables: [] }, restores[0]).ruleset;
    const after = applyIptablesRestoreNoflush(afterFirst, restores[1]).ruleset;
    const sep = renderIptablesSave(after).match(/-j DNAT/g) ?? [];
    expect(sep.length).toBe(5 + 1 + 3 * 2); // five web pods, the apiserver, kube-dns's 3 ports × 2 CoreDNS pods
  });

  it('refuses --changes without --sync-log, bad items and other modes with one line', async () => {
    expect(await dpsim(['rules', '--changes', 'scale=1@0'])).toMatchObject({
      exitCode: 2,
      stderr: expect.stringContaining('error: --changes needs --sync-log'),
    });
    const bad = await dpsim(['rules', '--sync-log', '--changes', 'grow=1@0']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^error: --changes: unknown churn kind "grow"/);
    const ipvs = await dpsim(['rules', '--mode', 'ipvs', '--sync-log']);
    expect(ipvs.exitCode).toBe(1);
    expect(ipvs.stderr).toBe(
      "error: --sync-log: only iptables and nftables modes' syncs are modelled, not ipvs mode's\n",
    );
  });
});

describe('dpsim rules --sync-log --mode nftables', () => {
  it('prints the first full transaction, then partial ones and the stale-chain deletion, each applying in order to the node’s new table', async () => {
    const r = await dpsim([
      'rules',
      '--mode',
      'nftables',
      '--sync-log',
      '--changes',
      'delete=1@200,unready=1@600,scale=5@2500',
    ]);
    expect(r.exitCode).toBe(0);
    const headers = r.stdout.split('\n').filter((l) => l.startsWith('# '));
    expect(headers[0]).toMatch(
      /^# 0\.000s node1: full sync \(first\), 3 Services; written: \d+ rules, \d+ service chains, \d+ elements added, 0 deleted; total: \d+ chains/,
    );
    expect(headers[3]).toMatch(
      /^# 1\.000s node1: partial sync, 1 changed Service \(default\/myweb-svc-np\); .*stale chains flushed: endpoint-\w{8}-default\/myweb-svc-np\/tcp\/__[\d.]+\/8080$/,
    );
    const stale = /stale chains flushed: (\S+)$/.exec(headers[3])![1];
    // 1.5 s later the deleted pod's chain goes, in a transaction before the sync's own.
    expect(headers[5]).toBe(
      '# 2.500s node1: delete 1 stale chain flushed over 1 s ago, a transaction of its own',
    );
    expect(headers[6]).toMatch(/^# 2\.500s node1: partial sync, 1 changed Service/);
    const blocks = r.stdout.split(/^# .*\n/m).filter((t) => t !== '');
    expect(blocks[2]).toBe(`delete chain ip kube-proxy ${stale}\n`);
    let table: NftTable | null = null;
    for (const block of blocks)
      table = applyNftTransaction(table, block, { name: 'node1', ip: '192.168.100.100' });
    const dnat = renderTable(table as NftTable).match(/dnat to/g) ?? [];
    // Five web pods after the scale, one of them unready; the apiserver; kube-dns's 3 ports × 2 CoreDNS pods.
    expect(dnat.length).toBe(4 + 1 + 3 * 2);
    expect(renderTable(table as NftTable)).not.toContain(stale);
  });
});
