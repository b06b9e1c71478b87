import { describe, expect, it } from 'vitest';
import {
  compileIptables,
  IptablesCompileError,
  renderIptablesSave,
} from '../../../src/proxy/iptables/index.js';
import { model, originModel, overallModel, servicePort } from './helpers.js';

/** Rules of a restore payload grouped per table and chain, in order; chain declarations as a set. */
function byChain(text: string): { chains: Set<string>; rules: Map<string, string[]> } {
  const chains = new Set<string>();
  const rules = new Map<string, string[]>();
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) chains.add(`${table} ${line.split(' ')[0].slice(1)}`);
    else if (line.startsWith('-A ')) {
      const key = `${table} ${line.split(' ')[1]}`;
      rules.set(key, [...(rules.get(key) ?? []), line]);
    }
  }
  return { chains, rules };
}

/** Upstream's fake proxier: nfacct available, no --random-fully, literal mark 0x4000 (real kube-proxy: 0x00004000). */
const FAKE = { nfacct: true, randomFully: false } as const;
const upstreamGolden = (text: string) => text.replaceAll('0x4000', '0x00004000');

const FIXED_FILTER = `*filter
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
`;

// Reference §1.12 Example A: ClusterIP ns1/svc1 with endpoints 10.180.0.1 and 10.180.0.2.
const EXAMPLE_A = `${FIXED_FILTER}*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-LXVODXWDISEETFEF - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -j KUBE-SEP-LXVODXWDISEETFEF
COMMIT
`;

// Reference §1.12 Example B: NodePort ns3/svc3 (the svc3 lines of TestOverallIPTablesRules).
const EXAMPLE_B = `${FIXED_FILTER}*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXT-X27LE4BHSL4DOUIK - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-OYPFS5VJICHGATKP - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3003 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-X27LE4BHSL4DOUIK
-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK
-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment "masquerade traffic for ns3/svc3:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-X27LE4BHSL4DOUIK -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.180.0.3:80" -j KUBE-SEP-OYPFS5VJICHGATKP
COMMIT
`;

