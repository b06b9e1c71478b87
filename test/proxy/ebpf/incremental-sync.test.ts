/**
 * Incremental eBPF sync: `lb.sync(model, changed)` re-plans only the changed Services and must
 * leave the maps exactly as a full sync would, and equivalent to a fresh compile.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Endpoint, ProxyModel, ServicePort } from '../../../src/proxy/common/model.js';
import {
  compileEbpf,
  EbpfCompileError,
  type EbpfLoadBalancer,
  type EbpfOptions,
  renderBpftoolJson,
} from '../../../src/proxy/ebpf/index.js';
import { formatIPv4 } from '../../../src/util/ipv4.js';
import { ep, model, svcPort } from './fixtures.js';

const SMALL = { lbMapMax: 512, ctTcpMax: 16, ctAnyMax: 16, natMax: 16, sourceRangesMax: 8 };
const RANDOM: EbpfOptions = { mapSizes: SMALL };
const MAGLEV: EbpfOptions = { mapSizes: SMALL, algorithm: 'maglev', maglevTableSize: 251 };
const SLOTS = 6;

/**
 * What the maps mean, with every ID resolved to what it names (backend → address, rev-NAT →
 * frontend): equal for two load balancers holding the same services whatever IDs they chose.
 */
function mapMeaning(lb: EbpfLoadBalancer): string[] {
  const m = lb.maps;
  const revNat = new Map<number, string>();
  m.revNat.forEach((_i, ko, vo) => {
    revNat.set(m.revNat.keys[ko], `${formatIPv4(m.revNat.values[vo])}:${m.revNat.values[vo + 1]}`);
  });
  const backend = (id: number): string => {
    const o = m.backendOffset(id);
    if (o < 0) return `missing backend ${id}`;
    const v = m.backends.values;
    return `${formatIPv4(v[o])}:${v[o + 1] & 0xffff}/${(v[o + 1] >>> 16) & 0xff} state ${v[o + 1] >>> 24}`;
  };
  const out: string[] = [];
  const usedBackends = new Set<number>();
  m.services.forEach((_i, ko, vo) => {
    const k = m.services.keys;
    const v = m.services.values;
    const frontend = `${formatIPv4(k[ko])}:${k[ko + 1] & 0xffff}/${k[ko + 2] & 0xff} scope ${k[ko + 2] >>> 8}`;
    const slot = k[ko + 1] >>> 16;
    const rn = revNat.get(v[vo + 1] >>> 16) ?? 'no rev-NAT';
    if (slot === 0) {
      out.push(`svc ${frontend} master ${v[vo]} count ${v[vo + 1] & 0xffff} flags ${v[vo + 2]} → ${rn}`);
    } else {
      usedBackends.add(v[vo]);
      out.push(`svc ${frontend} slot ${slot} ${backend(v[vo])} → ${rn}`);
    }
  });
  for (let id = 1; id < m.backends.maxEntries; id++) {
    if (m.backendOffset(id) >= 0 && !usedBackends.has(id)) out.push(`unused backend ${backend(id)}`);
  }
  m.affinityMatch.forEach((_i, ko) => {
    const k = m.affinityMatch.keys;
    out.push(`affinity-match ${backend(k[ko])} ${revNat.get(k[ko + 1])}`);
  });
  m.maglevOuter.forEach((_i, ko, vo) => {
    const inner = m.maglevInner[m.maglevOuter.values[vo]];
    const table = inner === undefined ? 'missing' : Array.from(inner.values, backend).join(',');
    out.push(`maglev ${revNat.get(m.maglevOuter.keys[ko])} ${table}`);
  });
  m.sourceRanges.forEach((trie, id) => {
    trie?.forEach((prefix, length) => {
      out.push(`source-range ${revNat.get(id)} ${formatIPv4(prefix)}/${length}`);
    });
  });
  out.push(`rev-NAT entries ${m.revNat.count}`);
  return out.sort();
}

/** Kubernetes order: the model's promise (toProxyModel sorts the same way). */
function sortedModel(ports: ServicePort[]): ProxyModel {
  const byName = (a: ServicePort, b: ServicePort) =>
    a.servicePortName < b.servicePortName
      ? -1
      : a.servicePortName > b.servicePortName
        ? 1
        : a.protocol < b.protocol
          ? -1
          : a.protocol > b.protocol
            ? 1
            : 0;
  return model([...ports].sort(byName));
}

const POD_IPS = ['10.244.0.5', '10.244.0.6', '10.244.0.7', '10.244.1.5', '10.244.1.6', '10.244.1.7'];

