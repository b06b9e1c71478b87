/**
 * kube-proxy's nftables syncProxyRules as a sequence of syncs on one node: which syncs are
 * full and which partial, the exact `nft -f` transaction each writes, and the node's table
 * after it. Read at the source (pkg/proxy/nftables/proxier.go: the partial-sync revision with
 * nftElementStorage, kubernetes PR #126013, and the 2025 doFullSync with FullSyncPeriod):
 *
 * - Full: the first sync, the sync after a failed transaction, a sync after a node (topology)
 *   change, and the first sync once FullSyncPeriod (1 h) has passed since the last full one.
 *   A full sync runs setupNFTables: `add table`, add + flush of every base and top-level chain
 *   with its rules written again, `add` of the sets and maps, and a flush of the six
 *   per-Service sets and maps (cluster-ips, service-ips, firewall-ips, no-endpoint-services,
 *   no-endpoint-nodeports, service-nodeports) whose elements are then all added again. The
 *   very first one also adds and deletes each base chain once, so that a table left by an
 *   older kube-proxy gets its base chains recreated with the current properties.
 * - Partial: nothing of the setup; a Service's chains (service-, local-, external-, firewall-,
 *   endpoint-) are added, flushed and rewritten, and its affinity sets added, only when the
 *   Service or its endpoints changed since the last successful sync. The per-Service set and
 *   map elements are diffed against what kube-proxy remembers writing: a new key is added, a
 *   key whose verdict changed is deleted and added again, a key no Service wants any more is
 *   deleted — every Service's elements are checked, changed or not.
 * - Stale chains: after the Services, every service chain the table holds (kube-proxy lists
 *   them from the kernel: names with a `/`) that no Service uses is flushed — not deleted,
 *   since before Linux 6.2 the kernel may still see it referenced by a map element deleted in
 *   the same transaction — and remembered with the sync's start time; a chain in use again is
 *   forgotten. At the start of each later sync, the chains remembered more than one second
 *   before are deleted in a transaction of their own (its failure is logged, not fatal).
 *   Affinity sets no Service uses are deleted at once, after the flushes.
 * - A failed transaction leaves the table as it was, forces the next sync to be full (the
 *   changes it consumed are gone) and forgets the stale chains (they are found again).
 *
 * Within a Service the objects are written in the proxier's order (chains, elements, affinity
 * sets, rules); the Services in the model's order (the proxier walks a Go map). kube-proxy
 * 1.33's restart optimisation (a full sync that reads the kernel's elements instead of
 * flushing them, #130119) only changes what the first sync after a kube-proxy restart writes;
 * restarts are not modelled.
 */
import { type FullSyncReason, FullSyncTracker, servicesWritten } from '../common/full-sync.js';
import type { ProxyModel } from '../common/model.js';
import { applyNftTransaction, NftTransactionError } from './apply.js';
import { compileNftables, type NftCompileOptions, SET } from './compile.js';
import type { NftChain, NftMap, NftMapElement, NftSet, NftTable } from './table.js';
import {
  addChain,
  addMapElement,
  addRule,
  addSetElement,
  addSetOrMap,
  addTable,
  deleteChain,
  deleteElement,
  deleteSetOrMap,
  flushChain,
  flushSetOrMap,
  mapElementKey,
  tableRef,
} from './transaction.js';

export type NftablesSyncKind = 'full' | 'partial';

export interface NftablesSyncRecord {
  readonly node: string;
  /** Simulated time of the sync (ns). */
  readonly atNs: number;
  readonly kind: NftablesSyncKind;
  /** Why it was full: first sync, topology change, after a failure, or periodic (FullSyncPeriod). */
  readonly fullReason: FullSyncReason | null;
  /** The Services (`ns/name`) whose chains the sync wrote (sorted): every Service on a full one. */
  readonly servicesWritten: readonly string[];
  /** The transaction that deleted chains stale for over a second, run first ('' when none). */
  readonly cleanupTransaction: string;
  /** The chains that transaction deleted (empty if it failed). */
  readonly deletedChains: readonly string[];
  /** Why the clean-up transaction failed, when it did (the sync goes on). */
  readonly cleanupError?: string;
  /** Exactly what kube-proxy feeds `nft -f` for the sync. */
  readonly transaction: string;
  /** Service chains this sync flushed because nothing uses them (deleted a second later or more). */
  readonly staleChains: readonly string[];
  /** Affinity sets this sync deleted. */
  readonly deletedSets: readonly string[];
  /** `add rule` lines, elements added and deleted, and service chains (re)written. */
  readonly written: {
    readonly rules: number;
    readonly elementsAdded: number;
    readonly elementsDeleted: number;
    readonly serviceChains: number;
  };
  /** What the table holds afterwards. */
  readonly total: { readonly chains: number; readonly rules: number; readonly elements: number };
  /** false: the transaction failed and the table was left as it was. */
  readonly ok: boolean;
  readonly error?: string;
}

