/** IPv6 models for kube-proxy's IPv6 nftables proxier (test/proxy/nftables/*ipv6*). */
import type { ProxyModel, ServicePort } from '../../../src/proxy/common/model.js';
import { endpoint, servicePort } from './model-builder.js';

const NODES = [
  { name: 'node-a', ip: 'fd00:192:168:100::100', podCIDR: 'fd85:ee78:d8a6:8607::1:0/120' },
  { name: 'node-b', ip: 'fd00:192:168:100::101', podCIDR: 'fd85:ee78:d8a6:8607::1:100/120' },
];

export function proxyModel6(servicePorts: ServicePort[], extra: Partial<ProxyModel> = {}): ProxyModel {
  return {
    servicePorts,
    nodes: NODES,
    clusterCIDR: 'fd85:ee78:d8a6:8607::1:0/112',
    serviceCIDR: 'fd85:ee78:d8a6:8607::1000/116',
    ...extra,
  };
}

/**
 * 36 IPv6 Services over three protocols: addresses whose zero runs compress differently
 * (`fd00:0:0:1::5`, `fd00::1:0:0:5`), LoadBalancer IPs with several source ranges (one
 * holding the node's address), externalIPs, affinity, eTP=Local and a 40-endpoint numgen —
 * the element ordering, wrapping and address printing nft applies to an ip6 table.
 */
export function wideModel6(): ProxyModel {
  const protocols = ['TCP', 'UDP', 'SCTP'] as const;
  const ports: ServicePort[] = [];
  for (let i = 0; i < 36; i++) {
    const n = i === 0 ? 40 : (i % 4) + 1;
    const eps = [];
    for (let e = 0; e < n; e++) {
      const onA = e % 2 === 0;
      const host = ((onA ? 0 : 0x100) + e + 2).toString(16);
      eps.push(endpoint(`fd85:ee78:d8a6:8607::1:${host}`, 8000 + i, onA ? 'node-a' : 'node-b'));
    }
    ports.push(
      servicePort({
        namespace: `ns${i % 5}`,
        name: `svc-${i}`,
        portName: i % 3 === 0 ? '' : `p${i}`,
        protocol: protocols[i % 3],
        type: i % 6 === 1 ? 'LoadBalancer' : i % 2 === 0 ? 'NodePort' : 'ClusterIP',
        clusterIP: `fd85:ee78:d8a6:8607::${(0x1000 + ((i * 151) % 0xfff)).toString(16)}`,
        port: [80, 443, 53, 8080, 300, 30001][i % 6],
        nodePort: i % 2 === 0 || i % 6 === 1 ? 30000 + ((i * 97) % 2000) : 0,
        externalIPs: i % 9 === 0 ? [i % 2 === 0 ? `fd00:0:0:1::${i}` : `fd00::1:0:0:${i}`] : [],
        loadBalancerIPs: i % 6 === 1 ? [`2001:db8:${i}::1`] : [],
        loadBalancerSourceRanges:
          i % 12 === 1 ? ['2001:db8:ffff::/48', 'fd00:192:168:100::/64', '2001:db8:1::/56'] : [],
        sessionAffinity: i % 7 === 3 ? 'ClientIP' : 'None',
        externalTrafficPolicy: i % 8 === 2 ? 'Local' : 'Cluster',
        endpoints: i % 11 === 5 ? [] : eps,
      }),
    );
  }
  return proxyModel6(ports);
}
