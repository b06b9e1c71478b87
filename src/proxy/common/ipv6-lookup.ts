/**
 * The IPv6 side of a rule evaluator (ip6tables, the `ip6 kube-proxy` table, the IPv6 IPVS
 * proxier): packets' addresses (PacketMeta.saddr/daddr) are indices of the network's IPv6
 * address table (src/topology/ipv6-address-table.ts), whose 16 bytes prefix matches read;
 * the rules' addresses are interned when they are loaded.
 */
export interface Ipv6AddressLookup {
  /** The index of an address given as text (interned). */
  internText(text: string): number;
  /** True when the first `prefixLength` bits of `index`'s address equal those of `network[at..at+16)`. */
  inPrefix(index: number, network: Uint8Array, at: number, prefixLength: number): boolean;
  /** Byte `i` of `index`'s address. */
  byteOf(index: number, i: number): number;
  /** RFC 5952 text of `index` (listings and traces). */
  text(index: number): string;
}

/** An IPv6 address table a datapath parses frames against: interning a frame's address and the bytes behind an index. */
export interface Ipv6AddressStore extends Ipv6AddressLookup {
  /** The index of the 16 bytes at `buf[at..)`, interned on first sight (no allocation). */
  intern(buf: Uint8Array, at: number): number;
  /** The table's byte store: index i's address is at i × 16 (read-only use). */
  storeOf(): Uint8Array;
}
