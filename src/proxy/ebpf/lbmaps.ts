/**
 * One node's Cilium-style load-balancer maps over the typed-array maps of `src/maps`, with the
 * word layouts both the compiler (writer) and the datapath (reader) use. Map names follow
 * Cilium's pinned names; the byte layouts for dumps are in layouts.ts.
 *
 * Word layouts (all numbers host order; see layouts.ts for the kernel's byte order):
 * - services `cilium_lb4_services_v2` (HASH): key [addr, dport | slot<<16, proto | scope<<8]
 *   → [backend_id | (affinity_timeout | algorithm<<24) on slot 0, count | rev_nat<<16,
 *   flags | flags2<<8 | qcount<<16].
 * - backends `cilium_lb4_backends_v3`: [id] → [addr, port | proto<<16 | state<<24, present].
 *   Cilium's map is a HASH keyed by the u32 backend id; IDs are small dense integers
 *   allocated from 1, so it is modelled as an ARRAY indexed by id with a presence word — the
 *   same lookup semantics (absent id ⇒ miss) without a hash probe per packet.
 * - reverse NAT `cilium_lb4_reverse_nat` (HASH): [rev_nat] → [addr, port].
 * - Maglev `cilium_lb4_maglev` (HASH_OF_MAPS): [rev_nat] → [inner index]; each inner map is an
 *   ARRAY of one entry holding u32[M] backend IDs.
 * - affinity `cilium_lb4_affinity` (LRU_HASH): [client addr, rev_nat] → [last_used, backend_id];
 *   `cilium_lb_affinity_match` (HASH): [backend_id, rev_nat] → ∅.
 * - source ranges `cilium_lb4_source_range` (LPM_TRIE keyed {rev_nat, addr}): modelled as one
 *   IPv4 LPM trie per rev-NAT id, because a lookup always fixes the rev_nat part of the key.
 * - conntrack `cilium_ct4_global` (TCP) / `cilium_ct_any4_global` (others) (LRU_HASH, or HASH as
 *   on old kernels): key = ipv4_ct_tuple [daddr, saddr, dport<<16 | sport, nexthdr | flags<<8]
 *   (Cilium's port-naming quirk kept: `dport` is the packet's first port for forward tuples)
 *   → [lifetime, ct flags | rev_nat<<16, backend_id (SERVICE entries) or rx_packets, tx_packets].
 *   4 value words instead of ct_entry's 56 bytes: counters are packets only. Both are
 *   BpfInlineHashMaps (key and value in one 32-byte slot, the kernel's reference-bit LRU
 *   approximated by a CLOCK sweep): the per-packet lookup touches one cache line, and a CT
 *   entry costs ~41 B of table memory. CT handles are slot indices, valid until the next CT
 *   deletion or eviction.
 * - SNAT `cilium_snat_v4_external` (LRU_HASH): key [daddr, saddr, dport<<16 | sport,
 *   nexthdr | dir<<8] → [to_addr, to_port, created].
 */
import {
  BpfArrayMap,
  BpfHashMap,
  BpfInlineHashMap,
  type BpfLpmTrie,
  BpfLruHashMap,
} from '../../maps/index.js';

export interface LbMapSizes {
  /** services, backends, reverse NAT, affinity, Maglev outer (`--bpf-lb-map-max`). */
  readonly lbMapMax: number;
  readonly ctTcpMax: number;
  readonly ctAnyMax: number;
  readonly natMax: number;
  /** Per-service source-range trie capacity. */
  readonly sourceRangesMax: number;
}

/** Cilium's defaults (`lbmap.DefaultMaxEntries`, CT 2<<18 / 2<<17, NAT ⅔ of both). */
export const CILIUM_DEFAULT_MAP_SIZES: LbMapSizes = {
  lbMapMax: 65536,
  ctTcpMax: 524288,
  ctAnyMax: 262144,
  natMax: 524288,
  sourceRangesMax: 65536,
};

/**
 * The simulator's defaults: Cilium's LB map size, smaller CT/NAT maps so a cluster of many
 * simulated nodes fits in memory (~41 B per CT entry here). Pass CILIUM_DEFAULT_MAP_SIZES for
 * the real figures.
 */
export const DEFAULT_MAP_SIZES: LbMapSizes = {
  lbMapMax: 65536,
  ctTcpMax: 131072,
  ctAnyMax: 65536,
  natMax: 131072,
  sourceRangesMax: 1024,
};

export type CtMapKind = 'lru' | 'hash';

/**
 * `lb4_service` as words (services map value): the compiler writes it with writeSvcValue
 * and the datapath and renderers read it with the accessors below, so the layout is named
 * in one place (as Cilium's `struct lb4_service`).
 */
export const enum SvcValue {
  /** backend_id (slots ≥ 1), or affinity_timeout | algorithm << 24 (slot 0, the master). */
  WORD0 = 0,
  /** count | rev_nat << 16. */
  COUNT_REV_NAT = 1,
  /** flags | flags2 << 8 | qcount << 16. */
  FLAGS = 2,
}

export function writeSvcValue(
  v: Uint32Array,
  o: number,
  word0: number,
  count: number,
  revNat: number,
  flags: number,
  flags2: number,
): void {
  v[o + SvcValue.WORD0] = word0 >>> 0;
  v[o + SvcValue.COUNT_REV_NAT] = (count | (revNat << 16)) >>> 0;
  v[o + SvcValue.FLAGS] = flags | (flags2 << 8);
}

