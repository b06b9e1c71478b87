/**
 * One network interface of a simulated host: a node's `eth0`, a pod's `eth0`, or the
 * host side of a pod's veth pair (`cali…`). Interfaces are numbered topology-wide so the
 * pump, capture and tc programs refer to them by a small integer.
 */
import type { TcProgram } from '../proxy/common/datapath.js';
import type { Host } from './host.js';

export class NetInterface {
  /** Index of the other end of a point-to-point link (veth pair), or -1 on a segment. */
  peer = -1;
  /** The L2 segment (bridge) this interface is plugged into, if any. */
  segment: Segment | null = null;
  /** pcapng interface id when captured, else -1. */
  captureId = -1;
  /** A BPF-like program at tc ingress (eBPF mode). */
  tcIngress: TcProgram | null = null;
  rxPackets = 0;
  rxBytes = 0;
  txPackets = 0;
  txBytes = 0;

  constructor(
    readonly index: number,
    readonly host: Host,
    readonly name: string,
    readonly mac: Uint8Array,
    /** Primary IPv4 address (u32), 0 for an unnumbered interface (Calico's host-side veth). */
    readonly addr: number,
    readonly prefixLen: number,
    /** Human description for the pcapng IDB (e.g. `veth to pod myweb-rs-abcde`). */
    readonly description: string,
  ) {}

  /** `node1/eth0`: the name a capture shows. */
  get qualifiedName(): string {
    return `${this.host.name}/${this.name}`;
  }
}

/** The 48-bit MAC as a number, usable as a Map key without allocating. */
export function macKey(bytes: Uint8Array, offset = 0): number {
  return (
    (bytes[offset] * 0x10000000000 +
      bytes[offset + 1] * 0x100000000 +
      ((bytes[offset + 2] << 24) |
        (bytes[offset + 3] << 16) |
        (bytes[offset + 4] << 8) |
        bytes[offset + 5])) >>>
    0
  );
}

export const BROADCAST_MAC_KEY = 0xffffffffffff;

/** A learning-free L2 bridge: interfaces are registered with their MAC. */
export class Segment {
  readonly members: NetInterface[] = [];
  private readonly byMac = new Map<number, NetInterface>();

  constructor(readonly name: string) {}

  attach(iface: NetInterface): void {
    this.members.push(iface);
    this.byMac.set(macKey(iface.mac), iface);
    iface.segment = this;
  }

  /** The member owning `macKey`, or undefined (unknown unicast is dropped, not flooded). */
  member(key: number): NetInterface | undefined {
    return this.byMac.get(key);
  }
}
