/**
 * kube-proxy's iptables syncProxyRules as a sequence of syncs on one node (KEP-3453,
 * MinimizeIPTablesRestore, GA in 1.28): which syncs are full and which partial, the exact
 * `iptables-restore --noflush` input each writes, and the node's tables after it.
 *
 * - The first sync, the sync after a failed restore, a sync after a node (topology) change
 *   and, once FullSyncPeriod (1 h) has passed since the last full sync, the next sync are
 *   full: every chain is written. Since v1.36 the periodic full sync is skipped in
 *   large-cluster mode.
 * - Otherwise a sync is partial: the top-level chains (filter KUBE-SERVICES,
 *   KUBE-EXTERNAL-SERVICES, KUBE-FORWARD, KUBE-NODEPORTS, KUBE-PROXY-FIREWALL, KUBE-FIREWALL;
 *   nat KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING, KUBE-MARK-MASQ) are always
 *   rewritten, but a Service's KUBE-SVC/SVL/EXT/FW/SEP chains only when the Service or its
 *   endpoints changed since the last successful sync.
 * - Service chains the rules no longer use are flushed and deleted (`:CHAIN - [0:0]` then
 *   `-X CHAIN`), found by diffing `iptables-save -t nat` against the chains in use; in
 *   large-cluster mode (> 1000 endpoints) only when syncPeriod has passed since the last
 *   clean-up, since iptables-save is slow on such nodes.
 * - A failed restore leaves the tables as they were and forces the next sync to be full
 *   (the changes it consumed are gone); the runner retries after syncPeriod.
 *
 * The jump rules a full sync ensures with single iptables commands are already in place
 * after the first sync (nothing else removes them here), so later full syncs write only
 * their restore.
 */
import { type FullSyncReason, FullSyncTracker, servicesWritten } from '../common/full-sync.js';
import type { ProxyModel } from '../common/model.js';
import {
  compileIptables,
  compileIptablesRestore,
  type IptablesCompileOptions,
  isLargeClusterMode,
} from './compile.js';
import { applyIptablesRestoreNoflush, IptablesParseError } from './parse.js';
import { findTable, type Ruleset } from './types.js';

/** Why a sync wrote what it wrote. */
export type IptablesSyncKind = 'full' | 'partial';

export interface IptablesSyncRecord {
  readonly node: string;
  /** Simulated time of the sync (ns). */
  readonly atNs: number;
  readonly kind: IptablesSyncKind;
  /** Why it was full: first sync, topology change, after a failure, or periodic (FullSyncPeriod). */
  readonly fullReason: FullSyncReason | null;
  /** The Services (`ns/name`) whose chains a partial sync wrote (sorted); every Service on a full one. */
  readonly servicesWritten: readonly string[];
  /** Exactly what kube-proxy feeds `iptables-restore -w 5 -W 100000 --noflush --counters`. */
  readonly restoreInput: string;
  /**
   * On a full sync, the iptables commands (argv after `iptables`) kube-proxy runs first to
   * ensure its jump rules (EnsureChain, EnsureRule -I); no-ops once they exist. [] on a partial one.
   */
  readonly ensureCommands: readonly (readonly string[])[];
  /** `-A` lines written per table (kubeproxy_sync_proxy_rules_iptables_last). */
  readonly rulesWritten: { readonly filter: number; readonly nat: number };
  /** Rules the node holds for kube-proxy afterwards (kubeproxy_sync_proxy_rules_iptables_total). */
  readonly rulesTotal: { readonly filter: number; readonly nat: number };
  /** Stale service chains this sync flushed and deleted. */
  readonly deletedChains: readonly string[];
  readonly largeClusterMode: boolean;
  /** false: iptables-restore failed; the tables were left as they were. */
  readonly ok: boolean;
  /** The restore's error when it failed. */
  readonly error?: string;
}

export interface IptablesSyncerOptions {
  /** The proxier's compile options (masquerade bit, local detector, node facts…). */
  readonly compile?: IptablesCompileOptions;
  /** iptables.syncPeriod: how often large-cluster mode cleans up stale chains (default 30 s). */
  readonly syncPeriodNs?: number;
}

export class IptablesSyncer {
  private tables: Ruleset | null = null;
  private readonly fullSync = new FullSyncTracker();
  private lastCleanupNs = Number.NEGATIVE_INFINITY;
  private largeClusterMode = false;
  private readonly syncPeriodNs: number;

  constructor(
    readonly node: string,
    private readonly options: IptablesSyncerOptions = {},
  ) {
    this.syncPeriodNs = options.syncPeriodNs ?? 30e9;
  }

  /** The node's tables after the last successful sync (null before the first). */
  get ruleset(): Ruleset | null {
    return this.tables;
  }

  /**
   * One syncProxyRules. `changed` are the Services (`ns/name`) the change trackers recorded
   * since the last sync, or undefined after a topology change (a full sync is needed).
   * `failRestore` makes iptables-restore fail (a lock timeout, a kernel refusal), as
   * kube-proxy's own test of the forced full resync does.
   */
  sync(
    model: ProxyModel,
    changed: ReadonlySet<string> | undefined,
    nowNs: number,
    failRestore = false,
  ): IptablesSyncRecord {
    const fullReason = this.fullSync.decide(changed, nowNs, !this.largeClusterMode);
    const full = fullReason !== null;
    const large = isLargeClusterMode(model);
    const cleanup = !large || nowNs - this.lastCleanupNs > this.syncPeriodNs;
    const compile = this.options.compile ?? {};

    let next: Ruleset;
    let result: ReturnType<typeof compileIptablesRestore>;
    let error: string | undefined;
    if (this.tables === null) {
      const first = compileIptables(model, this.node, compile);
      result = first;
      next = first.ruleset;
    } else {
      const existingNatChains = cleanup
        ? (findTable(this.tables, 'nat')?.chains.map((c) => c.name) ?? [])
        : undefined;
      result = compileIptablesRestore(model, this.node, {
        ...compile,
        ...(full ? {} : { changedServices: changed ?? new Set<string>() }),
        ...(existingNatChains !== undefined ? { existingNatChains } : {}),
      });
      next = this.tables;
      if (!failRestore) {
        try {
          next = applyIptablesRestoreNoflush(this.tables, result.restoreInput).ruleset;
        } catch (e) {
          if (!(e instanceof IptablesParseError)) throw e;
          error = `iptables-restore: ${e.message}`;
        }
      }
    }
    if (failRestore) error = 'iptables-restore: simulated failure';
    const ok = error === undefined;
    // The sync computed largeClusterMode before it tried to write, so it sticks either way.
    this.largeClusterMode = large;
    if (ok) {
      this.tables = next;
      this.fullSync.succeeded(full, nowNs);
      if (cleanup) this.lastCleanupNs = nowNs;
    } else {
      this.fullSync.failed();
    }
    return {
      node: this.node,
      atNs: nowNs,
      kind: full ? 'full' : 'partial',
      fullReason,
      servicesWritten: servicesWritten(model, full, changed),
      restoreInput: result.restoreInput,
      ensureCommands: full ? result.bootstrapCommands : [],
      rulesWritten: result.ruleCounts,
      rulesTotal: { filter: result.ruleCounts.filter, nat: result.natRulesTotal },
      deletedChains: result.deletedChains,
      largeClusterMode: large,
      ok,
      ...(error !== undefined ? { error } : {}),
    };
  }
}
