/**
 * Which user chains of a ruleset no packet can reach: not jumped to from a built-in chain,
 * directly or through other chains. A dump of kube-proxy's restore input (or of a node whose
 * built-in jumps were flushed) has KUBE-SERVICES & co. but no `-A PREROUTING … -j
 * KUBE-SERVICES`: every packet would pass unmatched, which a user should be told.
 */
import { BUILTIN_CHAINS, type Ruleset, type TableName } from './types.js';

export interface UnreachableChain {
  readonly table: TableName;
  readonly chain: string;
  /** Rules in the chain (an empty chain is harmless and not reported). */
  readonly rules: number;
}

/**
 * The roots of the unreachable part: chains with rules that nothing reachable jumps to and
 * that no other unreachable chain jumps to either (their sub-chains are implied).
 */
export function unreachableRootChains(ruleset: Ruleset): UnreachableChain[] {
  const out: UnreachableChain[] = [];
  for (const table of ruleset.tables) {
    const byName = new Map(table.chains.map((c) => [c.name, c]));
    const targets = (name: string): string[] =>
      (byName.get(name)?.rules ?? []).flatMap((r) => (r.target?.kind === 'jump' ? [r.target.chain] : []));
    const reached = new Set<string>();
    const stack = [...BUILTIN_CHAINS[table.name]];
    while (stack.length > 0) {
      const c = stack.pop()!;
      if (reached.has(c)) continue;
      reached.add(c);
      stack.push(...targets(c));
    }
    const jumpedTo = new Set<string>();
    for (const c of table.chains) if (!reached.has(c.name)) for (const t of targets(c.name)) jumpedTo.add(t);
    for (const c of table.chains) {
      if (reached.has(c.name) || jumpedTo.has(c.name) || c.rules.length === 0) continue;
      out.push({ table: table.name, chain: c.name, rules: c.rules.length });
    }
  }
  return out;
}
