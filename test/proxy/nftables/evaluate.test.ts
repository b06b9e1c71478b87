import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CtState } from '../../../src/conntrack/constants.js';
import { HookVerdict, NatKind } from '../../../src/proxy/common/datapath.js';
import type { ProxyModel } from '../../../src/proxy/common/model.js';
import { NfHook, newPacketMeta, type PacketMeta } from '../../../src/proxy/common/packet-meta.js';
import { compileNftables } from '../../../src/proxy/nftables/compile.js';
import { NftDatapath, NftHookResult, type NftTraceSink } from '../../../src/proxy/nftables/evaluate.js';
import type { NftTable } from '../../../src/proxy/nftables/table.js';
import { formatIPv4, parseIPv4, prefixMask } from '../../../src/util/ipv4.js';
import { Rng } from '../../../src/util/rng.js';
import { chiSquareUniformTest } from '../../../src/util/stats.js';
import { IpProtocol } from '../../../src/wire/ip-protocol.js';
import {
  endpoint,
  everyServiceTypeModel,
  originLikeModel,
  proxyModel,
  servicePort,
} from './model-builder.js';

const NODE_IP = '192.168.100.100';
const POD_ON_NODE = '10.244.1.9';
const OUTSIDE = '172.16.5.5';
const SEC = 1e9;

/** An Rng whose u32 draws are scripted, to pin numgen choices. */
class ScriptedRng extends Rng {
  private i = 0;
  constructor(private readonly draws: number[]) {
    super(1);
  }
  override nextU32(): number {
    return this.draws[this.i++ % this.draws.length];
  }
}

function datapath(model: ProxyModel, rng: Rng = new Rng(7)): NftDatapath {
  return new NftDatapath(compileNftables(model, 'node-a'), { rng });
}

function packet(
  hook: NfHook,
  saddr: string,
  daddr: string,
  dport: number,
  extra: Partial<PacketMeta> = {},
): PacketMeta {
  const meta = newPacketMeta();
  Object.assign(meta, {
    hook,
    saddr: parseIPv4(saddr),
    daddr: parseIPv4(daddr),
    proto: IpProtocol.TCP,
    sport: 40000,
    dport,
    length: 60,
    ctState: CtState.NEW,
    ...extra,
  });
  return meta;
}

function run(dp: NftDatapath, meta: PacketMeta): NftHookResult {
  return dp.evaluate(meta, new NftHookResult());
}

const dnatTarget = (r: NftHookResult) =>
  r.nat === NatKind.DNAT ? `${formatIPv4(r.natAddr)}:${r.natPort}` : 'none';

