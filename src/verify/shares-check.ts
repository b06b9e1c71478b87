/**
 * The exact half of the balance check: per probe, the share each backend gets according to
 * the rules on the probe's entry node — read from the rules text the kernel was given and
 * from dpsim's own tables — compared exactly with kube-proxy's intent (equal shares over
 * the endpoints its traffic policy selects). A compiler that writes wrong probabilities is
 * caught here whatever the sample says; sampling then checks that each side's evaluator
 * really draws those shares.
 */
import { externalPolicyLocal, internalPolicyLocal } from '../proxy/common/categorize.js';
import type { ProxyModel } from '../proxy/common/model.js';
import { serviceChainNames } from '../proxy/iptables/chain-names.js';
import { compileIptables } from '../proxy/iptables/compile.js';
import { parseIptables } from '../proxy/iptables/parse.js';
import { compileNftables } from '../proxy/nftables/compile.js';
import { servicePortChainNames } from '../proxy/nftables/names.js';
import { NftParseError, parseNftRuleset } from '../proxy/nftables/parse.js';
import { renderTable } from '../proxy/nftables/render.js';
import { equals, percent, ZERO } from '../shares/fraction.js';
import { nodeShares, type ShareSource } from '../shares/node-shares.js';
import type { ServiceShares } from '../shares/types.js';
import type { VerifyFamily } from './family.js';
import type { Probe, ProbePlan } from './plan.js';
import type { KernelMode } from './prerequisites.js';
import { type RuleTransform, renderNodeRules } from './rules.js';

/** The share rows of every entry node, keyed by probe id (null: no row for the probe's chain). */
export type ProbeShares = ReadonlyMap<string, ServiceShares | null>;

/** The chain a probe's first packet is balanced by on its entry node. */
function probeChain(model: ProxyModel, p: Probe, mode: KernelMode): string | null {
  const sp = model.servicePorts.find(
    (s) => s.servicePortName === p.servicePortName && s.protocol === p.protocol,
  );
  if (sp === undefined) return null;
  const local = p.kind === 'clusterip' ? internalPolicyLocal(sp) : externalPolicyLocal(sp);
  if (mode === 'iptables') {
    const c = serviceChainNames(sp.servicePortName, sp.protocol);
    return local ? c.svl : c.svc;
  }
  const c = servicePortChainNames(sp);
  return local ? c.local : c.cluster;
}

/** Picks, for every probe, the row of its entry node's balancing chain. */
export function sharesByProbe(
  plan: ProbePlan,
  model: ProxyModel,
  mode: KernelMode,
  rowsOf: (node: string) => readonly ServiceShares[],
): ProbeShares {
  const byNode = new Map<string, readonly ServiceShares[]>();
  const out = new Map<string, ServiceShares | null>();
  for (const p of plan.probes) {
    if (p.expected.backends.length === 0) continue;
    let rows = byNode.get(p.entryNode);
    if (rows === undefined) {
      rows = rowsOf(p.entryNode);
      byNode.set(p.entryNode, rows);
    }
    const chain = probeChain(model, p, mode);
    out.set(p.id, rows.find((r) => chain !== null && r.path.startsWith(`${chain} `)) ?? null);
  }
  return out;
}

/**
 * The kernel's rows: from exactly the text `iptables-restore` or `nft -f` was given (after
 * any transform), parsed back; an nftables text dpsim cannot parse falls back to the
 * compiled table it was rendered from.
 */
export function kernelShareRows(
  model: ProxyModel,
  mode: KernelMode,
  transform: RuleTransform | undefined,
  family: VerifyFamily = 'ipv4',
): (node: string) => ServiceShares[] {
  const ipv6 = family === 'ipv6';
  return (node) => {
    let source: ShareSource;
    if (mode === 'iptables') {
      const text = renderNodeRules(model, node, mode, family);
      source = { mode, ruleset: parseIptables(transform ? transform(node, text) : text, { ipv6 }).ruleset };
    } else {
      const compiled = compileNftables(model, node, ipv6 ? { family: 'ip6' } : {});
      let table = compiled;
      if (transform !== undefined) {
        try {
          table = parseNftRuleset(transform(node, renderTable(compiled)), compiled.node).table;
        } catch (e) {
          // A transformed table dpsim cannot read (a vmap with a missing index) keeps the
          // compiled shares here; the sampled checks still see what the kernel did.
          if (!(e instanceof NftParseError)) throw e;
        }
      }
      source = { mode, table };
    }
    return nodeShares(model, node, source);
  };
}

/**
 * The rows of the rules dpsim compiles for a node (the IPv6 proxier's, whose tables the
 * Simulation runs but does not expose: for IPv4 its own `shares()` is used).
 */
export function compiledShareRows(
  model: ProxyModel,
  mode: KernelMode,
  family: VerifyFamily,
): (node: string) => ServiceShares[] {
  const ipv6 = family === 'ipv6';
  return (node) =>
    nodeShares(
      model,
      node,
      mode === 'iptables'
        ? { mode, ruleset: compileIptables(model, node, ipv6 ? { ipv6 } : {}).ruleset }
        : { mode, table: compileNftables(model, node, ipv6 ? { family: 'ip6' } : {}) },
    );
}

function sharesText(row: ServiceShares | null, p: Probe): string {
  if (row === null) return 'no balancing chain';
  const parts = p.expected.backends.map((pod) => {
    const ep = [...row.rules.shares.keys()].find((e) => row.pods.get(e) === pod);
    return percent(ep === undefined ? ZERO : row.rules.shares.get(ep)!, 4);
  });
  if (row.rules.unmatched.num > 0n) parts.push(`none ${percent(row.rules.unmatched, 4)}`);
  return parts.join('/');
}

function sameShares(a: ServiceShares, b: ServiceShares): boolean {
  if (a.rules.shares.size !== b.rules.shares.size || !equals(a.rules.unmatched, b.rules.unmatched))
    return false;
  for (const [ep, s] of a.rules.shares) {
    const o = b.rules.shares.get(ep);
    if (o === undefined || !equals(o, s)) return false;
  }
  return true;
}

export interface SharesCheckResult {
  readonly agree: boolean;
  readonly kernel: string;
  readonly dpsim: string;
  readonly expected: string;
  readonly offSpec: readonly ('kernel' | 'dpsim')[];
  readonly detail?: string;
}

/** The exact shares of one probe on both sides against kube-proxy's equal shares. */
export function sharesCheck(
  p: Probe,
  kernel: ServiceShares | null | undefined,
  dpsim: ServiceShares | null | undefined,
): SharesCheckResult | null {
  if (kernel === undefined || dpsim === undefined || p.expected.backends.length === 0) return null;
  const offSpec = (['kernel', 'dpsim'] as const).filter((s) => {
    const row = s === 'kernel' ? kernel : dpsim;
    return row === null || !row.agree;
  });
  const problems = offSpec.map((s) => {
    const row = s === 'kernel' ? kernel : dpsim;
    return `${s}: ${row === null ? 'no balancing chain for this traffic' : row.problem}`;
  });
  return {
    agree: kernel !== null && dpsim !== null ? sameShares(kernel, dpsim) : kernel === dpsim,
    kernel: sharesText(kernel, p),
    dpsim: sharesText(dpsim, p),
    expected: `1/${p.expected.backends.length} each (exact, from the rules)`,
    offSpec,
    ...(problems.length > 0 ? { detail: problems.join('; ') } : {}),
  };
}
