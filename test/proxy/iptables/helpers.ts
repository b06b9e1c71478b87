/**
 * Hand-built ProxyModel values for the iptables tests (the control plane in src/k8s is
 * developed separately; these tests must not depend on it).
 */
import type { NodeInfo, ProxyModel, ServicePort } from '../../../src/proxy/common/model.js';
import { servicePort } from '../../helpers/service-port.js';

export {
  type EndpointSpec,
  endpoint,
  type ServicePortSpec,
  servicePort,
} from '../../helpers/service-port.js';

export interface ModelSpec {
  servicePorts: readonly ServicePort[];
  nodes?: readonly NodeInfo[];
  clusterCIDR?: string;
  serviceCIDR?: string;
}

/** The upstream fake proxier's world: node "test-node" 192.168.0.2, pods 10.0.0.0/8, services 172.30.0.0/16. */
export function model(spec: ModelSpec): ProxyModel {
  const servicePorts = [...spec.servicePorts].sort((a, b) =>
    a.servicePortName === b.servicePortName
      ? a.protocol.localeCompare(b.protocol)
      : a.servicePortName < b.servicePortName
        ? -1
        : 1,
  );
  return {
    servicePorts,
    nodes: spec.nodes ?? [{ name: 'test-node', ip: '192.168.0.2', podCIDR: '10.0.0.0/24' }],
    clusterCIDR: spec.clusterCIDR ?? '10.0.0.0/8',
    serviceCIDR: spec.serviceCIDR ?? '172.30.0.0/16',
  };
}

/** The oracle's origin scenario: default/web:http NodePort 30532 → 8080 with three endpoints. */
export function originModel(): ProxyModel {
  return model({
    servicePorts: [
      servicePort({
        namespace: 'default',
        name: 'web',
        portName: 'http',
        type: 'NodePort',
        clusterIP: '10.233.21.104',
        port: 80,
        nodePort: 30532,
        endpoints: ['10.244.1.2', '10.244.1.3', '10.244.1.4'].map((ip) => ({
          ip,
          port: 8080,
          nodeName: 'node-1',
        })),
      }),
    ],
    nodes: [{ name: 'node-1', ip: '192.168.100.100', podCIDR: '10.244.1.0/24' }],
    clusterCIDR: '10.244.0.0/16',
    serviceCIDR: '10.233.0.0/18',
  });
}

/** TestOverallIPTablesRules' six services (reference §2.1). */
export function overallModel() {
  return model({
    servicePorts: [
      servicePort({
        namespace: 'ns1',
        name: 'svc1',
        portName: 'p80',
        clusterIP: '172.30.0.41',
        port: 80,
        endpoints: [{ ip: '10.180.0.1', port: 80 }],
      }),
      servicePort({
        namespace: 'ns2',
        name: 'svc2',
        portName: 'p80',
        type: 'LoadBalancer',
        clusterIP: '172.30.0.42',
        port: 80,
        nodePort: 3001,
        loadBalancerIPs: ['1.2.3.4'],
        externalIPs: ['192.168.99.22'],
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 30000,
        endpoints: [{ ip: '10.180.0.2', port: 80 }],
      }),
      servicePort({
        namespace: 'ns3',
        name: 'svc3',
        portName: 'p80',
        type: 'NodePort',
        clusterIP: '172.30.0.43',
        port: 80,
        nodePort: 3003,
        endpoints: [{ ip: '10.180.0.3', port: 80 }],
      }),
      servicePort({
        namespace: 'ns4',
        name: 'svc4',
        portName: 'p80',
        type: 'NodePort',
        clusterIP: '172.30.0.44',
        port: 80,
        externalIPs: ['192.168.99.33'],
        endpoints: [
          { ip: '10.180.0.4', port: 80, nodeName: 'test-node' },
          { ip: '10.180.0.5', port: 80, nodeName: 'test-node' },
        ],
      }),
      servicePort({
        namespace: 'ns5',
        name: 'svc5',
        portName: 'p80',
        type: 'LoadBalancer',
        clusterIP: '172.30.0.45',
        port: 80,
        nodePort: 3002,
        loadBalancerIPs: ['5.6.7.8'],
        loadBalancerSourceRanges: [' 203.0.113.0/25'],
        sessionAffinity: 'ClientIP',
        endpoints: [{ ip: '10.180.0.3', port: 80 }],
      }),
      servicePort({ namespace: 'ns6', name: 'svc6', portName: 'p80', clusterIP: '172.30.0.46', port: 80 }),
    ],
  });
}

/** Every Service shape kube-proxy distinguishes: the overall test's six plus UDP, SCTP, SVL chains, terminating endpoints. */
export function everyTypeModel(): ProxyModel {
  const base = overallModel();
  const extra = [
    servicePort({
      namespace: 'ns7',
      name: 'dns',
      portName: 'dns',
      protocol: 'UDP',
      clusterIP: '172.30.0.47',
      port: 53,
      endpoints: Array.from({ length: 7 }, (_, i) => ({ ip: `10.180.7.${i + 1}`, port: 5353 })),
    }),
    servicePort({
      namespace: 'ns8',
      name: 'sctp',
      protocol: 'SCTP',
      type: 'NodePort',
      clusterIP: '172.30.0.48',
      port: 9000,
      nodePort: 3008,
      endpoints: [{ ip: '10.180.8.1', port: 9000, nodeName: 'test-node' }],
    }),
    servicePort({
      namespace: 'ns9',
      name: 'local',
      portName: 'https',
      type: 'LoadBalancer',
      clusterIP: '172.30.0.49',
      port: 443,
      nodePort: 3009,
      loadBalancerIPs: ['9.10.11.12'],
      loadBalancerSourceRanges: ['192.168.0.0/16'],
      externalTrafficPolicy: 'Local',
      internalTrafficPolicy: 'Local',
      healthCheckNodePort: 30009,
      sessionAffinity: 'ClientIP',
      stickyMaxAgeSeconds: 300,
      endpoints: [
        { ip: '10.180.9.1', port: 8443, nodeName: 'test-node' },
        { ip: '10.180.9.2', port: 8443, nodeName: 'other' },
        {
          ip: '10.180.9.3',
          port: 8443,
          nodeName: 'test-node',
          ready: false,
          serving: true,
          terminating: true,
        },
      ],
    }),
    servicePort({
      namespace: 'ns10',
      name: 'empty-lb',
      type: 'LoadBalancer',
      clusterIP: '172.30.0.50',
      port: 80,
      nodePort: 3010,
      externalIPs: ['192.168.99.50'],
      loadBalancerIPs: ['5.6.7.9'],
    }),
  ];
  return model({ servicePorts: [...base.servicePorts, ...extra] });
}