describe('NftDatapath dispatch', () => {
  it('DNATs a ClusterIP connection from a pod to its endpoint without marking it for masquerade', () => {
    const dp = datapath(originLikeModel());
    const meta = packet(NfHook.PREROUTING, POD_ON_NODE, '10.233.0.1', 443);
    const r = run(dp, meta);
    expect(r.verdict).toBe(HookVerdict.ACCEPT);
    expect(dnatTarget(r)).toBe('192.168.100.100:6443');
    expect(meta.mark).toBe(0);
    // Later hooks see the translated destination.
    expect(formatIPv4(meta.daddr)).toBe('192.168.100.100');
    expect(meta.dport).toBe(6443);
  });

  it('marks off-cluster clients of a ClusterIP for masquerade, and masquerades them fully-random at postrouting', () => {
    const dp = datapath(originLikeModel());
    const meta = packet(NfHook.PREROUTING, OUTSIDE, '10.233.21.104', 80);
    const r = run(dp, meta);
    expect(dnatTarget(r)).toMatch(/^10\.244\.1\.[234]:8080$/);
    expect(meta.mark).toBe(0x4000);
    meta.hook = NfHook.POSTROUTING;
    const post = run(dp, meta);
    expect(post.nat).toBe(NatKind.MASQUERADE);
    expect(post.natFullyRandom).toBe(true);
    expect(meta.mark).toBe(0);
  });

  it('routes NodePort traffic to a node address through the external chain, but not to other addresses', () => {
    const dp = datapath(originLikeModel());
    const meta = packet(NfHook.PREROUTING, OUTSIDE, NODE_IP, 30532);
    expect(dnatTarget(run(dp, meta))).toMatch(/^10\.244\.1\.[234]:8080$/);
    expect(meta.mark).toBe(0x4000);
    const elsewhere = packet(NfHook.PREROUTING, OUTSIDE, '192.168.100.101', 30532);
    expect(run(dp, elsewhere).nat).toBe(NatKind.NONE);
  });

  it('drops new connections to unallocated ClusterIPs in the service CIDR and rejects wrong ports of live ones', () => {
    const dp = datapath(originLikeModel());
    for (const hook of [NfHook.FORWARD, NfHook.OUTPUT]) {
      expect(run(dp, packet(hook, POD_ON_NODE, '10.233.0.99', 80)).verdict).toBe(HookVerdict.DROP);
      expect(run(dp, packet(hook, POD_ON_NODE, '10.233.0.1', 80)).verdict).toBe(HookVerdict.REJECT);
      // Outside the service CIDR nothing happens.
      expect(run(dp, packet(hook, POD_ON_NODE, '10.234.0.99', 80)).verdict).toBe(HookVerdict.ACCEPT);
    }
  });

  it('lets the translated packet through filter-output after nat-output DNATs it', () => {
    const dp = datapath(originLikeModel());
    const r = run(dp, packet(NfHook.OUTPUT, NODE_IP, '10.233.21.104', 80));
    expect(r.verdict).toBe(HookVerdict.ACCEPT);
    expect(r.nat).toBe(NatKind.DNAT);
  });

  it('rejects a Service without endpoints on its ClusterIP, external IP and NodePort', () => {
    const dp = datapath(everyServiceTypeModel());
    const pre = packet(NfHook.PREROUTING, POD_ON_NODE, '10.233.0.20', 80);
    expect(run(dp, pre).nat).toBe(NatKind.NONE);
    const fwd = run(dp, packet(NfHook.FORWARD, POD_ON_NODE, '10.233.0.20', 80));
    expect(fwd.verdict).toBe(HookVerdict.REJECT);
    expect(dp.chainName(fwd.chain)).toBe('reject-chain');
    expect(run(dp, packet(NfHook.FORWARD, OUTSIDE, '203.0.113.7', 80)).verdict).toBe(HookVerdict.REJECT);
    expect(run(dp, packet(NfHook.INPUT, OUTSIDE, NODE_IP, 30001)).verdict).toBe(HookVerdict.REJECT);
  });

  it('drops external traffic for eTP=Local without local endpoints, but short-circuits pods to the cluster endpoints', () => {
    const dp = datapath(everyServiceTypeModel());
    const ext = packet(NfHook.PREROUTING, OUTSIDE, NODE_IP, 30004);
    expect(run(dp, ext).nat).toBe(NatKind.NONE);
    ext.hook = NfHook.INPUT;
    expect(run(dp, ext).verdict).toBe(HookVerdict.DROP);
    const fromPod = run(dp, packet(NfHook.PREROUTING, POD_ON_NODE, NODE_IP, 30004));
    expect(dnatTarget(fromPod)).toBe('10.244.2.7:8080');
  });

  it('keeps the client source for eTP=Local with a local endpoint and masquerades node-local clients', () => {
    const dp = datapath(everyServiceTypeModel());
    const ext = packet(NfHook.PREROUTING, OUTSIDE, NODE_IP, 30003);
    expect(dnatTarget(run(dp, ext))).toBe('10.244.1.5:8080');
    expect(ext.mark).toBe(0);
    const local = packet(NfHook.OUTPUT, NODE_IP, NODE_IP, 30003);
    expect(run(dp, local).nat).toBe(NatKind.DNAT);
    expect(local.mark).toBe(0x4000);
  });

  it('drops ClusterIP traffic for iTP=Local without local endpoints', () => {
    const dp = datapath(everyServiceTypeModel());
    expect(run(dp, packet(NfHook.PREROUTING, POD_ON_NODE, '10.233.0.60', 80)).nat).toBe(NatKind.NONE);
    expect(run(dp, packet(NfHook.FORWARD, POD_ON_NODE, '10.233.0.60', 80)).verdict).toBe(HookVerdict.DROP);
  });

  it('enforces loadBalancerSourceRanges before DNAT', () => {
    const dp = datapath(everyServiceTypeModel());
    const blocked = run(dp, packet(NfHook.PREROUTING, '198.18.0.1', '198.51.100.5', 80));
    expect(blocked.verdict).toBe(HookVerdict.DROP);
    expect(dp.chainName(blocked.chain)).toBe('firewall-AKOP7O27-ns5/lb/tcp/p80');
    expect(run(dp, packet(NfHook.PREROUTING, '203.0.113.4', '198.51.100.5', 80)).nat).toBe(NatKind.DNAT);
  });

  it('dispatches UDP and SCTP by protocol and leaves other protocols alone', () => {
    const dp = datapath(everyServiceTypeModel());
    expect(
      dnatTarget(
        run(dp, packet(NfHook.PREROUTING, POD_ON_NODE, '10.233.0.3', 53, { proto: IpProtocol.UDP })),
      ),
    ).toBe('10.244.2.9:53');
    expect(run(dp, packet(NfHook.PREROUTING, POD_ON_NODE, '10.233.0.3', 53)).nat).toBe(NatKind.NONE);
    expect(
      dnatTarget(
        run(dp, packet(NfHook.PREROUTING, POD_ON_NODE, '10.233.0.11', 9999, { proto: IpProtocol.SCTP })),
      ),
    ).toBe('10.244.2.9:9999');
  });

  it('consults nat chains only for the first packet of a connection', () => {
    const dp = datapath(originLikeModel());
    const est = packet(NfHook.PREROUTING, POD_ON_NODE, '10.233.0.1', 443, { ctState: CtState.ESTABLISHED });
    expect(run(dp, est).nat).toBe(NatKind.NONE);
    expect(
      run(dp, packet(NfHook.FORWARD, POD_ON_NODE, '10.233.0.99', 80, { ctState: CtState.ESTABLISHED }))
        .verdict,
    ).toBe(HookVerdict.ACCEPT);
  });

  it('numgen index i selects the i-th endpoint in kube-proxy order (reciprocal_scale of a u32)', () => {
    // 3 endpoints: u32 draws in [0, 2^32/3) pick 0, [2^32/3, 2·2^32/3) pick 1, the rest 2.
    const dp = datapath(originLikeModel(), new ScriptedRng([0, 0x55555556, 0xffffffff]));
    const picks = [0, 1, 2].map(() =>
      dnatTarget(run(dp, packet(NfHook.PREROUTING, POD_ON_NODE, '10.233.21.104', 80))),
    );
    expect(picks).toEqual(['10.244.1.2:8080', '10.244.1.3:8080', '10.244.1.4:8080']);
  });
});

