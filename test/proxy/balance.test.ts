/**
 * Issue 5, balance: the random backend choice of each mode spreads new flows uniformly.
 * For every backend count 1–64, many new flows go through the mode's own selection code and
 * a chi-square goodness-of-fit test (src/util/stats.ts) must not reject uniformity at
 * p > 1e-4; one check feeds a deliberately biased random source through the same test to
 * show that it does reject skew.
 *
 * - iptables: the `-m statistic --mode random --probability` chain that `compileIptables`
 *   writes for a Service, evaluated by `IptablesEvaluator` on PacketMeta at PREROUTING.
 * - eBPF: `EbpfDatapath` with algorithm 'random' (slot = prandom % count + 1), driven by
 *   its tc program on real frames.
 * - nftables' `numgen random` is covered by test/proxy/nftables/evaluate.test.ts
 *   ('spreads new connections uniformly for every backend count from 1 to 64') and its
 *   biased-draw counterpart; not repeated here.
 *
 * Each run is seeded, so the p-values are the same on every run: the test is deterministic.
 */
import { describe, expect, it } from 'vitest';
import { CtState } from '../../src/conntrack/constants.js';
import { NatKind, TcAction } from '../../src/proxy/common/datapath.js';
import type { ProxyModel } from '../../src/proxy/common/model.js';
import { NfHook, newPacketMeta } from '../../src/proxy/common/packet-meta.js';
import { compileEbpf, DEFAULT_MAP_SIZES, EbpfDatapath } from '../../src/proxy/ebpf/index.js';
import {
  compileIptables,
  IptablesEvaluator,
  NfTable,
  newIptablesResult,
} from '../../src/proxy/iptables/index.js';
import { formatIPv4, parseIPv4 } from '../../src/util/ipv4.js';
import { Rng } from '../../src/util/rng.js';
import { chiSquareUniformTest } from '../../src/util/stats.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { buildFrame, model as ebpfModel, ep, NODE_A, readFrame, svcPort } from './ebpf/fixtures.js';
import { model as iptablesModel, servicePort } from './iptables/helpers.js';

const MAX_BACKENDS = 64;
/** New flows per backend: 60 per cell keeps every expected count far above chi-square's 5. */
const FLOWS_PER_BACKEND = 60;
/** Reject uniformity only below this p-value (strict: 63 tests run, none may fail by chance). */
const SIGNIFICANCE = 1e-4;

/** ClusterIP of the Service with `n` backends; backend i (0-based) is 10.{n}.0.{i+1}:8080. */
const clusterIPOf = (n: number) => `172.30.1.${n}`;
const backendIP = (n: number, i: number) => `10.${n}.0.${i + 1}`;

/**
 * A deliberately biased source: one draw in four is 0, which both modes map to their first
 * backend (iptables: 0 is below every probability threshold; eBPF: slot 0 % n + 1).
 */
class ZeroHeavyRng extends Rng {
  override nextU32(): number {
    return (super.nextU32() & 3) === 0 ? 0 : super.nextU32();
  }
}

/**
 * Counts per backend of `FLOWS_PER_BACKEND · n` new flows to the Service with n backends,
 * `choose` returning the backend address one new flow was sent to.
 */
function countChoices(n: number, flows: number, choose: (n: number, flow: number) => string): Float64Array {
  const counts = new Float64Array(n);
  const strays: string[] = [];
  for (let f = 0; f < flows; f++) {
    const addr = choose(n, f);
    const i = addr === '' ? -1 : (parseIPv4(addr) & 0xff) - 1;
    // Every flow reaches one of this Service's backends (checked without expect() per flow: fast).
    if (i < 0 || i >= n || addr !== backendIP(n, i)) strays.push(`flow ${f}: ${addr || 'not translated'}`);
    else counts[i]++;
  }
  expect(strays.slice(0, 5), `flows of the ${n}-backend Service that missed its backends`).toEqual([]);
  return counts;
}

/** Uniformity over 1..64 backends: n = 1 must always pick its backend; the others pass chi-square. */
function expectUniformForEveryCount(choose: (n: number, flow: number) => string): void {
  const failures: string[] = [];
  for (let n = 1; n <= MAX_BACKENDS; n++) {
    const flows = FLOWS_PER_BACKEND * n;
    const counts = countChoices(n, flows, choose);
    if (n === 1) {
      expect(counts[0]).toBe(flows);
      continue;
    }
    const { pValue, statistic } = chiSquareUniformTest(counts);
    if (!(pValue > SIGNIFICANCE)) failures.push(`${n} backends: χ²=${statistic.toFixed(1)}, p=${pValue}`);
  }
  expect(failures).toEqual([]);
}

