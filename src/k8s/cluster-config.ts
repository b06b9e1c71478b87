/**
 * The simulated cluster's shape: nodes, address ranges and defaults, from the optional
 * `apiVersion: dpsim/v1alpha1, kind: Cluster` document, overridden by options that mirror the
 * real flags (--service-cluster-ip-range, --service-node-port-range, --cluster-cidr, …).
 *
 * Without a Cluster document dpsim simulates the origin scenario's kubespray cluster:
 * node1..node3 at 192.168.100.100-102, kube_service_addresses 10.233.0.0/18,
 * kube_pods_subnet 10.233.64.0/18 split into /24 per node (kube_network_node_prefix 24, so
 * node1 10.233.64.0/24, node2 10.233.65.0/24, node3 10.233.66.0/24), NodePorts 30000-32767,
 * node1 the control-plane node whose apiserver (:6443) backs the `kubernetes` Service.
 */

import {
  DEFAULT_KERNEL_FACTS,
  type KernelFacts,
  KernelFactsError,
  parseKernelFacts,
} from '../config/kernel-facts.js';
// The proxy modes are the dataplane's vocabulary; the Cluster document only names one.
import { PROXY_MODES, type ProxyMode } from '../proxy/common/datapath.js';
import {
  type Cidr,
  cidrContains,
  formatCidr,
  formatIPv4,
  isIPv4,
  parseCidr,
  parseIPv4,
} from '../util/ipv4.js';
import { parsePortRange } from './allocators.js';
import {
  type ClusterIPv6Config,
  KUBESPRAY_IPV6_DEFAULTS,
  resolveIPv6Side,
  splitDualStackPair,
} from './cluster-config-ipv6.js';
import { ClusterConfigError } from './errors.js';

export { PROXY_MODES, type ProxyMode };

export interface NodeConfig {
  readonly name: string;
  /** InternalIP. */
  readonly ip: string;
  /** spec.podCIDR. */
  readonly podCIDR: string;
  /** Runs the apiserver: its IP:6443 is an endpoint of default/kubernetes. */
  readonly controlPlane: boolean;
  /** Every address of the node, InternalIP first (spec.nodes[].addresses adds more). */
  readonly addresses: readonly string[];
  /** What kube-proxy probes on this node (spec.kernel, overridden by spec.nodes[].kernel). */
  readonly kernel: KernelFacts;
}

export interface ClusterConfig {
  readonly name: string;
  readonly nodes: readonly NodeConfig[];
  readonly serviceCIDR: string;
  readonly clusterCIDR: string;
  /** kube-controller-manager --node-cidr-mask-size (kubespray kube_network_node_prefix). */
  readonly nodeCIDRMaskSize: number;
  readonly serviceNodePortRange: string;
  /** LoadBalancer VIP pool entries: CIDRs or "first-last" address ranges. */
  readonly loadBalancerIPPool: readonly string[];
  readonly proxyMode: ProxyMode;
  /** The external client host that sends traffic into the cluster. */
  readonly clientIP: string;
  /** More named external clients (spec.clients): on the nodes' segment, or anywhere behind the router. */
  readonly clients: readonly ExternalClientConfig[];
  /** The router in front of the nodes that off-segment clients reach them through (spec.router.ip). */
  readonly routerIP: string;
  /** Port the apiserver listens on (the kubernetes Service's targetPort). */
  readonly apiserverPort: number;
  /** The IPv6 side of a dual-stack cluster (secondary family); absent on a single-stack one. */
  readonly ipv6?: ClusterIPv6Config;
}

/** A named external client (`--from NAME`). */
export interface ExternalClientConfig {
  readonly name: string;
  readonly ip: string;
}

