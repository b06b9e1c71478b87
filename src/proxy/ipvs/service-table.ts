/**
 * The kernel's IPVS service table on one node: virtual services, each with its destination
 * list in kernel list order, the scheduler's state, and the per-destination counters that
 * `ipvsadm -Ln` shows. Created and changed on the control-plane side (by sync.ts); the
 * datapath only reads it and bumps numeric counters.
 *
 * List order matters for rr/wrr/sh/dh/mh: the kernel inserts a new destination at the
 * HEAD of `svc->destinations` (list_add_rcu in __ip_vs_update_dest), so the list is in
 * reverse order of addition.
 */

import { NOT_FOUND, PairMap } from '../../maps/pair-map.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import { SVC_F_PERSISTENT } from './ip-vs.js';
import { createScheduler, type Scheduler, type SchedulerName } from './schedulers.js';

export class IpvsConfigError extends Error {
  override name = 'IpvsConfigError';
}

/** Traffic counters kept per service and per destination (ip_vs_stats). */
export class IpvsStats {
  conns = 0;
  inPkts = 0;
  outPkts = 0;
  inBytes = 0;
  outBytes = 0;
}

/** One real server (ip_vs_dest). */
export class IpvsDest {
  /** Current weight; 0 = quiesced (no new connections, existing ones continue). */
  weight: number;
  /** Latest non-zero weight (dest->last_weight), which the mh scheduler uses. */
  lastWeight: number;
  /** IP_VS_DEST_F_AVAILABLE: false once deleted from its service (then only in the trash). */
  available = true;
  /** IP_VS_DEST_F_OVERLOAD: set by upper/lower connection thresholds (unused by kube-proxy). */
  overloaded = false;
  activeConns = 0;
  inactConns = 0;
  persistConns = 0;
  readonly stats = new IpvsStats();

  constructor(
    readonly service: IpvsService,
    /** Real server address (u32) and port. */
    readonly addr: number,
    readonly port: number,
    weight: number,
  ) {
    this.weight = weight;
    this.lastWeight = weight;
  }
}

/** An IPv4 address is hashed as itself (host order). */
function ipv4AddressFold(addr: number): number {
  return addr >>> 0;
}

/** One virtual service (ip_vs_service), keyed by (protocol, address, port). */
export class IpvsService {
  /** Destinations in kernel list order (head first). */
  readonly dests: IpvsDest[] = [];
  readonly scheduler: Scheduler;
  readonly stats = new IpvsStats();
  /** Persistence netmask (ipvsadm -M); kube-proxy never sets it, so /32. */
  readonly netmask = 0xffffffff;

  constructor(
    readonly protocol: number,
    readonly addr: number,
    readonly port: number,
    schedulerName: SchedulerName,
    /** SVC_F_* flags. */
    public flags: number,
    /** Persistence timeout in seconds (meaningful with SVC_F_PERSISTENT). */
    public timeoutS: number,
    /**
     * The u32 the hashing schedulers (sh, dh, mh) hash for an address this service's packets
     * carry: the IPv4 address itself, or for an IPv6 service (whose addresses are address-table
     * indices) the kernel's addr_fold of the 128 bits behind the index.
     */
    readonly addressFold: (addr: number) => number = ipv4AddressFold,
  ) {
    this.scheduler = createScheduler(schedulerName);
    this.scheduler.init(this);
  }

  get persistent(): boolean {
    return (this.flags & SVC_F_PERSISTENT) !== 0;
  }

  findDest(addr: number, port: number): IpvsDest | null {
    for (const d of this.dests) if (d.addr === addr && d.port === port) return d;
    return null;
  }

  /** ip_vs_add_dest: creates the destination and links it at the list head. */
  addDest(addr: number, port: number, weight: number): IpvsDest {
    if (this.findDest(addr, port) !== null) {
      throw new IpvsConfigError(
        `destination ${addr >>> 0}:${port} already exists in service (Destination already exists)`,
      );
    }
    validateWeight(weight);
    const dest = new IpvsDest(this, addr, port, weight);
    this.dests.unshift(dest);
    this.scheduler.onAdd(this);
    return dest;
  }

