import { describe, expect, it } from 'vitest';
import {
  formatRule,
  IptablesParseError,
  parseIptables,
  renderIptablesSave,
  tokenize,
} from '../../../src/proxy/iptables/index.js';
import { restorePrebuilt } from '../../../src/proxy/iptables/parse.js';
import type { Rule } from '../../../src/proxy/iptables/types.js';

const wrap = (rules: string, table = 'filter', chains = ':T - [0:0]') =>
  `*${table}\n${chains}\n${rules}\nCOMMIT\n`;
const saved = (rules: string, table = 'filter') =>
  renderIptablesSave(parseIptables(wrap(rules, table)).ruleset)
    .split('\n')
    .filter((l) => l.startsWith('-A'));

describe('tokenize (iptables-restore quoting)', () => {
  it('groups double quotes, escapes only inside them, and keeps empty strings', () => {
    expect(tokenize('-m comment --comment "a b" -j X')).toEqual([
      '-m',
      'comment',
      '--comment',
      'a b',
      '-j',
      'X',
    ]);
    expect(tokenize('--comment "q\\"x\\\\y"')).toEqual(['--comment', 'q"x\\y']);
    expect(tokenize('--comment ""')).toEqual(['--comment', '']);
    expect(tokenize("--comment 'a b'")).toEqual(['--comment', "'a", "b'"]);
    expect(tokenize('a"b c"d')).toEqual(['ab c', 'd']);
  });
});

