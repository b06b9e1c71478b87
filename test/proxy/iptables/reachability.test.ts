/**
 * A dump whose kube-proxy chains no built-in chain reaches is reported: kube-proxy's own
 * restore input (no jumps from PREROUTING/OUTPUT/FORWARD…) names its root chains, the full
 * kernel state names none.
 */
import { describe, expect, it } from 'vitest';
import { compileIptables } from '../../../src/proxy/iptables/compile.js';
import { parseIptables } from '../../../src/proxy/iptables/parse.js';
import { unreachableRootChains } from '../../../src/proxy/iptables/reachability.js';
import { renderIptablesSave } from '../../../src/proxy/iptables/render.js';
import { originModel } from './helpers.js';

describe('unreachableRootChains', () => {
  const out = compileIptables(originModel(), 'node-1');

  it('finds nothing unreachable in the kernel state kube-proxy leaves (jumps from the built-in chains included)', () => {
    expect(unreachableRootChains(parseIptables(renderIptablesSave(out.ruleset)).ruleset)).toEqual([]);
  });

  it('names the root chains of a restore input without the built-in jumps, not the chains they lead to', () => {
    const roots = unreachableRootChains(parseIptables(out.restoreInput).ruleset).map(
      (r) => `${r.table} ${r.chain}`,
    );
    expect(roots).toEqual(
      expect.arrayContaining(['nat KUBE-SERVICES', 'nat KUBE-POSTROUTING', 'filter KUBE-FORWARD']),
    );
    // Reached from KUBE-SERVICES, so implied by it.
    expect(
      roots.some((r) => r.includes('KUBE-SVC-') || r.includes('KUBE-SEP-') || r.includes('KUBE-NODEPORTS')),
    ).toBe(false);
  });
});
