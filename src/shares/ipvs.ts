/**
 * Exact shares of an IPVS virtual server. rr cycles through the destinations with a
 * non-zero weight, wrr through them in proportion to their weights, so over each cycle the
 * shares are exactly 1/n and w/Σw. The other schedulers decide per connection from state
 * or from the packet; their shares are not a property of the table alone, and the row says
 * what they depend on (the weights' proportion is shown as the nominal share).
 */
import type { IpvsVirtualServerSpec } from '../proxy/ipvs/compile.js';
import { type Fraction, frac, ONE, ZERO } from './fraction.js';
import type { RuleShares } from './types.js';

const DEPENDS: Readonly<Record<string, string>> = {
  lc: 'the destinations’ active and inactive connection counts (least connection)',
  wlc: 'the destinations’ connection counts divided by their weights (weighted least connection)',
  sed: 'the destinations’ active connections plus one, divided by their weights (shortest expected delay)',
  nq: 'whether a destination is idle, then the expected delay (never queue)',
  sh: 'a hash of the client’s source address: each client always reaches one destination',
  dh: 'a hash of the destination address: one destination for every connection to this address',
  mh: 'Maglev hashing of the client’s source address (and port with mh-port)',
};

export function ipvsShares(vs: IpvsVirtualServerSpec): RuleShares {
  const live = vs.realServers.filter((r) => r.weight > 0);
  const total = live.reduce((a, r) => a + r.weight, 0);
  const shares = new Map<string, Fraction>();
  for (const r of vs.realServers)
    shares.set(`${r.ip}:${r.port}`, r.weight > 0 && total > 0 ? frac(r.weight, total) : ZERO);
  const exact = vs.scheduler === 'rr' || vs.scheduler === 'wrr';
  const rrEqual = vs.scheduler === 'rr';
  if (rrEqual) for (const r of live) shares.set(`${r.ip}:${r.port}`, frac(1, live.length));
  return {
    shares,
    unmatched: live.length === 0 ? ONE : ZERO,
    mechanism: `ipvs scheduler ${vs.scheduler}${rrEqual ? ' (every destination with a weight, in turn)' : ' (weights)'}`,
    resolution: ZERO,
    dependsOn: exact ? null : (DEPENDS[vs.scheduler] ?? `the ${vs.scheduler} scheduler's state`),
  };
}
