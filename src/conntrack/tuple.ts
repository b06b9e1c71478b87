/**
 * How conntrack tuples are carried as numbers. A tuple is (saddr, daddr, sport, dport,
 * proto) with addresses as host-order u32. The two 16-bit "port" parts follow the kernel's
 * `nf_conntrack_tuple`: for TCP/UDP they are the ports; for ICMP the source part is the
 * echo identifier and the destination part is `type << 8 | code`. In the hash key they are
 * packed into one word, source part high.
 */
import { IpProtocol } from '../wire/ip-protocol.js';

export const ICMP_ECHOREPLY = 0;
export const ICMP_ECHO = 8;

/** The "dport" of an ICMP tuple. */
export function icmpTypeCode(type: number, code: number): number {
  return ((type & 0xff) << 8) | (code & 0xff);
}

/**
 * The ICMP type a reply carries (`invmap` in nf_conntrack_proto_icmp.c), or −1 when the
 * type has no query/response pair (such messages cannot start a connection).
 */
export function icmpInverseType(type: number): number {
  switch (type) {
    case 8:
      return 0;
    case 0:
      return 8;
    case 13:
      return 14;
    case 14:
      return 13;
    case 15:
      return 16;
    case 16:
      return 15;
    case 17:
      return 18;
    case 18:
      return 17;
    default:
      return -1;
  }
}

/** Only query messages (echo, timestamp, info, address mask requests) create a connection. */
export function icmpStartsConnection(type: number): boolean {
  return type === 8 || type === 13 || type === 15 || type === 17;
}

/** Name printed by `conntrack -L` for an IP protocol number. */
export function protoName(proto: number): string {
  switch (proto) {
    case IpProtocol.TCP:
      return 'tcp';
    case IpProtocol.UDP:
      return 'udp';
    case IpProtocol.ICMP:
      return 'icmp';
    case 132:
      return 'sctp';
    case 47:
      return 'gre';
    case 136:
      return 'udplite';
    case 33:
      return 'dccp';
    default:
      return 'unknown';
  }
}
