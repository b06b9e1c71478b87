/**
 * Hand-built ProxyModel values for the nftables tests (the control plane in src/k8s is
 * written separately; these tests must not depend on it).
 */
import type { Endpoint, NodeInfo, ProxyModel, ServicePort } from '../../../src/proxy/common/model.js';
import { endpoint as sharedEndpoint, servicePort as sharedServicePort } from '../../helpers/service-port.js';

export function endpoint(
  ip: string,
  port: number,
  nodeName: string,
  extra: Partial<Endpoint> = {},
): Endpoint {
  return sharedEndpoint({ ip, port, nodeName, ...extra });
}

/** The shared builder (test/helpers/service-port.ts), endpoints in kube-proxy's "ip:port" order. */
export const servicePort = sharedServicePort;

export function proxyModel(servicePorts: ServicePort[], extra: Partial<ProxyModel> = {}): ProxyModel {
  const nodes: NodeInfo[] = [
    { name: 'node-a', ip: '192.168.100.100', podCIDR: '10.244.1.0/24' },
    { name: 'node-b', ip: '192.168.100.101', podCIDR: '10.244.2.0/24' },
  ];
  return { servicePorts, nodes, clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.233.0.0/18', ...extra };
}

/** The oracle-like scenario: one ClusterIP Service with one endpoint, one NodePort Service with three. */
export function originLikeModel(): ProxyModel {
  return proxyModel([
    servicePort({
      namespace: 'default',
      name: 'kubernetes',
      portName: 'https',
      clusterIP: '10.233.0.1',
      port: 443,
      endpoints: [endpoint('192.168.100.100', 6443, 'node-a')],
    }),
    servicePort({
      namespace: 'default',
      name: 'web',
      portName: 'http',
      clusterIP: '10.233.21.104',
      port: 80,
      nodePort: 30532,
      endpoints: [
        endpoint('10.244.1.2', 8080, 'node-a'),
        endpoint('10.244.1.3', 8080, 'node-b'),
        endpoint('10.244.1.4', 8080, 'node-b'),
      ],
    }),
  ]);
}

/** Every Service shape kube-proxy distinguishes, for render/kernel round-trips. */
export function everyServiceTypeModel(): ProxyModel {
  const eps = [endpoint('10.244.1.5', 8080, 'node-a'), endpoint('10.244.2.6', 8080, 'node-b')];
  return proxyModel([
    servicePort({
      namespace: 'ns1',
      name: 'cluster',
      portName: 'p80',
      clusterIP: '10.233.0.10',
      port: 80,
      endpoints: eps,
    }),
    servicePort({
      namespace: 'ns1',
      name: 'dns',
      portName: 'dns',
      protocol: 'UDP',
      clusterIP: '10.233.0.3',
      port: 53,
      endpoints: [endpoint('10.244.2.9', 53, 'node-b')],
    }),
    servicePort({
      namespace: 'ns1',
      name: 'sctp',
      clusterIP: '10.233.0.11',
      protocol: 'SCTP',
      port: 9999,
      endpoints: [endpoint('10.244.2.9', 9999, 'node-b')],
    }),
    servicePort({
      namespace: 'ns2',
      name: 'empty',
      portName: 'p80',
      clusterIP: '10.233.0.20',
      port: 80,
      nodePort: 30001,
      externalIPs: ['203.0.113.7'],
    }),
    servicePort({
      namespace: 'ns3',
      name: 'np',
      portName: 'p80',
      clusterIP: '10.233.0.30',
      port: 80,
      nodePort: 30002,
      endpoints: eps,
    }),
    servicePort({
      namespace: 'ns4',
      name: 'local-np',
      portName: 'p80',
      clusterIP: '10.233.0.40',
      port: 80,
      nodePort: 30003,
      externalTrafficPolicy: 'Local',
      endpoints: eps,
    }),
    servicePort({
      namespace: 'ns4',
      name: 'local-none',
      portName: 'p80',
      clusterIP: '10.233.0.41',
      port: 80,
      nodePort: 30004,
      externalTrafficPolicy: 'Local',
      endpoints: [endpoint('10.244.2.7', 8080, 'node-b')],
    }),
    servicePort({
      namespace: 'ns5',
      name: 'lb',
      portName: 'p80',
      type: 'LoadBalancer',
      clusterIP: '10.233.0.50',
      port: 80,
      nodePort: 30005,
      loadBalancerIPs: ['198.51.100.5'],
      loadBalancerSourceRanges: ['203.0.113.0/25', '192.168.0.0/16'],
      sessionAffinity: 'ClientIP',
      endpoints: eps,
    }),
    servicePort({
      namespace: 'ns6',
      name: 'itp-local',
      portName: 'p80',
      clusterIP: '10.233.0.60',
      port: 80,
      internalTrafficPolicy: 'Local',
      endpoints: [endpoint('10.244.2.8', 8080, 'node-b')],
    }),
    servicePort({
      namespace: 'ns7',
      name: 'ext',
      portName: 'p80',
      clusterIP: '10.233.0.70',
      port: 80,
      externalIPs: ['203.0.113.9'],
      endpoints: eps,
    }),
  ]);
}
