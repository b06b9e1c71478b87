/**
 * Cilium's IPv4 load-balancer map structs (bpf/lib/common.h, lb.h, conntrack.h, nat.h) as
 * byte layouts, used to print maps the way `bpftool map dump` shows their raw key/value
 * bytes. Network-order fields are written big-endian; host-order fields little-endian (x86),
 * exactly as the kernel stores them. Control-plane/rendering code: it allocates freely.
 */

/** `lb4_service.flags`. */
export const enum SvcFlag {
  EXTERNAL_IP = 0x01,
  NODEPORT = 0x02,
  EXT_LOCAL_SCOPE = 0x04,
  HOSTPORT = 0x08,
  AFFINITY = 0x10,
  LOADBALANCER = 0x20,
  ROUTABLE = 0x40,
  SOURCE_RANGE = 0x80,
}

/** `lb4_service.flags2`. */
export const enum SvcFlag2 {
  LOCALREDIRECT = 0x01,
  NAT_46X64 = 0x02,
  L7_LOADBALANCER = 0x04,
  LOOPBACK = 0x08,
  INT_LOCAL_SCOPE = 0x10,
  TWO_SCOPES = 0x20,
  FWD_MODE_DSR = 0x80,
}

export const enum LbScope {
  EXT = 0,
  INT = 1,
}

/** Per-service algorithm in the top byte of the master entry's `affinity_timeout` (current Cilium). */
export const enum LbAlgorithm {
  RANDOM = 1,
  MAGLEV = 2,
}

/** `lb4_backend.flags` (backend state). */
export const enum BackendState {
  ACTIVE = 0,
  TERMINATING = 1,
  QUARANTINED = 2,
  MAINTENANCE = 3,
}

export const BACKEND_STATE_NAMES = ['active', 'terminating', 'quarantined', 'maintenance'] as const;

/** `ipv4_ct_tuple.flags`. */
export const enum TupleFlag {
  OUT = 0,
  IN = 1,
  RELATED = 2,
  SERVICE = 4,
}

/** Bits of `ct_entry`'s 16-bit bitfield (C bitfield order on little-endian). */
export const enum CtEntryFlag {
  RX_CLOSING = 1 << 0,
  TX_CLOSING = 1 << 1,
  NAT46 = 1 << 2,
  LB_LOOPBACK = 1 << 3,
  SEEN_NON_SYN = 1 << 4,
  NODE_PORT = 1 << 5,
  PROXY_REDIRECT = 1 << 6,
  DSR = 1 << 7,
}

export const enum NatDir {
  EGRESS = 0,
  INGRESS = 1,
}

class ByteWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  be32(at: number, v: number): this {
    this.view.setUint32(at, v >>> 0, false);
    return this;
  }
  be16(at: number, v: number): this {
    this.view.setUint16(at, v & 0xffff, false);
    return this;
  }
  u8(at: number, v: number): this {
    this.bytes[at] = v;
    return this;
  }
  le16(at: number, v: number): this {
    this.view.setUint16(at, v & 0xffff, true);
    return this;
  }
  le32(at: number, v: number): this {
    this.view.setUint32(at, v >>> 0, true);
    return this;
  }
  le64(at: number, v: number): this {
    this.view.setBigUint64(at, BigInt(Math.max(0, Math.floor(v))), true);
    return this;
  }
}

/** `lb4_key` (12 B). */
export function encodeLb4Key(
  address: number,
  dport: number,
  slot: number,
  proto: number,
  scope: number,
): Uint8Array {
  return new ByteWriter(12).be32(0, address).be16(4, dport).le16(6, slot).u8(8, proto).u8(9, scope).bytes;
}

/** `lb4_service` (12 B). `word0` is backend_id (slots ≥ 1) or affinity_timeout|algorithm<<24 (slot 0). */
export function encodeLb4Service(
  word0: number,
  count: number,
  revNat: number,
  flags: number,
  flags2: number,
): Uint8Array {
  return new ByteWriter(12).le32(0, word0).le16(4, count).le16(6, revNat).u8(8, flags).u8(9, flags2).bytes;
}

/** `__u32 backend_id` key. */
export function encodeU32Key(v: number): Uint8Array {
  return new ByteWriter(4).le32(0, v).bytes;
}

/** `__u16 rev_nat_index` key. */
export function encodeU16Key(v: number): Uint8Array {
  return new ByteWriter(2).le16(0, v).bytes;
}

/** `lb4_backend` (12 B, current layout: u16 cluster_id, u8 zone, u8 pad). */
export function encodeLb4Backend(address: number, port: number, proto: number, state: number): Uint8Array {
  return new ByteWriter(12).be32(0, address).be16(4, port).u8(6, proto).u8(7, state).bytes;
}

/** `lb4_reverse_nat` (6 B packed). */
export function encodeLb4ReverseNat(address: number, port: number): Uint8Array {
  return new ByteWriter(6).be32(0, address).be16(4, port).bytes;
}

/** `lb4_affinity_key` (16 B packed). */
export function encodeLb4AffinityKey(clientAddr: number, revNat: number): Uint8Array {
  // The u64 union holds the raw be32 address in its low bytes.
  return new ByteWriter(16).be32(0, clientAddr).le16(8, revNat).bytes;
}

/** `lb_affinity_val` (16 B). */
export function encodeLbAffinityVal(lastUsed: number, backendId: number): Uint8Array {
  return new ByteWriter(16).le64(0, lastUsed).le32(8, backendId).bytes;
}

/** `lb4_src_range_key` (12 B): prefixlen counts the 32 bits of rev_nat_id+pad too. */
export function encodeLb4SrcRangeKey(prefixLength: number, revNat: number, network: number): Uint8Array {
  return new ByteWriter(12)
    .le32(0, prefixLength + 32)
    .le16(4, revNat)
    .be32(8, network).bytes;
}

/**
 * `ipv4_ct_tuple` (14 B packed) as Cilium stores it: note the port naming quirk — `dport`
 * holds the first port of the packet's [sport, dport] pair.
 */
export function encodeCtTuple(
  daddr: number,
  saddr: number,
  dport: number,
  sport: number,
  nexthdr: number,
  flags: number,
): Uint8Array {
  return new ByteWriter(14)
    .be32(0, daddr)
    .be32(4, saddr)
    .be16(8, dport)
    .be16(10, sport)
    .u8(12, nexthdr)
    .u8(13, flags).bytes;
}

export interface CtEntryFields {
  readonly rxPackets: number;
  readonly rxBytes: number;
  readonly txPackets: number;
  readonly txBytes: number;
  readonly lifetime: number;
  readonly flags: number;
  readonly revNat: number;
  readonly backendId: number;
}

/** `ct_entry` (56 B). For CT_SERVICE entries Cilium reuses rx_bytes as backend_id. */
export function encodeCtEntry(e: CtEntryFields, isService: boolean): Uint8Array {
  return new ByteWriter(56)
    .le64(0, e.rxPackets)
    .le64(8, isService ? e.backendId : e.rxBytes)
    .le64(16, e.txPackets)
    .le64(24, e.txBytes)
    .le32(32, e.lifetime)
    .le16(36, e.flags)
    .le16(38, e.revNat).bytes;
}

/** `ipv4_nat_entry` (40 B): created (u64) … then to_addr (be32), to_port (be16) at offset 32. */
export function encodeNatEntry(created: number, toAddr: number, toPort: number): Uint8Array {
  return new ByteWriter(40).le64(0, created).be32(32, toAddr).be16(36, toPort).bytes;
}
