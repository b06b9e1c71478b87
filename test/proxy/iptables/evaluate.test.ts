import { describe, expect, it } from 'vitest';
import { CtState } from '../../../src/conntrack/constants.js';
import { HookVerdict, NatKind } from '../../../src/proxy/common/datapath.js';
import { NfHook, newPacketMeta, type PacketMeta } from '../../../src/proxy/common/packet-meta.js';
import {
  IptablesEvaluator,
  IptablesLoadError,
  type IptablesTraceEvent,
  NfTable,
  newIptablesResult,
  parseIptables,
  renderIptablesSave,
} from '../../../src/proxy/iptables/index.js';
import { parseIPv4 } from '../../../src/util/ipv4.js';
import { Rng } from '../../../src/util/rng.js';
import { IpProtocol } from '../../../src/wire/ip-protocol.js';

function evaluator(text: string, seed = 1, unmodeled: 'error' | 'ignore' = 'error') {
  return new IptablesEvaluator(parseIptables(text).ruleset, {
    rng: new Rng(seed),
    localAddresses: ['192.168.0.2'],
    unmodeled,
  });
}

function packet(fields: Partial<PacketMeta> & { src?: string; dst?: string } = {}): PacketMeta {
  const m = newPacketMeta();
  Object.assign(m, { proto: IpProtocol.TCP, sport: 40000, dport: 80, length: 60, ctState: CtState.NEW });
  const { src, dst, ...rest } = fields;
  Object.assign(m, rest);
  m.saddr = parseIPv4(src ?? '10.0.0.2');
  m.daddr = parseIPv4(dst ?? '172.30.0.1');
  return m;
}

function trace(ev: IptablesEvaluator, table: number, meta: PacketMeta) {
  const events: IptablesTraceEvent[] = [];
  const res = newIptablesResult();
  const verdict = ev.evaluate(table, meta, res, { record: (e) => events.push(e) });
  return { verdict, res, events: events.map((e) => `${e.chain}#${e.ruleIndex}`) };
}

