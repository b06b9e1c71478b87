import { describe, expect, it } from 'vitest';
import {
  SyntheticModelError,
  syntheticModel,
  withOneEndpointChanged,
} from '../../src/traffic/synthetic-model.js';

describe('synthetic scale model', () => {
  it('has one ClusterIP port per Service, 3 to 10 endpoints each, every pod address unique', () => {
    const m = syntheticModel({ services: 400 });
    expect(m.servicePorts.length).toBe(400);
    const names = m.servicePorts.map((sp) => sp.servicePortName);
    expect([...names].sort()).toEqual(names); // compilers expect the model's order
    const ips = new Set<string>();
    let endpoints = 0;
    for (const sp of m.servicePorts) {
      expect(sp.endpoints.length).toBeGreaterThanOrEqual(3);
      expect(sp.endpoints.length).toBeLessThanOrEqual(10);
      for (const e of sp.endpoints) ips.add(e.ip);
      endpoints += sp.endpoints.length;
    }
    expect(ips.size).toBe(endpoints);
    expect(new Set(m.servicePorts.map((sp) => sp.clusterIP)).size).toBe(400);
  });

  it('withOneEndpointChanged changes exactly one endpoint of one Service', () => {
    const m = syntheticModel({ services: 50, endpointsOf: () => 10 });
    const next = withOneEndpointChanged(m, 7, 1);
    m.servicePorts.forEach((sp, i) => {
      const ips = new Set(sp.endpoints.map((e) => e.ip));
      const nextIps = next.servicePorts[i].endpoints.map((e) => e.ip);
      const changed = nextIps.filter((ip) => !ips.has(ip)).length;
      expect(changed).toBe(i === 7 ? 1 : 0);
      expect(nextIps.length).toBe(10);
    });
  });

  it('refuses a bad size with a specific error', () => {
    expect(() => syntheticModel({ services: 0 })).toThrow(SyntheticModelError);
  });
});
