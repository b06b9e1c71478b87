/**
 * When kube-proxy's syncProxyRules writes everything rather than only what changed — the same
 * bookkeeping in its iptables and nftables proxiers (needFullSync, lastFullSync): the first
 * sync, the sync after a failed write, a sync after a node (topology) change, and once
 * FullSyncPeriod has passed since the last full sync (unless the caller rules periodic full
 * syncs out, as iptables' large-cluster mode does since v1.36).
 */
import { FULL_SYNC_PERIOD_NS } from './bounded-frequency-runner.js';
import type { ProxyModel } from './model.js';

/** Why a sync was full. */
export type FullSyncReason = 'first' | 'topology' | 'after-failure' | 'periodic';

export class FullSyncTracker {
  private needFullSync = true;
  private afterFailure = false;
  private lastFullSyncNs = Number.NEGATIVE_INFINITY;
  private synced = false;

  /**
   * Whether the sync at `nowNs` is full, and why (null: partial). `changed` undefined means a
   * topology change, which forces a full sync once the node has rules.
   */
  decide(
    changed: ReadonlySet<string> | undefined,
    nowNs: number,
    periodicAllowed = true,
  ): FullSyncReason | null {
    if (changed === undefined && this.synced) this.needFullSync = true;
    const periodic = periodicAllowed && nowNs - this.lastFullSyncNs > FULL_SYNC_PERIOD_NS;
    if (!this.synced) return 'first';
    if (this.afterFailure) return 'after-failure';
    if (this.needFullSync) return 'topology';
    return periodic ? 'periodic' : null;
  }

  /** The write succeeded: nothing is owed any more. */
  succeeded(full: boolean, nowNs: number): void {
    this.synced = true;
    this.needFullSync = false;
    this.afterFailure = false;
    if (full) this.lastFullSyncNs = nowNs;
  }

  /** The write failed: the tables are as they were and the changes it consumed are gone. */
  failed(): void {
    this.needFullSync = true;
    this.afterFailure = true;
  }
}

/** The Services (`ns/name`, sorted) a sync wrote: all of them on a full one, else the changed ones that still exist. */
export function servicesWritten(
  model: ProxyModel,
  full: boolean,
  changed: ReadonlySet<string> | undefined,
): string[] {
  const present = new Set(model.servicePorts.map((sp) => `${sp.namespace}/${sp.name}`));
  return (full ? [...present] : [...(changed ?? [])].filter((k) => present.has(k))).sort();
}