export interface NftablesSyncerOptions {
  /** The proxier's compile options (masquerade bit, local detector, node port addresses…). */
  readonly compile?: NftCompileOptions;
}

/** How long a flushed stale chain waits before its deletion (the proxier's `oneSecondAgo`). */
export const STALE_CHAIN_DELETE_DELAY_NS = 1e9;

/** The per-Service sets and maps, in the order the proxier cleans up their leftover elements. */
const SERVICE_CONTAINERS: readonly string[] = [
  SET.clusterIPs,
  SET.serviceIPs,
  SET.firewallIPs,
  SET.noEndpointServices,
  SET.noEndpointNodePorts,
  SET.serviceNodePorts,
];

const SERVICE_OBJECT =
  /^(?:service|local|external|firewall|endpoint|affinity)-[A-Z2-7]{8}-([^/]+)\/([^/]+)\//;

/** The Service (`ns/name`) a chain or affinity set belongs to, from its name; null for a top-level object. */
export function serviceOfObject(name: string): string | null {
  const m = SERVICE_OBJECT.exec(name);
  return m === null ? null : `${m[1]}/${m[2]}`;
}

/** The proxier tells its service chains from its fixed ones by the `/` only service names contain. */
const isServiceChainName = (name: string) => name.includes('/');
const isAffinitySetName = (name: string) => name.startsWith('affinity-');

interface ServiceElement {
  readonly container: string;
  readonly key: string;
  /** The verdict (maps) or '' (sets): what ensureElem compares. */
  readonly value: string;
  readonly add: string;
}