/** Overrides that mirror kube-apiserver / kube-proxy / dpsim flags. */
export interface ClusterOptions {
  /** --service-node-port-range, e.g. '30000-32767'. */
  serviceNodePortRange?: string;
  /** --service-cluster-ip-range. */
  serviceClusterIPRange?: string;
  /** --cluster-cidr. */
  clusterCIDR?: string;
  /** --dual-stack: the default cluster gets kubespray's IPv6 ranges and IPv6 node addresses. */
  dualStack?: boolean;
  /** --proxy-mode. */
  proxyMode?: ProxyMode | string;
  /** --seed: every random choice (ClusterIPs, NodePorts, names) follows from it. Default 1. */
  seed?: number;
  /** Simulated wall-clock time of cluster bootstrap (ms since epoch). Default 2025-01-01T00:00:00Z. */
  startTimeMs?: number;
}

/** Raw spec of the Cluster document, as written in YAML. */
export interface ClusterDocumentSpec {
  nodes?: Array<{
    name?: unknown;
    ip?: unknown;
    podCIDR?: unknown;
    controlPlane?: unknown;
    addresses?: unknown;
    kernel?: unknown;
  }>;
  kernel?: unknown;
  serviceCIDR?: unknown;
  clusterCIDR?: unknown;
  nodeCIDRMaskSize?: unknown;
  /** kube-controller-manager --node-cidr-mask-size-ipv6 (kubespray kube_network_node_prefix_ipv6). */
  nodeCIDRMaskSizeIPv6?: unknown;
  serviceNodePortRange?: unknown;
  loadBalancerIPPool?: unknown;
  proxyMode?: unknown;
  clientIP?: unknown;
  clients?: unknown;
  router?: unknown;
}

export const ORIGIN_CLUSTER_DEFAULTS = {
  name: 'origin',
  nodes: [
    { name: 'node1', ip: '192.168.100.100', controlPlane: true },
    { name: 'node2', ip: '192.168.100.101', controlPlane: false },
    { name: 'node3', ip: '192.168.100.102', controlPlane: false },
  ],
  serviceCIDR: '10.233.0.0/18',
  clusterCIDR: '10.233.64.0/18',
  nodeCIDRMaskSize: 24,
  serviceNodePortRange: '30000-32767',
  loadBalancerIPPool: ['192.168.100.200-192.168.100.220'],
  // kube-proxy's own default on Linux (kubespray itself defaults kube_proxy_mode to ipvs).
  proxyMode: 'iptables' as ProxyMode,
  clientIP: '192.168.100.1',
  apiserverPort: 6443,
} as const;

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.trim() === '')
    throw new ClusterConfigError(`Cluster: ${what} must be a non-empty string`);
  return v.trim();
}

function checkCidr(text: string, what: string): Cidr {
  try {
    return parseCidr(text);
  } catch (e) {
    throw new ClusterConfigError(`Cluster: ${what}: ${(e as Error).message}`);
  }
}

function kernelFacts(raw: unknown, where: string, base: KernelFacts): KernelFacts {
  try {
    return parseKernelFacts(raw, where, base);
  } catch (e) {
    if (e instanceof KernelFactsError) throw new ClusterConfigError(`Cluster: ${e.message}`);
    throw e;
  }
}

function checkProxyMode(v: unknown): ProxyMode {
  if (typeof v === 'string' && (PROXY_MODES as readonly string[]).includes(v)) return v as ProxyMode;
  throw new ClusterConfigError(
    `Cluster: proxyMode must be one of ${PROXY_MODES.join(', ')}; got ${JSON.stringify(v)}`,
  );
}

/**
 * Builds the cluster configuration from an optional Cluster document spec and flag overrides.
 * Node podCIDRs not given are carved from the cluster CIDR in node order, as the
 * node-ipam controller hands them out at registration.
 */
