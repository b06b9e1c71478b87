/**
 * Issue 11 item 7: dpsim's cluster is single-stack IPv4, so a Service that asks for IPv6 or
 * for dual-stack is rejected as kube-apiserver rejects it (storage/alloc.go initIPFamilyFields),
 * word for word, instead of silently getting an IPv4 ClusterIP.
 */
import type { Service } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Cluster } from '../../src/k8s/cluster.js';

function apply(yaml: string, cluster = new Cluster()) {
  return cluster.applyObject({ apiVersion: 'v1', kind: 'Service', ...parse(yaml) } as Service, 'svc.yaml');
}

describe('IP families on a single-stack IPv4 cluster (the apiserver’s exact text)', () => {
  it('rejects ipFamilies [IPv6]: not configured on this cluster, and allocates nothing', () => {
    const c = new Cluster();
    const out = apply(
      'metadata: {name: v6}\nspec: {type: NodePort, ipFamilies: [IPv6], ports: [{port: 80}]}',
      c,
    );
    expect(out.status).toBe('rejected');
    expect(out.message).toBe(
      'The Service "v6" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
    );
    expect(c.getService('v6')).toBeUndefined();
    // Nothing leaked: the next Service still gets the seed's first ClusterIP.
    const fresh = new Cluster();
    apply('metadata: {name: a}\nspec: {ports: [{port: 80}]}', fresh);
    apply('metadata: {name: a}\nspec: {ports: [{port: 80}]}', c);
    expect(c.getService('a')?.spec?.clusterIP).toBe(fresh.getService('a')?.spec?.clusterIP);
  });

  it('rejects RequireDualStack with the dual-stack text', () => {
    expect(
      apply('metadata: {name: ds}\nspec: {ipFamilyPolicy: RequireDualStack, ports: [{port: 80}]}').message,
    ).toBe(
      'The Service "ds" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services',
    );
  });

  it('aggregates RequireDualStack with [IPv4, IPv6] into one bracketed message', () => {
    expect(
      apply(
        'metadata: {name: ds}\nspec: {ipFamilyPolicy: RequireDualStack, ipFamilies: [IPv4, IPv6], ports: [{port: 80}]}',
      ).message,
    ).toBe(
      'The Service "ds" is invalid: [spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services, spec.ipFamilies[1]: Invalid value: "IPv6": not configured on this cluster]',
    );
  });

  it('rejects an IPv6 clusterIP: IPv6 is not configured on this cluster', () => {
    expect(apply('metadata: {name: v6ip}\nspec: {clusterIP: "fd00::10", ports: [{port: 80}]}').message).toBe(
      'The Service "v6ip" is invalid: spec.clusterIPs[0]: Invalid value: []string{"fd00::10"}: IPv6 is not configured on this cluster',
    );
  });

  it('rejects SingleStack with two families, and unknown families and policies', () => {
    expect(
      apply(
        'metadata: {name: s}\nspec: {ipFamilyPolicy: SingleStack, ipFamilies: [IPv4, IPv6], ports: [{port: 80}]}',
      ).message,
    ).toBe(
      'The Service "s" is invalid: spec.ipFamilyPolicy: Invalid value: "SingleStack": must be \'RequireDualStack\' or \'PreferDualStack\' when multiple IP families are specified',
    );
    expect(apply('metadata: {name: s}\nspec: {ipFamilies: [IPv5], ports: [{port: 80}]}').message).toBe(
      'The Service "s" is invalid: spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"',
    );
    expect(apply('metadata: {name: s}\nspec: {ipFamilyPolicy: Dual, ports: [{port: 80}]}').message).toBe(
      'The Service "s" is invalid: spec.ipFamilyPolicy: Unsupported value: "Dual": supported values: "PreferDualStack", "RequireDualStack", "SingleStack"',
    );
  });

  it('accepts PreferDualStack as single-stack IPv4, and IPv4 explicitly', () => {
    const c = new Cluster();
    expect(
      apply('metadata: {name: p}\nspec: {ipFamilyPolicy: PreferDualStack, ports: [{port: 80}]}', c).message,
    ).toBe('service/p created');
    expect(c.getService('p')?.spec?.ipFamilies).toEqual(['IPv4']);
    expect(c.getService('p')?.spec?.ipFamilyPolicy).toBe('PreferDualStack');
    expect(apply('metadata: {name: q}\nspec: {ipFamilies: [IPv4], ports: [{port: 80}]}', c).message).toBe(
      'service/q created',
    );
  });

  it('gives a headless selectorless Service both families under RequireDualStack, as a single-stack apiserver does', () => {
    const c = new Cluster();
    expect(apply('metadata: {name: h}\nspec: {clusterIP: None, ports: [{port: 80}]}', c).message).toBe(
      'service/h created',
    );
    expect(c.getService('h')?.spec?.ipFamilyPolicy).toBe('RequireDualStack');
    expect(c.getService('h')?.spec?.ipFamilies).toEqual(['IPv4', 'IPv6']);
  });
});
