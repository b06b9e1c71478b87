/**
 * kube-proxy's incremental nftables transactions against the real kernel (nft 1.0.6), each
 * case in a throw-away network namespace: the first full transaction, then for each batch of
 * changes the stale-chain clean-up transaction (when one runs) and the sync's own, all with
 * `nft -f`; the kernel must accept every one, and afterwards `nft list table ip kube-proxy`
 * must list exactly what loading one full render of the final Services lists in a fresh
 * namespace — and what dpsim's applier predicted. The kernel lists objects in creation order,
 * which incremental syncs change, so both listings are compared with sets and chains in name
 * order (each object's own text, elements and rule order, as listed). The last case does it
 * at 5,000 Services (~15,000 chains): the kernel (Linux 6.18) takes super-linear time to load
 * many chains in one transaction — ~9 s for a full load of 5,000 Services here, ~60 s for
 * 10,000 — and the case loads the full table twice (the first sync, and the fresh load to
 * compare with). At 10,000 Services it passed too, in 135 s.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileNftables,
  NftablesSyncer,
  type NftablesSyncRecord,
  renderTable,
} from '../../../src/proxy/nftables/index.js';
import { parseNftRuleset } from '../../../src/proxy/nftables/parse.js';
import { type NetnsExec, withNamespace } from '../../helpers/iptables-netns.js';
import {
  type Change,
  changeArb,
  NODE,
  readinessChangeArb,
  type ServiceState,
  ServiceWorld,
} from '../iptables/sync-world.js';
import { canonicalListing } from './sync-canonical.js';

function missingPrerequisite(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root';
  for (const tool of ['ip', 'nft'])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  return null;
}

const missing = missingPrerequisite();
if (missing !== null && !process.env.CI) console.warn(`SKIPPED real-kernel nftables sync tests: ${missing}`);

const S = 1e9;
const NODE_FACTS = { name: NODE, ip: '192.168.0.2' };

/** What the kernel lists, read back and listed in name order. */
const kernelListing = (exec: NetnsExec) =>
  canonicalListing(parseNftRuleset(exec(['nft', 'list', 'table', 'ip', 'kube-proxy']), NODE_FACTS).table);

/** Runs a sync's transactions in the namespace, as kube-proxy would: clean-up first, then the sync's own. */
function load(exec: NetnsExec, record: NftablesSyncRecord): void {
  expect(record.ok).toBe(true);
  expect(record.cleanupError).toBeUndefined();
  if (record.cleanupTransaction !== '') exec(['nft', '-f', '-'], record.cleanupTransaction);
  if (record.transaction !== '') exec(['nft', '-f', '-'], record.transaction);
}

/**
 * The first full sync, one partial sync per batch (1.5 s apart, so each deletes the chains the
 * previous one flushed), then two idle syncs 2 s apart that delete the last stale chains.
 * Returns the syncer and how many bytes the partial transactions took.
 */
function runSyncs(exec: NetnsExec, world: ServiceWorld, batches: readonly (readonly Change[])[]) {
  const syncer = new NftablesSyncer(NODE);
  let now = 0;
  load(exec, syncer.sync(world.model(), undefined, now));
  let partialBytes = 0;
  for (const batch of batches) {
    const changed = new Set<string>();
    for (const c of batch) {
      const key = world.apply(c);
      if (key !== null) changed.add(key);
    }
    now += 1.5 * S;
    const record = syncer.sync(world.model(), changed, now);
    expect(record.kind).toBe('partial');
    partialBytes += record.transaction.length;
    load(exec, record);
  }
  for (let k = 0; k < 2; k++) {
    now += 2 * S;
    load(exec, syncer.sync(world.model(), new Set(), now));
  }
  expect(syncer.pendingStaleChains.size).toBe(0);
  return { syncer, partialBytes };
}

/** The final Services loaded once, fully, in a fresh namespace: its listing and the text's size. */
function fullLoadListing(world: ServiceWorld): { listing: string; bytes: number } {
  const text = renderTable(compileNftables(world.model(), NODE));
  const listing = withNamespace(missing, (exec) => {
    exec(['nft', '-f', '-'], text);
    return kernelListing(exec);
  });
  return { listing, bytes: text.length };
}

describe.skipIf(missing !== null && !process.env.CI)(
  `real kernel: kube-proxy's incremental nftables transactions${missing ? ` (${missing})` : ''}`,
  () => {
    it('the transactions of random change sequences leave the table one full load of the final Services leaves, as dpsim predicts', () => {
      const samples = fc.sample(
        fc.tuple(
          fc.array(changeArb(12, 5), { minLength: 3, maxLength: 10 }),
          fc.array(
            fc.array(fc.oneof(changeArb(12, 5), readinessChangeArb(12)), { minLength: 1, maxLength: 4 }),
            {
              minLength: 2,
              maxLength: 5,
            },
          ),
        ),
        { numRuns: 4, seed: 3866 },
      );
      for (const [initial, batches] of samples) {
        const world = new ServiceWorld();
        for (const c of initial) world.apply(c);
        const { afterSyncs, predicted } = withNamespace(missing, (exec) => {
          const { syncer } = runSyncs(exec, world, batches);
          return { afterSyncs: kernelListing(exec), predicted: canonicalListing(syncer.ruleset!) };
        });
        expect(afterSyncs).toBe(predicted);
        expect(afterSyncs).toBe(fullLoadListing(world).listing);
      }
    });

    it('5,000 Services: after 180 changes in one partial transaction, the kernel holds exactly the table of a full load', () => {
      const initial: ServiceState[] = Array.from({ length: 5_000 }, (_, index) => ({
        index,
        // Node ports stay unique: 30000 + 2·index mod 2700 repeats from index 1350.
        nodePort: index < 1350 && index % 10 === 0,
        localPolicy: index % 20 === 0,
        affinity: index % 50 === 0,
        twoPorts: false,
        endpoints: [2 + (index % 7) * 2, 3 + (index % 5) * 2],
      }));
      const world = new ServiceWorld(initial);
      const batch: Change[] = [];
      for (let k = 0; k < 50; k++) batch.push({ op: 'remove', index: 97 * k + 13 });
      for (let k = 0; k < 50; k++) batch.push({ op: 'add', service: { ...initial[1], index: 5_000 + k } });
      for (let k = 0; k < 40; k++) batch.push({ op: 'endpoints', index: 113 * k + 7, endpoints: [4, 6, 8] });
      for (let k = 0; k < 20; k++) batch.push({ op: 'readiness', index: 131 * k + 3, positions: [0] });
      for (let k = 0; k < 20; k++)
        batch.push({ op: 'spec', index: 61 * k + 5, nodePort: true, localPolicy: k % 2 === 0 });
      const { afterSyncs, predicted, partialBytes } = withNamespace(missing, (exec) => {
        const run = runSyncs(exec, world, [batch]);
        return {
          afterSyncs: kernelListing(exec),
          predicted: canonicalListing(run.syncer.ruleset!),
          partialBytes: run.partialBytes,
        };
      });
      expect(afterSyncs.split('\n').length).toBeGreaterThan(50_000);
      expect(afterSyncs).toBe(predicted);
      const full = fullLoadListing(world);
      expect(afterSyncs).toBe(full.listing);
      // The point of incremental transactions: this one is a small fraction of a full load.
      expect(partialBytes).toBeLessThan(full.bytes / 10);
    }, 240_000);
  },
);
