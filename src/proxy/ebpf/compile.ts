/**
 * ProxyModel + node → that node's Cilium-style LB maps, with incremental updates.
 *
 * What Cilium's service manager writes for each Kubernetes service port (one *frontend* per
 * address:port, each with its own rev-NAT id, as Cilium allocates one service ID per frontend):
 * - ClusterIP `clusterIP:port` (not ROUTABLE: from outside it is DROP_IS_CLUSTER_IP);
 * - NodePort `nodeIP:nodePort` on this node's address (NODEPORT | ROUTABLE);
 * - each externalIP `ip:port` (EXTERNAL_IP | ROUTABLE), each LB ingress IP `ip:port`
 *   (LOADBALANCER | ROUTABLE, + SOURCE_RANGE when loadBalancerSourceRanges is set).
 * Backend sets come from kube-proxy's CategorizeEndpoints, as Cilium follows the same policy
 * rules: external frontends with externalTrafficPolicy=Local list only node-local backends in
 * the EXT scope and, when internalTrafficPolicy=Cluster, all backends in a second INT scope
 * (TWO_SCOPES) for in-cluster clients; ClusterIP with internalTrafficPolicy=Local lists local
 * backends only.
 *
 * `sync` diffs the new plan against what is in the maps and touches only frontends whose
 * backends or flags changed; IDs (rev-NAT, backend) stay stable across syncs. Given the set
 * of changed Services it re-plans only their frontends (Cilium's agent likewise upserts and
 * deletes per Service as Kubernetes events arrive, never re-reading every Service), so one
 * endpoint change costs the same at 10 Services as at 10 000.
 */

import { BPF_ANY, BpfArrayMap, BpfLpmTrie } from '../../maps/index.js';
import { type Cidr, formatIPv4, parseCidr, parseIPv4 } from '../../util/ipv4.js';
import { parseCidr6 } from '../../util/ipv6.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import { categorizeEndpoints, externalPolicyLocal, internalPolicyLocal } from '../common/categorize.js';
import type { Ipv6AddressLookup } from '../common/ipv6-lookup.js';
import type { Endpoint, ProxyModel, ServicePort } from '../common/model.js';
import { BackendState, LbAlgorithm, LbScope, SvcFlag, SvcFlag2 } from './layouts.js';
import {
  type CtMapKind,
  DEFAULT_MAP_SIZES,
  type LbMapSizes,
  LbMaps,
  RevNatValue,
  writeBackendValue,
  writeSvcValue,
} from './lbmaps.js';
import {
  ciliumBackendKey,
  DEFAULT_MAGLEV_HASH_SEED,
  DEFAULT_MAGLEV_TABLE_SIZE,
  isMaglevTableSize,
  MAGLEV_TABLE_SIZES,
  maglevLookupTable,
  parseMaglevSeed,
} from './maglev.js';

export class EbpfCompileError extends Error {
  override name = 'EbpfCompileError';
}

export type LbAlgorithmName = 'random' | 'maglev';
export type FrontendKind = 'ClusterIP' | 'NodePort' | 'ExternalIP' | 'LoadBalancer';

export interface EbpfOptions {
  /** `--bpf-lb-algorithm` (Cilium default random). */
  readonly algorithm?: LbAlgorithmName;
  /** `--bpf-lb-maglev-table-size`. */
  readonly maglevTableSize?: number;
  /** `--bpf-lb-maglev-hash-seed`. */
  readonly maglevHashSeed?: string;
  readonly mapSizes?: LbMapSizes;
  /** `bpf.lbExternalClusterIP` (default false: a ClusterIP reached from outside is DROP_IS_CLUSTER_IP). */
  readonly externalClusterIP?: boolean;
  /** 'hash' models old kernels without LRU maps: a full CT map refuses new flows. */
  readonly ctMapKind?: CtMapKind;
  /**
   * The IPv6 load balancer of a dual-stack node (the IPv6 model's frontends, Cilium's lb6
   * maps): its addresses are the network's IPv6 address-table indices — what the IPv6
   * datapath's packets carry — in the map words an IPv4 address fills, so the same maps, CT
   * and NAT logic serve both families.
   */
  readonly ipv6?: Ipv6AddressLookup;
  /**
   * The first service (rev-NAT) and backend IDs to allocate (default 1): Cilium allocates both
   * families from one ID space, so a node's IPv6 IDs continue after its IPv4 ones.
   */
  readonly firstIds?: { readonly revNat: number; readonly backend: number };
}

