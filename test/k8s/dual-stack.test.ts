/**
 * Issue 15 item 2: a dual-stack cluster's control plane. `--dual-stack` (ClusterOptions.dualStack)
 * or a "v4,v6" pair in --service-cluster-ip-range / --cluster-cidr gives kubespray's IPv6 side;
 * Services get ipFamilies/ipFamilyPolicy defaulting, allocation and validation as the apiserver
 * does (pkg/registry/core/service/storage/alloc.go initIPFamilyFields,
 * ValidateServiceClusterIPsRelatedFields), EndpointSlices come per address family.
 */
import type { Service } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Cluster } from '../../src/k8s/cluster.js';
import { resolveClusterConfig } from '../../src/k8s/cluster-config.js';
import { cidr6Contains, parseCidr6, parseIPv6 } from '../../src/util/ipv6.js';

function apply(yaml: string, cluster: Cluster) {
  return cluster.applyObject({ apiVersion: 'v1', kind: 'Service', ...parse(yaml) } as Service, 'svc.yaml');
}

const dual = () => new Cluster({ dualStack: true });
const SVC6 = parseCidr6('fd85:ee78:d8a6:8607::1000/116');

describe('the dual-stack cluster', () => {
  it('--dual-stack gives the default cluster kubespray’s IPv6 ranges, a /120 per node and IPv6 node addresses', () => {
    const c = resolveClusterConfig(undefined, { dualStack: true });
    expect(c.serviceCIDR).toBe('10.233.0.0/18');
    expect(c.ipv6?.serviceCIDR).toBe('fd85:ee78:d8a6:8607::1000/116');
    expect(c.ipv6?.clusterCIDR).toBe('fd85:ee78:d8a6:8607::1:0/112');
    expect([...(c.ipv6?.nodes.values() ?? [])]).toEqual([
      { ip: 'fd00:192:168:100::100', podCIDR: 'fd85:ee78:d8a6:8607::1:0/120' },
      { ip: 'fd00:192:168:100::101', podCIDR: 'fd85:ee78:d8a6:8607::1:100/120' },
      { ip: 'fd00:192:168:100::102', podCIDR: 'fd85:ee78:d8a6:8607::1:200/120' },
    ]);
    expect(resolveClusterConfig(undefined, {}).ipv6).toBeUndefined();
  });

  it('takes v4,v6 pairs from the flags and refuses IPv6-primary or same-family pairs with one line', () => {
    const c = resolveClusterConfig(undefined, {
      serviceClusterIPRange: '10.96.0.0/16,fd00:10:96::/112',
      clusterCIDR: '10.244.0.0/16,fd00:10:244::/56',
    });
    expect(c.serviceCIDR).toBe('10.96.0.0/16');
    expect(c.ipv6?.serviceCIDR).toBe('fd00:10:96::/112');
    expect(c.ipv6?.nodes.get('node2')?.podCIDR).toBe('fd00:10:244::100/120');
    expect(() =>
      resolveClusterConfig(undefined, { serviceClusterIPRange: 'fd00::/112,10.96.0.0/16' }),
    ).toThrow(/IPv6-primary clusters are not simulated/);
    expect(() =>
      resolveClusterConfig(undefined, { serviceClusterIPRange: '10.96.0.0/16,10.97.0.0/16' }),
    ).toThrow(/needs one IPv4 and one IPv6 range/);
    expect(() =>
      resolveClusterConfig(undefined, { serviceClusterIPRange: '10.96.0.0/16,fd00::/64' }),
    ).toThrow(/must be \/108 or narrower/);
  });

  it('a Cluster document node lists its IPv6 address among addresses', () => {
    const c = resolveClusterConfig(
      { nodes: [{ name: 'a', ip: '192.168.100.10', addresses: ['fd00:abcd::10'] }] },
      { dualStack: true },
    );
    expect(c.ipv6?.nodes.get('a')?.ip).toBe('fd00:abcd::10');
    expect(c.nodes[0].addresses).toEqual(['192.168.100.10']);
  });

  it('nodes carry both InternalIPs and both pod CIDRs; pods get an IPv6 address from their node’s block', () => {
    const c = dual();
    const node = c.nodes().find((n) => n.metadata?.name === 'node2');
    expect(node?.status?.addresses?.filter((a) => a.type === 'InternalIP').map((a) => a.address)).toEqual([
      '192.168.100.101',
      'fd00:192:168:100::101',
    ]);
    expect(node?.spec?.podCIDRs).toEqual(['10.233.65.0/24', 'fd85:ee78:d8a6:8607::1:100/120']);
  });
});

