/**
 * `-m set`, `-m ipvs` and `-m physdev` (the matches kube-proxy's IPVS mode uses): parsed
 * into structured matches, printed back as iptables-save 1.8.9 prints them, and evaluated
 * through the injected ipset membership and IPVS packet state.
 */
import { describe, expect, it } from 'vitest';
import { CtState } from '../../../src/conntrack/constants.js';
import { HookVerdict } from '../../../src/proxy/common/datapath.js';
import { NfHook, newPacketMeta, type PacketMeta } from '../../../src/proxy/common/packet-meta.js';
import {
  type IpsetLookup,
  type IpvsMatchState,
  newIpvsMatchState,
} from '../../../src/proxy/iptables/evaluate.js';
import {
  IptablesEvaluator,
  IptablesLoadError,
  IptablesParseError,
  NfTable,
  newIptablesResult,
  parseIptables,
  renderIptablesSave,
} from '../../../src/proxy/iptables/index.js';
import { parseIPv4 } from '../../../src/util/ipv4.js';
import { Rng } from '../../../src/util/rng.js';
import { IpProtocol } from '../../../src/wire/ip-protocol.js';

function wrap(rules: string): string {
  return `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules}\nCOMMIT\n`;
}

function ruleLines(text: string): string[] {
  return renderIptablesSave(parseIptables(text).ruleset)
    .split('\n')
    .filter((l) => l.startsWith('-A'));
}

function packet(fields: Partial<PacketMeta> & { src?: string; dst?: string } = {}): PacketMeta {
  const m = newPacketMeta();
  Object.assign(m, {
    hook: NfHook.INPUT,
    proto: IpProtocol.TCP,
    sport: 40000,
    dport: 80,
    length: 60,
    ctState: CtState.NEW,
  });
  const { src, dst, ...rest } = fields;
  Object.assign(m, rest);
  m.saddr = parseIPv4(src ?? '10.0.0.2');
  m.daddr = parseIPv4(dst ?? '172.30.0.1');
  return m;
}

/** A fake ipset: members are "name|ip" / "name|ip,port" strings built from the picked fields. */
class FakeIpsets implements IpsetLookup {
  readonly calls: string[] = [];
  constructor(
    private readonly names: string[],
    private readonly members: Set<string>,
  ) {}
  setId(name: string): number {
    return this.names.indexOf(name);
  }
  test(id: number, dirs: number, dstFlags: number, meta: PacketMeta): boolean {
    const parts: string[] = [];
    for (let i = 0; i < dirs; i++) {
      const dst = (dstFlags & (1 << i)) !== 0;
      // dimension 0 and 2 are addresses, 1 is a port (hash:ip,port,ip).
      if (i === 1) parts.push(String(dst ? meta.dport : meta.sport));
      else parts.push(String(dst ? meta.daddr : meta.saddr));
    }
    const key = `${this.names[id]}|${parts.join(',')}`;
    this.calls.push(key);
    return this.members.has(key);
  }
}

describe('-m set: parse and render', () => {
  it('prints --match-set as iptables-save 1.8.9 does, inversion before the option, other options first', () => {
    // Lines as kube-proxy writes them (`! -s` after the set) and as the real iptables-save printed them back.
    const text = wrap(
      [
        '-A INPUT -m comment --comment "x y" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.233.64.0/18 -j RETURN',
        '-A INPUT -m set ! --match-set KUBE-CLUSTER-IP src,dst -j RETURN',
        '-A INPUT -p tcp -m set --match-set KUBE-NODE-PORT-TCP dst -j ACCEPT',
        '-A INPUT -m set --match-set KUBE-LOOP-BACK dst,dst,src -j RETURN',
      ].join('\n'),
    );
    expect(ruleLines(text)).toEqual([
      '-A INPUT ! -s 10.233.64.0/18 -m comment --comment "x y" -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN',
      '-A INPUT -m set ! --match-set KUBE-CLUSTER-IP src,dst -j RETURN',
      '-A INPUT -p tcp -m set --match-set KUBE-NODE-PORT-TCP dst -j ACCEPT',
      '-A INPUT -m set --match-set KUBE-LOOP-BACK dst,dst,src -j RETURN',
    ]);
    const rule = parseIptables(text).ruleset.tables[0].chains[0].rules[3];
    expect(rule.matches).toEqual([
      { kind: 'set', name: 'KUBE-LOOP-BACK', invert: false, dirs: 3, dstFlags: 0b011 },
    ]);
    expect(parseIptables(text).warnings).toEqual([]);
  });

  it('keeps the counter/nomatch options it does not model verbatim, with a warning', () => {
    const text = wrap('-A INPUT -m set --match-set S dst --return-nomatch -j RETURN');
    const { warnings } = parseIptables(text);
    expect(warnings.map((w) => w.message)).toEqual([
      'set option --return-nomatch is not modelled; kept, never matches',
    ]);
    expect(ruleLines(text)).toEqual(['-A INPUT -m set --match-set S dst --return-nomatch -j RETURN']);
  });

  it.each([
    ['-A INPUT -m set --match-set S dst,foo -j ACCEPT', /'src' or 'dst'/],
    ['-A INPUT -m set --match-set S src,src,src,src,src,src,src -j ACCEPT', /more src\/dst options than 6/],
    [`-A INPUT -m set --match-set ${'X'.repeat(32)} dst -j ACCEPT`, /too long, max 31/],
    ['-A INPUT -m set -j ACCEPT', /you must specify --match-set/],
    ['-A INPUT -m set --match-set S -j ACCEPT', /requires an argument|bad argument/],
  ])('refuses %s', (rule, message) => {
    expect(() => parseIptables(wrap(rule))).toThrow(IptablesParseError);
    expect(() => parseIptables(wrap(rule))).toThrow(message);
  });
});