const PROTO_NUMBERS: Record<string, number> = {
  TCP: IpProtocol.TCP,
  UDP: IpProtocol.UDP,
  SCTP: IpProtocol.SCTP,
};

interface PlannedBackend {
  /** `ip:port/PROTO`, as shown. */
  readonly key: string;
  /** The same identity as one exact number (address, port, protocol): what the maps' bookkeeping keys on. */
  readonly identity: number;
  readonly addr: number;
  readonly port: number;
  readonly proto: number;
  readonly state: BackendState;
  readonly nodeName: string;
  readonly ip: string;
  readonly protocol: string;
  /** The INT scope of a two-scope frontend (Maglev hashes it apart). */
  readonly internalScope: boolean;
}

/** One frontend as planned from the model (control-plane view; the maps hold the same). */
export interface FrontendPlan {
  readonly key: string;
  readonly kind: FrontendKind;
  readonly servicePortName: string;
  readonly addr: number;
  readonly port: number;
  readonly proto: number;
  readonly flags: number;
  readonly flags2: number;
  readonly affinityTimeout: number;
  readonly extBackends: readonly PlannedBackend[];
  /** Second (INT) scope for two-scope frontends, else null. */
  readonly intBackends: readonly PlannedBackend[] | null;
  readonly sourceRanges: readonly Cidr[];
}

/** What the maps hold for one frontend, as installed. */
export interface InstalledFrontend {
  readonly plan: FrontendPlan;
  readonly revNat: number;
  readonly extBackendIds: readonly number[];
  readonly intBackendIds: readonly number[] | null;
  readonly maglevInner: number;
}

export interface SyncStats {
  frontendsAdded: number;
  frontendsUpdated: number;
  frontendsRemoved: number;
  frontendsUnchanged: number;
  /** Service-map entries written or deleted (master + backend slots). */
  serviceEntriesTouched: number;
  backendsAdded: number;
  backendsRemoved: number;
  maglevTablesBuilt: number;
}

/** Protocols' small codes in a backend identity (two bits). */
const PROTO_CODE: Readonly<Record<string, number>> = { TCP: 0, UDP: 1, SCTP: 2 };

/** (address, port, protocol) as one number below 2^50: a Map keyed by it hashes no string. */
function backendIdentity(addr: number, port: number, protocol: string): number {
  return ((addr >>> 0) * 65536 + port) * 4 + (PROTO_CODE[protocol] ?? 3);
}

/**
 * How a plan turns address texts into map words: IPv4 addresses themselves, or (the IPv6 load
 * balancer) IPv6 address-table indices, shown in brackets in keys as Cilium shows them.
 */
export interface AddressWords {
  readonly word: (text: string) => number;
  /** A word as a frontend or backend key shows it. */
  readonly keyText: (word: number) => string;
}

