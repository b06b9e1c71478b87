/**
 * What kube-proxy probes on a node before it writes rules, as facts of the simulated node:
 * given cluster-wide under the Cluster document's `spec.kernel` and per node under
 * `spec.nodes[].kernel` (a node's value wins, field by field).
 *
 *   nfacct               the kernel has nfacct: kube-proxy counts the INVALID drop and the
 *                        localhost NodePort accepts with `-m nfacct --nfacct-name …`
 *   iptablesRandomFully  iptables supports MASQUERADE --random-fully
 *   tcpBeLiberal         sysctl nf_conntrack_tcp_be_liberal=1: no INVALID drop rule
 *   version              the kernel release; kube-proxy's nftables mode needs 5.13 or later
 *   cpus                 CPU count, for conntrack.maxPerCore (nf_conntrack_max)
 */

export interface KernelFacts {
  readonly nfacct: boolean;
  readonly iptablesRandomFully: boolean;
  readonly tcpBeLiberal: boolean;
  readonly version: string;
  readonly cpus: number;
}

/** A current distribution kernel with iptables 1.8.9, as dpsim always assumed. */
export const DEFAULT_KERNEL_FACTS: KernelFacts = {
  nfacct: false,
  iptablesRandomFully: true,
  tcpBeLiberal: false,
  version: '6.1.0',
  cpus: 2,
};

/** The oldest kernel kube-proxy's nftables mode runs on (it checks for 5.13). */
export const NFTABLES_MIN_KERNEL = '5.13';

export class KernelFactsError extends Error {
  override name = 'KernelFactsError';
}

const FIELDS = ['nfacct', 'iptablesRandomFully', 'tcpBeLiberal', 'version', 'cpus'] as const;

/** Reads one `kernel:` mapping over `base`; unknown keys and wrong types are named errors. */
export function parseKernelFacts(
  raw: unknown,
  where: string,
  base: KernelFacts = DEFAULT_KERNEL_FACTS,
): KernelFacts {
  if (raw === undefined || raw === null) return base;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new KernelFactsError(`${where} must be a mapping`);
  const out: { -readonly [K in keyof KernelFacts]: KernelFacts[K] } = { ...base };
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(FIELDS as readonly string[]).includes(key))
      throw new KernelFactsError(`${where}: unknown field "${key}" (known: ${FIELDS.join(', ')})`);
    if (key === 'version') {
      const v = typeof value === 'number' ? String(value) : value;
      if (typeof v !== 'string' || !/^\d+\.\d+/.test(v))
        throw new KernelFactsError(
          `${where}.version must be a kernel release like "6.1.0", got ${JSON.stringify(value)}`,
        );
      out.version = v;
    } else if (key === 'cpus') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
        throw new KernelFactsError(`${where}.cpus must be a positive integer, got ${JSON.stringify(value)}`);
      out.cpus = value;
    } else {
      if (typeof value !== 'boolean')
        throw new KernelFactsError(`${where}.${key} must be true or false, got ${JSON.stringify(value)}`);
      out[key as 'nfacct' | 'iptablesRandomFully' | 'tcpBeLiberal'] = value;
    }
  }
  return out;
}

/** Compares kernel releases numerically by major.minor(.patch). */
export function kernelAtLeast(version: string, minimum: string): boolean {
  const a = version.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const b = minimum.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}