describe('-m set: evaluation through an injected membership', () => {
  const text = wrap(
    [
      '-A INPUT -m set --match-set CIP dst,dst -j ACCEPT',
      '-A INPUT -m set ! --match-set OTHER src -j DROP',
      '-A INPUT -j REJECT',
    ].join('\n'),
  );
  const cip = `CIP|${parseIPv4('172.30.0.1')},80`;

  function load(members: Set<string>) {
    const ipsets = new FakeIpsets(['CIP', 'OTHER'], members);
    const ev = new IptablesEvaluator(parseIptables(text).ruleset, {
      rng: new Rng(1),
      localAddresses: [],
      ipsets,
    });
    return { ev, ipsets };
  }

  it('asks the membership with the set, the directions picked per dimension, and honours "!"', () => {
    const { ev, ipsets } = load(new Set([cip]));
    const res = newIptablesResult();
    expect(ev.evaluate(NfTable.FILTER, packet(), res)).toBe(HookVerdict.ACCEPT);
    expect(ipsets.calls).toEqual([cip]);
    // Not in CIP (port 81); not in OTHER, and the rule is inverted: DROP.
    expect(ev.evaluate(NfTable.FILTER, packet({ dport: 81 }), res)).toBe(HookVerdict.DROP);
    expect(ipsets.calls.at(-1)).toBe(`OTHER|${parseIPv4('10.0.0.2')}`);
  });

  it('falls through when the source is in OTHER, reaching REJECT', () => {
    const { ev } = load(new Set([`OTHER|${parseIPv4('10.0.0.2')}`]));
    expect(ev.evaluate(NfTable.FILTER, packet({ dport: 81 }), newIptablesResult())).toBe(HookVerdict.REJECT);
  });

  it('refuses at load a set the membership does not know, as iptables-restore does', () => {
    const ipsets = new FakeIpsets(['CIP'], new Set());
    expect(
      () =>
        new IptablesEvaluator(parseIptables(text).ruleset, { rng: new Rng(1), localAddresses: [], ipsets }),
    ).toThrow("Set OTHER doesn't exist.");
  });

  it('refuses at load a ruleset using -m set when no membership is given', () => {
    expect(
      () => new IptablesEvaluator(parseIptables(text).ruleset, { rng: new Rng(1), localAddresses: [] }),
    ).toThrow(IptablesLoadError);
    expect(
      () => new IptablesEvaluator(parseIptables(text).ruleset, { rng: new Rng(1), localAddresses: [] }),
    ).toThrow(/-m set but the evaluator was given no ipset membership/);
  });
});

