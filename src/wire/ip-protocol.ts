/**
 * IANA IP protocol numbers (the IPv4 `protocol` / IPv6 `next header` byte): the one
 * definition every layer imports, from the frame parsers to the rule matches (`-p tcp`,
 * `meta l4proto`), conntrack tuples and the eBPF maps' `nexthdr`.
 */
export const enum IpProtocol {
  ICMP = 1,
  /** IPv4-in-IPv4 (Calico's IPIP overlay). */
  IPIP = 4,
  TCP = 6,
  UDP = 17,
  /** ICMP for IPv6 (RFC 4443); its checksum covers the IPv6 pseudo-header. */
  ICMPV6 = 58,
  SCTP = 132,
}