  /** ip_vs_edit_dest: weight change (last_weight keeps the latest non-zero weight). */
  updateDestWeight(dest: IpvsDest, weight: number): void {
    validateWeight(weight);
    dest.weight = weight;
    if (weight !== 0) dest.lastWeight = weight;
    this.scheduler.onUpdate(this);
  }

  /**
   * ip_vs_del_dest: unlinks the destination; it stays alive (in the kernel's trash) for the
   * connections that still point at it, but is no longer AVAILABLE, so with
   * expire_nodest_conn=1 (kube-proxy sets it) their next packet expires them.
   */
  removeDest(dest: IpvsDest): void {
    const i = this.dests.indexOf(dest);
    if (i < 0) throw new IpvsConfigError('no such destination in service');
    this.dests.splice(i, 1);
    dest.available = false;
    this.scheduler.onRemove(this, i);
  }
}

function validateWeight(weight: number): void {
  if (!Number.isInteger(weight) || weight < 0 || weight > 0x7fffffff) {
    throw new IpvsConfigError(`invalid destination weight ${weight}: must be an integer in [0, 2147483647]`);
  }
}

/** Dense protocol index for numeric service keys (TCP 0, UDP 1, SCTP 2). */
export function protoIndex(proto: number): number {
  if (proto === IpProtocol.TCP) return 0;
  if (proto === IpProtocol.UDP) return 1;
  if (proto === IpProtocol.SCTP) return 2;
  return -1;
}

/** A numeric key (< 2^51) for (protocol, address, port); -1 for unsupported protocols. */
export function serviceKey(proto: number, addr: number, port: number): number {
  const p = protoIndex(proto);
  if (p < 0) return -1;
  return ((addr >>> 0) * 65536 + port) * 4 + p;
}

/**
 * All virtual services of one node (the kernel's ip_vs_svc_table). The per-packet lookup is
 * one probe of a typed-array hash (address, port·protocol) → slot, so a new connection costs
 * the same at 100 and 30k services and allocates nothing (a Map keyed by a number above 2^31
 * boxes it on every lookup).
 */
export class IpvsServiceTable {
  private readonly index = new PairMap();
  private readonly slots: (IpvsService | null)[] = [];
  private readonly freeSlots: number[] = [];
  /** Insertion order, for listings. */
  private readonly ordered = new Set<IpvsService>();

  get size(): number {
    return this.ordered.size;
  }

  services(): IterableIterator<IpvsService> {
    return this.ordered.values();
  }

  /** Per-packet lookup (ip_vs_service_find). */
  find(proto: number, addr: number, port: number): IpvsService | undefined {
    const p = protoIndex(proto);
    if (p < 0) return undefined;
    const slot = this.index.get(addr, (port << 2) | p);
    return slot === NOT_FOUND ? undefined : (this.slots[slot] as IpvsService);
  }

  add(svc: IpvsService): void {
    const p = protoIndex(svc.protocol);
    if (p < 0) throw new IpvsConfigError(`unsupported IPVS protocol ${svc.protocol}`);
    if (this.find(svc.protocol, svc.addr, svc.port) !== undefined)
      throw new IpvsConfigError('Service already exists');
    const slot = this.freeSlots.pop() ?? this.slots.length;
    this.slots[slot] = svc;
    this.index.set(svc.addr, (svc.port << 2) | p, slot);
    this.ordered.add(svc);
  }

  remove(svc: IpvsService): void {
    const p = protoIndex(svc.protocol);
    const slot = this.index.get(svc.addr, (svc.port << 2) | p);
    if (slot !== NOT_FOUND && this.slots[slot] === svc) {
      this.index.delete(svc.addr, (svc.port << 2) | p);
      this.slots[slot] = null;
      this.freeSlots.push(slot);
    }
    this.ordered.delete(svc);
    for (const d of svc.dests) d.available = false;
  }
}
