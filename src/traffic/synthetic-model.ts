/**
 * A synthetic ProxyModel for scale benchmarks: `services` ClusterIP Services of one TCP port
 * each, on a three-node cluster, with endpoints spread round-robin over the nodes. Pod
 * addresses are unique across the whole model (a /11 of pod CIDR per node holds 2 M pods),
 * so 30 000 Services × 10 endpoints still fit. Deterministic: no randomness at all.
 *
 * Control-plane code: clarity over speed.
 */
import type { Endpoint, NodeInfo, ProxyModel, ServicePort } from '../proxy/common/model.js';
import { formatIPv4, parseIPv4 } from '../util/ipv4.js';

export const SYNTHETIC_NODES: readonly NodeInfo[] = [
  { name: 'node1', ip: '192.168.100.101', podCIDR: '10.128.0.0/11' },
  { name: 'node2', ip: '192.168.100.102', podCIDR: '10.160.0.0/11' },
  { name: 'node3', ip: '192.168.100.103', podCIDR: '10.192.0.0/11' },
];
export const SYNTHETIC_CLUSTER_CIDR = '10.128.0.0/9';
export const SYNTHETIC_SERVICE_CIDR = '10.96.0.0/12';
export const SYNTHETIC_SERVICE_PORT = 80;
export const SYNTHETIC_TARGET_PORT = 8080;
/** The most Services the service CIDR's addresses (after the first 10) can hold here. */
export const SYNTHETIC_MAX_SERVICES = 1_000_000;

export class SyntheticModelError extends Error {
  override name = 'SyntheticModelError';
}

export interface SyntheticModelOptions {
  readonly services: number;
  /** Endpoints of Service i (default: 3 + i mod 8, i.e. 3 to 10). */
  readonly endpointsOf?: (service: number) => number;
}

/** ClusterIP of Service i: 10.96.0.10 + i. */
export function syntheticClusterIP(service: number): number {
  return (parseIPv4('10.96.0.10') + service) >>> 0;
}

function serviceName(i: number): string {
  return `svc-${String(i).padStart(6, '0')}`;
}

export function syntheticModel(options: SyntheticModelOptions): ProxyModel {
  const n = options.services;
  if (!Number.isInteger(n) || n < 1 || n > SYNTHETIC_MAX_SERVICES) {
    throw new SyntheticModelError(`services must be an integer in 1..${SYNTHETIC_MAX_SERVICES}, got ${n}`);
  }
  const endpointsOf = options.endpointsOf ?? ((i: number) => 3 + (i % 8));
  const nodeBase = SYNTHETIC_NODES.map((node) => parseIPv4(node.podCIDR.split('/')[0]));
  const podsOnNode = [0, 0, 0];
  const servicePorts: ServicePort[] = [];
  let pod = 0;
  for (let i = 0; i < n; i++) {
    const count = endpointsOf(i);
    if (!Number.isInteger(count) || count < 0) {
      throw new SyntheticModelError(
        `endpoint count of service ${i} must be a non-negative integer, got ${count}`,
      );
    }
    const endpoints: Endpoint[] = [];
    for (let e = 0; e < count; e++, pod++) {
      const k = pod % SYNTHETIC_NODES.length;
      const ip = formatIPv4((nodeBase[k] + 2 + podsOnNode[k]++) >>> 0);
      endpoints.push({
        ip,
        port: SYNTHETIC_TARGET_PORT,
        nodeName: SYNTHETIC_NODES[k].name,
        ready: true,
        serving: true,
        terminating: false,
        podName: `${serviceName(i)}-${e}`,
      });
    }
    const key = (ep: Endpoint) => `${ep.ip}:${ep.port}`;
    endpoints.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const name = serviceName(i);
    servicePorts.push({
      namespace: 'bench',
      name,
      portName: '',
      protocol: 'TCP',
      servicePortName: `bench/${name}`,
      type: 'ClusterIP',
      clusterIP: formatIPv4(syntheticClusterIP(i)),
      port: SYNTHETIC_SERVICE_PORT,
      nodePort: 0,
      externalIPs: [],
      loadBalancerIPs: [],
      loadBalancerSourceRanges: [],
      sessionAffinity: 'None',
      stickyMaxAgeSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      healthCheckNodePort: 0,
      endpoints,
    });
  }
  return {
    servicePorts,
    nodes: SYNTHETIC_NODES.map((node) => ({ ...node })),
    clusterCIDR: SYNTHETIC_CLUSTER_CIDR,
    serviceCIDR: SYNTHETIC_SERVICE_CIDR,
  };
}

/**
 * The same model with one endpoint of Service `service` replaced by a new pod address (a
 * pod restarted elsewhere): the smallest change a sync can see.
 */
export function withOneEndpointChanged(model: ProxyModel, service: number, generation: number): ProxyModel {
  const sp = model.servicePorts[service];
  if (sp === undefined || sp.endpoints.length === 0) {
    throw new SyntheticModelError(`service ${service} has no endpoint to change`);
  }
  const ep = sp.endpoints[0];
  // A fresh address high in node3's /11, outside what syntheticModel hands out for < 1 M pods.
  const ip = formatIPv4((parseIPv4('10.223.0.0') + (generation & 0xffff)) >>> 0);
  const endpoints = [
    { ...ep, ip, nodeName: 'node3', podName: `${ep.podName}-g${generation}` },
    ...sp.endpoints.slice(1),
  ];
  const key = (e: Endpoint) => `${e.ip}:${e.port}`;
  endpoints.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const servicePorts = model.servicePorts.slice();
  servicePorts[service] = { ...sp, endpoints };
  return { ...model, servicePorts };
}