// ------------------------------------------------------------------ iptables

function iptablesBalanceModel(): ProxyModel {
  const ports = [];
  for (let n = 1; n <= MAX_BACKENDS; n++) {
    const endpoints = [];
    for (let i = 0; i < n; i++) endpoints.push({ ip: backendIP(n, i), port: 8080, nodeName: 'test-node' });
    ports.push(
      servicePort({ namespace: 'balance', name: `s${n}`, clusterIP: clusterIPOf(n), port: 80, endpoints }),
    );
  }
  return iptablesModel({ servicePorts: ports });
}

/** A new flow from a pod on the node to the ClusterIP, through the compiled nat table at PREROUTING. */
function iptablesChooser(rng: Rng): (n: number, flow: number) => string {
  const evaluator = new IptablesEvaluator(compileIptables(iptablesBalanceModel(), 'test-node').ruleset, {
    rng,
    localAddresses: ['192.168.0.2'],
  });
  const meta = newPacketMeta();
  const res = newIptablesResult();
  return (n, flow) => {
    Object.assign(meta, {
      hook: NfHook.PREROUTING,
      saddr: parseIPv4('10.0.0.5'),
      daddr: parseIPv4(clusterIPOf(n)),
      proto: IpProtocol.TCP,
      sport: 10000 + (flow % 50000),
      dport: 80,
      tcpFlags: 0x02,
      length: 60,
      mark: 0,
      ctState: CtState.NEW,
    });
    evaluator.evaluate(NfTable.NAT, meta, res);
    return res.natKind === NatKind.DNAT ? formatIPv4(res.natAddrMin) : '';
  };
}

// ------------------------------------------------------------------ eBPF

function ebpfBalanceModel(n: number): ProxyModel {
  const endpoints = [];
  for (let i = 0; i < n; i++) endpoints.push(ep(backendIP(n, i), 8080, 'node-b'));
  return ebpfModel([svcPort({ name: `s${n}`, clusterIP: clusterIPOf(n), endpoints })]);
}

/**
 * A new flow (a SYN from a fresh client address and port) from a pod on node-a to the
 * ClusterIP, through `cil_from_container`; the DNAT'ed destination is the backend chosen.
 * One datapath per backend count, with a CT map large enough that no flow is evicted (each
 * new flow takes two entries: CT_SERVICE and the connection's own).
 */
function ebpfChooser(rng: Rng): (n: number, flow: number) => string {
  let current = 0;
  let dp: EbpfDatapath | null = null;
  let now = 1000;
  return (n, flow) => {
    if (dp === null || current !== n) {
      const lb = compileEbpf(ebpfBalanceModel(n), NODE_A.name, {
        algorithm: 'random',
        mapSizes: { ...DEFAULT_MAP_SIZES, lbMapMax: 256, ctTcpMax: 16384, ctAnyMax: 64, natMax: 64 },
      });
      dp = new EbpfDatapath(lb, { rng });
      current = n;
    }
    const frame = buildFrame({
      src: `10.244.0.${2 + (flow % 200)}`,
      dst: clusterIPOf(n),
      sport: 10000 + Math.floor(flow / 200),
      dport: 80,
    });
    if (dp.tcIngressPod(frame, 0, frame.length, now++) !== TcAction.PASS) return '';
    const out = readFrame(frame);
    return out.dport === 8080 ? out.dst : '';
  };
}

// ------------------------------------------------------------------ tests

describe('random backend selection is uniform for every backend count 1–64 (chi-square p > 1e-4)', () => {
  it('iptables: the compiled -m statistic --mode random probability cascade, evaluated per new flow, spreads flows uniformly', () => {
    expectUniformForEveryCount(iptablesChooser(new Rng(20250105)));
  });

  it('eBPF: EbpfDatapath with the random algorithm spreads new flows uniformly over the service’s backend slots', () => {
    expectUniformForEveryCount(ebpfChooser(new Rng(20250106)));
  });

  it('the same chi-square check rejects a deliberately biased random source (a quarter of the draws forced to 0) in both modes: the test can fail', () => {
    for (const chooser of [iptablesChooser(new ZeroHeavyRng(7)), ebpfChooser(new ZeroHeavyRng(7))]) {
      const n = 8;
      const counts = countChoices(n, FLOWS_PER_BACKEND * n, chooser);
      expect(chiSquareUniformTest(counts).pValue).toBeLessThan(SIGNIFICANCE);
    }
  });
});
