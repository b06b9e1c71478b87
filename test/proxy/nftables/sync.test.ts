import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyNftTransaction,
  compileNftables,
  NftablesSyncer,
  type NftTable,
  NftTransactionError,
  renderTable,
} from '../../../src/proxy/nftables/index.js';
import {
  type Change,
  changeArb,
  NODE,
  readinessChangeArb,
  type ServiceState,
  ServiceWorld,
  serviceArb,
  serviceKey,
} from '../iptables/sync-world.js';
import { canonicalListing } from './sync-canonical.js';

const S = 1e9;
const NODE_FACTS = { name: NODE, ip: '192.168.0.2' };
const svc = (index: number, endpoints: number[], extra: Partial<ServiceState> = {}): ServiceState => ({
  index,
  nodePort: false,
  localPolicy: false,
  affinity: false,
  twoPorts: false,
  endpoints,
  ...extra,
});
const T = 'ip kube-proxy';
const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe('applyNftTransaction: nft -f on an NftTable, with the kernel’s refusals', () => {
  const base = applyNftTransaction(
    null,
    [
      `add table ${T} { comment "rules for kube-proxy" ; }`,
      `add chain ${T} a`,
      `add chain ${T} b`,
      `add chain ${T} c`,
      `add rule ${T} a jump b`,
      `add rule ${T} b accept`,
      `add map ${T} m { type ipv4_addr . inet_proto . inet_service : verdict ; }`,
      `add element ${T} m { 1.2.3.4 . tcp . 80 : goto c }`,
      '',
    ].join('\n'),
    NODE_FACTS,
  );

  it('deletes an unreferenced chain with its rules, refuses one a rule or a map element jumps to (EBUSY)', () => {
    const after = applyNftTransaction(base, `delete chain ${T} a\n`, NODE_FACTS);
    expect(after.chains.map((c) => c.name)).toEqual(['b', 'c']);
    expect(() => applyNftTransaction(base, `delete chain ${T} b\n`, NODE_FACTS)).toThrow(
      /delete chain ip kube-proxy b: Device or resource busy/,
    );
    expect(() => applyNftTransaction(base, `delete chain ${T} c\n`, NODE_FACTS)).toThrow(
      /Device or resource busy/,
    );
    // Once a's rule and the element are gone, both can go in the same transaction.
    const both = applyNftTransaction(
      base,
      [
        `flush chain ${T} a`,
        `delete element ${T} m { 1.2.3.4 . tcp . 80 }`,
        `delete chain ${T} b`,
        `delete chain ${T} c`,
      ].join('\n'),
      NODE_FACTS,
    );
    expect(both.chains.map((c) => c.name)).toEqual(['a']);
  });

  it('adds an element again only with the same verdict (EEXIST otherwise); deleting a missing one is ENOENT', () => {
    expect(
      applyNftTransaction(base, `add element ${T} m { 1.2.3.4 . tcp . 80 : goto c }\n`, NODE_FACTS),
    ).toEqual(base);
    expect(() =>
      applyNftTransaction(base, `add element ${T} m { 1.2.3.4 . tcp . 80 : drop }\n`, NODE_FACTS),
    ).toThrow(/File exists/);
    expect(() =>
      applyNftTransaction(base, `delete element ${T} m { 1.2.3.5 . tcp . 80 }\n`, NODE_FACTS),
    ).toThrow(/No such file or directory/);
    expect(() =>
      applyNftTransaction(base, `add element ${T} m { 1.2.3.6 . tcp . 80 : goto nowhere }\n`, NODE_FACTS),
    ).toThrow(/no chain nowhere/);
  });

  it('is atomic: a failing command leaves the table as it was', () => {
    const before = renderTable(base);
    expect(() =>
      applyNftTransaction(
        base,
        [`flush chain ${T} a`, `add rule ${T} a jump missing`].join('\n'),
        NODE_FACTS,
      ),
    ).toThrow(NftTransactionError);
    expect(renderTable(base)).toBe(before);
  });
});

