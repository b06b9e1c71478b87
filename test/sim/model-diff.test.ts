import { describe, expect, it } from 'vitest';
import type { ProxyModel, ServicePort } from '../../src/proxy/common/model.js';
import { changedServices, sameServicePort } from '../../src/sim/model-diff.js';
import { syntheticModel, withOneEndpointChanged } from '../../src/traffic/synthetic-model.js';

const base = syntheticModel({ services: 5 });

function withPort(model: ProxyModel, i: number, over: Partial<ServicePort>): ProxyModel {
  const servicePorts = model.servicePorts.slice();
  servicePorts[i] = { ...servicePorts[i], ...over };
  return { ...model, servicePorts };
}

describe('changedServices', () => {
  it('is empty for an equal model built anew', () => {
    expect(changedServices(base, syntheticModel({ services: 5 }))).toEqual(new Set());
  });

  it('names the Service whose endpoint changed, and only it', () => {
    expect(changedServices(base, withOneEndpointChanged(base, 3, 1))).toEqual(new Set(['bench/svc-000003']));
  });

  it('names added and removed Services', () => {
    const grown = syntheticModel({ services: 7 });
    expect(changedServices(base, grown)).toEqual(new Set(['bench/svc-000005', 'bench/svc-000006']));
    expect(changedServices(grown, base)).toEqual(new Set(['bench/svc-000005', 'bench/svc-000006']));
  });

  it('names a Service whose spec field changed (externalIPs, affinity, policy)', () => {
    expect(changedServices(base, withPort(base, 0, { externalIPs: ['198.18.0.1'] }))).toEqual(
      new Set(['bench/svc-000000']),
    );
    expect(changedServices(base, withPort(base, 1, { sessionAffinity: 'ClientIP' }))).toEqual(
      new Set(['bench/svc-000001']),
    );
    expect(changedServices(base, withPort(base, 2, { internalTrafficPolicy: 'Local' }))).toEqual(
      new Set(['bench/svc-000002']),
    );
  });

  it('names a Service whose endpoint only changed readiness', () => {
    const sp = base.servicePorts[4];
    const endpoints = [{ ...sp.endpoints[0], ready: false, terminating: true }, ...sp.endpoints.slice(1)];
    expect(changedServices(base, withPort(base, 4, { endpoints }))).toEqual(new Set(['bench/svc-000004']));
  });

  it('asks for a full sync when the nodes or CIDRs change', () => {
    expect(changedServices(base, { ...base, nodes: base.nodes.slice(1) })).toBeUndefined();
    expect(changedServices(base, { ...base, clusterCIDR: '10.0.0.0/8' })).toBeUndefined();
  });

  it('compares service ports field by field', () => {
    const sp = base.servicePorts[0];
    expect(sameServicePort(sp, { ...sp })).toBe(true);
    expect(sameServicePort(sp, { ...sp, nodePort: 30001 })).toBe(false);
    expect(sameServicePort(sp, { ...sp, endpoints: sp.endpoints.slice(1) })).toBe(false);
  });
});
