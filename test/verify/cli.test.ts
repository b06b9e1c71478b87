/** `dpsim verify`: flag checking, prerequisite messages and exit codes (the verification itself is injected). */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerVerify, type VerifyDeps } from '../../src/cli/verify.js';
import type { VerifyReport } from '../../src/verify/compare.js';
import type { VerifyOptions } from '../../src/verify/run.js';

function report(agree: boolean): VerifyReport {
  return {
    scenario: 's',
    mode: 'iptables',
    family: 'ipv4',
    connectionsPerProbe: 3,
    alpha: 1e-4,
    probes: [],
    skipped: [],
    agree,
    disagreements: agree ? [] : ['probe: outcome (kernel and dpsim differ): kernel ok | dpsim timeout'],
    kernelElapsedMs: 1,
    dpsimElapsedMs: 1,
  };
}

async function runCli(args: string[], over: Partial<VerifyDeps> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const calls: VerifyOptions[] = [];
  let exitCode = 0;
  const deps: VerifyDeps = {
    io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t), setExitCode: (c) => (exitCode = c) },
    missingPrerequisites: () => [],
    verify: async (o) => {
      calls.push(o);
      return report(true);
    },
    readFile: (p) => {
      if (p === 'svc.yaml') return 'kind: Service';
      throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    },
    ...over,
  };
  const program = new Command().exitOverride();
  registerVerify(program, deps);
  await program.parseAsync(['node', 'dpsim', 'verify', ...args]);
  return { out: out.join(''), err: err.join(''), exitCode, calls };
}

describe('dpsim verify', () => {
  it('names each missing prerequisite and exits 2 without running anything', async () => {
    const r = await runCli(['--kernel'], {
      missingPrerequisites: () => [
        'must run as root to create network namespaces and load netfilter rules',
        "'conntrack' not found on PATH (install the conntrack package)",
      ],
    });
    expect(r.exitCode).toBe(2);
    expect(r.err).toContain('must run as root to create network namespaces');
    expect(r.err).toContain("'conntrack' not found on PATH");
    expect(r.calls).toEqual([]);
  });

  it('asks for --kernel, rejects modes without a kernel oracle and a bad -n', async () => {
    expect((await runCli([])).err).toMatch(/pass --kernel/);
    const ipvs = await runCli(['--kernel', '--mode', 'ipvs']);
    expect([ipvs.exitCode, ipvs.err]).toEqual([2, expect.stringMatching(/no IPVS/)]);
    const badN = await runCli(['--kernel', '-n', 'many']);
    expect([badN.exitCode, badN.err]).toEqual([2, expect.stringMatching(/-n must be an integer/)]);
  });

  it('passes the manifests, mode, N and seed on, prints the table and exits 0 when the sides agree', async () => {
    const r = await runCli(['--kernel', '-f', 'svc.yaml', '--mode', 'nftables', '-n', '25', '--seed', '7']);
    expect(r.exitCode).toBe(0);
    expect(r.calls[0]).toMatchObject({
      manifests: 'kind: Service',
      mode: 'nftables',
      n: 25,
      seed: 7,
      scenario: 'svc.yaml',
    });
    expect(r.out).toContain('AGREE');
  });

  it('exits 1 on a disagreement and 2 for a missing file', async () => {
    const bad = await runCli(['--kernel', '-o', 'json'], { verify: async () => report(false) });
    expect(bad.exitCode).toBe(1);
    expect(JSON.parse(bad.out).agree).toBe(false);
    const missing = await runCli(['--kernel', '-f', 'nope.yaml']);
    expect([missing.exitCode, missing.err]).toEqual([2, 'error: the path "nope.yaml" does not exist\n']);
  });
});

describe('dpsim verify, address families', () => {
  it('verifies IPv4 alone by default, both families with --dual-stack, and the family --family names', async () => {
    expect((await runCli(['--kernel'])).calls.map((c) => [c.family, c.dualStack])).toEqual([
      ['ipv4', undefined],
    ]);
    const both = await runCli(['--kernel', '--dual-stack']);
    expect(both.calls.map((c) => [c.family, c.dualStack])).toEqual([
      ['ipv4', true],
      ['ipv6', true],
    ]);
    expect(both.out.match(/AGREE/g)).toHaveLength(2);
    const v6 = await runCli(['--kernel', '--dual-stack', '--family', 'ipv6']);
    expect(v6.calls.map((c) => c.family)).toEqual(['ipv6']);
  });

  it('prints both reports as one JSON array, and exits 1 when either family disagrees', async () => {
    const r = await runCli(['--kernel', '--dual-stack', '-o', 'json'], {
      verify: async (o) => ({ ...report(o.family !== 'ipv6'), family: o.family ?? 'ipv4' }),
    });
    expect(r.exitCode).toBe(1);
    expect((JSON.parse(r.out) as VerifyReport[]).map((x) => [x.family, x.agree])).toEqual([
      ['ipv4', true],
      ['ipv6', false],
    ]);
  });

  it('refuses an unknown family, and asks for the IPv6 tools when IPv6 is verified', async () => {
    const bad = await runCli(['--kernel', '--family', 'ipv5']);
    expect([bad.exitCode, bad.err]).toEqual([2, 'error: --family must be ipv4, ipv6 or both, got "ipv5"\n']);
    const asked: string[] = [];
    await runCli(['--kernel', '--dual-stack'], {
      missingPrerequisites: (_modes, family) => {
        asked.push(family ?? 'ipv4');
        return [];
      },
    });
    expect(asked).toEqual(['ipv4', 'ipv6']);
    const { requiredTools } = await import('../../src/verify/prerequisites.js');
    expect(requiredTools('iptables', 'ipv6')).toEqual([
      'ip',
      'conntrack',
      'ip6tables-restore',
      'ip6tables-save',
    ]);
  });
});

describe('kernel prerequisites', () => {
  it('lists the tools of each mode and finds installed ones on PATH or in the sbin directories', async () => {
    const { findTool, requiredTools } = await import('../../src/verify/prerequisites.js');
    expect(requiredTools('iptables')).toEqual(['ip', 'conntrack', 'iptables-restore', 'iptables-save']);
    expect(requiredTools('nftables')).toEqual(['ip', 'conntrack', 'nft']);
    expect(findTool('sh')).toMatch(/\/sh$/);
    expect(findTool('dpsim-no-such-tool')).toBeNull();
  });
});