describe('NftablesSyncer: full and partial nftables syncs', () => {
  it('writes everything first, then only the changed Service’s chains; a sync with no change writes nothing', () => {
    const world = new ServiceWorld([svc(1, [2]), svc(2, [4])]);
    const syncer = new NftablesSyncer(NODE);
    const first = syncer.sync(world.model(), undefined, 0);
    expect(first).toMatchObject({ kind: 'full', fullReason: 'first', ok: true });
    expect(first.servicesWritten).toEqual([serviceKey(1), serviceKey(2)]);
    expect(first.transaction).toMatch(/^add table ip kube-proxy \{ comment "rules for kube-proxy" ; \}\n/);
    expect(first.transaction).toContain(`flush map ${T} service-ips\n`);

    world.apply({ op: 'endpoints', index: 2, endpoints: [4, 6] });
    const partial = syncer.sync(world.model(), new Set([serviceKey(2)]), 2 * S);
    expect(partial).toMatchObject({ kind: 'partial', fullReason: null, ok: true });
    expect(partial.servicesWritten).toEqual([serviceKey(2)]);
    const written = lines(partial.transaction);
    expect(written.some((l) => l.includes('ns1/svc1'))).toBe(false);
    expect(written.filter((l) => l.startsWith('add chain')).every((l) => l.includes('ns2/svc2'))).toBe(true);
    // No setup and no element: svc2's ClusterIP element still points at the same chain.
    expect(partial.transaction).not.toContain('add table');
    expect(partial.transaction).not.toContain('element');
    expect(partial.written).toMatchObject({ elementsAdded: 0, elementsDeleted: 0, serviceChains: 3 });

    const idle = syncer.sync(world.model(), new Set(), 4 * S);
    expect(idle).toMatchObject({ kind: 'partial', transaction: '', ok: true });
    // The same objects as a full load; the new endpoint chain lists last, as the kernel keeps creation order.
    expect(canonicalListing(syncer.ruleset as NftTable)).toBe(
      canonicalListing(compileNftables(world.model(), NODE)),
    );
  });

  it('a failed transaction changes nothing and makes the next sync full; so do a node change and FullSyncPeriod', () => {
    const world = new ServiceWorld([svc(1, [2])]);
    const syncer = new NftablesSyncer(NODE);
    syncer.sync(world.model(), undefined, 0);
    const before = renderTable(syncer.ruleset as NftTable);
    world.apply({ op: 'remove', index: 1 });
    const failed = syncer.sync(world.model(), new Set([serviceKey(1)]), 2 * S, true);
    expect(failed).toMatchObject({
      kind: 'partial',
      ok: false,
      error: 'nft: simulated failure',
      staleChains: [],
    });
    expect(renderTable(syncer.ruleset as NftTable)).toBe(before);
    const retry = syncer.sync(world.model(), new Set(), 32 * S);
    expect(retry).toMatchObject({ kind: 'full', fullReason: 'after-failure', ok: true });
    expect(syncer.sync(world.model(), new Set(), 34 * S).kind).toBe('partial');
    expect(syncer.sync(world.model(), undefined, 36 * S)).toMatchObject({
      kind: 'full',
      fullReason: 'topology',
    });
    expect(syncer.sync(world.model(), new Set(), 38 * S).kind).toBe('partial');
    expect(syncer.sync(world.model(), new Set(), 36 * S + 3601 * S)).toMatchObject({
      kind: 'full',
      fullReason: 'periodic',
    });
  });

  it('flushes a chain nothing uses and deletes it, in a transaction of its own, at the first sync over 1 s after its last flush', () => {
    const world = new ServiceWorld([svc(1, [2, 4], { affinity: true })]);
    const syncer = new NftablesSyncer(NODE);
    syncer.sync(world.model(), undefined, 0);
    world.apply({ op: 'endpoints', index: 1, endpoints: [2] });
    const gone = syncer.sync(world.model(), new Set([serviceKey(1)]), 2 * S);
    const stale = gone.staleChains;
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatch(/^endpoint-\w{8}-ns1\/svc1\/tcp\/__10\.1\.1\.4\/8080$/);
    expect(gone.transaction).toContain(`flush chain ${T} ${stale[0]}\n`);
    expect(gone.transaction).not.toContain(`delete chain`);
    // Its affinity set goes at once, after the flush that removed the rule updating it.
    const affinity = stale[0].replace('endpoint-', 'affinity-');
    expect(gone.deletedSets).toEqual([affinity]);
    const t = gone.transaction;
    expect(t.indexOf(`flush chain ${T} ${stale[0]}`)).toBeLessThan(t.indexOf(`delete set ${T} ${affinity}`));

    // 0.5 s later: not yet; the chain is flushed again and its clock restarts.
    const soon = syncer.sync(world.model(), new Set(), 2.5 * S);
    expect(soon).toMatchObject({ cleanupTransaction: '', staleChains: stale });
    // Exactly 1 s after that flush is not "before one second ago".
    expect(syncer.sync(world.model(), new Set(), 3.5 * S).cleanupTransaction).toBe('');
    const later = syncer.sync(world.model(), new Set(), 4.6 * S);
    expect(later.cleanupTransaction).toBe(`delete chain ${T} ${stale[0]}\n`);
    expect(later.deletedChains).toEqual(stale);
    expect(later.staleChains).toEqual([]);
    expect(canonicalListing(syncer.ruleset as NftTable)).toBe(
      canonicalListing(compileNftables(world.model(), NODE)),
    );
  });

  it('a chain in use again before its deletion is rewritten and no longer deleted', () => {
    const world = new ServiceWorld([svc(1, [2, 4])]);
    const syncer = new NftablesSyncer(NODE);
    syncer.sync(world.model(), undefined, 0);
    world.apply({ op: 'endpoints', index: 1, endpoints: [2] });
    const stale = syncer.sync(world.model(), new Set([serviceKey(1)]), 2 * S).staleChains;
    world.apply({ op: 'endpoints', index: 1, endpoints: [2, 4] });
    const back = syncer.sync(world.model(), new Set([serviceKey(1)]), 2.5 * S);
    expect(back.transaction).toContain(`add chain ${T} ${stale[0]}\nflush chain ${T} ${stale[0]}\n`);
    expect(syncer.pendingStaleChains.size).toBe(0);
    expect(syncer.sync(world.model(), new Set(), 5 * S).cleanupTransaction).toBe('');
  });

  it('an element whose verdict changes is deleted and added again; one no Service wants is deleted', () => {
    // eTP=Local with no local endpoint: external traffic is dropped; with no endpoint at all, rejected.
    const world = new ServiceWorld([svc(1, [3], { nodePort: true, localPolicy: true })]);
    const syncer = new NftablesSyncer(NODE);
    const first = syncer.sync(world.model(), undefined, 0);
    const nodePortDrop =
      /add element ip kube-proxy no-endpoint-nodeports \{ (tcp \. \d+) comment "ns1\/svc1" : drop \}/.exec(
        first.transaction,
      );
    expect(nodePortDrop).not.toBeNull();
    const key = (nodePortDrop as RegExpExecArray)[1];
    world.apply({ op: 'endpoints', index: 1, endpoints: [] });
    const t = syncer.sync(world.model(), new Set([serviceKey(1)]), 2 * S).transaction;
    expect(t).toContain(
      `delete element ${T} no-endpoint-nodeports { ${key} }\nadd element ${T} no-endpoint-nodeports { ${key} comment "ns1/svc1" : goto reject-chain }\n`,
    );
    expect(t).toMatch(/delete element ip kube-proxy service-ips \{ 172\.30\.0\.1 \. tcp \. 80 \}\n/);
    expect(t).toMatch(/delete element ip kube-proxy service-nodeports \{ tcp \. \d+ \}\n/);
  });
});