describe('Service IP families on a dual-stack cluster (the apiserver’s rules and words)', () => {
  it('defaults to SingleStack IPv4 with one ClusterIP, the same one a single-stack cluster of the seed gives', () => {
    const c = dual();
    apply('metadata: {name: a}\nspec: {ports: [{port: 80}]}', c);
    const single = new Cluster();
    apply('metadata: {name: a}\nspec: {ports: [{port: 80}]}', single);
    expect(c.getService('a')?.spec?.ipFamilyPolicy).toBe('SingleStack');
    expect(c.getService('a')?.spec?.ipFamilies).toEqual(['IPv4']);
    expect(c.getService('a')?.spec?.clusterIPs).toEqual([single.getService('a')?.spec?.clusterIP]);
  });

  it('PreferDualStack gets [IPv4, IPv6] and an IPv6 ClusterIP from the IPv6 range as clusterIPs[1]', () => {
    const c = dual();
    expect(
      apply('metadata: {name: p}\nspec: {ipFamilyPolicy: PreferDualStack, ports: [{port: 80}]}', c).message,
    ).toBe('service/p created');
    const spec = c.getService('p')?.spec;
    expect(spec?.ipFamilies).toEqual(['IPv4', 'IPv6']);
    expect(spec?.clusterIPs).toHaveLength(2);
    expect(spec?.clusterIP).toBe(spec?.clusterIPs?.[0]);
    expect(cidr6Contains(SVC6, parseIPv6(spec?.clusterIPs?.[1] ?? ''))).toBe(true);
  });

  it('RequireDualStack is accepted; ipFamilies [IPv6, IPv4] orders clusterIPs IPv6 first', () => {
    const c = dual();
    apply('metadata: {name: r}\nspec: {ipFamilyPolicy: RequireDualStack, ports: [{port: 80}]}', c);
    expect(c.getService('r')?.spec?.ipFamilies).toEqual(['IPv4', 'IPv6']);
    const out = apply(
      'metadata: {name: s6}\nspec: {ipFamilyPolicy: SingleStack, ipFamilies: [IPv6], ports: [{port: 80}]}',
      c,
    );
    expect(out.message).toBe('service/s6 created');
    const s6 = c.getService('s6')?.spec;
    expect(s6?.clusterIPs).toHaveLength(1);
    expect(s6?.clusterIP).toContain(':');
  });

  it('honours requested clusterIPs of both families and refuses one taken', () => {
    const c = dual();
    apply(
      'metadata: {name: x}\nspec: {ipFamilyPolicy: RequireDualStack, clusterIPs: [10.233.0.50, "fd85:ee78:d8a6:8607::1050"], ports: [{port: 80}]}',
      c,
    );
    expect(c.getService('x')?.spec?.clusterIPs).toEqual(['10.233.0.50', 'fd85:ee78:d8a6:8607::1050']);
    const out = apply(
      'metadata: {name: y}\nspec: {ipFamilyPolicy: RequireDualStack, clusterIPs: [10.233.0.51, "fd85:ee78:d8a6:8607::1050"], ports: [{port: 80}]}',
      c,
    );
    expect(out.message).toBe(
      'The Service "y" is invalid: spec.clusterIPs: Invalid value: []string{"10.233.0.51", "fd85:ee78:d8a6:8607::1050"}: failed to allocate IP fd85:ee78:d8a6:8607::1050: provided IP is already allocated',
    );
    // The IPv4 address y asked for was given back.
    expect(apply('metadata: {name: z}\nspec: {clusterIP: 10.233.0.51, ports: [{port: 80}]}', c).message).toBe(
      'service/z created',
    );
  });

  it('rejects two IPs of one family and an IP of the wrong family for its ipFamilies entry, verbatim', () => {
    const c = dual();
    expect(
      apply(
        'metadata: {name: t}\nspec: {ipFamilyPolicy: PreferDualStack, clusterIPs: [10.233.0.60, 10.233.0.61], ports: [{port: 80}]}',
        c,
      ).message,
    ).toBe(
      'The Service "t" is invalid: spec.clusterIPs: Invalid value: []string{"10.233.0.60", "10.233.0.61"}: may specify no more than one IP for each IP family',
    );
    expect(
      apply(
        'metadata: {name: w}\nspec: {ipFamilies: [IPv6], clusterIPs: [10.233.0.62], ports: [{port: 80}]}',
        c,
      ).message,
    ).toBe(
      'The Service "w" is invalid: spec.clusterIPs[0]: Invalid value: "10.233.0.62": expected an IPv6 value as indicated by `ipFamilies[0]`',
    );
    expect(
      apply(
        'metadata: {name: m}\nspec: {ipFamilyPolicy: SingleStack, ipFamilies: [IPv4, IPv6], ports: [{port: 80}]}',
        c,
      ).message,
    ).toBe(
      'The Service "m" is invalid: spec.ipFamilyPolicy: Invalid value: "SingleStack": must be \'RequireDualStack\' or \'PreferDualStack\' when multiple IP families are specified',
    );
  });

  it('keeps the primary ClusterIP immutable and gives the secondary back when the update says SingleStack', () => {
    const c = dual();
    apply('metadata: {name: u}\nspec: {ipFamilyPolicy: PreferDualStack, ports: [{port: 80}]}', c);
    const [v4, v6] = c.getService('u')?.spec?.clusterIPs ?? [];
    expect(
      apply(
        'metadata: {name: u}\nspec: {ipFamilyPolicy: SingleStack, ipFamilies: [IPv4], ports: [{port: 80}]}',
        c,
      ).message,
    ).toBe('service/u configured');
    expect(c.getService('u')?.spec?.clusterIPs).toEqual([v4]);
    // The released IPv6 address can be asked for again.
    expect(
      apply(`metadata: {name: v}\nspec: {ipFamilies: [IPv6], clusterIP: "${v6}", ports: [{port: 80}]}`, c)
        .message,
    ).toBe('service/v created');
    expect(apply('metadata: {name: u}\nspec: {clusterIP: 10.233.0.99, ports: [{port: 80}]}', c).message).toBe(
      'The Service "u" is invalid: spec.clusterIPs[0]: Invalid value: "10.233.0.99": may not change once set',
    );
  });
});