describe('IptablesEvaluator traversal', () => {
  const rules = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:A - [0:0]
:B - [0:0]
:C - [0:0]
-A INPUT -p tcp -m tcp --dport 1 -j A
-A INPUT -p tcp -m tcp --dport 2 -g A
-A INPUT -p tcp -m tcp --dport 3 -j B
-A INPUT -j DROP
-A FORWARD -p tcp -m tcp --dport 4 -j C
-A A -j B
-A A -j ACCEPT
-A B -m comment --comment count-only
-A B -j RETURN
-A C -j RETURN
COMMIT
`;

  it('returns to the rule after a -j when the called chain RETURNs', () => {
    const ev = evaluator(rules);
    const r = trace(ev, NfTable.FILTER, packet({ hook: NfHook.INPUT, dport: 1 }));
    expect(r.verdict).toBe(HookVerdict.ACCEPT);
    expect(r.events).toEqual(['INPUT#0', 'A#0', 'B#0', 'B#1', 'A#1']);
  });

  it('with -g, a RETURN goes back past the chain that did the goto', () => {
    const ev = evaluator(rules);
    const r = trace(ev, NfTable.FILTER, packet({ hook: NfHook.INPUT, dport: 2 }));
    // INPUT -g A, A -j B, B returns to A, A ACCEPTs: goto only matters when A itself returns.
    expect(r.events).toEqual(['INPUT#1', 'A#0', 'B#0', 'B#1', 'A#1']);
    const r3 = trace(ev, NfTable.FILTER, packet({ hook: NfHook.INPUT, dport: 3 }));
    expect(r3.events).toEqual(['INPUT#2', 'B#0', 'B#1', 'INPUT#3']);
    expect(r3.verdict).toBe(HookVerdict.DROP);
  });

  it('applies the built-in policy after falling off or returning from the built-in chain', () => {
    const ev = evaluator(rules);
    expect(trace(ev, NfTable.FILTER, packet({ hook: NfHook.FORWARD, dport: 4 })).verdict).toBe(
      HookVerdict.DROP,
    );
    expect(trace(ev, NfTable.FILTER, packet({ hook: NfHook.FORWARD, dport: 5 })).verdict).toBe(
      HookVerdict.DROP,
    );
    expect(trace(ev, NfTable.FILTER, packet({ hook: NfHook.OUTPUT })).verdict).toBe(HookVerdict.ACCEPT);
    expect(trace(ev, NfTable.NAT, packet({ hook: NfHook.OUTPUT })).verdict).toBe(HookVerdict.ACCEPT);
  });

  it('goto from a built-in chain makes the end of the user chain apply the policy', () => {
    const ev = evaluator(`*filter
:FORWARD DROP [0:0]
:X - [0:0]
-A FORWARD -g X
-A FORWARD -j ACCEPT
COMMIT
`);
    expect(trace(ev, NfTable.FILTER, packet({ hook: NfHook.FORWARD })).verdict).toBe(HookVerdict.DROP);
  });

  it('counts packets and bytes per matched rule and renders them as iptables-save -c', () => {
    const ev = evaluator(rules);
    for (let i = 0; i < 3; i++)
      ev.evaluate(NfTable.FILTER, packet({ hook: NfHook.INPUT, dport: 1 }), newIptablesResult());
    const text = renderIptablesSave(parseIptables(rules).ruleset, {
      counters: ev.counterLookup(),
      tables: ['filter'],
    });
    expect(text).toContain('[3:180] -A INPUT -p tcp -m tcp --dport 1 -j A');
    expect(text).toContain('[3:180] -A B -m comment --comment count-only');
    expect(text).toContain('[0:0] -A INPUT -j DROP');
    expect(ev.ruleCount('filter')).toBe(10);
  });

  it('refuses jump loops as the kernel does', () => {
    expect(() =>
      evaluator(`*filter
:A - [0:0]
:B - [0:0]
-A A -j B
-A B -j A
COMMIT
`),
    ).toThrow(IptablesLoadError);
  });
});

describe('matches and targets', () => {
  it('matches addresses with masks and inversion, interfaces with + wildcards, marks and ctstate', () => {
    const ev = evaluator(`*filter
:INPUT ACCEPT [0:0]
-A INPUT ! -s 10.0.0.0/8 -j DROP
-A INPUT -i cni+ -m mark --mark 0x1/0x3 -j REJECT --reject-with icmp-host-prohibited
-A INPUT ! -i eth0 -m conntrack --ctstate RELATED,ESTABLISHED -j DROP
-A INPUT -s 10.0.0.0/255.0.255.0 -j MARK --set-xmark 0x10/0x30
COMMIT
`);
    const res = newIptablesResult();
    expect(ev.evaluate(NfTable.FILTER, packet({ hook: NfHook.INPUT, src: '11.0.0.1' }), res)).toBe(
      HookVerdict.DROP,
    );
    expect(ev.evaluate(NfTable.FILTER, packet({ hook: NfHook.INPUT, inIface: 'cni0', mark: 5 }), res)).toBe(
      HookVerdict.REJECT,
    );
    expect(res.rejectWith).toBe(5);
    expect(ev.evaluate(NfTable.FILTER, packet({ hook: NfHook.INPUT, inIface: 'cni0', mark: 2 }), res)).toBe(
      HookVerdict.ACCEPT,
    );
    expect(
      ev.evaluate(
        NfTable.FILTER,
        packet({ hook: NfHook.INPUT, inIface: 'lo', ctState: CtState.ESTABLISHED }),
        res,
      ),
    ).toBe(HookVerdict.DROP);
    const m = packet({ hook: NfHook.INPUT, inIface: 'eth0', src: '10.9.0.7', mark: 0xff });
    ev.evaluate(NfTable.FILTER, m, res);
    expect(m.mark).toBe(0xdf);
  });

  it('returns DNAT, SNAT and MASQUERADE actions', () => {
    const ev = evaluator(`*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.1.1.1:8080
-A PREROUTING -p tcp -m tcp --dport 81 -j DNAT --to-destination :9090
-A POSTROUTING -p udp -j SNAT --to-source 1.2.3.4-1.2.3.5 --random-fully
-A POSTROUTING -j MASQUERADE --random-fully
COMMIT
`);
    const res = newIptablesResult();
    ev.evaluate(NfTable.NAT, packet({ hook: NfHook.PREROUTING }), res);
    expect([res.natKind, res.natAddrMin, res.natPortMin]).toEqual([
      NatKind.DNAT,
      parseIPv4('10.1.1.1'),
      8080,
    ]);
    ev.evaluate(NfTable.NAT, packet({ hook: NfHook.PREROUTING, dport: 81, dst: '172.30.0.9' }), res);
    expect([res.natKind, res.natAddrMin, res.natPortMin]).toEqual([
      NatKind.DNAT,
      parseIPv4('172.30.0.9'),
      9090,
    ]);
    ev.evaluate(NfTable.NAT, packet({ hook: NfHook.POSTROUTING, proto: IpProtocol.UDP }), res);
    expect([res.natKind, res.natAddrMax, res.natFlags]).toEqual([NatKind.SNAT, parseIPv4('1.2.3.5'), 2]);
    ev.evaluate(NfTable.NAT, packet({ hook: NfHook.POSTROUTING }), res);
    expect([res.natKind, res.natFlags]).toEqual([NatKind.MASQUERADE, 2]);
  });

  it('matches addrtype LOCAL against the node addresses and 127.0.0.0/8', () => {
    const ev = evaluator(`*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DNAT --to-destination 10.0.0.1
COMMIT
`);
    const res = newIptablesResult();
    for (const [dst, local] of [
      ['192.168.0.2', true],
      ['127.0.0.53', true],
      ['192.168.0.3', false],
    ] as const) {
      ev.evaluate(NfTable.NAT, packet({ hook: NfHook.PREROUTING, dst }), res);
      expect(res.natKind === NatKind.DNAT).toBe(local);
    }
  });

  it('fires statistic --mode nth on every n-th packet starting after --packet', () => {
    const ev = evaluator(`*filter
:INPUT ACCEPT [0:0]
-A INPUT -m statistic --mode nth --every 3 --packet 1 -j DROP
COMMIT
`);
    const seen = Array.from({ length: 7 }, () =>
      ev.evaluate(NfTable.FILTER, packet({ hook: NfHook.INPUT }), newIptablesResult()),
    );
    expect(seen).toEqual([1, 0, 1, 1, 0, 1, 1].map((d) => (d === 0 ? HookVerdict.DROP : HookVerdict.ACCEPT)));
  });

  it('draws statistic random with the declared probabilities (chi-square, 3 and 5 endpoints)', () => {
    for (const n of [3, 5]) {
      const lines = Array.from({ length: n }, (_, i) =>
        i < n - 1
          ? `-A PREROUTING -m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)} -j DNAT --to-destination 10.0.0.${i + 1}`
          : `-A PREROUTING -j DNAT --to-destination 10.0.0.${i + 1}`,
      );
      const ev = evaluator(`*nat\n:PREROUTING ACCEPT [0:0]\n${lines.join('\n')}\nCOMMIT\n`, 42 + n);
      const counts = new Array<number>(n).fill(0);
      const draws = 30000;
      const res = newIptablesResult();
      for (let k = 0; k < draws; k++) {
        ev.evaluate(NfTable.NAT, packet({ hook: NfHook.PREROUTING }), res);
        counts[(res.natAddrMin & 0xff) - 1]++;
      }
      const expected = draws / n;
      const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
      // 99.9th percentile of chi-square with 2 and 4 degrees of freedom.
      expect(chi2).toBeLessThan(n === 3 ? 13.82 : 18.47);
    }
  });

  it('compares the 31-bit random with the kernel threshold: --probability 0 never, 1 always', () => {
    const ev = evaluator(`*filter
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m statistic --mode random --probability 0 -j DROP
-A OUTPUT -m statistic --mode random --probability 1 -j DROP
COMMIT
`);
    for (let k = 0; k < 2000; k++) {
      expect(ev.evaluate(NfTable.FILTER, packet({ hook: NfHook.INPUT }), newIptablesResult())).toBe(
        HookVerdict.ACCEPT,
      );
      expect(ev.evaluate(NfTable.FILTER, packet({ hook: NfHook.OUTPUT }), newIptablesResult())).toBe(
        HookVerdict.DROP,
      );
    }
  });
});

describe('-m recent (xt_recent)', () => {
  const rules = `*filter
