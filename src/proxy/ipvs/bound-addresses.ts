/**
 * The addresses kube-proxy binds to kube-ipvs0 on a node, without compiling the node's virtual
 * servers: every IPv4 ClusterIP, and each externalIP and LoadBalancer IP that is not already one
 * of the node's addresses (the `bound` virtual servers of compile.ts). The node's routing needs
 * them from the start — a ClusterIP is local to an IPVS node — while the virtual servers
 * themselves are compiled when the first packet reaches the node (sim/modes.ts).
 * Same set and order as compileIpvs(...).boundAddresses (a test holds them equal).
 */

import { isIPv4, parseIPv4 } from '../../util/ipv4.js';
import type { ProxyModel } from '../common/model.js';

export function ipvsBoundAddresses(model: ProxyModel, nodeAddresses: readonly string[]): string[] {
  const own = new Set(nodeAddresses.filter((a) => !a.startsWith('127.')));
  const bound = new Set<string>();
  for (const sp of model.servicePorts) {
    if (!isIPv4(sp.clusterIP)) continue;
    bound.add(sp.clusterIP);
    for (const ip of sp.externalIPs) if (isIPv4(ip) && !own.has(ip)) bound.add(ip);
    for (const ip of sp.loadBalancerIPs) if (isIPv4(ip) && !own.has(ip)) bound.add(ip);
  }
  return [...bound].sort((a, b) => parseIPv4(a) - parseIPv4(b));
}
