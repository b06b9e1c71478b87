/**
 * One node's kube-proxy sync loop (iptables or nftables mode) through a scripted list of control-plane
 * changes on simulated time: each change asks the node's BoundedFrequencyRunner for a sync
 * (kube-proxy's `Sync()` on an informer event), the runner decides when it happens
 * (minSyncPeriod coalesces bursts), and each sync writes what kube-proxy would write — the
 * first one full, later ones partial (KEP-3453 in iptables mode, the nftables proxier's
 * incremental transactions in nftables mode). Changes reach the node at once here (no
 * watch delay); the control-plane clock with watch delays is the rollout simulation's.
 */
import { syncPeriodsForMode } from '../config/kube-proxy-config.js';
import { BoundedFrequencyRunner, kubeProxyRunnerSettings } from '../proxy/common/bounded-frequency-runner.js';
import { IptablesSyncer, type IptablesSyncRecord } from '../proxy/iptables/sync.js';
import { NftablesSyncer, type NftablesSyncRecord } from '../proxy/nftables/sync.js';
import { type AppliedChurn, applyChurn, type ChurnEvent } from '../traffic/churn.js';
import type { Rng } from '../util/rng.js';
import type { Simulation } from './simulation.js';

/** A scripted change, applied at `atMs` of simulated time. */
export interface TimedChange extends ChurnEvent {
  /** Milliseconds of simulated time (ChurnEvent.atPacket is ignored). */
  readonly atMs: number;
}

export type SyncLogEntry =
  | { readonly type: 'change'; readonly atNs: number; readonly change: AppliedChurn }
  | { readonly type: 'sync'; readonly atNs: number; readonly sync: IptablesSyncRecord }
  | { readonly type: 'nftables-sync'; readonly atNs: number; readonly sync: NftablesSyncRecord };

export class SyncLogError extends Error {
  override name = 'SyncLogError';
}

const MS = 1e6;

/**
 * Runs the changes against `sim` and returns, in time order, the changes and `node`'s syncs:
 * the first sync at time 0, then whatever the runner schedules until every request is served.
 */
export function runSyncLog(
  sim: Simulation,
  node: string,
  changes: readonly TimedChange[],
  rng: Rng,
): SyncLogEntry[] {
  const mode = sim.mode;
  if (mode !== 'iptables' && mode !== 'nftables') {
    throw new SyncLogError(`only iptables and nftables modes' syncs are modelled, not ${mode} mode's`);
  }
  const proxy = sim.proxies.get(node);
  if (proxy === undefined) throw new SyncLogError(`unknown node "${node}"`);
  const periods = syncPeriodsForMode(sim.kubeProxyConfig, mode);
  type SyncEntry = Exclude<SyncLogEntry, { type: 'change' }>;
  let syncOnce: (changed: ReadonlySet<string> | undefined, atNs: number) => SyncEntry;
  if (mode === 'iptables') {
    const syncer = new IptablesSyncer(node, {
      ...(proxy.iptablesCompileOptions !== undefined ? { compile: proxy.iptablesCompileOptions } : {}),
      syncPeriodNs: periods.syncPeriodNs,
    });
    syncOnce = (changed, atNs) => ({ type: 'sync', atNs, sync: syncer.sync(sim.model, changed, atNs) });
  } else {
    if (proxy.nftablesCompileOptions === undefined)
      throw new SyncLogError(`node "${node}" runs a given nftables ruleset, not kube-proxy's syncs`);
    const syncer = new NftablesSyncer(node, { compile: proxy.nftablesCompileOptions });
    syncOnce = (changed, atNs) => ({
      type: 'nftables-sync',
      atNs,
      sync: syncer.sync(sim.model, changed, atNs),
    });
  }
  const log: SyncLogEntry[] = [];
  // What the change trackers hold since the last sync: Services, or "full" (undefined).
  let pending: Set<string> | undefined = new Set();
  let first = true;
  const runner = new BoundedFrequencyRunner(kubeProxyRunnerSettings(periods), (atNs) => {
    const entry = syncOnce(first ? undefined : pending, atNs);
    first = false;
    pending = new Set();
    log.push(entry);
    return { ok: entry.sync.ok };
  });
  // OnServiceSynced / OnEndpointSlicesSynced: the first sync runs at once.
  runner.request(0);
  runner.fire(0);
  const ordered = [...changes].sort((a, b) => a.atMs - b.atMs);
  for (const change of ordered) {
    const at = change.atMs * MS;
    // Syncs due before the change see the world before it.
    while (runner.nextRunAt() < at) runner.fire(runner.nextRunAt());
    const applied = applyChurn(sim, change, rng);
    log.push({ type: 'change', atNs: at, change: applied });
    if (sim.lastSyncChanges === undefined) pending = undefined;
    else if (pending !== undefined) for (const key of sim.lastSyncChanges) pending.add(key);
    runner.request(at);
  }
  while (runner.hasPendingRequest) runner.fire(runner.nextRunAt());
  return log;
}
