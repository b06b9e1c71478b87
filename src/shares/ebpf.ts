/**
 * Exact shares of a Cilium-style frontend. Random selection picks slot
 * (get_prandom_u32() % count) + 1 of the service map, so slot s gets the 32-bit values
 * congruent to s−1: ⌊(2^32 − s)/count⌋ + 1 of 2^32. Maglev looks the connection's hash up
 * in an M-slot table, so a backend's share is the fraction of the table's slots holding it
 * — exact for uniformly spread hashes (the hash decides each connection).
 */
import type { EbpfLoadBalancer, InstalledFrontend } from '../proxy/ebpf/compile.js';
import { formatIPv4 } from '../util/ipv4.js';
import { add, type Fraction, frac, ONE, ZERO } from './fraction.js';
import type { RuleShares } from './types.js';

const TWO_POW_32 = 2n ** 32n;

export function randomSlotShare(slot: number, count: number): Fraction {
  return frac((TWO_POW_32 - BigInt(slot)) / BigInt(count) + 1n, TWO_POW_32);
}

export function ebpfFrontendShares(lb: EbpfLoadBalancer, f: InstalledFrontend): RuleShares {
  const byId = new Map<number, string>();
  f.extBackendIds.forEach((id, i) => {
    const b = f.plan.extBackends[i];
    byId.set(id, `${formatIPv4(b.addr)}:${b.port}`);
  });
  const shares = new Map<string, Fraction>();
  for (const ep of byId.values()) shares.set(ep, ZERO);
  const count = f.extBackendIds.length;
  if (count === 0)
    return { shares, unmatched: ONE, mechanism: 'no backend slots', resolution: ZERO, dependsOn: null };
  const inner = f.maglevInner >= 0 ? lb.maps.maglevInner[f.maglevInner] : undefined;
  if (lb.algorithm === 'maglev' && inner !== undefined) {
    const m = lb.maglevTableSize;
    const slots = new Map<number, number>();
    for (let s = 0; s < m; s++) slots.set(inner.values[s], (slots.get(inner.values[s]) ?? 0) + 1);
    let unmatched = 0;
    for (const [id, n] of slots) {
      const ep = byId.get(id);
      if (ep === undefined) unmatched += n;
      else shares.set(ep, frac(n, m));
    }
    return {
      shares,
      unmatched: frac(unmatched, m),
      mechanism: `Maglev lookup table of ${m} slots (slots per backend / ${m})`,
      resolution: frac(1, m),
      dependsOn:
        'a hash of the connection’s 5-tuple: the table’s slot fractions are the shares for uniformly spread hashes',
    };
  }
  f.extBackendIds.forEach((id, i) => {
    const ep = byId.get(id)!;
    shares.set(ep, add(shares.get(ep) ?? ZERO, randomSlotShare(i + 1, count)));
  });
  return {
    shares,
    unmatched: ZERO,
    mechanism: `random backend slot of ${count} (prandom_u32 % ${count})`,
    resolution: frac(1, TWO_POW_32),
    dependsOn: null,
  };
}
