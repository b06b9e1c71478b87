/**
 * Public API of the packet-bytes layer: views over frame bytes, plain reprs, frame
 * builders, checksums, in-place rewrites, tunnels, the hot-path 5-tuple parser and the
 * tcpdump-style decoder. Knows nothing about Kubernetes.
 */
export * from './arp.js';
export * from './build.js';
export * from './build6.js';
export * from './bytes.js';
export * from './checksum.js';
export * from './checksum6.js';
export * from './crc32c.js';
export * from './decode.js';
export * from './dns.js';
export * from './encap.js';
export * from './errors.js';
export * from './ethernet.js';
export * from './five-tuple.js';
export * from './five-tuple6.js';
export * from './icmp.js';
export * from './icmp-error.js';
export * from './icmpv6.js';
export * from './ip-protocol.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './mac.js';
export * from './rewrite.js';
export * from './rewrite6.js';
export * from './sctp.js';
export * from './tcp.js';
export { formatTcpdumpLine, formatTcpFlags, formatTcpOption } from './tcpdump.js';
export * from './udp.js';
export * from './vxlan.js';
