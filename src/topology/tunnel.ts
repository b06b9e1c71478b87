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