/** A pod's readiness is the pod's, whichever Service lists it: the .7 pods are terminating. */
const endpointArb: fc.Arbitrary<Endpoint> = fc
  .record({ ip: fc.constantFrom(...POD_IPS), port: fc.constantFrom(8080, 9090) })
  .map(({ ip, port }) => {
    const ready = !ip.endsWith('.7');
    return ep(ip, port, ip.startsWith('10.244.0.') ? 'node-a' : 'node-b', { ready, terminating: !ready });
  });

/** The spec of one Service, placed later in slot `i` (which fixes its name and addresses). */
const serviceSpecArb = fc.record({
  ports: fc.constantFrom(1, 2),
  udp: fc.boolean(),
  type: fc.constantFrom<ServicePort['type'][]>('ClusterIP', 'NodePort', 'LoadBalancer'),
  externalIP: fc.boolean(),
  sourceRanges: fc.subarray(['10.0.0.0/8', '192.0.2.0/24']),
  affinity: fc.boolean(),
  etpLocal: fc.boolean(),
  itpLocal: fc.boolean(),
  endpoints: fc.uniqueArray(endpointArb, { maxLength: 5, selector: (e) => `${e.ip}:${e.port}` }),
});
type ServiceSpec = typeof serviceSpecArb extends fc.Arbitrary<infer T> ? T : never;

function servicePorts(slot: number, spec: ServiceSpec): ServicePort[] {
  const name = `svc-${slot}`;
  const namespace = slot % 2 === 0 ? 'default' : 'other';
  const out: ServicePort[] = [];
  for (let p = 0; p < spec.ports; p++) {
    const portName = spec.ports === 1 ? '' : `p${p}`;
    const endpoints = [...spec.endpoints].sort((a, b) =>
      `${a.ip}:${a.port}` < `${b.ip}:${b.port}` ? -1 : 1,
    );
    out.push(
      svcPort({
        name,
        namespace,
        portName,
        protocol: spec.udp && p === 1 ? 'UDP' : 'TCP',
        clusterIP: `10.96.0.${10 + slot}`,
        port: 80 + p,
        type: spec.type,
        nodePort: spec.type === 'ClusterIP' ? 0 : 30000 + slot * 2 + p,
        externalIPs: spec.externalIP ? [`198.18.${slot}.1`] : [],
        loadBalancerIPs: spec.type === 'LoadBalancer' ? [`203.0.113.${slot + 1}`] : [],
        loadBalancerSourceRanges: spec.type === 'LoadBalancer' ? spec.sourceRanges : [],
        sessionAffinity: spec.affinity ? 'ClientIP' : 'None',
        stickyMaxAgeSeconds: spec.affinity ? 10800 : 0,
        externalTrafficPolicy: spec.etpLocal && spec.type !== 'ClusterIP' ? 'Local' : 'Cluster',
        internalTrafficPolicy: spec.itpLocal ? 'Local' : 'Cluster',
        endpoints,
      }),
    );
  }
  return out;
}

/** One edit of the cluster: each slot's Service kept, replaced, added or deleted. */
const stepArb = fc.array(
  fc.record({
    edited: fc.boolean(),
    spec: fc.option(serviceSpecArb, { nil: undefined }),
    listed: fc.boolean(),
  }),
  { minLength: SLOTS, maxLength: SLOTS },
);

interface Step {
  readonly model: ProxyModel;
  /** The edited Services, plus some unedited ones (a caller may over-report). */
  readonly changed: ReadonlySet<string>;
}

type Edit = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function steps(initial: (ServiceSpec | undefined)[], edits: Edit[]): { first: ProxyModel; steps: Step[] } {
  const modelOf = (specs: (ServiceSpec | undefined)[]) =>
    sortedModel(specs.flatMap((s, slot) => (s === undefined ? [] : servicePorts(slot, s))));
  let specs = initial;
  const out: Step[] = [];
  for (const edit of edits) {
    const changed = new Set<string>();
    specs = specs.map((s, slot) => {
      const key = `${slot % 2 === 0 ? 'default' : 'other'}/svc-${slot}`;
      if (edit[slot].edited) {
        // A named port stands for its whole Service, as a Service key does.
        changed.add(edit[slot].listed && edit[slot].spec?.ports === 2 ? `${key}:p1` : key);
        return edit[slot].spec;
      }
      if (edit[slot].listed) changed.add(key);
      return s;
    });
    out.push({ model: modelOf(specs), changed });
  }
  return { first: modelOf(initial), steps: out };
}

const scenarioArb = fc.record({
  initial: fc.array(fc.option(serviceSpecArb, { nil: undefined }), { minLength: SLOTS, maxLength: SLOTS }),
  edits: fc.array(stepArb, { minLength: 1, maxLength: 3 }),
});

