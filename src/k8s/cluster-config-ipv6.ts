/**
 * The IPv6 side of a dual-stack cluster: the secondary Service range, the IPv6 cluster CIDR
 * carved per node, and each node's IPv6 address. dpsim's clusters are IPv4-primary (the IPv4
 * range comes first in `--service-cluster-ip-range`, as kubespray writes it with
 * `enable_dual_stack_networks`), so IPv6 is always the secondary family.
 *
 * Defaults are kubespray's: kube_service_addresses_ipv6 fd85:ee78:d8a6:8607::1000/116,
 * kube_pods_subnet_ipv6 fd85:ee78:d8a6:8607::1:0/112, kube_network_node_prefix_ipv6 120 (a
 * /120 per node, so node1 ::1:0/120, node2 ::1:100/120, …). Kubespray has no default for the
 * nodes' own IPv6 addresses; dpsim writes a node at a.b.c.d as fd00:a:b:c::d (192.168.100.100
 * → fd00:192:168:100::100: the IPv4 digits read as hex groups) on the LAN fd00:a:b:c::/64,
 * and the external client likewise.
 */
import { formatIPv4, parseIPv4 } from '../util/ipv4.js';
import {
  type Cidr6,
  cidr6Contains,
  cidr6Overlaps,
  formatCidr6,
  formatIPv6,
  isIPv6Text,
  parseCidr6,
  parseIPv6,
} from '../util/ipv6.js';
import { ClusterConfigError } from './errors.js';

export const KUBESPRAY_IPV6_DEFAULTS = {
  serviceCIDR: 'fd85:ee78:d8a6:8607::1000/116',
  clusterCIDR: 'fd85:ee78:d8a6:8607::1:0/112',
  nodeCIDRMaskSize: 120,
} as const;

export interface NodeIPv6 {
  /** The node's IPv6 InternalIP. */
  readonly ip: string;
  /** Its IPv6 pod CIDR (spec.podCIDRs[1]). */
  readonly podCIDR: string;
}

export interface ClusterIPv6Config {
  readonly serviceCIDR: string;
  readonly clusterCIDR: string;
  readonly nodeCIDRMaskSize: number;
  readonly clientIP: string;
  /** Per node name. */
  readonly nodes: ReadonlyMap<string, NodeIPv6>;
}

/** The IPv6 twin of an IPv4 address a.b.c.d: fd00:a:b:c::d (the decimal digits read as hex). */
export function ipv6TwinOf(ipv4: string): string {
  const [a, b, c, d] = formatIPv4(parseIPv4(ipv4)).split('.');
  return formatIPv6(parseIPv6(`fd00:${a}:${b}:${c}::${d}`));
}

/**
 * Splits a flag or document value that may hold a "v4,v6" pair. Returns the IPv4 part and the
 * IPv6 part (or undefined); refuses an IPv6-primary order, two of one family and a third entry.
 */
export function splitDualStackPair(text: string, what: string): { v4: string; v6: string | undefined } {
  const parts = text.split(',').map((p) => p.trim());
  const isV6 = (p: string) => p.includes(':');
  if (parts.length > 2) throw new ClusterConfigError(`${what}: ${text}: at most one IPv4 and one IPv6 range`);
  if (parts.length === 1) {
    if (isV6(parts[0]))
      throw new ClusterConfigError(
        `${what}: ${text}: IPv6-only and IPv6-primary clusters are not simulated; give an IPv4 range first (v4,v6)`,
      );
    return { v4: parts[0], v6: undefined };
  }
  if (isV6(parts[0]) && !isV6(parts[1]))
    throw new ClusterConfigError(
      `${what}: ${text}: IPv6-primary clusters are not simulated; give the IPv4 range first (v4,v6)`,
    );
  if (isV6(parts[0]) === isV6(parts[1]))
    throw new ClusterConfigError(`${what}: ${text}: a dual-stack pair needs one IPv4 and one IPv6 range`);
  return { v4: parts[0], v6: parts[1] };
}

function cidr(text: string, what: string): Cidr6 {
  try {
    return parseCidr6(text);
  } catch (e) {
    throw new ClusterConfigError(`Cluster: ${what}: ${(e as Error).message}`);
  }
}

