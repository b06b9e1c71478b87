/**
 * A small world of Services for partial-sync tests: Services are numbered, each change
 * names the Services (`ns/name`) it touched, as kube-proxy's change trackers record them,
 * and `model()` is what the proxier sees after the changes. fast-check draws change lists.
 */
import fc from 'fast-check';
import type { ProxyModel, ServicePort } from '../../../src/proxy/common/model.js';
import { model, servicePort } from './helpers.js';

export interface ServiceState {
  readonly index: number;
  readonly nodePort: boolean;
  readonly localPolicy: boolean;
  readonly affinity: boolean;
  readonly twoPorts: boolean;
  /** Endpoint host numbers (1..250); even ones run on this node. */
  readonly endpoints: readonly number[];
  /**
   * Hosts among `endpoints` whose pods are not ready; those divisible by 3 are terminating but
   * still serving (kube-proxy's fallback when no endpoint is ready), the others neither.
   */
  readonly unready?: readonly number[];
}

export type Change =
  | { readonly op: 'add'; readonly service: ServiceState }
  | { readonly op: 'remove'; readonly index: number }
  | { readonly op: 'endpoints'; readonly index: number; readonly endpoints: readonly number[] }
  /** `positions` pick the Service's endpoints (modulo their count) that are not ready now. */
  | { readonly op: 'readiness'; readonly index: number; readonly positions: readonly number[] }
  | {
      readonly op: 'spec';
      readonly index: number;
      readonly nodePort: boolean;
      readonly localPolicy: boolean;
    };

export const NODE = 'test-node';

const nsOf = (i: number) => `ns${i % 3}`;
export const serviceKey = (i: number) => `${nsOf(i)}/svc${i}`;

function ports(s: ServiceState): ServicePort[] {
  const i = s.index;
  const names = s.twoPorts ? ['http', 'https'] : [''];
  return names.map((portName, p) =>
    servicePort({
      namespace: nsOf(i),
      name: `svc${i}`,
      portName,
      type: s.nodePort ? 'NodePort' : 'ClusterIP',
      clusterIP: `172.30.${i >> 8}.${i & 255}`,
      port: 80 + p,
      nodePort: s.nodePort ? 30000 + ((i * 2 + p) % 2700) : 0,
      externalTrafficPolicy: s.nodePort && s.localPolicy ? 'Local' : 'Cluster',
      sessionAffinity: s.affinity ? 'ClientIP' : 'None',
      endpoints: s.endpoints.map((h) => {
        const ready = !(s.unready ?? []).includes(h);
        return {
          ip: `10.${1 + (i >> 8)}.${i & 255}.${h}`,
          port: 8080 + p,
          nodeName: h % 2 === 0 ? NODE : 'other-node',
          ...(ready ? {} : { ready: false, serving: h % 3 === 0, terminating: h % 3 === 0 }),
        };
      }),
    }),
  );
}

export class ServiceWorld {
  private readonly services = new Map<number, ServiceState>();

  constructor(initial: readonly ServiceState[] = []) {
    for (const s of initial) this.services.set(s.index, s);
  }

  /** Applies one change; returns the Service it touched (`ns/name`), or null if it was a no-op. */
  apply(change: Change): string | null {
    const index = change.op === 'add' ? change.service.index : change.index;
    const current = this.services.get(index);
    switch (change.op) {
      case 'add':
        if (current !== undefined) return null;
        this.services.set(index, change.service);
        break;
      case 'remove':
        if (current === undefined) return null;
        this.services.delete(index);
        break;
      case 'endpoints':
        if (current === undefined) return null;
        this.services.set(index, { ...current, endpoints: change.endpoints });
        break;
      case 'readiness':
        if (current === undefined) return null;
        this.services.set(index, {
          ...current,
          unready:
            current.endpoints.length === 0
              ? []
              : change.positions.map((p) => current.endpoints[p % current.endpoints.length]),
        });
        break;
      case 'spec':
        if (current === undefined) return null;
        this.services.set(index, { ...current, nodePort: change.nodePort, localPolicy: change.localPolicy });
        break;
    }
    return serviceKey(index);
  }

  model(): ProxyModel {
    return model({
      servicePorts: [...this.services.values()].flatMap(ports),
      nodes: [
        { name: NODE, ip: '192.168.0.2', podCIDR: '10.0.0.0/24' },
        { name: 'other-node', ip: '192.168.0.3', podCIDR: '10.0.1.0/24' },
      ],
    });
  }
}

const endpointsArb = (max: number) =>
  fc
    .uniqueArray(fc.integer({ min: 1, max: 250 }), { maxLength: max })
    .map((a) => [...a].sort((x, y) => x - y));

export const serviceArb = (maxIndex: number, maxEndpoints: number): fc.Arbitrary<ServiceState> =>
  fc.record({
    index: fc.integer({ min: 0, max: maxIndex }),
    nodePort: fc.boolean(),
    localPolicy: fc.boolean(),
    affinity: fc.boolean(),
    twoPorts: fc.boolean(),
    endpoints: endpointsArb(maxEndpoints),
  });

export const changeArb = (maxIndex: number, maxEndpoints: number): fc.Arbitrary<Change> =>
  fc.oneof(
    serviceArb(maxIndex, maxEndpoints).map((service) => ({ op: 'add' as const, service })),
    fc.integer({ min: 0, max: maxIndex }).map((index) => ({ op: 'remove' as const, index })),
    fc
      .tuple(fc.integer({ min: 0, max: maxIndex }), endpointsArb(maxEndpoints))
      .map(([index, endpoints]) => ({ op: 'endpoints' as const, index, endpoints })),
    fc
      .tuple(fc.integer({ min: 0, max: maxIndex }), fc.boolean(), fc.boolean())
      .map(([index, nodePort, localPolicy]) => ({ op: 'spec' as const, index, nodePort, localPolicy })),
  );

/** Pods of a Service going unready (or terminating but serving) and ready again. */
export const readinessChangeArb = (maxIndex: number): fc.Arbitrary<Change> =>
  fc
    .tuple(fc.integer({ min: 0, max: maxIndex }), fc.array(fc.nat(16), { maxLength: 4 }))
    .map(([index, positions]) => ({ op: 'readiness' as const, index, positions }));