/** One step of the property: changes, then a sync after `gapS` seconds, maybe a failing one. */
interface Step {
  readonly changes: readonly Change[];
  readonly gapS: number;
  readonly fail: boolean;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  changes: fc.array(fc.oneof(changeArb(12, 5), readinessChangeArb(12)), { maxLength: 4 }),
  gapS: fc.constantFrom(0.4, 1.5, 3, 3700),
  fail: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
});

describe('incremental nftables transactions', () => {
  it('applying the incremental transactions in order on the previous state gives exactly the full ruleset of the new state', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(serviceArb(12, 5), { selector: (s) => s.index, maxLength: 6 }),
        fc.array(stepArb, { maxLength: 8 }),
        (initial, steps) => {
          const world = new ServiceWorld(initial);
          const syncer = new NftablesSyncer(NODE);
          let replayed: NftTable | null = null;
          let now = 0;
          const replay = (record: ReturnType<NftablesSyncer['sync']>) => {
            if (record.cleanupTransaction !== '' && record.cleanupError === undefined)
              replayed = applyNftTransaction(replayed, record.cleanupTransaction, NODE_FACTS);
            if (record.ok) replayed = applyNftTransaction(replayed, record.transaction, NODE_FACTS);
          };
          replay(syncer.sync(world.model(), undefined, now));
          for (const step of steps) {
            const changed = new Set<string>();
            for (const c of step.changes) {
              const key = world.apply(c);
              if (key !== null) changed.add(key);
            }
            now += step.gapS * S;
            const record = syncer.sync(world.model(), changed, now, step.fail);
            expect(record.ok).toBe(!step.fail);
            replay(record);
            if (!record.ok) continue;
            // Equal to a fresh compile, but for the flushed chains awaiting their deletion.
            const pending = new Set(syncer.pendingStaleChains.keys());
            const state = replayed as unknown as NftTable;
            for (const c of state.chains) if (pending.has(c.name)) expect(c.rules).toEqual([]);
            expect(canonicalListing(state, pending)).toBe(
              canonicalListing(compileNftables(world.model(), NODE), new Set()),
            );
          }
          // A sync over a second later deletes them: then exactly the full ruleset.
          now += 2 * S;
          replay(syncer.sync(world.model(), new Set(), now));
          now += 2 * S;
          replay(syncer.sync(world.model(), new Set(), now));
          expect(canonicalListing(replayed as unknown as NftTable)).toBe(
            canonicalListing(compileNftables(world.model(), NODE)),
          );
          expect(canonicalListing(syncer.ruleset as NftTable)).toBe(
            canonicalListing(replayed as unknown as NftTable),
          );
        },
      ),
      { numRuns: 150, seed: 14 },
    );
  });
});