export interface IPv6NodeInput {
  readonly name: string;
  /** The node's IPv4 InternalIP (its IPv6 twin is the default). */
  readonly ip: string;
  /** An IPv6 address given in spec.nodes[].addresses, if any. */
  readonly ipv6?: string;
}

/**
 * Resolves the IPv6 side from the ranges (already split off their pairs) and the nodes, or
 * throws ClusterConfigError with the offending value.
 */
export function resolveIPv6Side(
  serviceCIDR: string,
  clusterCIDR: string,
  nodeCIDRMaskSize: number,
  clientIPv4: string,
  nodes: readonly IPv6NodeInput[],
): ClusterIPv6Config {
  const svc = cidr(serviceCIDR, '--service-cluster-ip-range (IPv6)');
  const pods = cidr(clusterCIDR, '--cluster-cidr (IPv6)');
  // kube-apiserver refuses a secondary range wider than a /108 (20 bits of addresses).
  if (svc.prefixLength < 108)
    throw new ClusterConfigError(
      `--service-cluster-ip-range ${serviceCIDR}: the IPv6 range must be /108 or narrower (kube-apiserver's limit)`,
    );
  if (svc.prefixLength > 126)
    throw new ClusterConfigError(
      `--service-cluster-ip-range ${serviceCIDR} is too small: it needs at least 2 usable addresses`,
    );
  if (cidr6Overlaps(svc, pods))
    throw new ClusterConfigError(`Cluster: service CIDR ${serviceCIDR} overlaps cluster CIDR ${clusterCIDR}`);
  if (!Number.isInteger(nodeCIDRMaskSize) || nodeCIDRMaskSize < pods.prefixLength || nodeCIDRMaskSize > 126)
    throw new ClusterConfigError(
      `Cluster: nodeCIDRMaskSizeIPv6 ${nodeCIDRMaskSize} must lie between the IPv6 cluster CIDR prefix (${pods.prefixLength}) and 126`,
    );
  const count = 1n << BigInt(nodeCIDRMaskSize - pods.prefixLength);
  const size = 1n << BigInt(128 - nodeCIDRMaskSize);
  if (BigInt(nodes.length) > count)
    throw new ClusterConfigError(
      `Cluster: IPv6 cluster CIDR ${clusterCIDR} has no free /${nodeCIDRMaskSize} left for node ${nodes[Number(count)].name}`,
    );
  const out = new Map<string, NodeIPv6>();
  const seen = new Set<string>();
  nodes.forEach((n, i) => {
    const ip = n.ipv6 ?? ipv6TwinOf(n.ip);
    if (!isIPv6Text(ip))
      throw new ClusterConfigError(`Cluster: node ${n.name} IPv6 address "${ip}" is not an IPv6 address`);
    const canonical = formatIPv6(parseIPv6(ip));
    if (cidr6Contains(pods, parseIPv6(canonical)))
      throw new ClusterConfigError(
        `Cluster: node ${n.name} IP ${canonical} lies inside the cluster CIDR ${clusterCIDR}`,
      );
    if (seen.has(canonical))
      throw new ClusterConfigError(`Cluster: node ${n.name} IPv6 address ${canonical} is used twice`);
    seen.add(canonical);
    out.set(n.name, {
      ip: canonical,
      podCIDR: formatCidr6({ network: pods.network + BigInt(i) * size, prefixLength: nodeCIDRMaskSize }),
    });
  });
  return {
    serviceCIDR: formatCidr6(svc),
    clusterCIDR: formatCidr6(pods),
    nodeCIDRMaskSize,
    clientIP: ipv6TwinOf(clientIPv4),
    nodes: out,
  };
}

/**
 * A pod's IPv6 address: the same offset in the node's IPv6 pod CIDR as its IPv4 address has in
 * the IPv4 one (so 10.233.64.5 on node1 is fd85:ee78:d8a6:8607::1:5), or undefined when the
 * IPv6 block is too small for that offset.
 */
export function podIPv6For(podIPv4: string, podCIDRv4: string, node: NodeIPv6): string | undefined {
  const [v4net, v4len] = podCIDRv4.split('/');
  const offset = parseIPv4(podIPv4) - parseIPv4(v4net);
  const v6 = parseCidr6(node.podCIDR);
  if (offset < 0 || Number(v4len) < 0 || BigInt(offset) >= 1n << BigInt(128 - v6.prefixLength))
    return undefined;
  return formatIPv6(v6.network + BigInt(offset));
}