describe('compileIptables restore input (kube-proxy syncProxyRules)', () => {
  it.each([
    [
      'Example A (ClusterIP, 2 endpoints)',
      EXAMPLE_A,
      '172.30.0.41',
      ['10.180.0.1', '10.180.0.2'],
      0,
      'ClusterIP',
    ],
    ['Example B (NodePort, 1 endpoint)', EXAMPLE_B, '172.30.0.43', ['10.180.0.3'], 3003, 'NodePort'],
  ] as const)('reproduces the upstream golden for %s', (_name, golden, clusterIP, ips, nodePort, type) => {
    const ns = clusterIP.endsWith('41') ? 'ns1' : 'ns3';
    const m = model({
      servicePorts: [
        servicePort({
          namespace: ns,
          name: ns.replace('ns', 'svc'),
          portName: 'p80',
          type,
          clusterIP,
          port: 80,
          nodePort,
          endpoints: ips.map((ip) => ({ ip, port: 80 })),
        }),
      ],
    });
    const out = compileIptables(m, 'test-node', FAKE);
    expect(byChain(out.restoreInput)).toEqual(byChain(upstreamGolden(golden)));
  });

  it('writes TestOverallIPTablesRules lines for LB source ranges + affinity (svc5), eTP=Local without local endpoints (svc2) and no endpoints (svc6)', () => {
    const { rules, chains } = byChain(compileIptables(overallModel(), 'test-node', FAKE).restoreInput);
    const expected = new Map<string, string[]>([
      [
        'filter KUBE-PROXY-FIREWALL',
        [
          '-A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by KUBE-FW-NUKIZ6OKUXPJNT4C" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP',
        ],
      ],
      [
        'filter KUBE-NODEPORTS',
        [
          '-A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT',
        ],
      ],
      [
        'filter KUBE-EXTERNAL-SERVICES',
        [
          '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP',
          '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP',
          '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP',
        ],
      ],
      [
        'filter KUBE-SERVICES',
        [
          '-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT',
        ],
      ],
      [
        'nat KUBE-EXT-GNZBNJ2PO5MGZ6GT',
        [
          '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT',
          '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
          '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT',
        ],
      ],
      [
        'nat KUBE-EXT-NUKIZ6OKUXPJNT4C',
        [
          '-A KUBE-EXT-NUKIZ6OKUXPJNT4C -m comment --comment "masquerade traffic for ns5/svc5:p80 external destinations" -j KUBE-MARK-MASQ',
          '-A KUBE-EXT-NUKIZ6OKUXPJNT4C -j KUBE-SVC-NUKIZ6OKUXPJNT4C',
        ],
      ],
      [
        'nat KUBE-FW-NUKIZ6OKUXPJNT4C',
        [
          '-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-NUKIZ6OKUXPJNT4C',
          '-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"',
        ],
      ],
      [
        'nat KUBE-SEP-I77PXRDZVX7PMWMN',
        [
          '-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ',
          '-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80',
        ],
      ],
      [
        'nat KUBE-SVC-NUKIZ6OKUXPJNT4C',
        [
          '-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
          '-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --rcheck --seconds 10800 --reap -j KUBE-SEP-I77PXRDZVX7PMWMN',
          '-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -j KUBE-SEP-I77PXRDZVX7PMWMN',
        ],
      ],
    ]);
    for (const [chain, lines] of expected) expect(rules.get(chain), chain).toEqual(lines);
    const natServices = rules.get('nat KUBE-SERVICES') ?? [];
    for (const line of [
      '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT',
      '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT',
      '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT',
      '-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j KUBE-FW-NUKIZ6OKUXPJNT4C',
    ]) {
      expect(natServices).toContain(line);
    }
    // svc2 has no local endpoint: its EXT chain has no final jump and no KUBE-SVL chain exists;
    // svc4 has nodePort 0: no KUBE-NODEPORTS rule; svc6 has no nat chain at all.
    expect([...chains].some((c) => c.includes('KUBE-SVL-'))).toBe(false);
    expect((rules.get('nat KUBE-NODEPORTS') ?? []).some((l) => l.includes('ns4/svc4'))).toBe(false);
    expect(natServices.at(-1)).toContain('NOTE: this must be the last rule in this chain');
    expect([...rules.values()].flat().some((l) => l.includes('ns6/svc6') && !l.includes('REJECT'))).toBe(
      false,
    );
  });

  it('counts rules as the kubeproxy_sync_proxy_rules_iptables_total metric and the §1.13 formula do', () => {
    for (const [services, endpoints] of [
      [1, 1],
      [3, 2],
      [5, 4],
    ]) {
      const sps = Array.from({ length: services }, (_, s) =>
        servicePort({
          namespace: 'ns',
          name: `svc${s}`,
          clusterIP: `172.30.1.${s + 1}`,
          port: 80,
          endpoints: Array.from({ length: endpoints }, (_, e) => ({ ip: `10.1.${s}.${e + 1}`, port: 80 })),
        }),
      );
      const out = compileIptables(model({ servicePorts: sps }), 'test-node', { localhostNodePorts: false });
      expect(out.ruleCounts.nat).toBe(5 + services * (2 + 3 * endpoints));
      expect(out.ruleCounts.filter).toBe(3);
      expect(out.ruleCounts.nat).toBe(out.restoreInput.split('*nat')[1].split('\n-A ').length - 1);
    }
    const empty = [1, 2, 3].map((s) =>
      servicePort({ namespace: 'ns', name: `e${s}`, clusterIP: `172.30.2.${s}`, port: 80 }),
    );
    const out = compileIptables(model({ servicePorts: empty }), 'test-node', { localhostNodePorts: false });
    expect(out.ruleCounts).toEqual({ nat: 5, filter: 3 + 3 });
  });

  it('uses KUBE-SVL for iTP=Local and DROPs the cluster IP when this node has no local endpoint', () => {
    const sp = (nodeName: string) =>
      servicePort({
        namespace: 'ns',
        name: 'itp',
        clusterIP: '172.30.1.1',
        port: 80,
        internalTrafficPolicy: 'Local',
        endpoints: [
          { ip: '10.0.1.1', port: 80, nodeName },
          { ip: '10.0.1.2', port: 80, nodeName: 'other' },
        ],
      });
    const withLocal = byChain(
      compileIptables(model({ servicePorts: [sp('test-node')] }), 'test-node').restoreInput,
    );
    expect(withLocal.rules.get('nat KUBE-SERVICES')?.[0]).toMatch(/-j KUBE-SVL-/);
    const svl = [...withLocal.rules].find(([k]) => k.startsWith('nat KUBE-SVL-'))?.[1];
    // proxier.go writes the off-cluster masquerade rule into internalTrafficChain, which is the SVL chain here.
    expect(svl).toEqual([
      expect.stringMatching(
        /^-A KUBE-SVL-\S+ -m comment --comment "ns\/itp cluster IP" .* ! -s 10.0.0.0\/8 -j KUBE-MARK-MASQ$/,
      ),
      expect.stringMatching(/^-A KUBE-SVL-\S+ -m comment --comment "ns\/itp -> 10.0.1.1:80" -j KUBE-SEP-/),
    ]);
    const without = byChain(
      compileIptables(model({ servicePorts: [sp('elsewhere')] }), 'test-node').restoreInput,
    );
    expect(without.rules.get('filter KUBE-SERVICES')).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns/itp has no local endpoints" -m tcp -p tcp -d 172.30.1.1 --dport 80 -j DROP',
    ]);
  });

  it('drops per-endpoint comments above 1000 endpoints (large cluster mode)', () => {
    const eps = Array.from({ length: 1001 }, (_, i) => ({ ip: `10.2.${i >> 8}.${i & 255}`, port: 80 }));
    const out = compileIptables(
      model({
        servicePorts: [
          servicePort({ namespace: 'ns', name: 'big', clusterIP: '172.30.3.1', port: 80, endpoints: eps }),
        ],
      }),
      'test-node',
    );
    expect(out.largeClusterMode).toBe(true);
    const sep = out.restoreInput.split('\n').find((l) => l.startsWith('-A KUBE-SEP-'));
    expect(sep).toMatch(/^-A KUBE-SEP-\w+ -s 10\.2\.\d+\.\d+ -j KUBE-MARK-MASQ$/);
    expect(out.restoreInput).toContain('--probability 0.0009990010 -j KUBE-SEP-');
  });

  it('refuses a node that is not in the model', () => {
    expect(() => compileIptables(originModel(), 'nope')).toThrow(IptablesCompileError);
  });
});