describe('-m ipvs', () => {
  it('prints --vproto (a number), --vaddr (no /32), --vport in libxt_ipvs order, --ipvs only alone', () => {
    const text = wrap(
      [
        '-A OUTPUT -s 203.0.113.10 -m ipvs --vaddr 203.0.113.10 --vproto tcp --vport 443 -j DROP',
        '-A OUTPUT -m ipvs --ipvs --vaddr 10.0.0.0/8 --vdir REPLY -j ACCEPT',
        '-A OUTPUT -m ipvs ! --ipvs -j ACCEPT',
        '-A OUTPUT -m ipvs ! --vport 80 ! --vaddr 10.1.2.3/255.0.255.0 -j ACCEPT',
      ].join('\n'),
    );
    expect(ruleLines(text)).toEqual([
      '-A OUTPUT -s 203.0.113.10/32 -m ipvs --vproto 6 --vaddr 203.0.113.10 --vport 443 -j DROP',
      '-A OUTPUT -m ipvs --vaddr 10.0.0.0/8 --vdir REPLY -j ACCEPT',
      '-A OUTPUT -m ipvs ! --ipvs -j ACCEPT',
      '-A OUTPUT -m ipvs ! --vaddr 10.1.2.3/255.0.255.0 ! --vport 80 -j ACCEPT',
    ]);
  });

  it.each([
    ['-A OUTPUT -m ipvs -j ACCEPT', /at least one option/],
    ['-A OUTPUT -m ipvs ! --ipvs --vport 80 -j ACCEPT', /! --ipvs cannot be together/],
    ['-A OUTPUT -m ipvs --vdir SIDEWAYS -j ACCEPT', /bad value "SIDEWAYS" for --vdir/],
  ])('refuses %s', (rule, message) => {
    expect(() => parseIptables(wrap(rule))).toThrow(message);
  });

  const text = wrap(
    [
      '-A OUTPUT -m ipvs --vproto tcp --vaddr 203.0.113.10 --vport 443 --vdir ORIGINAL -j DROP',
      '-A OUTPUT -m ipvs ! --ipvs -j REJECT',
    ].join('\n'),
  );

  function load(state: IpvsMatchState) {
    return new IptablesEvaluator(parseIptables(text).ruleset, {
      rng: new Rng(1),
      localAddresses: [],
      ipvs: state,
    });
  }

  it('matches the IPVS connection of the packet: property, protocol, virtual address/port and direction', () => {
    const state = newIpvsMatchState();
    const ev = load(state);
    const meta = packet({ hook: NfHook.OUTPUT, dst: '10.233.64.7', dport: 8443 });
    const res = newIptablesResult();
    // Not an IPVS packet: the first rule cannot match, `! --ipvs` does.
    expect(ev.evaluate(NfTable.FILTER, meta, res)).toBe(HookVerdict.REJECT);
    Object.assign(state, { property: true, vaddr: parseIPv4('203.0.113.10'), vport: 443, reply: false });
    expect(ev.evaluate(NfTable.FILTER, meta, res)).toBe(HookVerdict.DROP);
    state.reply = true;
    expect(ev.evaluate(NfTable.FILTER, meta, res)).toBe(HookVerdict.ACCEPT);
    Object.assign(state, { reply: false, vport: 80 });
    expect(ev.evaluate(NfTable.FILTER, meta, res)).toBe(HookVerdict.ACCEPT);
    Object.assign(state, { vport: 443 });
    meta.proto = IpProtocol.UDP;
    expect(ev.evaluate(NfTable.FILTER, meta, res)).toBe(HookVerdict.ACCEPT);
  });

  it('refuses at load a ruleset using -m ipvs when no IPVS state is given', () => {
    expect(
      () => new IptablesEvaluator(parseIptables(text).ruleset, { rng: new Rng(1), localAddresses: [] }),
    ).toThrow(/-m ipvs but the evaluator was given no IPVS packet state/);
  });
});

describe('-m physdev', () => {
  const text = wrap(
    [
      '-A INPUT -m physdev --physdev-is-bridged --physdev-in eth0 -j DROP',
      '-A INPUT -m physdev --physdev-out veth+ ! --physdev-is-in -j DROP',
      '-A INPUT -m physdev ! --physdev-is-in ! --physdev-is-out -j REJECT',
    ].join('\n'),
  );

  it('prints the options in libxt_physdev order', () => {
    expect(ruleLines(text)).toEqual([
      '-A INPUT -m physdev --physdev-in eth0 --physdev-is-bridged -j DROP',
      '-A INPUT -m physdev --physdev-out veth+ ! --physdev-is-in -j DROP',
      '-A INPUT -m physdev ! --physdev-is-in ! --physdev-is-out -j REJECT --reject-with icmp-port-unreachable',
    ]);
  });

  it('matches only when every option is inverted: no packet crosses a bridge in dpsim', () => {
    const ev = new IptablesEvaluator(parseIptables(text).ruleset, { rng: new Rng(1), localAddresses: [] });
    expect(ev.evaluate(NfTable.FILTER, packet(), newIptablesResult())).toBe(HookVerdict.REJECT);
  });
});