export function resolveClusterConfig(
  spec: ClusterDocumentSpec | undefined,
  options: ClusterOptions = {},
): ClusterConfig {
  const d = ORIGIN_CLUSTER_DEFAULTS;
  const s = spec ?? {};
  // Either range may be a dual-stack "v4,v6" pair; the IPv4 part is the primary family.
  const servicePair = splitDualStackPair(
    options.serviceClusterIPRange ??
      (s.serviceCIDR === undefined ? d.serviceCIDR : str(s.serviceCIDR, 'serviceCIDR')),
    '--service-cluster-ip-range',
  );
  const clusterPair = splitDualStackPair(
    options.clusterCIDR ?? (s.clusterCIDR === undefined ? d.clusterCIDR : str(s.clusterCIDR, 'clusterCIDR')),
    '--cluster-cidr',
  );
  const serviceCIDR = servicePair.v4;
  const clusterCIDR = clusterPair.v4;
  const serviceNodePortRange =
    options.serviceNodePortRange ??
    (s.serviceNodePortRange === undefined
      ? d.serviceNodePortRange
      : str(s.serviceNodePortRange, 'serviceNodePortRange'));
  const proxyMode = checkProxyMode(options.proxyMode ?? s.proxyMode ?? d.proxyMode);
  const clientIP = s.clientIP === undefined ? d.clientIP : str(s.clientIP, 'clientIP');
  const nodeCIDRMaskSize = s.nodeCIDRMaskSize === undefined ? d.nodeCIDRMaskSize : Number(s.nodeCIDRMaskSize);

  const svcCidr = checkCidr(serviceCIDR, '--service-cluster-ip-range');
  const podCidr = checkCidr(clusterCIDR, '--cluster-cidr');
  try {
    parsePortRange(serviceNodePortRange);
  } catch (e) {
    throw new ClusterConfigError(`--service-node-port-range: ${(e as Error).message}`);
  }
  if (svcCidr.prefixLength > 30) {
    throw new ClusterConfigError(
      `--service-cluster-ip-range ${serviceCIDR} is too small: it needs at least 2 usable addresses`,
    );
  }
  if (
    !Number.isInteger(nodeCIDRMaskSize) ||
    nodeCIDRMaskSize < podCidr.prefixLength ||
    nodeCIDRMaskSize > 30
  ) {
    throw new ClusterConfigError(
      `Cluster: nodeCIDRMaskSize ${nodeCIDRMaskSize} must lie between the cluster CIDR prefix (${podCidr.prefixLength}) and 30`,
    );
  }
  if (!isIPv4(clientIP))
    throw new ClusterConfigError(`Cluster: clientIP "${clientIP}" is not an IPv4 address`);

  let pool: string[];
  if (s.loadBalancerIPPool === undefined) pool = [...d.loadBalancerIPPool];
  else if (Array.isArray(s.loadBalancerIPPool))
    pool = s.loadBalancerIPPool.map((p) => str(p, 'loadBalancerIPPool[]'));
  else pool = [str(s.loadBalancerIPPool, 'loadBalancerIPPool')];

  const rawNodes: NonNullable<ClusterDocumentSpec['nodes']> = s.nodes ?? d.nodes.map((n) => ({ ...n }));
  if (!Array.isArray(rawNodes) || rawNodes.length === 0)
    throw new ClusterConfigError('Cluster: nodes must be a non-empty list');
  const clusterKernel = kernelFacts(s.kernel, 'kernel', DEFAULT_KERNEL_FACTS);
  const subnetSize = 2 ** (32 - nodeCIDRMaskSize);
  const subnetCount = 2 ** (nodeCIDRMaskSize - podCidr.prefixLength);
  const usedSubnets = new Set<number>();
  const names = new Set<string>();
  const partial = rawNodes.map((n, i) => {
    const name = str(n.name, `nodes[${i}].name`);
    if (names.has(name)) throw new ClusterConfigError(`Cluster: duplicate node name "${name}"`);
    names.add(name);
    const ip = str(n.ip, `nodes[${i}].ip`);
    if (!isIPv4(ip)) throw new ClusterConfigError(`Cluster: nodes[${i}].ip "${ip}" is not an IPv4 address`);
    let podCIDR: string | undefined;
    if (n.podCIDR !== undefined) {
      const c = checkCidr(str(n.podCIDR, `nodes[${i}].podCIDR`), `nodes[${i}].podCIDR`);
      if (!cidrContains(podCidr, c.network) || c.prefixLength < podCidr.prefixLength) {
        throw new ClusterConfigError(
          `Cluster: nodes[${i}].podCIDR ${formatCidr(c)} is not inside the cluster CIDR ${clusterCIDR}`,
        );
      }
      podCIDR = formatCidr(c);
      if (c.prefixLength === nodeCIDRMaskSize) usedSubnets.add((c.network - podCidr.network) / subnetSize);
    }
    const controlPlane = n.controlPlane === undefined ? i === 0 : n.controlPlane === true;
    const addresses = [ip];
    let ipv6: string | undefined;
    if (n.addresses !== undefined) {
      if (!Array.isArray(n.addresses))
        throw new ClusterConfigError(`Cluster: nodes[${i}].addresses must be a list of IPv4 addresses`);
      for (const a of n.addresses) {
        // The first IPv6 address is the node's IPv6 InternalIP on a dual-stack cluster.
        if (typeof a === 'string' && a.includes(':')) {
          ipv6 ??= a;
          continue;
        }
        if (typeof a !== 'string' || !isIPv4(a))
          throw new ClusterConfigError(
            `Cluster: nodes[${i}].addresses: ${JSON.stringify(a)} is not an IPv4 address`,
          );
        if (!addresses.includes(a)) addresses.push(a);
      }
    }
    const kernel = kernelFacts(n.kernel, `nodes[${i}].kernel`, clusterKernel);
    return { name, ip, podCIDR, controlPlane, addresses, kernel, ipv6 };
  });
  let next = 0;
  const nodes: NodeConfig[] = partial.map(({ ipv6: _ipv6, ...n }) => {
    if (n.podCIDR !== undefined) return { ...n, podCIDR: n.podCIDR };
    while (usedSubnets.has(next)) next++;
    if (next >= subnetCount) {
      throw new ClusterConfigError(
        `Cluster: cluster CIDR ${clusterCIDR} has no free /${nodeCIDRMaskSize} left for node ${n.name}`,
      );
    }
    usedSubnets.add(next);
    const network = (podCidr.network + next * subnetSize) >>> 0;
    return { ...n, podCIDR: `${formatIPv4(network)}/${nodeCIDRMaskSize}` };
  });
  // Fail early on overlapping ranges that would make the simulation meaningless.
  if (cidrContains(svcCidr, podCidr.network) || cidrContains(podCidr, svcCidr.network)) {
    throw new ClusterConfigError(`Cluster: service CIDR ${serviceCIDR} overlaps cluster CIDR ${clusterCIDR}`);
  }
  for (const n of nodes) {
    if (cidrContains(podCidr, parseIPv4(n.ip))) {
      throw new ClusterConfigError(
        `Cluster: node ${n.name} IP ${n.ip} lies inside the cluster CIDR ${clusterCIDR}`,
      );
    }
  }
  const { clients, routerIP } = externalClients(s, nodes, clientIP, [svcCidr, podCidr]);
  // Dual-stack when either range names an IPv6 part, or --dual-stack asks for kubespray's.
  const dual = servicePair.v6 !== undefined || clusterPair.v6 !== undefined || options.dualStack === true;
  const ipv6 = dual
    ? resolveIPv6Side(
        servicePair.v6 ?? KUBESPRAY_IPV6_DEFAULTS.serviceCIDR,
        clusterPair.v6 ?? KUBESPRAY_IPV6_DEFAULTS.clusterCIDR,
        s.nodeCIDRMaskSizeIPv6 === undefined
          ? KUBESPRAY_IPV6_DEFAULTS.nodeCIDRMaskSize
          : Number(s.nodeCIDRMaskSizeIPv6),
        clientIP,
        partial.map((n) => ({ name: n.name, ip: n.ip, ...(n.ipv6 !== undefined ? { ipv6: n.ipv6 } : {}) })),
      )
    : undefined;
  return {
    ...(ipv6 !== undefined ? { ipv6 } : {}),
    name: d.name,
    nodes,
    serviceCIDR: formatCidr(svcCidr),
    clusterCIDR: formatCidr(podCidr),
    nodeCIDRMaskSize,
    serviceNodePortRange,
    loadBalancerIPPool: pool,
    proxyMode,
    clientIP,
    clients,
    routerIP,
    apiserverPort: d.apiserverPort,
  };
}