/** What `iptables-save` prints for the oracle's origin scenario after kube-proxy's first sync (kernel-verified). */
const ORIGIN_SAVE = `# Generated by iptables-save v1.8.9 (nf_tables) on Wed Jan  1 00:00:00 2025
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-PROXY-CANARY - [0:0]
COMMIT
# Completed on Wed Jan  1 00:00:00 2025
# Generated by iptables-save v1.8.9 (nf_tables) on Wed Jan  1 00:00:00 2025
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-CANARY - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -j KUBE-FIREWALL
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -j KUBE-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
# Completed on Wed Jan  1 00:00:00 2025
# Generated by iptables-save v1.8.9 (nf_tables) on Wed Jan  1 00:00:00 2025
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-EXT-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-PROXY-CANARY - [0:0]
:KUBE-SEP-2AZ33KU3V5PGPQZH - [0:0]
:KUBE-SEP-LOQZ6LJZSXX5P3TW - [0:0]
:KUBE-SEP-UIQK3OSOSTRHRPBX - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-EXT-CDGGSHYLG3RE2FKL -m comment --comment "masquerade traffic for default/web:http external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-CDGGSHYLG3RE2FKL -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web:http" -m tcp --dport 30532 -j KUBE-EXT-CDGGSHYLG3RE2FKL
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SEP-2AZ33KU3V5PGPQZH -s 10.244.1.3/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-2AZ33KU3V5PGPQZH -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.3:8080
-A KUBE-SEP-LOQZ6LJZSXX5P3TW -s 10.244.1.4/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-LOQZ6LJZSXX5P3TW -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.4:8080
-A KUBE-SEP-UIQK3OSOSTRHRPBX -s 10.244.1.2/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-UIQK3OSOSTRHRPBX -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.2:8080
-A KUBE-SERVICES -d 10.233.21.104/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-CDGGSHYLG3RE2FKL ! -s 10.244.0.0/16 -d 10.233.21.104/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.2:8080" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-UIQK3OSOSTRHRPBX
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.3:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-2AZ33KU3V5PGPQZH
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.4:8080" -j KUBE-SEP-LOQZ6LJZSXX5P3TW
COMMIT
# Completed on Wed Jan  1 00:00:00 2025
`;

describe('renderIptablesSave of compiled rules', () => {
  it('prints the origin NodePort scenario exactly as iptables-save 1.8.9 (nf_tables) does', () => {
    const out = compileIptables(originModel(), 'node-1');
    expect(renderIptablesSave(out.ruleset, { date: new Date(Date.UTC(2025, 0, 1)) })).toBe(ORIGIN_SAVE);
  });

  it('prints one ClusterIP service with one endpoint with the canonical SVC/SEP lines', () => {
    const m = model({
      servicePorts: [
        servicePort({
          namespace: 'ns1',
          name: 'svc1',
          portName: 'p80',
          clusterIP: '172.30.0.41',
          port: 80,
          endpoints: [{ ip: '10.180.0.1', port: 80 }],
        }),
      ],
    });
    const nat = renderIptablesSave(compileIptables(m, 'test-node').ruleset, { tables: ['nat'] });
    expect(nat.split('\n').filter((l) => /^-A KUBE-(SVC|SEP|SERVICES)/.test(l))).toEqual([
      '-A KUBE-SEP-SXIVWICOYRO3J4NJ -s 10.180.0.1/32 -m comment --comment "ns1/svc1:p80" -j KUBE-MARK-MASQ',
      '-A KUBE-SEP-SXIVWICOYRO3J4NJ -p tcp -m comment --comment "ns1/svc1:p80" -m tcp -j DNAT --to-destination 10.180.0.1:80',
      '-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
      '-A KUBE-SVC-XPGD46QRK7WJZT7O ! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ',
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ',
    ]);
  });

  it('prints affinity with the recent match in libxt_recent save order', () => {
    const nat = renderIptablesSave(compileIptables(overallModel(), 'test-node').ruleset, { tables: ['nat'] });
    expect(nat).toContain(
      '-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-I77PXRDZVX7PMWMN --mask 255.255.255.255 --rsource -j KUBE-SEP-I77PXRDZVX7PMWMN',
    );
    expect(nat).toContain(
      '-A KUBE-SEP-I77PXRDZVX7PMWMN -p tcp -m comment --comment "ns5/svc5:p80" -m recent --set --name KUBE-SEP-I77PXRDZVX7PMWMN --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.180.0.3:80',
    );
  });
});
