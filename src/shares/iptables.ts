/**
 * Exact shares of an iptables service chain (kube-proxy's KUBE-SVC-/KUBE-SVL-): its rules
 * are tried in order, and a rule with `-m statistic --mode random --probability p` matches
 * when `(prandom_u32() & 0x7fffffff) < probability`, where libxt_statistic stored
 * probability = lround(p × 2^31). So a rule matches with exactly probability/2^31 of the
 * connections that reach it, and an endpoint's share is that times the share left over by
 * the rules above it. The Ruleset already holds the stored u32, so nothing is re-rounded.
 */

import type { Chain, Ruleset } from '../proxy/iptables/types.js';
import { findChain, findTable } from '../proxy/iptables/types.js';
import { formatIPv4 } from '../util/ipv4.js';
import { add, type Fraction, frac, mul, ONE, sub, ZERO } from './fraction.js';
import type { RuleShares } from './types.js';

const TWO_POW_31 = 2n ** 31n;

/** The `ip:port` a chain DNATs to (a KUBE-SEP- chain), or null when it DNATs nowhere. */
function dnatTarget(chain: Chain | undefined): string | null {
  for (const r of chain?.rules ?? []) {
    if (r.target?.kind === 'DNAT' && r.target.range.hasAddr) {
      const { portMin: port, addr6 } = r.target.range;
      // An ip6tables DNAT keeps its address as text; endpoints are keyed `addr:port` either way.
      return `${addr6 ?? formatIPv4(r.target.range.addrMin)}${port !== 0 ? `:${port}` : ''}`;
    }
  }
  return null;
}

/** Shares of new connections from a client with no affinity entry yet, entering `chainName`. */
export function iptablesChainShares(ruleset: Ruleset, chainName: string): RuleShares | null {
  const nat = findTable(ruleset, 'nat');
  const chain = nat === undefined ? undefined : findChain(nat, chainName);
  if (nat === undefined || chain === undefined) return null;
  const shares = new Map<string, Fraction>();
  let remaining: Fraction = ONE;
  let dependsOn: string | null = null;
  for (const rule of chain.rules) {
    if (remaining.num === 0n) break;
    const t = rule.target;
    if (t === null) continue;
    if (t.kind === 'jump') {
      const endpoint = dnatTarget(findChain(nat, t.chain));
      if (endpoint === null) continue; // KUBE-MARK-MASQ and the like return here
      // `-m recent --rcheck`: ClientIP affinity, which a first connection never matches.
      if (rule.matches.some((m) => m.kind === 'recent' && !m.invert)) continue;
      let p: Fraction = ONE;
      for (const m of rule.matches) {
        if (m.kind === 'statistic' && m.mode === 'random') {
          const q = frac(BigInt(Math.min(m.probability, 2 ** 31)), TWO_POW_31);
          p = mul(p, m.invert ? sub(ONE, q) : q);
        } else if (m.kind === 'statistic' && m.mode === 'nth') {
          dependsOn = 'a packet counter (statistic --mode nth): the shares hold over every nth connection';
          p = mul(p, frac(1, m.every));
        } else if (m.kind !== 'comment') {
          dependsOn = `the packet (a ${m.kind} match on an endpoint jump)`;
        }
      }
      if (rule.src !== null || rule.dst !== null || rule.proto !== null || rule.inIface !== null)
        dependsOn = 'the packet (an address, protocol or interface condition on an endpoint jump)';
      const branch = mul(remaining, p);
      shares.set(endpoint, add(shares.get(endpoint) ?? ZERO, branch));
      remaining = sub(remaining, branch);
      continue;
    }
    // A terminal verdict (DROP, REJECT, ACCEPT, RETURN…) without conditions ends the walk.
    const conditional =
      rule.matches.some((m) => m.kind !== 'comment') || rule.src !== null || rule.dst !== null;
    if (!conditional && t.kind !== 'MARK') break;
  }
  let endpoints = 0;
  for (const s of shares.values()) if (s.num > 0n) endpoints++;
  return {
    shares,
    unmatched: remaining,
    mechanism: 'statistic --mode random cascade (probability stored as a u32 fraction of 2^31)',
    // Each of kube-proxy's probabilities is 1/(n−i) printed with 10 decimals, then rounded to 2^-31.
    resolution: frac(Math.max(endpoints, 1), TWO_POW_31),
    dependsOn,
  };
}