:INPUT ACCEPT [0:0]
-A INPUT -m recent --rcheck --seconds 10 --reap --name S -j DROP
-A INPUT -p tcp -m tcp --dport 22 -m recent --set --name S
-A INPUT -p tcp -m tcp --dport 23 -m recent --update --seconds 5 --hitcount 3 --name U -j REJECT
-A INPUT -p tcp -m tcp --dport 23 -m recent --set --name U
COMMIT
`;
  const sec = 1e9;

  it('remembers a source for --seconds after --set, then forgets it', () => {
    const ev = evaluator(rules);
    const res = newIptablesResult();
    const at = (nowNs: number, dport = 80, src = '10.0.0.9') =>
      ev.evaluate(NfTable.FILTER, packet({ hook: NfHook.INPUT, nowNs, dport, src }), res);
    expect(at(0)).toBe(HookVerdict.ACCEPT);
    expect(at(1 * sec, 22)).toBe(HookVerdict.ACCEPT);
    expect(at(5 * sec)).toBe(HookVerdict.DROP);
    expect(at(11 * sec)).toBe(HookVerdict.DROP); // exactly 10 s after the stamp still counts
    expect(at(11 * sec + 1)).toBe(HookVerdict.ACCEPT);
    expect(at(5 * sec, 80, '10.0.0.10')).toBe(HookVerdict.ACCEPT);
  });

  it('reaps the oldest expired entry when --reap runs, and keeps the table to its capacity', () => {
    const ev = new IptablesEvaluator(parseIptables(rules).ruleset, {
      rng: new Rng(1),
      localAddresses: [],
      recentCapacity: 3,
    });
    const res = newIptablesResult();
    for (let i = 1; i <= 4; i++) {
      ev.evaluate(
        NfTable.FILTER,
        packet({ hook: NfHook.INPUT, dport: 22, src: `10.0.0.${i}`, nowNs: i * sec }),
        res,
      );
    }
    const list = ev.recentList('S')!;
    expect(list.addresses().map((a) => a & 0xff)).toEqual([2, 3, 4]);
    ev.evaluate(NfTable.FILTER, packet({ hook: NfHook.INPUT, src: '10.0.0.4', nowNs: 12.5 * sec }), res);
    expect(list.addresses().map((a) => a & 0xff)).toEqual([3, 4]);
  });

  it('--update with --hitcount needs that many hits in the window and refreshes only on a match', () => {
    const ev = evaluator(rules);
    const res = newIptablesResult();
    const hit = (t: number) =>
      ev.evaluate(NfTable.FILTER, packet({ hook: NfHook.INPUT, dport: 23, nowNs: t * sec }), res);
    expect([hit(0), hit(1), hit(2), hit(3)]).toEqual([
      HookVerdict.ACCEPT,
      HookVerdict.ACCEPT,
      HookVerdict.ACCEPT,
      HookVerdict.REJECT,
    ]);
    expect(hit(20)).toBe(HookVerdict.ACCEPT);
  });
});

describe('rules dpsim does not model', () => {
  const text = `*filter
:INPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --syn -j DROP
-A INPUT -j LOG --log-prefix "x y"
-A INPUT -m foo --bar 1 -j DROP
COMMIT
`;

  it('are refused by default, naming the rule', () => {
    expect(() => evaluator(text)).toThrow(/tcp --syn/);
  });

  it("never match and do nothing with unmodeled: 'ignore'", () => {
    const ev = evaluator(text, 1, 'ignore');
    expect(ev.evaluate(NfTable.FILTER, packet({ hook: NfHook.INPUT }), newIptablesResult())).toBe(
      HookVerdict.ACCEPT,
    );
  });
});
