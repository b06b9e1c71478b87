import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CtState } from '../../../src/conntrack/constants.js';
import { NatKind } from '../../../src/proxy/common/datapath.js';
import type { ServicePort } from '../../../src/proxy/common/model.js';
import { NfHook, newPacketMeta } from '../../../src/proxy/common/packet-meta.js';
import {
  CT_STATE_BITS,
  compileIptables,
  IptablesEvaluator,
  type IptablesTraceEvent,
  NfTable,
  newIptablesResult,
  parseIptables,
  type Ruleset,
  renderIptablesSave,
} from '../../../src/proxy/iptables/index.js';
import { parseIPv4 } from '../../../src/util/ipv4.js';
import { Rng } from '../../../src/util/rng.js';
import { IpProtocol } from '../../../src/wire/ip-protocol.js';
import { model, servicePort } from './helpers.js';

const NODE_IP = '192.168.0.2';

const endpointArb = (svc: number) =>
  fc.record({
    ip: fc.integer({ min: 1, max: 6 }).map((j) => `10.180.${svc}.${j}`),
    port: fc.constantFrom(80, 8080),
    nodeName: fc.constantFrom('test-node', 'other', ''),
    ready: fc.boolean(),
    serving: fc.boolean(),
    terminating: fc.boolean(),
  });

const servicePortArb = (i: number): fc.Arbitrary<ServicePort> =>
  fc
    .record({
      type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
      protocol: fc.constantFrom('TCP', 'UDP'),
      port: fc.constantFrom(80, 53),
      externalIP: fc.boolean(),
      sourceRanges: fc.constantFrom([], ['203.0.113.0/25'], ['192.168.0.0/24', '203.0.113.0/25']),
      affinity: fc.option(fc.constantFrom(1, 10800), { nil: undefined }),
      etp: fc.constantFrom('Cluster', 'Local'),
      itp: fc.constantFrom('Cluster', 'Local'),
      endpoints: fc.uniqueArray(endpointArb(i), { maxLength: 4, selector: (e) => `${e.ip}:${e.port}` }),
    })
    .map((s) =>
      servicePort({
        namespace: 'ns',
        name: `svc${i}`,
        portName: 'p',
        protocol: s.protocol as 'TCP' | 'UDP',
        type: s.type as 'ClusterIP' | 'NodePort' | 'LoadBalancer',
        clusterIP: `172.30.0.${i + 1}`,
        port: s.port,
        nodePort: s.type === 'ClusterIP' ? 0 : 30000 + i,
        externalIPs: s.externalIP ? [`192.168.99.${i + 1}`] : [],
        loadBalancerIPs: s.type === 'LoadBalancer' ? [`1.2.3.${i + 1}`] : [],
        loadBalancerSourceRanges: s.type === 'LoadBalancer' ? s.sourceRanges : [],
        sessionAffinity: s.affinity === undefined ? 'None' : 'ClientIP',
        stickyMaxAgeSeconds: s.affinity ?? 0,
        externalTrafficPolicy: s.etp as 'Cluster' | 'Local',
        internalTrafficPolicy: s.itp as 'Cluster' | 'Local',
        healthCheckNodePort: s.type === 'LoadBalancer' && s.etp === 'Local' ? 32000 + i : 0,
        endpoints: s.endpoints,
      }),
    );

const modelArb = fc
  .integer({ min: 1, max: 4 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => servicePortArb(i))))
  .map((sps) => model({ servicePorts: sps }));

const addressPool = [
  NODE_IP,
  '127.0.0.1',
  '10.0.0.7',
  '10.180.0.1',
  '10.180.1.2',
  '203.0.113.2',
  '203.0.113.130',
  '172.30.0.1',
  '172.30.0.2',
  '172.30.0.3',
  '192.168.99.1',
  '192.168.99.2',
  '1.2.3.1',
  '1.2.3.2',
  '8.8.8.8',
];

interface Flow {
  src: string;
  dst: string;
  dport: number;
  udp: boolean;
  fromNode: boolean;
  advanceSeconds: number;
}

const packetArb: fc.Arbitrary<Flow> = fc.record({
  src: fc.constantFrom(...addressPool),
  dst: fc.constantFrom(...addressPool),
  dport: fc.constantFrom(80, 53, 8080, 30000, 30001, 30002, 32000, 32001),
  udp: fc.boolean(),
  fromNode: fc.boolean(),
  advanceSeconds: fc.integer({ min: 0, max: 20000 }),
});

/** Every observable of a sequence of flows: verdicts, NAT, marks, rule counts and traces. */
function run(ruleset: Ruleset, packets: readonly Flow[], seed: number): unknown[] {
  const ev = new IptablesEvaluator(ruleset, { rng: new Rng(seed), localAddresses: [NODE_IP] });
  const log: unknown[] = [];
  const events: IptablesTraceEvent[] = [];
  const sink = { record: (e: IptablesTraceEvent) => events.push(e) };
  const res = newIptablesResult();
  let now = 0;
  for (const p of packets) {
    now += p.advanceSeconds * 1e9;
    const meta = newPacketMeta();
    meta.saddr = parseIPv4(p.src);
    meta.daddr = parseIPv4(p.dst);
    meta.proto = p.udp ? IpProtocol.UDP : IpProtocol.TCP;
    meta.sport = 40000;
    meta.dport = p.dport;
    meta.length = 60;
    meta.ctState = CtState.NEW;
    meta.nowNs = now;
    meta.inIface = p.fromNode ? '' : 'eth0';
    meta.hook = p.fromNode ? NfHook.OUTPUT : NfHook.PREROUTING;
    ev.evaluate(NfTable.NAT, meta, res, sink);
    log.push({ ...res });
    if (res.natKind === NatKind.DNAT) {
      meta.daddr = res.natAddrMin;
      meta.dport = res.natPortMin || meta.dport;
      meta.ctState |= CT_STATE_BITS.DNAT;
    }
    meta.hook = p.fromNode
      ? NfHook.OUTPUT
      : meta.daddr === parseIPv4(NODE_IP)
        ? NfHook.INPUT
        : NfHook.FORWARD;
    log.push(ev.evaluate(NfTable.FILTER, meta, res, sink), { ...res });
    meta.hook = NfHook.POSTROUTING;
    ev.evaluate(NfTable.NAT, meta, res, sink);
    log.push({ ...res }, meta.mark);
  }
  log.push(events);
  return log;
}

describe('iptables round trip', () => {
  it('parsing the iptables-save rendering of a compiled ruleset renders the same text again', () => {
    fc.assert(
      fc.property(modelArb, (m) => {
        const { ruleset } = compileIptables(m, 'test-node');
        const text = renderIptablesSave(ruleset);
        const back = parseIptables(text);
        expect(back.warnings).toEqual([]);
        expect(renderIptablesSave(back.ruleset)).toBe(text);
      }),
      { numRuns: 60 },
    );
  });

  it('compile → render → parse → evaluate gives the same verdicts, NAT, marks and traces as evaluating the compiled rules', () => {
    fc.assert(
      fc.property(
        modelArb,
        fc.array(packetArb, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (m, packets, seed) => {
          const { ruleset } = compileIptables(m, 'test-node');
          const parsed = parseIptables(renderIptablesSave(ruleset)).ruleset;
          expect(run(parsed, packets, seed)).toEqual(run(ruleset, packets, seed));
        },
      ),
      { numRuns: 60 },
    );
  });
});
