/**
 * A packet tracer for tests, in the spirit of upstream's tracePacket (proxier_test.go):
 * nat PREROUTING (or OUTPUT for node-originated traffic) decides DNAT, the filter table
 * then runs at INPUT / FORWARD / OUTPUT, nat POSTROUTING decides masquerade.
 */

import { CtState } from '../../../src/conntrack/constants.js';
import { HookVerdict, NatKind } from '../../../src/proxy/common/datapath.js';
import { NfHook, newPacketMeta } from '../../../src/proxy/common/packet-meta.js';
import {
  CT_STATE_BITS,
  IptablesEvaluator,
  NfTable,
  newIptablesResult,
  type Ruleset,
} from '../../../src/proxy/iptables/index.js';
import { formatIPv4, parseIPv4 } from '../../../src/util/ipv4.js';
import { Rng } from '../../../src/util/rng.js';
import { IpProtocol } from '../../../src/wire/ip-protocol.js';

export interface FlowSpec {
  src: string;
  dst: string;
  dport: number;
  proto?: 'tcp' | 'udp' | 'sctp';
  /** Sent by the node itself (OUTPUT path) instead of arriving from outside or from a pod. */
  fromNode?: boolean;
  nowNs?: number;
}

export interface FlowResult {
  /** "ip:port" after DNAT, or REJECT / DROP, or "" when nothing happened. */
  output: string;
  masq: boolean;
}

const PROTO = { tcp: IpProtocol.TCP, udp: IpProtocol.UDP, sctp: IpProtocol.SCTP } as const;

export class Tracer {
  readonly evaluator: IptablesEvaluator;
  private readonly local: Set<number>;

  constructor(ruleset: Ruleset, nodeIPs: readonly string[], seed = 1) {
    this.evaluator = new IptablesEvaluator(ruleset, { rng: new Rng(seed), localAddresses: nodeIPs });
    this.local = new Set(nodeIPs.map(parseIPv4));
  }

  flow(spec: FlowSpec): FlowResult {
    const meta = newPacketMeta();
    const res = newIptablesResult();
    meta.saddr = parseIPv4(spec.src);
    meta.daddr = parseIPv4(spec.dst);
    meta.proto = PROTO[spec.proto ?? 'tcp'];
    meta.sport = 40000;
    meta.dport = spec.dport;
    meta.length = 60;
    meta.ctState = CtState.NEW;
    meta.nowNs = spec.nowNs ?? 0;
    meta.hook = spec.fromNode ? NfHook.OUTPUT : NfHook.PREROUTING;
    meta.inIface = spec.fromNode ? '' : 'eth0';
    this.evaluator.evaluate(NfTable.NAT, meta, res);
    let output = '';
    if (res.natKind === NatKind.DNAT) {
      meta.daddr = res.natAddrMin;
      if (res.natPortMin !== 0) meta.dport = res.natPortMin;
      meta.ctState |= CT_STATE_BITS.DNAT;
      output = `${formatIPv4(meta.daddr)}:${meta.dport}`;
    }
    meta.hook = spec.fromNode ? NfHook.OUTPUT : this.local.has(meta.daddr) ? NfHook.INPUT : NfHook.FORWARD;
    const verdict = this.evaluator.evaluate(NfTable.FILTER, meta, res);
    if (verdict === HookVerdict.REJECT) return { output: 'REJECT', masq: false };
    if (verdict === HookVerdict.DROP) return { output: 'DROP', masq: false };
    meta.hook = NfHook.POSTROUTING;
    this.evaluator.evaluate(NfTable.NAT, meta, res);
    return { output, masq: res.natKind === NatKind.MASQUERADE };
  }

  /** Every output seen over n flows (random load balancing explored with a seeded Rng). */
  outputs(spec: FlowSpec, n = 200): { outputs: string[]; masq: boolean[] } {
    const outs = new Set<string>();
    const masq = new Set<boolean>();
    for (let i = 0; i < n; i++) {
      const r = this.flow(spec);
      outs.add(r.output);
      masq.add(r.masq);
    }
    return { outputs: [...outs].sort(), masq: [...masq].sort() };
  }
}