describe('NftDatapath load balancing', () => {
  it('spreads new connections uniformly for every backend count from 1 to 64 (chi-square p > 1e-4)', () => {
    const ports = [];
    for (let n = 1; n <= 64; n++) {
      const eps = [];
      for (let i = 0; i < n; i++) eps.push(endpoint(`10.244.${n}.${i + 1}`, 8080, 'node-b'));
      ports.push(
        servicePort({ namespace: 'lb', name: `s${n}`, clusterIP: `10.233.1.${n}`, port: 80, endpoints: eps }),
      );
    }
    const dp = datapath(proxyModel(ports), new Rng(20240601));
    const out = new NftHookResult();
    const meta = newPacketMeta();
    const pValues: number[] = [];
    for (let n = 1; n <= 64; n++) {
      const counts = new Float64Array(n);
      const flows = 60 * n;
      for (let f = 0; f < flows; f++) {
        Object.assign(meta, {
          hook: NfHook.PREROUTING,
          saddr: parseIPv4(POD_ON_NODE),
          daddr: parseIPv4(`10.233.1.${n}`),
          proto: IpProtocol.TCP,
          dport: 80,
          mark: 0,
          ctState: CtState.NEW,
        });
        dp.evaluate(meta, out);
        counts[(out.natAddr & 0xff) - 1]++;
      }
      if (n === 1) expect(counts[0]).toBe(flows);
      else pValues.push(chiSquareUniformTest(counts).pValue);
    }
    expect(Math.min(...pValues)).toBeGreaterThan(1e-4);
  });

  it('fails the same chi-square check when the draws are biased (the test can detect skew)', () => {
    const eps = [0, 1, 2, 3].map((i) => endpoint(`10.244.9.${i + 1}`, 8080, 'node-b'));
    const biased = new ScriptedRng([0, 0, 0x50000000, 0xc0000000, 0xf0000000]);
    const dp = datapath(
      proxyModel([
        servicePort({ namespace: 'x', name: 'y', clusterIP: '10.233.2.1', port: 80, endpoints: eps }),
      ]),
      biased,
    );
    const counts = new Float64Array(4);
    for (let f = 0; f < 400; f++)
      counts[(run(dp, packet(NfHook.PREROUTING, POD_ON_NODE, '10.233.2.1', 80)).natAddr & 0xff) - 1]++;
    expect(chiSquareUniformTest(counts).pValue).toBeLessThan(1e-4);
  });

  it('costs the same number of rules per new connection with 3 or 2000 Services (verdict maps are O(1))', () => {
    const rulesFor = (services: number): number => {
      const ports = [];
      for (let i = 0; i < services; i++) {
        ports.push(
          servicePort({
            namespace: 'n',
            name: `s${i}`,
            clusterIP: formatIPv4(parseIPv4('10.233.0.10') + i),
            port: 80,
            endpoints: [endpoint('10.244.1.2', 80, 'node-a')],
          }),
        );
      }
      const dp = datapath(proxyModel(ports));
      let hits = 0;
      dp.setTraceSink({ rule: () => hits++, policy: () => {} });
      run(
        dp,
        packet(NfHook.PREROUTING, POD_ON_NODE, formatIPv4(parseIPv4('10.233.0.10') + services - 1), 80),
      );
      return hits;
    };
    expect(rulesFor(2000)).toBe(rulesFor(3));
  });
});