function elementValue(el: NftMapElement): string {
  const v = el.verdict;
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.chain}` : v.kind;
}

/** Which Service owns each per-Service element key: its ClusterIP, external and LB IPs, its node port. */
function elementOwners(model: ProxyModel): Map<string, string> {
  const owners = new Map<string, string>();
  const own = (container: string, key: string, svc: string) => {
    const k = `${container}\0${key}`;
    if (!owners.has(k)) owners.set(k, svc);
  };
  for (const sp of model.servicePorts) {
    const svc = `${sp.namespace}/${sp.name}`;
    const proto = sp.protocol.toLowerCase();
    own(SET.clusterIPs, sp.clusterIP, svc);
    for (const addr of [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerIPs])
      for (const c of [SET.serviceIPs, SET.noEndpointServices, SET.firewallIPs])
        own(c, `${addr} . ${proto} . ${sp.port}`, svc);
    if (sp.nodePort !== 0)
      for (const c of [SET.serviceNodePorts, SET.noEndpointNodePorts])
        own(c, `${proto} . ${sp.nodePort}`, svc);
  }
  return owners;
}

function countRules(table: NftTable): number {
  let n = 0;
  for (const c of table.chains) n += c.rules.length;
  return n;
}

function countElements(table: NftTable): number {
  let n = 0;
  for (const s of table.sets) n += s.elements.length;
  return n;
}

export class NftablesSyncer {
  private table: NftTable | null = null;
  private readonly fullSync = new FullSyncTracker();
  /** proxier.flushed: the base chains were re-created once (add + delete) in this proxier's life. */
  private baseChainsRecreated = false;
  /** Flushed service chains waiting for deletion, with the start time of the sync that flushed them. */
  private readonly staleChains = new Map<string, number>();

  constructor(
    readonly node: string,
    private readonly options: NftablesSyncerOptions = {},
  ) {}

  /** The node's table after the last transaction that succeeded (null before the first). */
  get ruleset(): NftTable | null {
    return this.table;
  }

  /** The stale chains waiting for deletion, with the time they were flushed (ns). */
  get pendingStaleChains(): ReadonlyMap<string, number> {
    return this.staleChains;
  }

  /**
   * One syncProxyRules. `changed` are the Services (`ns/name`) the change trackers recorded
   * since the last sync, or undefined after a topology change (a full sync is needed).
   * `failTransaction` makes `nft -f` fail (a kernel refusal), as kube-proxy's tests do.
   */
  sync(
    model: ProxyModel,
    changed: ReadonlySet<string> | undefined,
    nowNs: number,
    failTransaction = false,
  ): NftablesSyncRecord {
    const fullReason = this.fullSync.decide(changed, nowNs);
    const full = fullReason !== null;

    const cleanup = this.deleteStaleChains(nowNs);
    const desired = compileNftables(model, this.node, this.options.compile ?? {});
    const built = this.buildTransaction(model, desired, full, changed ?? new Set());

    let next: NftTable | null = null;
    let error: string | undefined;
    if (failTransaction) error = 'nft: simulated failure';
    else {
      try {
        next = applyNftTransaction(this.table, built.text, desired.node);
      } catch (e) {
        if (!(e instanceof NftTransactionError)) throw e;
        error = `nft: ${e.message}`;
      }
    }
    if (next !== null) {
      this.table = next;
      this.fullSync.succeeded(full, nowNs);
      for (const name of built.active) this.staleChains.delete(name);
      for (const name of built.stale) this.staleChains.set(name, nowNs);
    } else {
      this.fullSync.failed();
      // The flushes never happened; the next sync finds the stale chains again.
      this.staleChains.clear();
    }
    const after = this.table;
    return {
      node: this.node,
      atNs: nowNs,
      kind: full ? 'full' : 'partial',
      fullReason,
      servicesWritten: servicesWritten(model, full, changed),
      cleanupTransaction: cleanup.text,
      deletedChains: cleanup.deleted,
      ...(cleanup.error !== undefined ? { cleanupError: cleanup.error } : {}),
      transaction: built.text,
      staleChains: next !== null ? built.stale : [],
      deletedSets: next !== null ? built.deletedSets : [],
      written: built.written,
      total: {
        chains: after?.chains.length ?? 0,
        rules: after === null ? 0 : countRules(after),
        elements: after === null ? 0 : countElements(after),
      },
      ok: error === undefined,
      ...(error !== undefined ? { error } : {}),
    };
  }

  /** The separate transaction at the start of a sync: chains flushed over a second ago are deleted. */
  private deleteStaleChains(nowNs: number): { text: string; deleted: string[]; error?: string } {
    if (this.table === null || this.staleChains.size === 0) return { text: '', deleted: [] };
    const due = [...this.staleChains]
      .filter(([, flushedAt]) => flushedAt < nowNs - STALE_CHAIN_DELETE_DELAY_NS)
      .map(([name]) => name);
    if (due.length === 0) return { text: '', deleted: [] };
    // Forgotten whether the deletion works or not: a chain that survives is found stale again.
    for (const name of due) this.staleChains.delete(name);
    const t = tableRef(this.table);
    const text = due.map((name) => `${deleteChain(t, name)}\n`).join('');
    try {
      this.table = applyNftTransaction(this.table, text, this.table.node);
      return { text, deleted: due };
    } catch (e) {
      if (!(e instanceof NftTransactionError)) throw e;
      return { text, deleted: [], error: `nft: ${e.message}` };
    }
  }

  private buildTransaction(
    model: ProxyModel,
    desired: NftTable,
    full: boolean,
    changed: ReadonlySet<string>,
  ): {
    text: string;
    active: Set<string>;
    stale: string[];
    deletedSets: string[];
    written: NftablesSyncRecord['written'];
  } {
    const t = tableRef(desired);
    const family = desired.family;
    const out: string[] = [];
    const written = { rules: 0, elementsAdded: 0, elementsDeleted: 0, serviceChains: 0 };
    const topChains = desired.chains.filter((c) => !isServiceChainName(c.name));

    if (full) {
      out.push(addTable(desired));
      if (!this.baseChainsRecreated) {
        for (const c of topChains)
          if (c.base !== undefined) out.push(addChain(t, { name: c.name }), deleteChain(t, c.name));
        this.baseChainsRecreated = true;
      }
      for (const c of topChains) out.push(addChain(t, c), flushChain(t, c.name));
      for (const s of desired.sets) {
        if (isAffinitySetName(s.name)) continue;
        out.push(addSetOrMap(t, s));
        if (s.name === SET.nodePortIPs) {
          out.push(flushSetOrMap(t, 'set', s.name));
          for (const addr of (s as NftSet).elements) out.push(addSetElement(t, s.name, addr));
        } else out.push(flushSetOrMap(t, s.kind, s.name));
      }
      // Match-all node ports: the proxier makes sure the set is gone with add + delete.
      if (!desired.sets.some((s) => s.name === SET.nodePortIPs)) {
        const type = family === 'ip6' ? 'ipv6_addr' : 'ipv4_addr';
        out.push(
          addSetOrMap(t, {
            kind: 'set',
            name: SET.nodePortIPs,
            type,
            comment: 'IPs that accept NodePort traffic',
            elements: [],
          }),
          deleteSetOrMap(t, 'set', SET.nodePortIPs),
        );
      }
      for (const c of topChains)
        for (const r of c.rules) {
          out.push(addRule(t, c.name, r, family));
          written.rules++;
        }
    }

    // What kube-proxy remembers writing into each per-Service set and map (nothing after a reset).
    const remembered = new Map<string, Map<string, string>>();
    for (const name of SERVICE_CONTAINERS) {
      const held = new Map<string, string>();
      const current = full ? undefined : this.table?.sets.find((s) => s.name === name);
      if (current?.kind === 'set') for (const e of current.elements) held.set(e, '');
      else if (current?.kind === 'map')
        for (const e of current.elements) held.set(mapElementKey(e), elementValue(e));
      remembered.set(name, held);
    }

    // The desired objects, grouped by the Service they belong to.
    const chainsOf = new Map<string, NftChain[]>();
    const affinityOf = new Map<string, NftSet[]>();
    const elementsOf = new Map<string, ServiceElement[]>();
    const push = <T>(m: Map<string, T[]>, k: string, v: T) => {
      const list = m.get(k);
      if (list === undefined) m.set(k, [v]);
      else list.push(v);
    };
    const active = new Set<string>();
    for (const c of desired.chains) {
      if (!isServiceChainName(c.name)) continue;
      active.add(c.name);
      const svc = serviceOfObject(c.name);
      if (svc !== null) push(chainsOf, svc, c);
    }
    const activeSets = new Set<string>();
    const owners = elementOwners(model);
    for (const s of desired.sets) {
      if (isAffinitySetName(s.name)) {
        activeSets.add(s.name);
        const svc = serviceOfObject(s.name);
        if (svc !== null) push(affinityOf, svc, s as NftSet);
        continue;
      }
      if (!SERVICE_CONTAINERS.includes(s.name)) continue;
      if (s.kind === 'set')
        for (const addr of s.elements)
          push(elementsOf, owners.get(`${s.name}\0${addr}`) ?? '', {
            container: s.name,
            key: addr,
            value: '',
            add: addSetElement(t, s.name, addr),
          });
      else
        for (const el of (s as NftMap).elements) {
          const key = mapElementKey(el);
          push(elementsOf, owners.get(`${s.name}\0${key}`) ?? '', {
            container: s.name,
            key,
            value: elementValue(el),
            add: addMapElement(t, s.name, el),
          });
        }
    }

    const services: string[] = [];
    const seen = new Set<string>();
    for (const sp of model.servicePorts) {
      const svc = `${sp.namespace}/${sp.name}`;
      if (!seen.has(svc)) {
        seen.add(svc);
        services.push(svc);
      }
    }
    // Elements no Service claims (none in kube-proxy's table) are still written, last.
    if (elementsOf.has('')) services.push('');
    for (const svc of services) {
      const write = full || changed.has(svc);
      const chains = chainsOf.get(svc) ?? [];
      if (write)
        for (const c of chains) {
          out.push(addChain(t, c), flushChain(t, c.name));
          written.serviceChains++;
        }
      for (const el of elementsOf.get(svc) ?? []) {
        const held = remembered.get(el.container) as Map<string, string>;
        const was = held.get(el.key);
        if (was === el.value) {
          held.delete(el.key);
          continue;
        }
        if (was !== undefined) {
          out.push(deleteElement(t, el.container, el.key));
          written.elementsDeleted++;
          held.delete(el.key);
        }
        out.push(el.add);
        written.elementsAdded++;
      }
      if (!write) continue;
      for (const s of affinityOf.get(svc) ?? []) out.push(addSetOrMap(t, s));
      for (const c of chains)
        for (const r of c.rules) {
          out.push(addRule(t, c.name, r, family));
          written.rules++;
        }
    }

    // Stale service chains are flushed now and deleted a second later; stale affinity sets go at once.
    const stale: string[] = [];
    for (const c of this.table?.chains ?? [])
      if (isServiceChainName(c.name) && !active.has(c.name)) {
        out.push(flushChain(t, c.name));
        stale.push(c.name);
      }
    const deletedSets: string[] = [];
    for (const s of this.table?.sets ?? [])
      if (isAffinitySetName(s.name) && !activeSets.has(s.name)) {
        out.push(deleteSetOrMap(t, s.kind, s.name));
        deletedSets.push(s.name);
      }
    // Leftover elements: what was written before and no Service wants now.
    for (const name of SERVICE_CONTAINERS)
      for (const key of (remembered.get(name) as Map<string, string>).keys()) {
        out.push(deleteElement(t, name, key));
        written.elementsDeleted++;
      }
    return { text: out.map((l) => `${l}\n`).join(''), active, stale, deletedSets, written };
  }
}
