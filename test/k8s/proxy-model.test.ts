import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { describe, expect, it } from 'vitest';
import { Cluster } from '../../src/k8s/cluster.js';
import { loadManifests } from '../../src/k8s/manifests.js';
import { toProxyModel } from '../../src/k8s/proxy-model.js';
import { originScenarioYaml } from '../../src/k8s/scenarios/origin.js';

const fixture = readFileSync(new URL('../../fixtures/every-service-type.yaml', import.meta.url), 'utf8');

describe('toProxyModel', () => {
  it('models the origin scenario: two service ports, three endpoints sorted by "ip:port"', () => {
    const { cluster } = loadManifests(originScenarioYaml);
    const m = toProxyModel(cluster);
    expect(m.serviceCIDR).toBe('10.233.0.0/18');
    expect(m.clusterCIDR).toBe('10.233.64.0/18');
    expect(m.nodes.map((n) => `${n.name} ${n.ip} ${n.podCIDR}`)).toEqual([
      'node1 192.168.100.100 10.233.64.0/24',
      'node2 192.168.100.101 10.233.65.0/24',
      'node3 192.168.100.102 10.233.66.0/24',
    ]);
    expect(m.servicePorts.map((p) => p.servicePortName)).toEqual([
      'default/kubernetes:https',
      'default/myweb-svc-np',
      // kubespray's CoreDNS add-on: the kube-dns Service's three ports.
      'kube-system/kube-dns:dns',
      'kube-system/kube-dns:dns-tcp',
      'kube-system/kube-dns:metrics',
    ]);
    expect(m.servicePorts.find((p) => p.servicePortName === 'kube-system/kube-dns:dns')).toMatchObject({
      clusterIP: '10.233.0.3',
      port: 53,
      protocol: 'UDP',
    });
    const np = m.servicePorts[1];
    expect(np).toMatchObject({
      type: 'NodePort',
      port: 80,
      protocol: 'TCP',
      externalTrafficPolicy: 'Cluster',
      sessionAffinity: 'None',
    });
    expect(np.endpoints.map((e) => `${e.ip}:${e.port}`)).toEqual([
      '10.233.64.2:8080',
      '10.233.65.2:8080',
      '10.233.66.2:8080',
    ]);
    expect(
      np.endpoints.every((e) => e.ready && e.serving && !e.terminating && e.podName.startsWith('myweb-rs-')),
    ).toBe(true);
    expect(m.servicePorts[0].endpoints).toEqual([
      {
        ip: '192.168.100.100',
        port: 6443,
        nodeName: '',
        ready: true,
        serving: true,
        terminating: false,
        podName: '',
      },
    ]);
  });

  it('covers every Service type and field of the fixture, leaving out ExternalName and headless Services', () => {
    const { cluster, rejected, outcomes } = loadManifests(fixture, { source: 'every-service-type.yaml' });
    expect(rejected, outcomes.map((o) => o.message).join('\n')).toBe(false);
    const m = toProxyModel(cluster);
    const by = (n: string) => m.servicePorts.filter((p) => p.name === n);
    expect(by('external-db')).toEqual([]);
    expect(by('web-headless')).toEqual([]);
    expect(by('web-lb')[0]).toMatchObject({
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      loadBalancerIPs: ['192.168.100.200'],
      loadBalancerSourceRanges: ['192.168.100.0/24', '10.0.0.0/8'],
    });
    expect(by('web-lb')[0].healthCheckNodePort).toBeGreaterThan(0);
    expect(by('web-nodeport')[0].nodePort).toBe(30080);
    expect(by('web-externalips')[0].externalIPs).toEqual(['192.168.100.50']);
    expect(by('web-affinity')[0]).toMatchObject({ sessionAffinity: 'ClientIP', stickyMaxAgeSeconds: 600 });
    expect(by('web-local')[0].internalTrafficPolicy).toBe('Local');
    expect(
      by('web-multiport').map((p) => [p.portName, p.protocol, p.endpoints.map((e) => e.port)[0]]),
    ).toEqual([
      ['dns', 'UDP', 5353],
      ['dns-tcp', 'TCP', 5353],
      ['http', 'TCP', 8080],
    ]);
    expect(by('legacy-db')[0].endpoints.map((e) => `${e.ip}:${e.port}`)).toEqual(['192.168.100.150:5432']);
    expect(by('web-noendpoints')[0].endpoints).toEqual([]);
  });

  it('sorts endpoints byte-wise by "ip:port" and de-duplicates them across slices, whatever the slice contents', () => {
    const octet = fc.integer({ min: 1, max: 30 });
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.tuple(octet, octet), { maxLength: 8 }), { minLength: 1, maxLength: 4 }),
        (slices) => {
          const c = new Cluster();
          c.applyObject({
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'ext' },
            spec: { ports: [{ name: 'p', port: 80 }] },
          });
          slices.forEach((eps, i) => {
            const slice: EndpointSlice = {
              apiVersion: 'discovery.k8s.io/v1',
              kind: 'EndpointSlice',
              metadata: { name: `ext-${i}`, labels: { 'kubernetes.io/service-name': 'ext' } },
              addressType: 'IPv4',
              ports: [{ name: 'p', port: 11, protocol: 'TCP' }],
              endpoints: eps.map(([a, b]) => ({ addresses: [`10.1.${a}.${b}`] })),
            };
            expect(c.applyObject(slice).status).toBe('created');
          });
          const got = toProxyModel(c)
            .servicePorts.find((p) => p.name === 'ext')!
            .endpoints.map((e) => `${e.ip}:${e.port}`);
          const want = [...new Set(slices.flat().map(([a, b]) => `10.1.${a}.${b}:11`))].sort();
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('defaults nil conditions as kube-proxy does and keeps terminating endpoints', () => {
    const c = new Cluster();
    c.applyObject({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'ext' },
      spec: { ports: [{ port: 80 }] },
    });
    c.applyObject({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'ext-a', labels: { 'kubernetes.io/service-name': 'ext' } },
      addressType: 'IPv4',
      ports: [{ name: '', port: 80, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['10.0.0.1'] },
        { addresses: ['10.0.0.2'], conditions: { ready: false, serving: true, terminating: true } },
      ],
    } as EndpointSlice);
    const eps = toProxyModel(c).servicePorts.find((p) => p.name === 'ext')!.endpoints;
    expect(eps.map((e) => [e.ip, e.ready, e.serving, e.terminating])).toEqual([
      ['10.0.0.1', true, true, false],
      ['10.0.0.2', false, true, true],
    ]);
  });
});
