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