describe('NftDatapath session affinity', () => {
  const LB = '10.233.0.50';

  it('sticks a client to its endpoint within the timeout, refreshes on use, and forgets it after', () => {
    // Draws: first pick endpoint 0, then always endpoint 1.
    const dp = datapath(everyServiceTypeModel(), new ScriptedRng([0, 0xffffffff, 0xffffffff]));
    const connect = (t: number) =>
      dnatTarget(run(dp, packet(NfHook.PREROUTING, POD_ON_NODE, LB, 80, { nowNs: t * SEC })));
    expect(connect(1)).toBe('10.244.1.5:8080');
    expect(connect(2)).toBe('10.244.1.5:8080');
    expect(connect(10_000)).toBe('10.244.1.5:8080');
    // Refreshed at 10000 s: still sticky 10000 + 10799 s later.
    expect(connect(20_799)).toBe('10.244.1.5:8080');
    const set = 'affinity-T5NJ47MW-ns5/lb/tcp/p80__10.244.1.5/8080';
    expect(dp.dynamicSetElements(set, 20_800 * SEC)).toEqual([
      { addr: parseIPv4(POD_ON_NODE), expiresInNs: 10_799 * SEC },
    ]);
    // More than 10800 s idle: the element expired, numgen decides again.
    expect(dp.dynamicSetElements(set, 31_600 * SEC)).toEqual([]);
    expect(connect(31_600)).toBe('10.244.2.6:8080');
  });

  it('keeps affinity per client address', () => {
    const dp = datapath(everyServiceTypeModel(), new ScriptedRng([0, 0xffffffff]));
    const a = dnatTarget(run(dp, packet(NfHook.PREROUTING, '10.244.1.20', LB, 80, { nowNs: SEC })));
    const b = dnatTarget(run(dp, packet(NfHook.PREROUTING, '10.244.1.21', LB, 80, { nowNs: SEC })));
    expect([a, b]).toEqual(['10.244.1.5:8080', '10.244.2.6:8080']);
    expect(dnatTarget(run(dp, packet(NfHook.PREROUTING, '10.244.1.20', LB, 80, { nowNs: 2 * SEC })))).toBe(a);
    expect(dnatTarget(run(dp, packet(NfHook.PREROUTING, '10.244.1.21', LB, 80, { nowNs: 2 * SEC })))).toBe(b);
  });
});

