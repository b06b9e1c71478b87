/**
 * Why the simulated network dropped a packet. Every frame that enters the pump is either
 * delivered to a socket or counted under exactly one of these, so runs can assert that
 * packets are conserved. Names follow the kernel's drop reasons (SKB_DROP_REASON_*)
 * where one exists, so a pwru/dropwatch user recognises them.
 */
export const enum DropReason {
  /** Destination MAC is another host's (PACKET_OTHERHOST). */
  OTHERHOST = 0,
  /** Not IPv4 and not something the host handles (e.g. ARP with static neighbours). */
  UNHANDLED_PROTO = 1,
  /** Frame failed header validation (truncated, bad IHL, bad length…). */
  PKT_TOO_SMALL = 2,
  IP_CSUM = 3,
  TCP_CSUM = 4,
  /** No route to the destination. */
  IP_NOROUTE = 5,
  /** A host that does not forward got a packet for someone else. */
  IP_NOT_FORWARDING = 6,
  /** TTL exhausted while forwarding. */
  IP_TTL_EXCEEDED = 7,
  /** No neighbour (MAC) for the next hop. */
  NEIGH_FAILED = 8,
  /** A netfilter rule dropped it (-j DROP, nft drop, policy). */
  NETFILTER_DROP = 9,
  /** A netfilter rule rejected it (an ICMP error or RST was sent back). */
  NETFILTER_REJECT = 10,
  /** nf_conntrack table full. */
  CONNTRACK_FULL = 11,
  /** conntrack marked the packet INVALID and a rule dropped it (kube-proxy's ctstate INVALID DROP). */
  CONNTRACK_INVALID = 12,
  /** NAT could not find a free tuple, or a clash at confirm time (insert_failed). */
  NAT_FAILED = 13,
  /** Delivered locally, but no socket listens (a RST or ICMP port unreachable was sent). */
  NO_SOCKET = 14,
  /** A tc/BPF program dropped it (detail in the program's own reason). */
  TC_PROGRAM = 15,
  /** IPVS found no real server (or dropped per its rules). */
  IPVS_DROP = 16,
  /** Tunnel packet that could not be decapsulated. */
  TUNNEL_DECAP = 17,
  /** The simulation stopped (time or event limit) with the frame still in flight. */
  IN_FLIGHT_AT_END = 18,
  /** A host received an ICMP error that matched no socket. */
  ICMP_NO_SOCKET = 19,
  /** An SCTP packet whose CRC32c is wrong reached its host (sctp_rcv discards it). */
  SCTP_CSUM = 20,
  /** An SCTP packet with malformed chunks reached its host (bad length, no chunk). */
  SCTP_MALFORMED = 21,
  /** A UDP datagram whose (non-zero) checksum is wrong (SKB_DROP_REASON_UDP_CSUM). */
  UDP_CSUM = 22,
  /** The host is down (powered off or cut off): nothing it receives is processed (kernel: DEV_READY). */
  DEV_READY = 23,
}

export const DROP_REASON_NAMES: readonly string[] = [
  'OTHERHOST',
  'UNHANDLED_PROTO',
  'PKT_TOO_SMALL',
  'IP_CSUM',
  'TCP_CSUM',
  'IP_NOROUTE',
  'IP_NOT_FORWARDING',
  'IP_TTL_EXCEEDED',
  'NEIGH_FAILED',
  'NETFILTER_DROP',
  'NETFILTER_REJECT',
  'CONNTRACK_FULL',
  'CONNTRACK_INVALID',
  'NAT_FAILED',
  'NO_SOCKET',
  'TC_PROGRAM',
  'IPVS_DROP',
  'TUNNEL_DECAP',
  'IN_FLIGHT_AT_END',
  'ICMP_NO_SOCKET',
  'SCTP_CSUM',
  'SCTP_MALFORMED',
  'UDP_CSUM',
  'DEV_READY',
];

export const DROP_REASON_COUNT = DROP_REASON_NAMES.length;

/** Drop counters by reason, per host, plus the delivered count for conservation checks. */
export class DropCounters {
  readonly byReason = new Float64Array(DROP_REASON_COUNT);
  /** Frames consumed by a socket (or by the stack itself: ICMP, RST generation). */
  delivered = 0;
  /** Detail counters for tc-program drops, keyed by the program's reason name. */
  readonly tcReasons = new Map<string, number>();

  add(reason: DropReason): void {
    this.byReason[reason]++;
  }

  get totalDropped(): number {
    let t = 0;
    for (let i = 0; i < this.byReason.length; i++) t += this.byReason[i];
    return t;
  }

  /** `{ NETFILTER_REJECT: 3, … }` for reports (only reasons with a count). */
  toRecord(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.byReason.length; i++)
      if (this.byReason[i] > 0) out[DROP_REASON_NAMES[i]] = this.byReason[i];
    for (const [k, v] of this.tcReasons) out[`TC_PROGRAM:${k}`] = v;
    return out;
  }
}

/** What a node's netfilter path decided for a packet at one hook (topology/netfilter-path.ts). */
export const enum PathVerdict {
  CONTINUE = 0,
  DROP = 1,
  REJECT = 2,
  /** conntrack could not track it (table full). */
  CT_FULL = 3,
  /** NAT found no free tuple, or confirm found a clash. */
  NAT_FAILED = 4,
  /** INVALID packet dropped by the rules. */
  INVALID = 5,
}

/** The drop reason each refusing PathVerdict is counted under: exhaustive, so a new verdict must say. */
export const PATH_VERDICT_DROP_REASON: Readonly<
  Record<Exclude<PathVerdict, PathVerdict.CONTINUE>, DropReason>
> = {
  [PathVerdict.DROP]: DropReason.NETFILTER_DROP,
  [PathVerdict.REJECT]: DropReason.NETFILTER_REJECT,
  [PathVerdict.CT_FULL]: DropReason.CONNTRACK_FULL,
  [PathVerdict.NAT_FAILED]: DropReason.NAT_FAILED,
  [PathVerdict.INVALID]: DropReason.CONNTRACK_INVALID,
};