/** Names `--from` already gives a meaning to. */
const RESERVED_HOST_NAMES = new Set(['client', 'router']);

/**
 * spec.clients and spec.router: named external clients, each either on the nodes' /24 (like
 * the default client) or anywhere else — then behind a router on the nodes' segment, whose
 * address defaults to the segment's .254.
 */
function externalClients(
  s: ClusterDocumentSpec,
  nodes: readonly NodeConfig[],
  clientIP: string,
  clusterRanges: readonly Cidr[],
): { clients: ExternalClientConfig[]; routerIP: string } {
  const segment = (parseIPv4(clientIP) & 0xffffff00) >>> 0;
  let routerIP = formatIPv4((segment | 254) >>> 0);
  if (s.router !== undefined) {
    const r = s.router as { ip?: unknown };
    if (typeof r !== 'object' || r === null || Array.isArray(r))
      throw new ClusterConfigError('Cluster: router must be a mapping with an ip');
    for (const k of Object.keys(r))
      if (k !== 'ip') throw new ClusterConfigError(`Cluster: router: unknown field "${k}"`);
    routerIP = str(r.ip, 'router.ip');
    if (!isIPv4(routerIP) || (parseIPv4(routerIP) & 0xffffff00) >>> 0 !== segment)
      throw new ClusterConfigError(
        `Cluster: router.ip "${routerIP}" must be an IPv4 address on the nodes' segment ${formatIPv4(segment)}/24`,
      );
  }
  if (s.clients === undefined) return { clients: [], routerIP };
  if (!Array.isArray(s.clients))
    throw new ClusterConfigError('Cluster: clients must be a list of {name, ip}');
  const taken = new Map<string, string>([[clientIP, 'the client']]);
  for (const n of nodes) for (const a of n.addresses) taken.set(a, `node ${n.name}`);
  const names = new Set(nodes.map((n) => n.name));
  const clients = s.clients.map((c: unknown, i: number): ExternalClientConfig => {
    if (typeof c !== 'object' || c === null || Array.isArray(c))
      throw new ClusterConfigError(`Cluster: clients[${i}] must be a mapping with a name and an ip`);
    const raw = c as { name?: unknown; ip?: unknown };
    for (const k of Object.keys(raw))
      if (k !== 'name' && k !== 'ip')
        throw new ClusterConfigError(`Cluster: clients[${i}]: unknown field "${k}"`);
    const name = str(raw.name, `clients[${i}].name`);
    if (
      RESERVED_HOST_NAMES.has(name) ||
      names.has(name) ||
      name.startsWith('pod/') ||
      !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)
    )
      throw new ClusterConfigError(
        `Cluster: clients[${i}].name "${name}" must be a DNS-style name other than client, router, a node's or another client's`,
      );
    names.add(name);
    const ip = str(raw.ip, `clients[${i}].ip`);
    if (!isIPv4(ip)) throw new ClusterConfigError(`Cluster: clients[${i}].ip "${ip}" is not an IPv4 address`);
    const owner = ip === routerIP ? 'the router' : taken.get(ip);
    if (owner !== undefined)
      throw new ClusterConfigError(`Cluster: clients[${i}].ip ${ip} is already the address of ${owner}`);
    if (clusterRanges.some((r) => cidrContains(r, parseIPv4(ip))))
      throw new ClusterConfigError(
        `Cluster: clients[${i}].ip ${ip} lies inside the cluster's service or pod CIDR`,
      );
    taken.set(ip, `client ${name}`);
    return { name, ip };
  });
  return { clients, routerIP };
}