describe('NftDatapath trace and drop reports', () => {
  it('traces each matching rule with its chain, index, text and verdict', () => {
    const dp = datapath(originLikeModel(), new ScriptedRng([0]));
    const lines: string[] = [];
    const sink: NftTraceSink = {
      rule: (_hook, chain, index, text, verdict) => lines.push(`${chain}#${index} ${text} (${verdict})`),
      policy: (_hook, chain, verdict) => lines.push(`${chain} policy ${verdict}`),
    };
    dp.setTraceSink(sink);
    run(dp, packet(NfHook.PREROUTING, OUTSIDE, '10.233.0.1', 443));
    expect(lines).toEqual([
      'filter-prerouting-pre-dnat#0 ct state new jump firewall-check (jump firewall-check)',
      'filter-prerouting-pre-dnat policy accept',
      'nat-prerouting#0 jump services (jump services)',
      'services#0 ip daddr . meta l4proto . th dport vmap @service-ips (goto service-2QRHZV4L-default/kubernetes/tcp/https)',
      'service-2QRHZV4L-default/kubernetes/tcp/https#0 ip daddr 10.233.0.1 ip saddr != 10.244.0.0/16 jump mark-for-masquerade (jump mark-for-masquerade)',
      'mark-for-masquerade#0 meta mark set meta mark | 0x00004000 (continue)',
      'service-2QRHZV4L-default/kubernetes/tcp/https#1 numgen random mod 1 vmap { 0 : goto endpoint-TDDBWN66-default/kubernetes/tcp/https__192.168.100.100/6443 } (goto endpoint-TDDBWN66-default/kubernetes/tcp/https__192.168.100.100/6443)',
      'endpoint-TDDBWN66-default/kubernetes/tcp/https__192.168.100.100/6443#1 meta l4proto tcp dnat to 192.168.100.100:6443 (accept)',
    ]);
  });

  it('drops exactly the addresses outside every prefix of a multi-prefix `ip saddr != { … }` match, naming the rule', () => {
    const prefix = fc
      .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }))
      .map(([a, len]) => `${formatIPv4((a & prefixMask(len)) >>> 0)}/${len}`);
    fc.assert(
      fc.property(
        fc.array(prefix, { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 20 }),
        (prefixes, addrs) => {
          const table: NftTable = {
            family: 'ip',
            name: 'kube-proxy',
            comment: '',
            sets: [],
            chains: [
              { name: 'first', rules: [] },
              {
                name: 'base',
                base: { type: 'filter', hook: 'input', priority: 0, policy: 'accept' },
                rules: [
                  {
                    matches: [{ kind: 'l4proto', proto: 'udp' }],
                    statements: [{ kind: 'verdict', verdict: { kind: 'drop' } }],
                  },
                  {
                    matches: [{ kind: 'addr', field: 'saddr', negate: true, prefixes }],
                    statements: [{ kind: 'verdict', verdict: { kind: 'drop' } }],
                  },
                ],
              },
            ],
            node: { name: 'n', ip: NODE_IP },
          };
          const dp = new NftDatapath(table, { rng: new Rng(1) });
          for (const a of [...addrs, ...prefixes.map((p) => parseIPv4(p.split('/')[0]))]) {
            const inside = prefixes.some((p) => {
              const [net, len] = p.split('/');
              return (a & prefixMask(Number(len))) >>> 0 === parseIPv4(net);
            });
            const r = run(dp, packet(NfHook.INPUT, formatIPv4(a), NODE_IP, 80));
            expect(r.verdict).toBe(inside ? HookVerdict.ACCEPT : HookVerdict.DROP);
            if (!inside) expect([dp.chainName(r.chain), r.rule]).toEqual(['base', 1]);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('drops when jumps nest deeper than the kernel jump stack (16)', () => {
    const chains = Array.from({ length: 20 }, (_, i) => ({
      name: `c${i}`,
      rules:
        i < 19
          ? [
              {
                matches: [],
                statements: [
                  { kind: 'verdict' as const, verdict: { kind: 'jump' as const, chain: `c${i + 1}` } },
                ],
              },
            ]
          : [],
    }));
    const table: NftTable = {
      family: 'ip',
      name: 'kube-proxy',
      comment: '',
      sets: [],
      chains: [
        {
          name: 'base',
          base: { type: 'filter', hook: 'input', priority: 0, policy: 'accept' },
          rules: [{ matches: [], statements: [{ kind: 'verdict', verdict: { kind: 'jump', chain: 'c0' } }] }],
        },
        ...chains,
      ],
      node: { name: 'n', ip: NODE_IP },
    };
    const dp = new NftDatapath(table, { rng: new Rng(1) });
    expect(run(dp, packet(NfHook.INPUT, OUTSIDE, NODE_IP, 1)).verdict).toBe(HookVerdict.DROP);
  });
});