describe('EndpointSlices per address family', () => {
  it('a PreferDualStack Service gets an IPv4 and an IPv6 slice with the same pods; the legacy Endpoints keep IPv4', () => {
    const c = dual();
    c.applyObject(
      parse(
        'apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web}\nspec: {replicas: 3, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: w, image: go-myweb}]}}}',
      ),
      'rs.yaml',
    );
    apply(
      'metadata: {name: web}\nspec: {ipFamilyPolicy: PreferDualStack, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}',
      c,
    );
    const slices = c.slicesOfService(c.getService('web') as Service);
    const byType = Object.fromEntries(slices.map((s) => [s.addressType, s]));
    expect(Object.keys(byType).sort()).toEqual(['IPv4', 'IPv6']);
    const pods = c.pods().filter((p) => p.metadata?.labels?.app === 'web');
    expect(byType.IPv6.endpoints.map((e) => e.addresses[0]).sort()).toEqual(
      pods.map((p) => p.status?.podIPs?.[1]?.ip).sort(),
    );
    expect(byType.IPv6.endpoints.map((e) => e.targetRef?.name).sort()).toEqual(
      byType.IPv4.endpoints.map((e) => e.targetRef?.name).sort(),
    );
    for (const ip of byType.IPv6.endpoints.map((e) => e.addresses[0]))
      expect(cidr6Contains(parseCidr6('fd85:ee78:d8a6:8607::1:0/112'), parseIPv6(ip))).toBe(true);
    // A SingleStack IPv4 Service of the same pods: IPv4 slices only.
    apply('metadata: {name: web4}\nspec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}', c);
    expect(c.slicesOfService(c.getService('web4') as Service).map((s) => s.addressType)).toEqual(['IPv4']);
  });
});
