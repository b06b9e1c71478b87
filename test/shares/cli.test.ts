/** `dpsim rules --shares`: the exact share table on every node, and a wrongly balancing dump. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSimulation } from '../../src/sim/simulation.js';
import { dpsim } from '../cli/harness.js';
import { plantOneOverN } from '../helpers/plant-one-over-n.js';

describe('dpsim rules --shares', () => {
  it('prints every node’s exact shares of the origin Service (iptables), agreeing with kube-proxy, exit 0', async () => {
    const r = await dpsim(['rules', '--shares']);
    expect(r.exitCode).toBe(0);
    for (const node of ['node1', 'node2', 'node3'])
      expect(r.stdout).toContain(`# ${node} (iptables mode): each endpoint's share of new connections`);
    expect(r.stdout).toMatch(
      /10\.233\.64\.2:8080\s+myweb-rs-\w+\s+33\.333333348%\s+33\.333333333%\s+715827883\/2147483648/,
    );
    expect(r.stdout).not.toContain('DISAGREES');
  });

  it('nftables and IPVS name their mechanism (numgen mod 3, rr)', async () => {
    const nft = await dpsim(['rules', '--shares', '--mode', 'nftables', '--node', 'node2']);
    expect(nft.stdout).toContain('numgen random mod 3 vmap');
    expect(nft.stdout).not.toContain('# node1');
    const ipvs = await dpsim(['rules', '--shares', '--mode', 'ipvs', '--node', 'node1']);
    expect(ipvs.stdout).toMatch(/TCP 10\.233\.\d+\.\d+:80 rr \(ClusterIP\)/);
    expect(ipvs.stdout).toMatch(/1\/3\n/);
  });

  it('a real node’s dump with 1/n probabilities (--iptables-save) is reported and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpsim-shares-'));
    const file = join(dir, 'planted.save');
    writeFileSync(file, plantOneOverN(buildSimulation({ mode: 'iptables', seed: 1 }).rules('node1')));
    const r = await dpsim(['rules', '--shares', '--node', 'node1', '--iptables-save', file]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /DISAGREES with the intended equal shares: \S+ gets 22\.2222%, intended 33\.3333%; \S+ gets 44\.4444%/,
    );
  });

  it('refuses --view and -v with --shares', async () => {
    const r = await dpsim(['rules', '--shares', '-v']);
    expect([r.exitCode, r.stderr]).toEqual([
      1,
      'error: --shares prints the share table; it takes no --view or -v\n',
    ]);
  });
});