describe('incremental eBPF sync', () => {
  for (const [name, options, numRuns] of [
    ['random', RANDOM, 80],
    ['maglev', MAGLEV, 25],
  ] as const) {
    it(`(${name}) after any sequence of Service edits, syncing only the changed Services leaves byte-identical maps to a full sync, and maps equivalent to a fresh compile`, () => {
      fc.assert(
        fc.property(scenarioArb, ({ initial, edits }) => {
          const { first, steps: seq } = steps(initial, edits);
          const incremental = compileEbpf(first, 'node-a', options);
          const full = compileEbpf(first, 'node-a', options);
          for (const step of seq) {
            const si = incremental.sync(step.model, step.changed);
            const sf = full.sync(step.model);
            expect(si.frontendsAdded).toBe(sf.frontendsAdded);
            expect(si.frontendsUpdated).toBe(sf.frontendsUpdated);
            expect(si.frontendsRemoved).toBe(sf.frontendsRemoved);
            expect(renderBpftoolJson(incremental, { maglevInner: true })).toBe(
              renderBpftoolJson(full, { maglevInner: true }),
            );
          }
          const fresh = compileEbpf(seq.at(-1)!.model, 'node-a', options);
          expect(mapMeaning(incremental)).toEqual(mapMeaning(fresh));
          expect([...incremental.frontends.keys()].sort()).toEqual([...fresh.frontends.keys()].sort());
        }),
        { numRuns },
      );
    });
  }

  const a = svcPort({ name: 'a', clusterIP: '10.96.0.10', endpoints: [ep('10.244.0.5', 80, 'node-a')] });
  const b = svcPort({
    name: 'b',
    clusterIP: '10.96.0.11',
    type: 'NodePort',
    nodePort: 30001,
    endpoints: [ep('10.244.1.5', 80, 'node-b')],
  });

  it('re-plans only the listed Services and leaves the others untouched', () => {
    const lb = compileEbpf(sortedModel([a, b]), 'node-a', RANDOM);
    const bBefore = lb.frontends.get('10.96.0.11:80/TCP');
    const a2 = { ...a, endpoints: [...a.endpoints, ep('10.244.0.6', 80, 'node-a')] };
    // b changed too but is not listed: an incremental sync must not look at it.
    const b2 = { ...b, endpoints: [] };
    const stats = lb.sync(sortedModel([a2, b2]), new Set(['default/a']));
    expect(stats).toMatchObject({ frontendsUpdated: 1, frontendsUnchanged: 0, backendsAdded: 1 });
    expect(lb.frontends.get('10.96.0.11:80/TCP')).toBe(bBefore);
    expect(lb.frontends.get('10.96.0.10:80/TCP')!.extBackendIds).toHaveLength(2);
  });

  it('removes every frontend of a listed Service that is gone from the model', () => {
    const lb = compileEbpf(sortedModel([a, b]), 'node-a', RANDOM);
    const stats = lb.sync(sortedModel([a]), new Set(['default/b']));
    expect(stats.frontendsRemoved).toBe(2); // ClusterIP and NodePort
    expect([...lb.frontends.keys()]).toEqual(['10.96.0.10:80/TCP']);
    expect(lb.maps.revNat.count).toBe(1);
    expect(lb.maps.services.count).toBe(2); // a's master + one slot
  });

  it('finds the listed Services in a model that is not sorted (scanned, not searched)', () => {
    const unsorted = model([b, a]);
    const lb = compileEbpf(unsorted, 'node-a', RANDOM);
    const a2 = { ...a, endpoints: [ep('10.244.1.9', 80, 'node-b')] };
    lb.sync(model([b, a2]), new Set(['default/a']));
    expect(mapMeaning(lb)).toEqual(mapMeaning(compileEbpf(model([b, a2]), 'node-a', RANDOM)));
  });

  it('rejects a listed Service claiming a frontend an unlisted Service holds, leaving the maps as they were', () => {
    const lb = compileEbpf(sortedModel([a, b]), 'node-a', RANDOM);
    const before = renderBpftoolJson(lb);
    const clash = { ...a, clusterIP: b.clusterIP };
    expect(() => lb.sync(sortedModel([clash, b]), new Set(['default/a']))).toThrow(
      new EbpfCompileError('frontend 10.96.0.11:80/TCP is claimed by default/b and default/a'),
    );
    expect(renderBpftoolJson(lb)).toBe(before);
  });

  it('does a full sync when no change set is given', () => {
    const lb = compileEbpf(sortedModel([a, b]), 'node-a', RANDOM);
    const stats = lb.sync(sortedModel([a, { ...b, endpoints: [] }]));
    expect(stats).toMatchObject({ frontendsUpdated: 2, frontendsUnchanged: 1 });
  });
});
