/**
 * `dpsim verify --kernel [-f FILE...] [--mode iptables|nftables] [--dual-stack]
 * [--family ipv4|ipv6|both] [-n N] [--seed S] [-o text|json]`:
 * loads dpsim's rules for the user's manifests into real Linux netfilter inside throw-away
 * network namespaces, sends the same connections through the kernel and through dpsim, and
 * reports where they differ — per address family: the IPv6 side of a dual-stack cluster is
 * its IPv6 proxier's `ip6tables` / `ip6 kube-proxy` rules under IPv6 connections. Needs root
 * and iproute2, conntrack and iptables or nftables; without them it says exactly what is
 * missing. Thin: the work lives in src/verify.
 *
 * Exit codes: 0 the two agree (in every family run), 1 they disagree, 2 could not run
 * (prerequisites, bad input).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { VerifyReport } from '../verify/compare.js';
import type { VerifyFamily } from '../verify/family.js';
import { missingKernelPrerequisites } from '../verify/prerequisites.js';
import { formatReport } from '../verify/report-text.js';
import { MAX_CONNECTIONS, type VerifyOptions, verifyScenario } from '../verify/run.js';

export interface VerifyIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  setExitCode: (code: number) => void;
}

export interface VerifyDeps {
  readonly io: VerifyIo;
  readonly missingPrerequisites: typeof missingKernelPrerequisites;
  readonly verify: (options: VerifyOptions) => Promise<VerifyReport>;
  readonly readFile: (path: string) => string;
}

export const defaultVerifyDeps: VerifyDeps = {
  io: {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    setExitCode: (c) => {
      process.exitCode = c;
    },
  },
  missingPrerequisites: missingKernelPrerequisites,
  verify: verifyScenario,
  readFile: (p) => readFileSync(p, 'utf8'),
};

const KERNEL_MODES = ['iptables', 'nftables'];
const NO_ORACLE: Record<string, string> = {
  ipvs: 'this kernel has no IPVS (/proc/net/ip_vs is missing), so IPVS mode cannot be checked against it',
  ebpf: 'dpsim’s eBPF mode models Cilium’s programs, which cannot be loaded here; there is no kernel oracle for it',
};

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

interface VerifyFlags {
  kernel?: boolean;
  filename?: string[];
  mode: string;
  dualStack?: boolean;
  family?: string;
  connections?: string;
  detect: string;
  power: string;
  seed: string;
  output: string;
}

async function runVerify(flags: VerifyFlags, deps: VerifyDeps): Promise<void> {
  const { io } = deps;
  const fail = (msg: string) => {
    io.stderr(`error: ${msg}\n`);
    io.setExitCode(2);
  };
  if (!flags.kernel) {
    fail('only `dpsim verify --kernel` is implemented: pass --kernel to compare dpsim with real netfilter');
    return;
  }
  if (!KERNEL_MODES.includes(flags.mode)) {
    fail(NO_ORACLE[flags.mode] ?? `--mode must be iptables or nftables, got "${flags.mode}"`);
    return;
  }
  const n = flags.connections === undefined ? undefined : Number(flags.connections);
  if (
    flags.connections !== undefined &&
    (!/^\d+$/.test(flags.connections) || n! < 1 || n! > MAX_CONNECTIONS)
  ) {
    fail(
      `-n must be an integer between 1 and ${MAX_CONNECTIONS} (connections per probe), got "${flags.connections}"`,
    );
    return;
  }
  const fraction = (flag: string, text: string): number | null => {
    const v = Number(text);
    if (!/^(0?\.\d+|\d+(\.\d+)?)$/.test(text) || !(v > 0 && v < 1)) {
      fail(`${flag} must be a number between 0 and 1 (exclusive), got "${text}"`);
      return null;
    }
    return v;
  };
  const deviation = fraction('--detect', flags.detect);
  if (deviation === null) return;
  const power = fraction('--power', flags.power);
  if (power === null) return;
  if (!/^\d+$/.test(flags.seed)) {
    fail(`--seed must be a non-negative integer, got "${flags.seed}"`);
    return;
  }
  if (flags.output !== 'text' && flags.output !== 'json') {
    fail(`-o must be text or json, got "${flags.output}"`);
    return;
  }
  // A dual-stack cluster is verified in both families unless one is asked for.
  const familyFlag = flags.family ?? (flags.dualStack ? 'both' : 'ipv4');
  if (familyFlag !== 'ipv4' && familyFlag !== 'ipv6' && familyFlag !== 'both') {
    fail(`--family must be ipv4, ipv6 or both, got "${familyFlag}"`);
    return;
  }
  const families: VerifyFamily[] = familyFlag === 'both' ? ['ipv4', 'ipv6'] : [familyFlag];
  const missing = [
    ...new Set(
      families.flatMap((f) => deps.missingPrerequisites([flags.mode as 'iptables' | 'nftables'], f)),
    ),
  ];
  if (missing.length > 0) {
    fail(`cannot run the kernel verification:\n${missing.map((m) => `  - ${m}`).join('\n')}`);
    return;
  }
  const files = flags.filename ?? [];
  let manifests: string | undefined;
  if (files.length > 0) {
    const texts: string[] = [];
    for (const f of files) {
      try {
        texts.push(deps.readFile(f));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        fail(
          code === 'ENOENT'
            ? `the path "${f}" does not exist`
            : `cannot read "${f}": ${(e as Error).message}`,
        );
        return;
      }
    }
    manifests = texts.join('\n---\n');
  }
  const reports: VerifyReport[] = [];
  try {
    for (const family of families) {
      const report = await deps.verify({
        ...(manifests !== undefined ? { manifests } : {}),
        scenario: files.length > 0 ? files.join(', ') : 'origin scenario',
        mode: flags.mode as 'iptables' | 'nftables',
        family,
        ...(flags.dualStack ? { dualStack: true } : {}),
        ...(n !== undefined ? { n } : {}),
        deviation,
        power,
        seed: Number(flags.seed),
        log: (line) => io.stderr(`${line}\n`),
      });
      reports.push(report);
      if (flags.output === 'text') io.stdout(`${reports.length > 1 ? '\n' : ''}${formatReport(report)}`);
    }
    // One family: its report; both: the two reports in a JSON array, IPv4 first.
    if (flags.output === 'json')
      io.stdout(`${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
    io.setExitCode(reports.every((r) => r.agree) ? 0 : 1);
  } catch (e) {
    fail((e as Error).message);
  }
}

export function registerVerify(program: Command, deps: VerifyDeps = defaultVerifyDeps): Command {
  return program
    .command('verify')
    .description(
      'compare dpsim with the real Linux kernel: load its rules into netfilter in throw-away network namespaces and send the same connections through both (needs root)',
    )
    .option('--kernel', 'differential test against real netfilter (iptables-nft / nftables)')
    .option('-f, --filename <file>', 'manifest file (repeatable; default: the origin scenario)', collect)
    .option('--mode <mode>', 'proxy mode: iptables or nftables', 'iptables')
    .option(
      '--dual-stack',
      "dual-stack cluster: kubespray's IPv6 Service and pod ranges, IPv6 node addresses (IPv4 stays primary)",
    )
    .option(
      '--family <family>',
      'ipv4, ipv6 (the IPv6 proxier: ip6tables / ip6 kube-proxy rules, IPv6 connections) or both; default both with --dual-stack, else ipv4',
    )
    .option(
      '-n, --connections <N>',
      'connections per probe (default: the fewest that detect --detect with --power in the distribution check)',
    )
    .option(
      '--detect <fraction>',
      "share deviation the sampled check must detect (one backend's share off by it)",
      '0.1',
    )
    .option('--power <fraction>', 'probability of detecting that deviation', '0.99')
    .option('--seed <seed>', "seed of dpsim's cluster and simulation", '1')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (flags: VerifyFlags) => {
      await runVerify(flags, deps);
    });
}
