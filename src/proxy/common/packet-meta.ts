/**
 * What a netfilter-style rule evaluator sees of a packet at a hook: the parsed header
 * fields plus the metadata the kernel attaches (interfaces, mark, conntrack state).
 *
 * The topology fills one reusable PacketMeta per node from the frame bytes before
 * running a hook, so evaluators read numbers and never parse or allocate.
 */

/** Netfilter hooks in the order a forwarded packet meets them. */
export const enum NfHook {
  PREROUTING = 0,
  INPUT = 1,
  FORWARD = 2,
  OUTPUT = 3,
  POSTROUTING = 4,
}

export const NF_HOOK_NAMES = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'] as const;

export interface PacketMeta {
  hook: NfHook;
  /** IPv4 addresses as u32 (host order, 10.0.0.1 = 0x0a000001). */
  saddr: number;
  daddr: number;
  proto: number;
  /** L4 ports (0 for ICMP). */
  sport: number;
  dport: number;
  /** TCP flag bits (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10); 0 for other protocols. */
  tcpFlags: number;
  /** SCTP: the type of the first chunk (FiveTuple.sctpChunk); −1 for other protocols. */
  sctpChunk: number;
  /** Total IPv4 length, for byte counters. */
  length: number;
  /** Interface names; '' where the hook has none (no in-interface at OUTPUT, no out at PREROUTING). */
  inIface: string;
  outIface: string;
  /** skb->mark. Rules read and write it (`-j MARK --set-xmark`). */
  mark: number;
  /** Conntrack state bits of the packet's connection (one of CtState). */
  ctState: number;
  /**
   * The connection already has its NAT binding for this hook's manipulation (destination at
   * PREROUTING/OUTPUT, source at POSTROUTING): the kernel's nf_nat_initialized(). The nat
   * table is walked only for a ctstate NEW packet whose binding is not yet set up, so a
   * retransmitted SYN of a confirmed connection skips it. Unset means not yet set up.
   */
  natDone?: boolean;
  /** Simulated time in nanoseconds, for `-m recent` and timeouts. */
  nowNs: number;
}

export function newPacketMeta(): PacketMeta {
  return {
    hook: NfHook.PREROUTING,
    saddr: 0,
    daddr: 0,
    proto: 0,
    sport: 0,
    dport: 0,
    tcpFlags: 0,
    sctpChunk: -1,
    length: 0,
    inIface: '',
    outIface: '',
    mark: 0,
    ctState: 0,
    natDone: false,
    nowNs: 0,
  };
}