/** Backend id of a slot ≥ 1 entry. */
export function svcBackendId(v: Uint32Array, o: number): number {
  return v[o + SvcValue.WORD0];
}

/** Session-affinity timeout of a master (slot 0) entry, in seconds. */
export function svcAffinityTimeout(v: Uint32Array, o: number): number {
  return v[o + SvcValue.WORD0] & 0xffffff;
}

export function svcCount(v: Uint32Array, o: number): number {
  return v[o + SvcValue.COUNT_REV_NAT] & 0xffff;
}

export function svcRevNat(v: Uint32Array, o: number): number {
  return v[o + SvcValue.COUNT_REV_NAT] >>> 16;
}

/** `lb4_service.flags` (SvcFlag). */
export function svcFlags(v: Uint32Array, o: number): number {
  return v[o + SvcValue.FLAGS] & 0xff;
}

/** `lb4_service.flags2` (SvcFlag2). */
export function svcFlags2(v: Uint32Array, o: number): number {
  return (v[o + SvcValue.FLAGS] >>> 8) & 0xff;
}

/** `lb4_backend` as words (backends map value, indexed by id). */
export const enum BackendValue {
  ADDR = 0,
  /** port | proto << 16 | state << 24. */
  PORT_PROTO_STATE = 1,
  /** 1 while the id is allocated (the ARRAY model of Cilium's HASH map). */
  PRESENT = 2,
}

export function writeBackendValue(
  v: Uint32Array,
  o: number,
  addr: number,
  port: number,
  proto: number,
  state: number,
): void {
  v[o + BackendValue.ADDR] = addr;
  v[o + BackendValue.PORT_PROTO_STATE] = (port | (proto << 16) | (state << 24)) >>> 0;
  v[o + BackendValue.PRESENT] = 1;
}

export function backendAddr(v: Uint32Array, o: number): number {
  return v[o + BackendValue.ADDR];
}

export function backendPort(v: Uint32Array, o: number): number {
  return v[o + BackendValue.PORT_PROTO_STATE] & 0xffff;
}

export function backendProto(v: Uint32Array, o: number): number {
  return (v[o + BackendValue.PORT_PROTO_STATE] >>> 16) & 0xff;
}

export function backendState(v: Uint32Array, o: number): number {
  return v[o + BackendValue.PORT_PROTO_STATE] >>> 24;
}

/** `lb4_reverse_nat` as words (reverse NAT map value). */
export const enum RevNatValue {
  ADDR = 0,
  PORT = 1,
}

export const SVC_KEY_WORDS = 3;
export const CT_VALUE_WORDS = 4;
export const BACKEND_VALUE_WORDS = 3;

export class LbMaps {
  readonly sizes: LbMapSizes;
  readonly services: BpfHashMap;
  readonly backends: BpfArrayMap;
  readonly revNat: BpfHashMap;
  readonly maglevOuter: BpfHashMap;
  /** Inner Maglev maps by index (the outer map's value); `undefined` once released. */
  readonly maglevInner: (BpfArrayMap | undefined)[] = [];
  readonly affinity: BpfLruHashMap;
  readonly affinityMatch: BpfHashMap;
  /** Source-range tries by rev-NAT id. */
  readonly sourceRanges: (BpfLpmTrie | undefined)[] = [];
  readonly ctTcp: BpfInlineHashMap;
  readonly ctAny: BpfInlineHashMap;
  readonly nat: BpfLruHashMap;
  readonly ctKind: CtMapKind;

  constructor(sizes: LbMapSizes = DEFAULT_MAP_SIZES, ctKind: CtMapKind = 'lru') {
    this.sizes = sizes;
    this.ctKind = ctKind;
    const lb = sizes.lbMapMax;
    this.services = new BpfHashMap({ keyWords: SVC_KEY_WORDS, valueWords: 3, maxEntries: lb });
    this.backends = new BpfArrayMap({ valueWords: BACKEND_VALUE_WORDS, maxEntries: lb + 1 });
    this.revNat = new BpfHashMap({ keyWords: 1, valueWords: 2, maxEntries: lb });
    this.maglevOuter = new BpfHashMap({ keyWords: 1, valueWords: 1, maxEntries: lb });
    this.affinity = new BpfLruHashMap({ keyWords: 2, valueWords: 2, maxEntries: lb });
    this.affinityMatch = new BpfHashMap({ keyWords: 2, valueWords: 0, maxEntries: lb });
    const ct = (maxEntries: number) =>
      new BpfInlineHashMap({ keyWords: 4, valueWords: CT_VALUE_WORDS, maxEntries, lru: ctKind === 'lru' });
    this.ctTcp = ct(sizes.ctTcpMax);
    this.ctAny = ct(sizes.ctAnyMax);
    this.nat = new BpfLruHashMap({ keyWords: 4, valueWords: 3, maxEntries: sizes.natMax });
  }

  /** Value offset of backend `id` in `backends.values`, or −1 when no such backend. */
  backendOffset(id: number): number {
    if (id <= 0 || id >= this.backends.maxEntries) return -1;
    const o = id * BACKEND_VALUE_WORDS;
    return this.backends.values[o + BackendValue.PRESENT] === 0 ? -1 : o;
  }

  /** Typed-array bytes one CT entry costs (slots with key and value, ctrl bytes). */
  ctBytesPerEntry(): number {
    return this.ctTcp.byteLength / this.ctTcp.maxEntries;
  }
}
