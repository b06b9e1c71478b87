/**
 * `--drain` as kubectl drain does it: the node is cordoned (its replacement pods land on other
 * nodes), and the eviction API refuses while a PodDisruptionBudget allows no disruption, so
 * kubectl retries every 5 s until the budget allows the next eviction.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runRollout } from '../../src/rollout/engine.js';

const lb = readFileSync('fixtures/rollout-lb-local.yaml', 'utf8');

describe('drain with a PodDisruptionBudget', () => {
  it('evicts the pods of a node one budget-allowed step at a time, retrying every 5 s', () => {
    // Two pods on node1 and node2 each (4 replicas over 3 nodes, least-loaded placement puts
    // the fourth on node1); minAvailable 3 lets one eviction through at a time.
    const text = lb.replace('replicas: 3', 'replicas: 4').replace('minAvailable: 2', 'minAvailable: 3');
    const r = runRollout({
      manifests: [{ source: 'lb.yaml', text }],
      deployment: 'web',
      transition: { kind: 'drain', node: 'node1' },
      rps: 20,
      durationS: 20,
      atS: 1,
      seed: 1,
    });
    expect(r.messages[0]).toBe('node/node1 cordoned');
    const evicted = r.messages.filter((m) => m.startsWith('evicting pod default/web-'));
    const refused = r.messages.filter((m) =>
      /^error when evicting pods\/"web-[a-z0-9-]+" -n "default" \(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget/.test(
        m,
      ),
    );
    expect(evicted).toHaveLength(2);
    expect(refused.length).toBeGreaterThan(0);
    expect(r.messages.at(-1)).toBe('node/node1 drained');
    // The evicted pods keep serving through their 20 s preStop while the balancer drops node1.
    expect(r.totals.failed).toBe(0);
  });
});
