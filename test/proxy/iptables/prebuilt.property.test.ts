/**
 * compileIptables builds the ~3 rules per endpoint as structures instead of parsing their
 * restore text back; these tests hold that ruleset equal to what parsing the text gives.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ServicePort } from '../../../src/proxy/common/model.js';
import { compileIptablesKernelText } from '../../../src/proxy/iptables/compile.js';
import {
  compileIptables,
  compileIptablesRuleset,
  type IptablesCompileOptions,
  parseIptables,
} from '../../../src/proxy/iptables/index.js';
import { syntheticModel } from '../../../src/traffic/synthetic-model.js';
import { everyTypeModel, model, originModel, overallModel, servicePort } from './helpers.js';

function expectSameAsParsed(
  m: Parameters<typeof compileIptables>[0],
  node: string,
  options: IptablesCompileOptions = {},
) {
  const direct = compileIptables(m, node, options).ruleset;
  const parsed = parseIptables(compileIptablesKernelText(m, node, options)).ruleset;
  expect(direct).toStrictEqual(parsed);
  expect(compileIptablesRuleset(m, node, options)).toStrictEqual(parsed);
}

const endpointArb = (svc: number) =>
  fc.record({
    ip: fc.integer({ min: 1, max: 9 }).map((j) => `10.180.${svc}.${j}`),
    port: fc.constantFrom(80, 8080, 65535, 1),
    nodeName: fc.constantFrom('test-node', 'other', ''),
    ready: fc.boolean(),
    serving: fc.boolean(),
    terminating: fc.boolean(),
  });

const servicePortArb = (i: number): fc.Arbitrary<ServicePort> =>
  fc
    .record({
      type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
      protocol: fc.constantFrom('TCP', 'UDP', 'SCTP'),
      portName: fc.constantFrom('', 'p', 'dns-tcp'),
      affinity: fc.boolean(),
      etp: fc.constantFrom('Cluster', 'Local'),
      itp: fc.constantFrom('Cluster', 'Local'),
      endpoints: fc.uniqueArray(endpointArb(i), { maxLength: 7, selector: (e) => `${e.ip}:${e.port}` }),
    })
    .map((s) =>
      servicePort({
        namespace: 'ns',
        name: `svc${i}`,
        portName: s.portName,
        protocol: s.protocol as 'TCP' | 'UDP' | 'SCTP',
        type: s.type as 'ClusterIP' | 'NodePort' | 'LoadBalancer',
        clusterIP: `172.30.0.${i + 1}`,
        nodePort: s.type === 'ClusterIP' ? 0 : 30000 + i,
        loadBalancerIPs: s.type === 'LoadBalancer' ? [`1.2.3.${i + 1}`] : [],
        loadBalancerSourceRanges: s.type === 'LoadBalancer' ? ['203.0.113.0/25'] : [],
        sessionAffinity: s.affinity ? 'ClientIP' : 'None',
        externalTrafficPolicy: s.etp as 'Cluster' | 'Local',
        internalTrafficPolicy: s.itp as 'Cluster' | 'Local',
        endpoints: s.endpoints,
      }),
    );

describe('compileIptables: prebuilt endpoint rules', () => {
  it('the ruleset equals the parse of its own restore text, for any model (protocols, affinity, policies, endpoint states)', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 5 })
          .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => servicePortArb(i))))
          .map((sps) => model({ servicePorts: sps })),
        fc.constantFrom<IptablesCompileOptions>(
          {},
          { masqueradeAll: true },
          { localTrafficDetector: { ifLocal: '-i cali+', ifNotLocal: '! -i cali+' } },
          { nfacct: true, randomFully: false },
        ),
        (m, options) => expectSameAsParsed(m, 'test-node', options),
      ),
      { numRuns: 150 },
    );
  });

  it('the ruleset equals the parse of its restore text for the origin, overall and every-type models', () => {
    for (const m of [originModel(), overallModel(), everyTypeModel()]) {
      for (const node of m.nodes) expectSameAsParsed(m, node.name);
    }
  });

  it('the ruleset equals the parse of its restore text in large-cluster mode (no per-endpoint comments)', () => {
    const m = syntheticModel({ services: 150, endpointsOf: (i) => 1 + (i % 12) });
    expectSameAsParsed(m, m.nodes[0].name);
  });
});
