/**
 * Hand-built ProxyModels for the IPVS tests: the origin scenario's kubespray cluster
 * (node1..3 at 192.168.100.100-102, services 10.233.0.0/18, pods 10.233.64.0/18) with
 * the `kubernetes` Service and the origin NodePort Service (3 web pods, one per node).
 */
import type { Endpoint, ProxyModel, ServicePort } from '../../../src/proxy/common/model.js';
import {
  endpoint,
  type ServicePortSpec,
  servicePort as sharedServicePort,
} from '../../helpers/service-port.js';

export function ep(ip: string, port: number, nodeName: string, extra: Partial<Endpoint> = {}): Endpoint {
  return endpoint({ ip, port, nodeName, podName: `pod-${ip}`, ...extra });
}

/** The shared builder (test/helpers/service-port.ts), endpoints kept in the order given. */
export function servicePort(spec: ServicePortSpec & Pick<ServicePort, 'port'>): ServicePort {
  return sharedServicePort({ sortEndpoints: false, ...spec });
}

export const NODES = [
  { name: 'node1', ip: '192.168.100.100', podCIDR: '10.233.64.0/24' },
  { name: 'node2', ip: '192.168.100.101', podCIDR: '10.233.65.0/24' },
  { name: 'node3', ip: '192.168.100.102', podCIDR: '10.233.66.0/24' },
] as const;

export const KUBERNETES = servicePort({
  name: 'kubernetes',
  portName: 'https',
  clusterIP: '10.233.0.1',
  port: 443,
  endpoints: [ep('192.168.100.100', 6443, 'node1')],
});

export const WEB = servicePort({
  name: 'myweb-svc-np',
  type: 'NodePort',
  clusterIP: '10.233.17.37',
  port: 80,
  nodePort: 31313,
  endpoints: [
    ep('10.233.64.2', 8080, 'node1'),
    ep('10.233.65.2', 8080, 'node2'),
    ep('10.233.66.2', 8080, 'node3'),
  ],
});

export function model(servicePorts: readonly ServicePort[]): ProxyModel {
  return { servicePorts, nodes: NODES, clusterCIDR: '10.233.64.0/18', serviceCIDR: '10.233.0.0/18' };
}

export const ORIGIN = model([KUBERNETES, WEB]);
