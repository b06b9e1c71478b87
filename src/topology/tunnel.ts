/**
 * Calico's overlays between nodes, for `--overlay ipip|vxlan`: pod traffic to another
 * node's pod CIDR leaves through a tunnel device (`tunl0` or `vxlan.calico`) that wraps
 * it in an outer IPv4 header (IPIP, protocol 4) or in UDP/VXLAN (port 4789, VNI 4096,
 * Calico's defaults) addressed node to node; the receiving node unwraps it and the inner
 * packet enters its stack through the same-named device. The tunnel device carries an
 * address from the node's pod CIDR (the block's first address), which is what MASQUERADE
 * picks for traffic leaving through it — so, as on a real Calico IPIP cluster, a pod sees
 * NodePort clients masqueraded to the ingress node's tunnel address.
 */
import {
  EtherType,
  type FiveTuple,
  flowSourcePort,
  type IpipEncapSpec,
  type VxlanEncapSpec,
  writeIpipEncapsulation,
  writeVxlanEncapsulation,
} from '../wire/index.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import type { FramePool } from './frame-pool.js';
import type { NetInterface } from './net-interface.js';

export type OverlayKind = 'none' | 'ipip' | 'vxlan';

/** Calico's VXLAN network identifier and the IANA VXLAN port (Calico's default). */
export const CALICO_VXLAN_VNI = 4096;
export const VXLAN_UDP_PORT = 4789;

export interface TunnelConfig {
  readonly kind: 'ipip' | 'vxlan';
  /** The tunnel device (`tunl0` / `vxlan.calico`): unlinked, addressed from the pod CIDR. */
  readonly device: NetInterface;
  /** VXLAN: each remote node's vxlan.calico MAC, by the remote node's underlay IP. */
  readonly peerMacs: Map<number, Uint8Array>;
}

/** `decapsulate` results below zero. */
export const NOT_TUNNEL_TRAFFIC = -1;
/** Tunnel traffic too short to hold an inner frame. */
export const TUNNEL_MALFORMED = -2;
/** `encapsulate` result when a VXLAN peer's device MAC is unknown. */
export const NO_TUNNEL_PEER = -1;

const ZERO_MAC = new Uint8Array(6);

/**
 * The byte work of one node's tunnel end: wrap an inner packet for a remote node, unwrap
 * an outer packet into the inner frame. The host does the routing around it. Reuses its
 * outer-header descriptions, so encapsulating allocates nothing per packet.
 */
export class TunnelEndpoint {
  private readonly ipipSpec: IpipEncapSpec = { srcMac: ZERO_MAC, dstMac: ZERO_MAC, src: 0, dst: 0 };
  private readonly vxlanSpec: VxlanEncapSpec = {
    srcMac: ZERO_MAC,
    dstMac: ZERO_MAC,
    src: 0,
    dst: 0,
    srcPort: 0,
    vni: CALICO_VXLAN_VNI,
  };

  constructor(readonly config: TunnelConfig) {}

  /**
   * Writes the outer packet for `remoteNode` (sent out of `underlay` to `nextHopMac`) into a
   * new pool slot and returns it, or NO_TUNNEL_PEER. The inner slot is left to the caller.
   */
  encapsulate(
    pool: FramePool,
    slot: number,
    ft: FiveTuple,
    underlay: NetInterface,
    nextHopMac: Uint8Array,
    remoteNode: number,
  ): number {
    const tunnel = this.config;
    const frame = pool.view(slot);
    if (tunnel.kind === 'ipip') {
      const out = pool.acquire();
      const spec = this.ipipSpec;
      spec.srcMac = underlay.mac;
      spec.dstMac = nextHopMac;
      spec.src = underlay.addr;
      spec.dst = remoteNode;
      pool.lengths[out] = writeIpipEncapsulation(
        pool.view(out),
        0,
        spec,
        frame,
        ft.ipOffset,
        ft.ipTotalLength,
      );
      return out;
    }
    const peerMac = tunnel.peerMacs.get(remoteNode);
    if (peerMac === undefined) return NO_TUNNEL_PEER;
    const out = pool.acquire();
    // Inner Ethernet: between the two vxlan.calico devices.
    frame.set(peerMac, 0);
    frame.set(tunnel.device.mac, 6);
    const spec = this.vxlanSpec;
    spec.srcMac = underlay.mac;
    spec.dstMac = nextHopMac;
    spec.src = underlay.addr;
    spec.dst = remoteNode;
    spec.dstPort = VXLAN_UDP_PORT;
    // Linux's udp_flow_src_port: the outer source port carries the inner flow's entropy.
    spec.srcPort = flowSourcePort(((ft.saddr ^ ft.daddr) * 31 + ((ft.sport << 16) | ft.dport)) >>> 0);
    pool.lengths[out] = writeVxlanEncapsulation(
      pool.view(out),
      0,
      spec,
      frame,
      0,
      ft.ipOffset + ft.ipTotalLength,
    );
    return out;
  }

  /**
   * The inner frame of an outer packet addressed to this node, in a new pool slot (as
   * received on the tunnel device), or NOT_TUNNEL_TRAFFIC / TUNNEL_MALFORMED.
   */
  decapsulate(pool: FramePool, slot: number, ft: FiveTuple): number {
    const tunnel = this.config;
    const frame = pool.view(slot);
    if (tunnel.kind === 'ipip' && ft.proto === IpProtocol.IPIP) {
      const inner = pool.acquire();
      const view = pool.view(inner);
      view.set(tunnel.device.mac, 0);
      view.fill(0, 6, 12);
      view[12] = EtherType.IPV4 >>> 8;
      view[13] = EtherType.IPV4 & 0xff;
      const innerLength = ft.ipTotalLength - (ft.l4Offset - ft.ipOffset);
      view.set(frame.subarray(ft.l4Offset, ft.l4Offset + innerLength), 14);
      pool.lengths[inner] = 14 + innerLength;
      return inner;
    }
    if (tunnel.kind === 'vxlan' && ft.proto === IpProtocol.UDP && ft.dport === VXLAN_UDP_PORT) {
      const start = ft.l4Offset + 16; // UDP (8) + VXLAN (8)
      const end = ft.ipOffset + ft.ipTotalLength;
      if (end - start < 14) return TUNNEL_MALFORMED;
      return pool.copyIn(frame, start, end - start);
    }
    return NOT_TUNNEL_TRAFFIC;
  }
}
