/**
 * Partial syncs against the real kernel (iptables 1.8.9, nf_tables), each in a throw-away
 * network namespace: kube-proxy's bootstrap and first full restore, then the partial
 * `iptables-restore --noflush` inputs dpsim writes for a sequence of changes; the node's
 * `iptables-save` must equal that of a second namespace given one full sync of the final
 * Services — and dpsim's own prediction of the tables. KEP-3453 skipped this check at scale;
 * the last case does it at 10,000 Services (~31,000 chains, ~116,000 saved lines). That case
 * uses iptables-legacy (the x_tables backend kube-proxy also runs on): iptables-nft 1.8.9
 * needs minutes of CPU to restore a 10k-Service ruleset, iptables-legacy a couple of seconds;
 * the case takes well under a minute on 2 idle cores, most of it dpsim compiling the
 * 10k-Service restore three times (first sync, partial sync, the full sync to compare with).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileIptables, IptablesSyncer, renderIptablesSave } from '../../../src/proxy/iptables/index.js';
import {
  bootstrapScript,
  missingIptablesPrerequisite,
  type NetnsExec,
  saveBody,
  withNamespace,
} from '../../helpers/iptables-netns.js';
import { type Change, changeArb, NODE, type ServiceState, ServiceWorld } from './sync-world.js';

const missing = missingIptablesPrerequisite();
if (missing !== null && !process.env.CI) console.warn(`SKIPPED real-kernel partial-sync tests: ${missing}`);
const missingLegacy = missingIptablesPrerequisite([
  'iptables-legacy',
  'iptables-legacy-restore',
  'iptables-legacy-save',
]);
if (missingLegacy !== null && !process.env.CI)
  console.warn(`SKIPPED real-kernel 10k partial-sync test: ${missingLegacy}`);

/** The iptables front-ends a case drives the kernel with. */
interface Tools {
  readonly iptables: string;
  readonly restore: string;
  readonly save: string;
  readonly missing: string | null;
}
const NFT: Tools = { iptables: 'iptables', restore: 'iptables-restore', save: 'iptables-save', missing };
const LEGACY: Tools = {
  iptables: 'iptables-legacy',
  restore: 'iptables-legacy-restore',
  save: 'iptables-legacy-save',
  missing: missingLegacy,
};

const S = 1e9;

/**
 * A saved body's table sections in table-name order: iptables-legacy-save lists the tables
 * in the order the kernel registered them, iptables-nft-save in its own fixed order.
 */
function byTable(body: string): string[] {
  return body
    .split(/\n(?=\*)/)
    .map((section) => section.trim())
    .sort();
}

/** The kernel's tables after kube-proxy's first sync of `world`, then one partial restore per batch. */
function runPartialSyncs(
  tools: Tools,
  exec: NetnsExec,
  world: ServiceWorld,
  batches: readonly (readonly Change[])[],
): { syncer: IptablesSyncer; restoreBytes: number } {
  const syncer = new IptablesSyncer(NODE);
  const first = syncer.sync(world.model(), undefined, 0);
  exec(['sh', '-e'], bootstrapScript(first.ensureCommands, tools.iptables));
  exec([tools.restore, '--noflush', '--counters'], first.restoreInput);
  let restoreBytes = 0;
  batches.forEach((batch, i) => {
    const changed = new Set<string>();
    for (const c of batch) {
      const key = world.apply(c);
      if (key !== null) changed.add(key);
    }
    // 31 s apart: past syncPeriod, so large-cluster mode cleans up stale chains every time.
    const rec = syncer.sync(world.model(), changed, (i + 1) * 31 * S);
    expect(rec).toMatchObject({ ok: true, kind: 'partial' });
    exec([tools.restore, '--noflush', '--counters'], rec.restoreInput);
    restoreBytes += rec.restoreInput.length;
  });
  return { syncer, restoreBytes };
}

/** iptables-save of a clean node after one full sync of `world`, and that sync's restore size. */
function fullSyncSave(tools: Tools, world: ServiceWorld): { save: string; restoreBytes: number } {
  const full = compileIptables(world.model(), NODE);
  return withNamespace(tools.missing, (exec) => {
    exec(['sh', '-e'], bootstrapScript(full.bootstrapCommands, tools.iptables));
    exec([tools.restore, '--noflush', '--counters'], full.restoreInput);
    return { save: saveBody(exec([tools.save])), restoreBytes: full.restoreInput.length };
  });
}

describe.skipIf(missing !== null && !process.env.CI)(
  `real kernel: kube-proxy partial syncs with iptables-restore --noflush${missing ? ` (${missing})` : ''}`,
  () => {
    it('partial restores of random change sequences leave the tables a full sync leaves, as dpsim predicts', () => {
      const samples = fc.sample(
        fc.tuple(
          fc.array(changeArb(12, 5), { minLength: 3, maxLength: 10 }),
          fc.array(fc.array(changeArb(12, 5), { minLength: 1, maxLength: 4 }), {
            minLength: 2,
            maxLength: 5,
          }),
        ),
        { numRuns: 4, seed: 3453 },
      );
      for (const [initial, batches] of samples) {
        const world = new ServiceWorld();
        for (const c of initial) world.apply(c);
        withNamespace(missing, (exec) => {
          const { syncer } = runPartialSyncs(NFT, exec, world, batches);
          const afterPartials = saveBody(exec(['iptables-save']));
          expect(afterPartials).toBe(saveBody(renderIptablesSave(syncer.ruleset!)));
          // The same Services synced once, fully, on a clean node.
          expect(afterPartials).toBe(fullSyncSave(NFT, world).save);
        });
      }
    });

    it.skipIf(missingLegacy !== null && !process.env.CI)(
      `10,000 Services (KEP-3453 scale, iptables-legacy${missingLegacy ? `: ${missingLegacy}` : ''}): a partial restore after 200 changes leaves exactly the tables of a full restore`,
      () => {
        const initial: ServiceState[] = Array.from({ length: 10_000 }, (_, index) => ({
          index,
          nodePort: index % 10 === 0,
          localPolicy: index % 20 === 0,
          affinity: false,
          twoPorts: false,
          endpoints: [2 + (index % 7) * 2, 3 + (index % 5) * 2],
        }));
        const world = new ServiceWorld(initial);
        const batch: Change[] = [];
        for (let k = 0; k < 50; k++) batch.push({ op: 'remove', index: 97 * k + 13 });
        for (let k = 0; k < 50; k++) batch.push({ op: 'add', service: { ...initial[0], index: 10_000 + k } });
        for (let k = 0; k < 80; k++)
          batch.push({ op: 'endpoints', index: 113 * k + 7, endpoints: [4, 6, 8] });
        for (let k = 0; k < 20; k++)
          batch.push({ op: 'spec', index: 331 * k + 5, nodePort: true, localPolicy: k % 2 === 0 });
        const { syncer, afterPartial, restoreBytes } = withNamespace(LEGACY.missing, (exec) => {
          const run = runPartialSyncs(LEGACY, exec, world, [batch]);
          return { ...run, afterPartial: saveBody(exec([LEGACY.save])) };
        });
        expect(afterPartial.split('\n').length).toBeGreaterThan(100_000);
        expect(byTable(afterPartial)).toEqual(byTable(saveBody(renderIptablesSave(syncer.ruleset!))));
        const full = fullSyncSave(LEGACY, world);
        expect(byTable(afterPartial)).toEqual(byTable(full.save));
        // The point of partial syncs: this restore is a fraction of a full one.
        expect(restoreBytes).toBeLessThan(full.restoreBytes / 4);
      },
      240_000,
    );
  },
);