const IPV4_WORDS: AddressWords = {
  word: parseIPv4,
  keyText: (a) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`,
};

function ipv6Words(ipv6: Ipv6AddressLookup): AddressWords {
  return { word: (t) => ipv6.internText(t), keyText: (w) => `[${ipv6.text(w)}]` };
}

function toBackend(
  e: Endpoint,
  proto: number,
  protocol: string,
  internalScope: boolean,
  words: AddressWords,
): PlannedBackend {
  const addr = words.word(e.ip);
  return {
    key: `${words === IPV4_WORDS ? e.ip : words.keyText(addr)}:${e.port}/${protocol}`,
    identity: backendIdentity(addr, e.port, protocol),
    addr,
    port: e.port,
    proto,
    state: e.ready ? BackendState.ACTIVE : BackendState.TERMINATING,
    nodeName: e.nodeName,
    ip: e.ip,
    protocol,
    internalScope,
  };
}

/** The frontends Cilium installs on `nodeName` for one service port. */
export function planServicePort(
  sp: ServicePort,
  nodeName: string,
  nodeIp: number,
  externalClusterIP = false,
  words: AddressWords = IPV4_WORDS,
): FrontendPlan[] {
  const proto = PROTO_NUMBERS[sp.protocol];
  const cat = categorizeEndpoints(sp, nodeName);
  const cluster = (cat.clusterEndpoints ?? []).map((e) => toBackend(e, proto, sp.protocol, false, words));
  const local = (cat.localEndpoints ?? []).map((e) => toBackend(e, proto, sp.protocol, false, words));
  const affinity = sp.sessionAffinity === 'ClientIP';
  const baseFlags = affinity ? SvcFlag.AFFINITY : 0;
  const affinityTimeout = affinity ? sp.stickyMaxAgeSeconds : 0;
  const out: FrontendPlan[] = [];
  const frontend = (
    kind: FrontendKind,
    addr: number,
    port: number,
    flags: number,
    sourceRanges: readonly Cidr[],
  ): FrontendPlan => {
    let flags2 = 0;
    let ext: PlannedBackend[];
    let int: PlannedBackend[] | null = null;
    if (kind === 'ClusterIP') {
      if (internalPolicyLocal(sp)) flags2 |= SvcFlag2.INT_LOCAL_SCOPE;
      ext = internalPolicyLocal(sp) ? local : cluster;
    } else if (externalPolicyLocal(sp)) {
      flags |= SvcFlag.EXT_LOCAL_SCOPE;
      ext = local;
      if (!internalPolicyLocal(sp)) {
        flags2 |= SvcFlag2.TWO_SCOPES;
        int = (cat.clusterEndpoints ?? []).map((e) => toBackend(e, proto, sp.protocol, true, words));
      }
    } else {
      ext = cluster;
    }
    const protoName = sp.protocol;
    return {
      key: `${words.keyText(addr)}:${port}/${protoName}`,
      kind,
      servicePortName: sp.servicePortName,
      addr,
      port,
      proto,
      flags: flags | baseFlags,
      flags2,
      affinityTimeout,
      extBackends: ext,
      intBackends: int,
      sourceRanges,
    };
  };
  const word = words.word;
  // bpf.lbExternalClusterIP: ClusterIPs answer traffic from outside the cluster too.
  out.push(frontend('ClusterIP', word(sp.clusterIP), sp.port, externalClusterIP ? SvcFlag.ROUTABLE : 0, []));
  if (sp.nodePort !== 0)
    out.push(frontend('NodePort', nodeIp, sp.nodePort, SvcFlag.NODEPORT | SvcFlag.ROUTABLE, []));
  for (const ip of sp.externalIPs) {
    out.push(frontend('ExternalIP', word(ip), sp.port, SvcFlag.EXTERNAL_IP | SvcFlag.ROUTABLE, []));
  }
  // The source-range LPM trie is keyed by IPv4 addresses: the IPv6 plan installs none (not enforced).
  const ranges = words === IPV4_WORDS ? sp.loadBalancerSourceRanges.map(parseCidr) : [];
  for (const ip of sp.loadBalancerIPs) {
    const flags = SvcFlag.LOADBALANCER | SvcFlag.ROUTABLE | (ranges.length > 0 ? SvcFlag.SOURCE_RANGE : 0);
    out.push(frontend('LoadBalancer', word(ip), sp.port, flags, ranges));
  }
  return out;
}

function sameBackends(a: readonly PlannedBackend[] | null, b: readonly PlannedBackend[] | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++)
    if (a[i].identity !== b[i].identity || a[i].state !== b[i].state) return false;
  return true;
}

function samePlan(a: FrontendPlan, b: FrontendPlan): boolean {
  return (
    a.flags === b.flags &&
    a.flags2 === b.flags2 &&
    a.affinityTimeout === b.affinityTimeout &&
    a.servicePortName === b.servicePortName &&
    a.kind === b.kind &&
    sameBackends(a.extBackends, b.extBackends) &&
    sameBackends(a.intBackends, b.intBackends) &&
    a.sourceRanges.length === b.sourceRanges.length &&
    a.sourceRanges.every(
      (r, i) => r.network === b.sourceRanges[i].network && r.prefixLength === b.sourceRanges[i].prefixLength,
    )
  );
}

/**
 * The Service (`ns/name`) of a servicePortName (`ns/name` or `ns/name:port`): Kubernetes names
 * cannot hold ':', so the first ':' starts the port name.
 */
function serviceKeyOfPortName(servicePortName: string): string {
  const colon = servicePortName.indexOf(':');
  return colon < 0 ? servicePortName : servicePortName.slice(0, colon);
}

function serviceKeyOfPort(sp: ServicePort): string {
  // An unnamed port's servicePortName is already the Service key: no string built per port.
  return sp.portName === '' ? sp.servicePortName : `${sp.namespace}/${sp.name}`;
}

/** First index whose servicePortName is ≥ `name` (code-unit order, as the model is sorted). */
function lowerBound(ports: readonly ServicePort[], name: string): number {
  let lo = 0;
  let hi = ports.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ports[mid].servicePortName < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function isSortedByPortName(ports: readonly ServicePort[]): boolean {
  for (let i = 1; i < ports.length; i++)
    if (ports[i - 1].servicePortName > ports[i].servicePortName) return false;
  return true;
}

/** `changed` (Service keys or servicePortNames) as Service keys. */
function serviceKeysOf(changed: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const c of changed) out.add(serviceKeyOfPortName(c));
  return out;
}

/** Lowest-free-first ID allocator (Cilium allocates service and backend IDs from 1). */
/**
 * A load-balancing map ran out of entries. Cilium sizes them all from one setting
 * (bpf-lb-map-max, default 65536) and fails the Service's upsert when one is full; the
 * services map needs a slot per backend of every frontend, so 10k Services × 10 backends
 * overflow the default. The line names the map and the knob that sizes it.
 */
function mapFull(map: string, entries: number): string {
  return `${map} is full (${entries} entries): raise bpf.lbMapMax in the Cilium values (--cilium-values; Cilium's --bpf-lb-map-max)`;
}

class IdAllocator {
  private readonly free: number[] = [];
  constructor(
    private readonly max: number,
    private readonly what: string,
    private next = 1,
  ) {}
  allocate(): number {
    const id = this.free.length > 0 ? this.free.pop()! : this.next++;
    if (id > this.max) throw new EbpfCompileError(`out of ${this.what} IDs (max ${this.max})`);
    return id;
  }
  release(id: number): void {
    this.free.push(id);
    this.free.sort((a, b) => b - a);
  }
}

/**
 * A node's LB control plane: owns the maps and keeps them in line with the model.
 * The datapath (datapath.ts) reads `maps`.
 */
export class EbpfLoadBalancer {
  readonly nodeName: string;
  readonly nodeIp: number;
  /** spec.podCIDR of this node: the datapath's "is this a local endpoint" test. */
  readonly podCidr: string;
  /** The IPv6 load balancer's address table (its map words are its indices), else undefined. */
  readonly ipv6: Ipv6AddressLookup | undefined;
  private readonly words: AddressWords;
  readonly maps: LbMaps;
  readonly algorithm: LbAlgorithmName;
  readonly maglevTableSize: number;
  readonly externalClusterIP: boolean;
  readonly maglevSeeds: ReturnType<typeof parseMaglevSeed>;
  /** `--bpf-lb-maglev-hash-seed` as given (the IPv6 maps use the same). */
  readonly maglevSeedText: string;
  /** Installed frontends by key. */
  readonly frontends = new Map<string, InstalledFrontend>();
  /** Keys of the installed frontends of each Service (`ns/name`), for incremental syncs. */
  private readonly frontendKeysByService = new Map<string, Set<string>>();
  /**
   * When each installed frontend first entered `frontends` (a Map iterates in that order):
   * an incremental sync removes stale frontends in the order a full sync would.
   */
  private readonly installOrder = new Map<string, number>();
  private nextInstallOrder = 0;
  /** Whether the last fully synced model was sorted by servicePortName (see `portsToPlan`). */
  private modelsSorted = false;
  private readonly backendIds = new Map<number, { id: number; refs: number }>();
  private readonly revNatIds: IdAllocator;
  private readonly backendAlloc: IdAllocator;
  private readonly maglevFree: number[] = [];

  constructor(model: ProxyModel, nodeName: string, options: EbpfOptions = {}) {
    const node = model.nodes.find((n) => n.name === nodeName);
    if (node === undefined) throw new EbpfCompileError(`node "${nodeName}" is not in the model`);
    this.nodeName = nodeName;
    this.ipv6 = options.ipv6;
    this.words = options.ipv6 === undefined ? IPV4_WORDS : ipv6Words(options.ipv6);
    this.nodeIp = this.words.word(node.ip);
    this.podCidr = node.podCIDR;
    if (options.ipv6 === undefined) parseCidr(node.podCIDR);
    else parseCidr6(node.podCIDR);
    this.algorithm = options.algorithm ?? 'random';
    this.externalClusterIP = options.externalClusterIP ?? false;
    this.maglevTableSize = options.maglevTableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
    if (!isMaglevTableSize(this.maglevTableSize)) {
      throw new EbpfCompileError(
        `invalid Maglev table size ${this.maglevTableSize}: must be one of ${MAGLEV_TABLE_SIZES.join(', ')}`,
      );
    }
    this.maglevSeedText = options.maglevHashSeed ?? DEFAULT_MAGLEV_HASH_SEED;
    this.maglevSeeds = parseMaglevSeed(this.maglevSeedText);
    this.maps = new LbMaps(options.mapSizes ?? DEFAULT_MAP_SIZES, options.ctMapKind ?? 'lru');
    this.revNatIds = new IdAllocator(0xffff, 'rev-NAT', options.firstIds?.revNat ?? 1);
    this.backendAlloc = new IdAllocator(this.maps.sizes.lbMapMax, 'backend', options.firstIds?.backend ?? 1);
    this.sync(model);
  }

  /** A map word as an address: the IPv4 address, or the IPv6 address its index stands for. */
  addressText(word: number): string {
    return this.ipv6 === undefined ? formatIPv4(word) : this.ipv6.text(word);
  }

  /**
   * Brings the maps in line with `model`; returns what was touched.
   *
   * Without `changed` every service port is re-planned and diffed (a full resync). With
   * `changed` — Service keys (`ns/name`) or servicePortNames (`ns/name:port`, which stand for
   * their whole Service) — only the frontends of those Services are re-planned: new ones
   * installed, changed ones rewritten, and those the Services no longer have (or a deleted
   * Service had) removed; every other frontend is left untouched, as Cilium's service
   * manager and kube-proxy's change trackers act per Service. The caller promises that
   * Services outside `changed` are the same in `model` as at the last sync; then the maps,
   * IDs included, end up exactly as a full sync would leave them (the same writes, in the same
   * order). `frontendsUnchanged` then counts only the re-planned frontends found unchanged.
   */
  sync(model: ProxyModel, changed?: ReadonlySet<string>): SyncStats {
    const stats: SyncStats = {
      frontendsAdded: 0,
      frontendsUpdated: 0,
      frontendsRemoved: 0,
      frontendsUnchanged: 0,
      serviceEntriesTouched: 0,
      backendsAdded: 0,
      backendsRemoved: 0,
      maglevTablesBuilt: 0,
    };
    const services = changed === undefined ? null : serviceKeysOf(changed);
    if (services === null) this.modelsSorted = isSortedByPortName(model.servicePorts);
    const plans = new Map<string, FrontendPlan>();
    for (const sp of this.portsToPlan(model, services)) {
      if (PROTO_NUMBERS[sp.protocol] === undefined)
        throw new EbpfCompileError(`unsupported protocol ${sp.protocol}`);
      for (const plan of planServicePort(
        sp,
        this.nodeName,
        this.nodeIp,
        this.externalClusterIP,
        this.words,
      )) {
        const claimant = plans.get(plan.key)?.servicePortName ?? this.outsideClaimant(plan.key, services);
        if (claimant !== undefined) {
          throw new EbpfCompileError(
            `frontend ${plan.key} is claimed by ${claimant} and ${plan.servicePortName}`,
          );
        }
        plans.set(plan.key, plan);
      }
    }
    // Everything is planned and checked before the maps change: a rejected model leaves them as they were.
    for (const installed of this.staleFrontends(plans, services)) {
      this.removeFrontend(installed, stats);
      this.forget(installed.plan);
      stats.frontendsRemoved++;
    }
    for (const [key, plan] of plans) {
      const old = this.frontends.get(key);
      if (old !== undefined && samePlan(old.plan, plan)) {
        stats.frontendsUnchanged++;
        continue;
      }
      this.remember(this.installFrontend(plan, old, stats), old);
      if (old === undefined) stats.frontendsAdded++;
      else stats.frontendsUpdated++;
    }
    return stats;
  }

  /**
   * The service ports to re-plan, in model order: all of them, or those of `services`. The
   * latter are found by binary search when models keep ProxyModel's promise of being sorted by
   * servicePortName (checked on each full sync): a Service's ports are `ns/name` (unnamed) and
   * the contiguous run of `ns/name:…`. A model seen unsorted is scanned instead.
   */
  private portsToPlan(model: ProxyModel, services: ReadonlySet<string> | null): readonly ServicePort[] {
    const all = model.servicePorts;
    if (services === null) return all;
    if (!this.modelsSorted) return all.filter((sp) => services.has(serviceKeyOfPort(sp)));
    const at: number[] = [];
    for (const service of services) {
      for (let i = lowerBound(all, service); i < all.length && all[i].servicePortName === service; i++)
        at.push(i);
      const named = `${service}:`;
      for (let i = lowerBound(all, named); i < all.length && all[i].servicePortName.startsWith(named); i++)
        at.push(i);
    }
    at.sort((a, b) => a - b);
    return at.map((i) => all[i]);
  }

  /**
   * In an incremental sync, the service port of a Service outside `services` that holds the
   * frontend `key` (it keeps it, so a changed Service claiming it too is a conflict).
   */
  private outsideClaimant(key: string, services: ReadonlySet<string> | null): string | undefined {
    if (services === null) return undefined;
    const holder = this.frontends.get(key);
    if (holder === undefined || services.has(serviceKeyOfPortName(holder.plan.servicePortName)))
      return undefined;
    return holder.plan.servicePortName;
  }

  /**
   * Installed frontends absent from `plans` (among those of `services` when incremental), in
   * installation order — the order a full sync meets them in, so IDs are freed identically.
   */
  private staleFrontends(
    plans: ReadonlyMap<string, FrontendPlan>,
    services: ReadonlySet<string> | null,
  ): InstalledFrontend[] {
    const stale: InstalledFrontend[] = [];
    if (services === null) {
      for (const [key, installed] of this.frontends) if (!plans.has(key)) stale.push(installed);
      return stale;
    }
    for (const service of services) {
      for (const key of this.frontendKeysByService.get(service) ?? []) {
        if (!plans.has(key)) stale.push(this.frontends.get(key)!);
      }
    }
    return stale.sort((a, b) => this.installOrder.get(a.plan.key)! - this.installOrder.get(b.plan.key)!);
  }

  /** Records an installed frontend in `frontends` and in the per-Service index. */
  private remember(installed: InstalledFrontend, old: InstalledFrontend | undefined): void {
    const key = installed.plan.key;
    if (old === undefined) this.installOrder.set(key, this.nextInstallOrder++);
    else this.unindex(old.plan);
    this.frontends.set(key, installed);
    const service = serviceKeyOfPortName(installed.plan.servicePortName);
    let keys = this.frontendKeysByService.get(service);
    if (keys === undefined) {
      keys = new Set();
      this.frontendKeysByService.set(service, keys);
    }
    keys.add(key);
  }

  private forget(plan: FrontendPlan): void {
    this.frontends.delete(plan.key);
    this.installOrder.delete(plan.key);
    this.unindex(plan);
  }

  private unindex(plan: FrontendPlan): void {
    const service = serviceKeyOfPortName(plan.servicePortName);
    const keys = this.frontendKeysByService.get(service);
    if (keys === undefined) return;
    keys.delete(plan.key);
    if (keys.size === 0) this.frontendKeysByService.delete(service);
  }

  /** Frontend installed under a rev-NAT id (for renderers and traces). */
  frontendByRevNat(revNat: number): InstalledFrontend | undefined {
    for (const f of this.frontends.values()) if (f.revNat === revNat) return f;
    return undefined;
  }

  private acquireBackend(b: PlannedBackend, stats: SyncStats): number {
    const have = this.backendIds.get(b.identity);
    if (have !== undefined) {
      have.refs++;
      this.writeBackend(have.id, b);
      return have.id;
    }
    const id = this.backendAlloc.allocate();
    this.backendIds.set(b.identity, { id, refs: 1 });
    this.writeBackend(id, b);
    stats.backendsAdded++;
    return id;
  }

  private writeBackend(id: number, b: PlannedBackend): void {
    const m = this.maps.backends;
    if (id >= m.maxEntries) throw new EbpfCompileError(mapFull('cilium_lb4_backends_v3', m.maxEntries - 1));
    const v = m.valueOffset(id);
    writeBackendValue(m.values, v, b.addr, b.port, b.proto, b.state);
  }

  private releaseBackend(identity: number, stats: SyncStats): void {
    const have = this.backendIds.get(identity);
    if (have === undefined) return;
    if (--have.refs > 0) return;
    this.backendIds.delete(identity);
    this.maps.backends.values.fill(
      0,
      this.maps.backends.valueOffset(have.id),
      this.maps.backends.valueOffset(have.id + 1),
    );
    this.backendAlloc.release(have.id);
    stats.backendsRemoved++;
  }

  private writeServiceEntry(
    f: FrontendPlan,
    slot: number,
    scope: number,
    word0: number,
    count: number,
    revNat: number,
    flags2: number,
  ): void {
    const m = this.maps.services;
    const e = m.insertWords(BPF_ANY, f.addr, f.port | (slot << 16), f.proto | (scope << 8));
    if (e < 0) throw new EbpfCompileError(mapFull('cilium_lb4_services_v2', m.maxEntries));
    const v = m.valueOffset(e);
    writeSvcValue(m.values, v, word0, count, revNat, f.flags, flags2);
  }

  private deleteServiceSlots(
    f: FrontendPlan,
    scope: number,
    fromSlot: number,
    toSlot: number,
    stats: SyncStats,
  ): void {
    for (let s = fromSlot; s <= toSlot; s++) {
      if (this.maps.services.deleteWords(f.addr, f.port | (s << 16), f.proto | (scope << 8)) === 0) {
        stats.serviceEntriesTouched++;
      }
    }
  }

  private installFrontend(
    plan: FrontendPlan,
    old: InstalledFrontend | undefined,
    stats: SyncStats,
  ): InstalledFrontend {
    const revNat = old?.revNat ?? this.revNatIds.allocate();
    const algo = this.algorithm === 'maglev' ? LbAlgorithm.MAGLEV : LbAlgorithm.RANDOM;
    // Acquire new backends before releasing old ones so shared backends keep their IDs.
    const extIds = plan.extBackends.map((b) => this.acquireBackend(b, stats));
    const intIds = plan.intBackends?.map((b) => this.acquireBackend(b, stats)) ?? null;
    if (old !== undefined) {
      for (const b of old.plan.extBackends) this.releaseBackend(b.identity, stats);
      for (const b of old.plan.intBackends ?? []) this.releaseBackend(b.identity, stats);
    }

    const word0 = (plan.affinityTimeout & 0xffffff) | (algo << 24);
    const writeScope = (scope: number, ids: readonly number[], flags2: number, oldCount: number) => {
      for (let s = 0; s < ids.length; s++) {
        this.writeServiceEntry(plan, s + 1, scope, ids[s], 0, revNat, flags2);
        stats.serviceEntriesTouched++;
      }
      this.writeServiceEntry(plan, 0, scope, word0, ids.length, revNat, flags2);
      stats.serviceEntriesTouched++;
      if (oldCount > ids.length) this.deleteServiceSlots(plan, scope, ids.length + 1, oldCount, stats);
    };
    writeScope(LbScope.EXT, extIds, plan.flags2, old?.extBackendIds.length ?? 0);
    if (intIds !== null) writeScope(LbScope.INT, intIds, plan.flags2, old?.intBackendIds?.length ?? 0);
    else if (old?.intBackendIds)
      this.deleteServiceSlots(plan, LbScope.INT, 0, old.intBackendIds.length, stats);

    // Reverse NAT: rev_nat id → frontend address and port.
    const rn = this.maps.revNat.insertWords(BPF_ANY, revNat);
    if (rn < 0) throw new EbpfCompileError(mapFull('cilium_lb4_reverse_nat', this.maps.revNat.maxEntries));
    const ro = this.maps.revNat.valueOffset(rn);
    this.maps.revNat.values[ro + RevNatValue.ADDR] = plan.addr;
    this.maps.revNat.values[ro + RevNatValue.PORT] = plan.port;

    // Affinity match entries: (backend, rev_nat) pairs still valid for stickiness.
    if (old !== undefined) {
      for (const id of old.extBackendIds) this.maps.affinityMatch.deleteWords(id, revNat);
      for (const id of old.intBackendIds ?? []) this.maps.affinityMatch.deleteWords(id, revNat);
    }
    if (plan.flags & SvcFlag.AFFINITY) {
      for (const id of [...extIds, ...(intIds ?? [])])
        this.maps.affinityMatch.insertWords(BPF_ANY, id, revNat);
    }

    // Maglev: one table per frontend over its EXT backends (Cilium builds it from the
    // backends its LB path would select; the INT scope uses random selection here).
    let maglevInner = old?.maglevInner ?? -1;
    if (this.algorithm === 'maglev') {
      if (maglevInner < 0) maglevInner = this.allocateMaglevInner();
      const inner = this.maps.maglevInner[maglevInner]!;
      const table = maglevLookupTable(
        plan.extBackends.map((b) => ({ key: ciliumBackendKey(b.ip, b.port, b.protocol, b.internalScope) })),
        { tableSize: this.maglevTableSize, seed: this.maglevSeedText },
      );
      for (let s = 0; s < table.length; s++) inner.values[s] = table[s] < 0 ? 0 : extIds[table[s]];
      const o = this.maps.maglevOuter.insertWords(BPF_ANY, revNat);
      if (o < 0) throw new EbpfCompileError('Maglev outer map full');
      this.maps.maglevOuter.values[this.maps.maglevOuter.valueOffset(o)] = maglevInner;
      stats.maglevTablesBuilt++;
    }

    // Source ranges (LPM per rev-NAT id).
    if (plan.sourceRanges.length > 0) {
      const trie = new BpfLpmTrie({ valueWords: 1, maxEntries: this.maps.sizes.sourceRangesMax });
      for (const r of plan.sourceRanges) {
        const node = trie.insert(r.network, r.prefixLength);
        if (node < 0) throw new EbpfCompileError(`source-range map full for ${plan.key}`);
        trie.values[trie.valueOffset(node)] = 1;
      }
      this.maps.sourceRanges[revNat] = trie;
    } else {
      this.maps.sourceRanges[revNat] = undefined;
    }
    return { plan, revNat, extBackendIds: extIds, intBackendIds: intIds, maglevInner };
  }

  private allocateMaglevInner(): number {
    const reuse = this.maglevFree.pop();
    const inner = new BpfArrayMap({ valueWords: this.maglevTableSize, maxEntries: 1 });
    if (reuse !== undefined) {
      this.maps.maglevInner[reuse] = inner;
      return reuse;
    }
    this.maps.maglevInner.push(inner);
    return this.maps.maglevInner.length - 1;
  }

  private removeFrontend(f: InstalledFrontend, stats: SyncStats): void {
    this.deleteServiceSlots(f.plan, LbScope.EXT, 0, f.extBackendIds.length, stats);
    if (f.intBackendIds !== null)
      this.deleteServiceSlots(f.plan, LbScope.INT, 0, f.intBackendIds.length, stats);
    for (const id of f.extBackendIds) this.maps.affinityMatch.deleteWords(id, f.revNat);
    for (const id of f.intBackendIds ?? []) this.maps.affinityMatch.deleteWords(id, f.revNat);
    for (const b of f.plan.extBackends) this.releaseBackend(b.identity, stats);
    for (const b of f.plan.intBackends ?? []) this.releaseBackend(b.identity, stats);
    this.maps.revNat.deleteWords(f.revNat);
    if (f.maglevInner >= 0) {
      this.maps.maglevOuter.deleteWords(f.revNat);
      this.maps.maglevInner[f.maglevInner] = undefined;
      this.maglevFree.push(f.maglevInner);
    }
    this.maps.sourceRanges[f.revNat] = undefined;
    this.revNatIds.release(f.revNat);
  }
}

/** Convenience: compile one node's maps from the model. */
export function compileEbpf(
  model: ProxyModel,
  nodeName: string,
  options: EbpfOptions = {},
): EbpfLoadBalancer {
  return new EbpfLoadBalancer(model, nodeName, options);
}
