/**
 * What the kernel side needs: root (to create network namespaces and load netfilter rules)
 * and the tools it runs. Each missing piece is named, so the CLI and the tests can say
 * exactly what to install.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { VerifyFamily } from './family.js';

export type KernelMode = 'iptables' | 'nftables';

/** The tools each mode runs (besides Node itself, which runs the responders and the prober). */
export function requiredTools(mode: KernelMode, family: VerifyFamily = 'ipv4'): string[] {
  const common = ['ip', 'conntrack'];
  if (mode === 'nftables') return [...common, 'nft'];
  return family === 'ipv6'
    ? [...common, 'ip6tables-restore', 'ip6tables-save']
    : [...common, 'iptables-restore', 'iptables-save'];
}

const PACKAGE_OF: Record<string, string> = {
  ip: 'iproute2',
  conntrack: 'conntrack',
  'iptables-restore': 'iptables',
  'iptables-save': 'iptables',
  'ip6tables-restore': 'iptables',
  'ip6tables-save': 'iptables',
  nft: 'nftables',
};

/** The absolute path of `tool` on PATH (plus the sbin directories root normally has), or null. */
export function findTool(tool: string): string | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const extra of ['/usr/sbin', '/sbin', '/usr/local/sbin']) if (!dirs.includes(extra)) dirs.push(extra);
  for (const dir of dirs) {
    const p = join(dir, tool);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** Human-readable reasons the kernel side cannot run for these modes; empty when it can. */
export function missingKernelPrerequisites(
  modes: readonly KernelMode[],
  family: VerifyFamily = 'ipv4',
): string[] {
  const missing: string[] = [];
  if (process.platform !== 'linux')
    missing.push(`network namespaces need Linux (this is ${process.platform})`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    missing.push('must run as root to create network namespaces and load netfilter rules');
  }
  const tools = new Set(modes.flatMap((m) => requiredTools(m, family)));
  for (const tool of tools) {
    if (findTool(tool) === null)
      missing.push(`'${tool}' not found on PATH (install the ${PACKAGE_OF[tool]} package)`);
  }
  if (process.platform === 'linux' && !existsSync('/proc/self/ns/net')) {
    missing.push('this kernel has no network namespace support (/proc/self/ns/net is missing)');
  }
  if (family === 'ipv6' && process.platform === 'linux' && !existsSync('/proc/sys/net/ipv6')) {
    missing.push('this kernel has no IPv6 (/proc/sys/net/ipv6 is missing: ipv6.disable=1?)');
  }
  return missing;
}