describe('parseIptables canonical form (checked against iptables 1.8.9 in a netns)', () => {
  it.each([
    [
      '-A T -p 6 --dport 80 -m comment --comment c -j ACCEPT',
      '-A T -p tcp -m tcp --dport 80 -m comment --comment c -j ACCEPT',
    ],
    [
      '-A T -p udp -m comment --comment c --dport 80 -j ACCEPT',
      '-A T -p udp -m comment --comment c -m udp --dport 80 -j ACCEPT',
    ],
    [
      '-A T -p tcp -m tcp ! --dport 80:90 --sport 1:2 -j RETURN',
      '-A T -p tcp -m tcp --sport 1:2 ! --dport 80:90 -j RETURN',
    ],
    [
      '-A T -s 10.0.0.0/255.0.255.0 -d 10.1.2.3/8 -j DROP',
      '-A T -s 10.0.0.0/255.0.255.0 -d 10.0.0.0/8 -j DROP',
    ],
    ['-A T ! -p tcp ! -i eth0 -j RETURN', '-A T ! -i eth0 ! -p tcp -j RETURN'],
    ['-A T -p all -s 0.0.0.0/0 -j RETURN', '-A T -j RETURN'],
    ['-A T -p 47 -j DROP', '-A T -p gre -j DROP'],
    ['-A T -m mark --mark 0x4000 -j RETURN', '-A T -m mark --mark 0x4000 -j RETURN'],
    ['-A T -m mark ! --mark 0x0/0xffff0000 -j DROP', '-A T -m mark ! --mark 0x0/0xffff0000 -j DROP'],
    ['-A T -j MARK --set-mark 0x4000', '-A T -j MARK --set-xmark 0x4000/0xffffffff'],
    ['-A T -j MARK --and-mark 0x4000', '-A T -j MARK --set-xmark 0x0/0xffffbfff'],
    ['-A T -j MARK --or-mark 0x00004000', '-A T -j MARK --set-xmark 0x4000/0x4000'],
    ['-A T -j MARK --xor-mark 0x4000', '-A T -j MARK --set-xmark 0x4000/0x0'],
    [
      '-A T -m conntrack --ctstate SNAT,DNAT,NEW -j DROP',
      '-A T -m conntrack --ctstate NEW,SNAT,DNAT -j DROP',
    ],
    [
      '-A T -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
      '-A T -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    ],
    [
      '-A T -m statistic --mode random ! --probability 0.25 -j DROP',
      '-A T -m statistic --mode random ! --probability 0.25000000000 -j DROP',
    ],
    [
      '-A T -m statistic --mode random --probability 0.0000099999 -j DROP',
      '-A T -m statistic --mode random --probability 0.00001000008 -j DROP',
    ],
    [
      '-A T -m recent --rcheck --hitcount 3 --rttl --seconds 9 --name X -j DROP',
      '-A T -m recent --rcheck --seconds 9 --hitcount 3 --rttl --name X --mask 255.255.255.255 --rsource -j DROP',
    ],
    [
      '-A T -m recent --set -j RETURN',
      '-A T -m recent --set --name DEFAULT --mask 255.255.255.255 --rsource -j RETURN',
    ],
    [
      '-A T -m recent --remove --name X --mask 255.255.0.0 --rdest -j DROP',
      '-A T -m recent --remove --name X --mask 255.255.0.0 --rdest -j DROP',
    ],
    [
      '-A T -m addrtype --src-type LOCAL,UNICAST ! --dst-type BROADCAST -j DROP',
      '-A T -m addrtype --src-type UNICAST,LOCAL ! --dst-type BROADCAST -j DROP',
    ],
    ['-A T -m comment --comment x_y-z -j ACCEPT', '-A T -m comment --comment x_y-z -j ACCEPT'],
    ['-A T -m comment --comment "a.b" -j ACCEPT', '-A T -m comment --comment "a.b" -j ACCEPT'],
    ['-A T -m comment --comment "" -j ACCEPT', '-A T -m comment --comment "" -j ACCEPT'],
    [
      '-A T -m comment --comment "back\\\\slash" -j ACCEPT',
      '-A T -m comment --comment "back\\\\slash" -j ACCEPT',
    ],
    ['-A T -p tcp -j REJECT --reject-with tcp-rst', '-A T -p tcp -j REJECT --reject-with tcp-reset'],
    ['-A T -j REJECT', '-A T -j REJECT --reject-with icmp-port-unreachable'],
  ])('%s  →  %s', (input, expected) => {
    expect(saved(input)).toEqual([expected]);
  });

  it.each([
    [
      '-A T -p tcp -j DNAT --to-destination 1.2.3.4-1.2.3.9:80-90',
      '-A T -p tcp -j DNAT --to-destination 1.2.3.4-1.2.3.9:80-90',
    ],
    [
      '-A T -j SNAT --to-source 1.2.3.4 --persistent --random',
      '-A T -j SNAT --to-source 1.2.3.4 --random --persistent',
    ],
    [
      '-A T -p tcp -j MASQUERADE --random --to-ports 1000-2000',
      '-A T -p tcp -j MASQUERADE --to-ports 1000-2000 --random',
    ],
    [
      '-A T -p udp -m udp --dport 53 -m comment --comment "x" -m statistic --mode random --probability 0.5 -m recent --set --name Z -j MARK --set-xmark 0x1/0x3',
      '-A T -p udp -m udp --dport 53 -m comment --comment x -m statistic --mode random --probability 0.50000000000 -m recent --set --name Z --mask 255.255.255.255 --rsource -j MARK --set-xmark 0x1/0x3',
    ],
  ])('nat: %s  →  %s', (input, expected) => {
    expect(saved(input, 'nat')).toEqual([expected]);
  });

  it('reads iptables-save -c output, counters and all', () => {
    const text = `# Generated by iptables-save v1.8.9 (nf_tables) on Fri Nov 27 21:08:49 2026
*filter
:INPUT ACCEPT [12:345]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:Y - [0:0]
[2:100] -A OUTPUT -p tcp -j Y
[2:100] -A Y -j RETURN
COMMIT
# Completed on Fri Nov 27 21:08:49 2026
`;
    const { ruleset, warnings } = parseIptables(text);
    expect(warnings).toEqual([]);
    const filter = ruleset.tables[0];
    expect(filter.chains.find((c) => c.name === 'FORWARD')?.policy).toBe('DROP');
    expect(filter.chains.find((c) => c.name === 'OUTPUT')?.rules.map((r) => formatRule('OUTPUT', r))).toEqual(
      ['-A OUTPUT -p tcp -j Y'],
    );
  });

  it('keeps unknown matches, options and targets verbatim and reports each with its line', () => {
    const text = wrap(
      [
        '-A T -m foo --bar 1 -j DROP',
        '-A T -p tcp -m tcp --syn -j ACCEPT',
        '-A T -j LOG --log-prefix "a b"',
      ].join('\n'),
    );
    const { ruleset, warnings } = parseIptables(text);
    expect(warnings).toEqual([
      { line: 3, message: 'match "foo" is not modelled; kept, never matches' },
      { line: 4, message: 'tcp option --syn is not modelled; kept, never matches' },
      { line: 5, message: 'target "LOG" is not modelled; kept, acts as no target' },
    ]);
    expect(
      renderIptablesSave(ruleset)
        .split('\n')
        .filter((l) => l.startsWith('-A')),
    ).toEqual([
      '-A T -m foo --bar 1 -j DROP',
      '-A T -p tcp -m tcp --syn -j ACCEPT',
      '-A T -j LOG --log-prefix "a b"',
    ]);
  });

  it.each([
    ['*filter\n:T - [0:0]\n-A T -j ACCEPT\n', /line 4: COMMIT expected/],
    [
      wrap('-A T -m statistic --mode random --probability 1.5 -j DROP'),
      /line 3: statistic: bad value for option "--probability"/,
    ],
    [wrap('-A T -j KUBE-SEP-NOTDECLARED00000'), /line 3: Couldn't load target `KUBE-SEP-NOTDECLARED00000'/],
    [wrap('-A NOPE -j ACCEPT'), /line 3: chain "NOPE" does not exist/],
    [wrap('-A T -s 10.0.0.300 -j ACCEPT'), /host\/network "10.0.0.300" not found/],
    [wrap('-A T -m tcp --dport 80 -j ACCEPT'), /-m tcp needs -p tcp/],
    [wrap('-A T --dport 80 -j ACCEPT'), /unknown option "--dport"/],
    [wrap('-A T -j DNAT --to-destination 1.2.3.4'), /DNAT target is only valid in the nat table/],
    [
      wrap('-A T -j DNAT --to-destination 1.2.3.4:80', 'nat'),
      /Need TCP, UDP, SCTP or DCCP with port specification/,
    ],
    [wrap('-A T -j ACCEPT', 'bogus'), /unknown table "bogus"/],
  ])('rejects malformed input with the line: %#', (text, message) => {
    expect(() => parseIptables(text)).toThrow(IptablesParseError);
    expect(() => parseIptables(text)).toThrow(message);
  });

  it('applies lines in order: -N, -I, -X, -F work, and a jump must name a chain declared above it', () => {
    const { ruleset } = parseIptables(`*filter
-N A
:B - [0:0]
-A INPUT -j B
-A B -j ACCEPT
-I B 1 -j DROP
-I B -j RETURN
-N C
-X C
-F A
COMMIT
`);
    const filter = ruleset.tables[0];
    expect(filter.chains.map((c) => c.name)).toEqual(['INPUT', 'FORWARD', 'OUTPUT', 'A', 'B']);
    expect(filter.chains.find((c) => c.name === 'B')?.rules.map((r) => formatRule('B', r))).toEqual([
      '-A B -j RETURN',
      '-A B -j DROP',
      '-A B -j ACCEPT',
    ]);
    // iptables-restore (nf_tables) fails the same way: "Chain 'X2' does not exist".
    expect(() => parseIptables('*nat\n:X - [0:0]\n-A X -j X2\n:X2 - [0:0]\nCOMMIT\n')).toThrow(
      /line 3: Couldn't load target `X2'/,
    );
  });
});

describe('restorePrebuilt (prebuilt lines mixed with restore text)', () => {
  const rule = (dport: number): Rule => ({
    src: null,
    dst: null,
    inIface: null,
    outIface: null,
    proto: { proto: 6, invert: false },
    matches: [{ kind: 'tcp', sport: null, dport: { min: dport, max: dport, invert: false } }],
    target: { kind: 'ACCEPT' },
  });

  it('appends each prebuilt rule to the chain it names, whatever order the chains were declared in', () => {
    const { ruleset } = restorePrebuilt([
      { text: ['*filter'] },
      {
        text: ['', '', '', '', '', ''],
        chain: ['A', 'B', 'C', 'C', 'A', 'B'],
        rule: [undefined, undefined, undefined, rule(1), rule(2), rule(3)],
      },
      { text: ['COMMIT'] },
    ]);
    const chains = ruleset.tables[0].chains;
    const ports = (name: string) =>
      chains
        .find((c) => c.name === name)
        ?.rules.map((r) => (r.matches[0] as { dport: { min: number } }).dport.min);
    expect([ports('A'), ports('B'), ports('C')]).toEqual([[2], [3], [1]]);
  });

  it('refuses a prebuilt rule for a chain a text line deleted (-X), like the text restore', () => {
    const lines = [
      { text: ['*filter'] },
      { text: ['', ''], chain: ['A', 'B'], rule: [undefined, undefined] },
      { text: ['-X A'] },
      { text: [''], chain: ['A'], rule: [rule(1)] },
      { text: ['COMMIT'] },
    ];
    expect(() => restorePrebuilt(lines)).toThrow(/line 5: chain "A" does not exist in table filter/);
  });
});
