/**
 * Exact shares of an nftables service chain (kube-proxy's `service-…`/`local-…`):
 * `numgen random mod N vmap { i : goto endpoint-… }` computes
 * reciprocal_scale(get_random_u32(), N) = (r × N) >> 32, so index i is drawn for the
 * r in [⌈i·2^32/N⌉, ⌈(i+1)·2^32/N⌉): exactly that many 2^32nds of the connections, which
 * differ from 1/N by less than 2^-32. An index missing from the map matches nothing.
 */
import type { NftChain, NftTable, NftVerdict } from '../proxy/nftables/table.js';
import { add, type Fraction, frac, ONE, sub, ZERO } from './fraction.js';
import type { RuleShares } from './types.js';

const TWO_POW_32 = 2n ** 32n;

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/** The share of `numgen random mod n` that draws index i. */
export function numgenIndexShare(i: number, n: number): Fraction {
  const N = BigInt(n);
  const I = BigInt(i);
  return frac(ceilDiv((I + 1n) * TWO_POW_32, N) - ceilDiv(I * TWO_POW_32, N), TWO_POW_32);
}

function dnatTarget(chain: NftChain | undefined): string | null {
  for (const r of chain?.rules ?? [])
    for (const s of r.statements) if (s.kind === 'dnat') return `${s.addr}:${s.port}`;
  return null;
}

export function nftChainShares(table: NftTable, chainName: string): RuleShares | null {
  const byName = new Map(table.chains.map((c) => [c.name, c]));
  const chain = byName.get(chainName);
  if (chain === undefined) return null;
  const shares = new Map<string, Fraction>();
  let remaining: Fraction = ONE;
  let mechanism = 'no numgen map';
  const endpointOf = (v: NftVerdict) =>
    v.kind === 'jump' || v.kind === 'goto' ? dnatTarget(byName.get(v.chain)) : null;
  for (const rule of chain.rules) {
    if (remaining.num === 0n) break;
    // `ip saddr @affinity-… goto endpoint-…`: ClientIP affinity, empty for a first connection.
    if (rule.matches.some((m) => m.kind === 'addrInSet')) continue;
    for (const s of rule.statements) {
      if (s.kind === 'numgenVmap') {
        const n = s.targets.length;
        mechanism = `numgen random mod ${n} vmap (reciprocal_scale of a 32-bit random)`;
        let matched: Fraction = ZERO;
        s.targets.forEach((v, i) => {
          const ep = endpointOf(v);
          if (ep === null) return;
          const share = numgenIndexShare(i, n);
          shares.set(ep, add(shares.get(ep) ?? ZERO, share));
          matched = add(matched, share);
        });
        remaining = sub(remaining, matched);
        // A vmap verdict ends the rule's evaluation whichever index was drawn (a jump returns
        // only to fall off a kube-proxy chain that has nothing after it).
        return { shares, unmatched: remaining, mechanism, resolution: frac(1, TWO_POW_32), dependsOn: null };
      }
      if (s.kind === 'verdict' && rule.matches.length === 0) {
        const ep = endpointOf(s.verdict);
        if (ep !== null) {
          shares.set(ep, add(shares.get(ep) ?? ZERO, remaining));
          remaining = ZERO;
          mechanism = 'a single endpoint verdict';
        } else if (s.verdict.kind !== 'jump') {
          return { shares, unmatched: remaining, mechanism, resolution: ZERO, dependsOn: null };
        }
      }
    }
  }
  return { shares, unmatched: remaining, mechanism, resolution: frac(1, TWO_POW_32), dependsOn: null };
}
