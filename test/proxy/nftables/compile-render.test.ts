import { describe, expect, it } from 'vitest';
import { CHAIN, compileNftables, NftCompileError } from '../../../src/proxy/nftables/compile.js';
import {
  renderDuration,
  renderPriority,
  renderRule,
  renderTable,
} from '../../../src/proxy/nftables/render.js';
import type { NftMap, NftSet, NftTable } from '../../../src/proxy/nftables/table.js';
import {
  endpoint,
  everyServiceTypeModel,
  originLikeModel,
  proxyModel,
  servicePort,
} from './model-builder.js';

/** What `nft list table ip kube-proxy` (nftables 1.0.6) prints for the origin-like scenario on node-a. */
const ORIGIN_LIKE_LISTING = [
  'table ip kube-proxy {',
  '\tcomment "rules for kube-proxy"',
  '\tset cluster-ips {',
  '\t\ttype ipv4_addr',
  '\t\tcomment "Active ClusterIPs"',
  '\t\telements = { 10.233.0.1, 10.233.21.104 }',
  '\t}',
  '',
  '\tset nodeport-ips {',
  '\t\ttype ipv4_addr',
  '\t\tcomment "IPs that accept NodePort traffic"',
  '\t\telements = { 192.168.100.100 }',
  '\t}',
  '',
  '\tmap no-endpoint-services {',
  '\t\ttype ipv4_addr . inet_proto . inet_service : verdict',
  '\t\tcomment "vmap to drop or reject packets to services with no endpoints"',
  '\t}',
  '',
  '\tmap no-endpoint-nodeports {',
  '\t\ttype inet_proto . inet_service : verdict',
  '\t\tcomment "vmap to drop or reject packets to service nodeports with no endpoints"',
  '\t}',
  '',
  '\tmap firewall-ips {',
  '\t\ttype ipv4_addr . inet_proto . inet_service : verdict',
  '\t\tcomment "destinations that are subject to LoadBalancerSourceRanges"',
  '\t}',
  '',
  '\tmap service-ips {',
  '\t\ttype ipv4_addr . inet_proto . inet_service : verdict',
  '\t\tcomment "ClusterIP, ExternalIP and LoadBalancer IP traffic"',
  '\t\telements = { 10.233.21.104 . tcp . 80 : goto service-SUSTUHLJ-default/web/tcp/http,',
  '\t\t\t     10.233.0.1 . tcp . 443 : goto service-2QRHZV4L-default/kubernetes/tcp/https }',
  '\t}',
  '',
  '\tmap service-nodeports {',
  '\t\ttype inet_proto . inet_service : verdict',
  '\t\tcomment "NodePort traffic"',
  '\t\telements = { tcp . 30532 : goto external-SUSTUHLJ-default/web/tcp/http }',
  '\t}',
  '',
  '\tchain filter-prerouting-pre-dnat {',
  '\t\ttype filter hook prerouting priority dstnat - 10; policy accept;',
  '\t\tct state new jump firewall-check',
  '\t}',
  '',
  '\tchain filter-output-pre-dnat {',
  '\t\ttype filter hook output priority -110; policy accept;',
  '\t\tct state new jump firewall-check',
  '\t}',
  '',
  '\tchain filter-input {',
  '\t\ttype filter hook input priority filter; policy accept;',
  '\t\tct state new jump nodeport-endpoints-check',
  '\t\tct state new jump service-endpoints-check',
  '\t}',
  '',
  '\tchain filter-forward {',
  '\t\ttype filter hook forward priority filter; policy accept;',
  '\t\tct state new jump service-endpoints-check',
  '\t\tct state new jump cluster-ips-check',
  '\t}',
  '',
  '\tchain filter-output {',
  '\t\ttype filter hook output priority filter; policy accept;',
  '\t\tct state new jump service-endpoints-check',
  '\t\tct state new jump cluster-ips-check',
  '\t}',
  '',
  '\tchain nat-prerouting {',
  '\t\ttype nat hook prerouting priority dstnat; policy accept;',
  '\t\tjump services',
  '\t}',
  '',
  '\tchain nat-output {',
  '\t\ttype nat hook output priority -100; policy accept;',
  '\t\tjump services',
  '\t}',
  '',
  '\tchain nat-postrouting {',
  '\t\ttype nat hook postrouting priority srcnat; policy accept;',
  '\t\tjump masquerading',
  '\t}',
  '',
  '\tchain nodeport-endpoints-check {',
  '\t\tip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports',
  '\t}',
  '',
  '\tchain service-endpoints-check {',
  '\t\tip daddr . meta l4proto . th dport vmap @no-endpoint-services',
  '\t}',
  '',
  '\tchain firewall-check {',
  '\t\tip daddr . meta l4proto . th dport vmap @firewall-ips',
  '\t}',
  '',
  '\tchain services {',
  '\t\tip daddr . meta l4proto . th dport vmap @service-ips',
  '\t\tip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports',
  '\t}',
  '',
  '\tchain masquerading {',
  '\t\tmeta mark & 0x00004000 == 0x00000000 return',
  '\t\tmeta mark set meta mark ^ 0x00004000',
  '\t\tmasquerade fully-random',
  '\t}',
  '',
  '\tchain cluster-ips-check {',
  '\t\tip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"',
  '\t\tip daddr 10.233.0.0/18 drop comment "Drop traffic to unallocated ClusterIPs"',
  '\t}',
  '',
  '\tchain mark-for-masquerade {',
  '\t\tmeta mark set meta mark | 0x00004000',
  '\t}',
  '',
  '\tchain reject-chain {',
  '\t\tcomment "helper for @no-endpoint-services / @no-endpoint-nodeports"',
  '\t\treject',
  '\t}',
  '',
  '\tchain endpoint-TDDBWN66-default/kubernetes/tcp/https__192.168.100.100/6443 {',
  '\t\tip saddr 192.168.100.100 jump mark-for-masquerade',
  '\t\tmeta l4proto tcp dnat to 192.168.100.100:6443',
  '\t}',
  '',
  '\tchain service-2QRHZV4L-default/kubernetes/tcp/https {',
  '\t\tip daddr 10.233.0.1 ip saddr != 10.244.0.0/16 jump mark-for-masquerade',
  '\t\tnumgen random mod 1 vmap { 0 : goto endpoint-TDDBWN66-default/kubernetes/tcp/https__192.168.100.100/6443 }',
  '\t}',
  '',
  '\tchain endpoint-SVLGPL42-default/web/tcp/http__10.244.1.2/8080 {',
  '\t\tip saddr 10.244.1.2 jump mark-for-masquerade',
  '\t\tmeta l4proto tcp dnat to 10.244.1.2:8080',
  '\t}',
  '',
  '\tchain endpoint-QYTGA46O-default/web/tcp/http__10.244.1.3/8080 {',
  '\t\tip saddr 10.244.1.3 jump mark-for-masquerade',
  '\t\tmeta l4proto tcp dnat to 10.244.1.3:8080',
  '\t}',
  '',
  '\tchain endpoint-S6J4REDL-default/web/tcp/http__10.244.1.4/8080 {',
  '\t\tip saddr 10.244.1.4 jump mark-for-masquerade',
  '\t\tmeta l4proto tcp dnat to 10.244.1.4:8080',
  '\t}',
  '',
  '\tchain service-SUSTUHLJ-default/web/tcp/http {',
  '\t\tip daddr 10.233.21.104 ip saddr != 10.244.0.0/16 jump mark-for-masquerade',
  '\t\tnumgen random mod 3 vmap { 0 : goto endpoint-SVLGPL42-default/web/tcp/http__10.244.1.2/8080, 1 : goto endpoint-QYTGA46O-default/web/tcp/http__10.244.1.3/8080, 2 : goto endpoint-S6J4REDL-default/web/tcp/http__10.244.1.4/8080 }',
  '\t}',
  '',
  '\tchain external-SUSTUHLJ-default/web/tcp/http {',
  '\t\tjump mark-for-masquerade',
  '\t\tgoto service-SUSTUHLJ-default/web/tcp/http',
  '\t}',
  '}',
].join('\n');

function chainRules(table: NftTable, name: string): string[] {
  const chain = table.chains.find((c) => c.name === name);
  if (chain === undefined) throw new Error(`no chain ${name}`);
  return chain.rules.map((r) => renderRule(r, table.family));
}

function map(table: NftTable, name: string): NftMap {
  return table.sets.find((s) => s.name === name) as NftMap;
}

describe('compileNftables + renderTable', () => {
  it('prints the origin-like scenario exactly as nft lists it', () => {
    expect(renderTable(compileNftables(originLikeModel(), 'node-a'))).toBe(`${ORIGIN_LIKE_LISTING}\n`);
  });

  it('emits the upstream TestOverallNFTablesRules rules for a one-endpoint ClusterIP', () => {
    const model = proxyModel(
      [
        servicePort({
          namespace: 'ns1',
          name: 'svc1',
          portName: 'p80',
          clusterIP: '172.30.0.41',
          port: 80,
          endpoints: [endpoint('10.180.0.1', 80, 'node-b')],
        }),
      ],
      { clusterCIDR: '10.0.0.0/8', serviceCIDR: '172.30.0.0/16' },
    );
    const table = compileNftables(model, 'node-a');
    expect(chainRules(table, 'service-ULMVA6XW-ns1/svc1/tcp/p80')).toEqual([
      'ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump mark-for-masquerade',
      'numgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }',
    ]);
    expect(chainRules(table, 'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80')).toEqual([
      'ip saddr 10.180.0.1 jump mark-for-masquerade',
      'meta l4proto tcp dnat to 10.180.0.1:80',
    ]);
    expect(chainRules(table, CHAIN.clusterIPsCheck)).toEqual([
      'ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"',
      'ip daddr 172.30.0.0/16 drop comment "Drop traffic to unallocated ClusterIPs"',
    ]);
    expect((table.sets.find((s) => s.name === 'cluster-ips') as NftSet).elements).toEqual(['172.30.0.41']);
  });

  it('puts no-endpoint and eTP=Local-without-local-endpoint services in the no-endpoint maps with reject vs drop', () => {
    const table = compileNftables(everyServiceTypeModel(), 'node-a');
    const noEp = map(table, 'no-endpoint-services').elements.map(
      (e) => `${e.addr} ${e.port} ${e.comment} ${e.verdict.kind}`,
    );
    expect(noEp).toEqual([
      '10.233.0.20 80 ns2/empty:p80 goto',
      '203.0.113.7 80 ns2/empty:p80 goto',
      '10.233.0.60 80 ns6/itp-local:p80 drop',
    ]);
    const noNp = map(table, 'no-endpoint-nodeports').elements.map((e) => `${e.port} ${e.verdict.kind}`);
    expect(noNp).toEqual(['30001 goto', '30004 drop']);
    // The eTP=Local service without a local endpoint keeps its external chain for short-circuits only.
    expect(chainRules(table, 'external-7CFSUJ5U-ns4/local-none/tcp/p80')).toEqual([
      'ip saddr 10.244.0.0/16 goto service-7CFSUJ5U-ns4/local-none/tcp/p80 comment "short-circuit pod traffic"',
      'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
      'fib saddr type local goto service-7CFSUJ5U-ns4/local-none/tcp/p80 comment "short-circuit local traffic"',
    ]);
  });

  it('builds firewall, affinity and local-policy chains', () => {
    const table = compileNftables(everyServiceTypeModel(), 'node-a');
    // The node IP 192.168.100.100 is inside a source range, so the LB IP itself is allowed too.
    expect(chainRules(table, 'firewall-AKOP7O27-ns5/lb/tcp/p80')).toEqual([
      'ip saddr != { 192.168.0.0/16, 198.51.100.5, 203.0.113.0/25 } drop',
    ]);
    expect(map(table, 'firewall-ips').elements).toEqual([
      {
        addr: '198.51.100.5',
        proto: 'tcp',
        port: 80,
        verdict: { kind: 'goto', chain: 'firewall-AKOP7O27-ns5/lb/tcp/p80' },
      },
    ]);
    const aff = table.sets.filter((s) => s.name.startsWith('affinity-')) as NftSet[];
    expect(aff.map((s) => [s.name, s.timeoutSeconds, s.flags])).toEqual([
      ['affinity-T5NJ47MW-ns5/lb/tcp/p80__10.244.1.5/8080', 10800, ['dynamic', 'timeout']],
      ['affinity-BQVTKFJN-ns5/lb/tcp/p80__10.244.2.6/8080', 10800, ['dynamic', 'timeout']],
    ]);
    expect(chainRules(table, 'local-M6D6Y62U-ns4/local-np/tcp/p80')).toEqual([
      'numgen random mod 1 vmap { 0 : goto endpoint-6V5CBYZ7-ns4/local-np/tcp/p80__10.244.1.5/8080 }',
    ]);
    expect(chainRules(table, 'external-M6D6Y62U-ns4/local-np/tcp/p80').at(-1)).toBe(
      'goto local-M6D6Y62U-ns4/local-np/tcp/p80',
    );
    // iTP=Local with no local endpoint: no service-ips element, no chains for that service.
    expect(table.chains.some((c) => c.name.includes('ns6/itp-local'))).toBe(false);
  });

  it('uses fib daddr type local and drops the nodeport-ips set when nodePortAddresses match all', () => {
    const table = compileNftables(originLikeModel(), 'node-a', {
      nodePortAddresses: 'all',
      masqueradeAll: true,
      masqueradeBit: 15,
    });
    expect(table.sets.some((s) => s.name === 'nodeport-ips')).toBe(false);
    expect(chainRules(table, CHAIN.services)[1]).toBe(
      'fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports',
    );
    expect(chainRules(table, CHAIN.nodePortEndpointsCheck)).toEqual([
      'ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports',
    ]);
    expect(chainRules(table, 'service-SUSTUHLJ-default/web/tcp/http')[0]).toBe(
      'ip daddr 10.233.21.104 jump mark-for-masquerade',
    );
    expect(chainRules(table, CHAIN.markForMasquerade)).toEqual(['meta mark set meta mark | 0x00008000']);
  });

  it('reports an unknown node or malformed addresses as NftCompileError', () => {
    expect(() => compileNftables(originLikeModel(), 'node-z')).toThrow(NftCompileError);
    const bad = proxyModel([
      servicePort({
        namespace: 'a',
        name: 'b',
        clusterIP: '10.233.0.5',
        port: 80,
        endpoints: [endpoint('10.244.1.300', 80, 'node-a')],
      }),
    ]);
    expect(() => compileNftables(bad, 'node-a')).toThrow(/10\.244\.1\.300/);
    expect(() => compileNftables(proxyModel([], { serviceCIDR: '10.233.0.1/18' }), 'node-a')).toThrow(
      NftCompileError,
    );
  });

  it('skips headless and IPv6 services', () => {
    const model = proxyModel([
      servicePort({ namespace: 'a', name: 'headless', clusterIP: 'None', port: 80 }),
      servicePort({ namespace: 'a', name: 'v6', clusterIP: 'fd00::1', port: 80 }),
    ]);
    expect(compileNftables(model, 'node-a').chains.some((c) => c.name.includes('/'))).toBe(false);
  });
});

describe('render details', () => {
  it('wraps IPv4 set elements two per line and sorts them numerically', () => {
    const model = proxyModel(
      ['10.233.0.200', '10.233.0.3', '10.233.1.1', '10.233.0.20', '10.233.0.100'].map((ip, i) =>
        servicePort({ namespace: 'n', name: `s${i}`, clusterIP: ip, port: 80 }),
      ),
    );
    const text = renderTable(compileNftables(model, 'node-a'));
    expect(text).toContain(
      '\t\telements = { 10.233.0.3, 10.233.0.20,\n\t\t\t     10.233.0.100, 10.233.0.200,\n\t\t\t     10.233.1.1 }\n',
    );
  });

  it('sorts map elements as nft does (by the key bytes read little-endian: port low byte first)', () => {
    const model = proxyModel([
      servicePort({
        namespace: 'n',
        name: 'a',
        clusterIP: '10.233.0.9',
        port: 80,
        endpoints: [endpoint('10.244.1.1', 80, 'node-a')],
      }),
      servicePort({
        namespace: 'n',
        name: 'b',
        clusterIP: '10.233.0.2',
        port: 443,
        endpoints: [endpoint('10.244.1.1', 80, 'node-a')],
      }),
      servicePort({
        namespace: 'n',
        name: 'c',
        clusterIP: '10.233.0.2',
        port: 53,
        protocol: 'UDP',
        endpoints: [endpoint('10.244.1.1', 53, 'node-a')],
      }),
      servicePort({
        namespace: 'n',
        name: 'd',
        clusterIP: '10.233.0.7',
        port: 53,
        endpoints: [endpoint('10.244.1.1', 53, 'node-a')],
      }),
    ]);
    const text = renderTable(compileNftables(model, 'node-a'));
    const keys = [...text.matchAll(/(10\.233\.0\.\d+ \. \w+ \. \d+) : goto service/g)].map((m) => m[1]);
    expect(keys).toEqual([
      '10.233.0.7 . tcp . 53',
      '10.233.0.2 . udp . 53',
      '10.233.0.9 . tcp . 80',
      '10.233.0.2 . tcp . 443',
    ]);
  });

  it('names priorities only where nft does', () => {
    expect(renderPriority({ type: 'filter', hook: 'prerouting', priority: -110, policy: 'accept' })).toBe(
      'dstnat - 10',
    );
    expect(renderPriority({ type: 'filter', hook: 'output', priority: -110, policy: 'accept' })).toBe('-110');
    expect(renderPriority({ type: 'nat', hook: 'output', priority: -100, policy: 'accept' })).toBe('-100');
    expect(renderPriority({ type: 'nat', hook: 'postrouting', priority: 100, policy: 'accept' })).toBe(
      'srcnat',
    );
    expect(renderPriority({ type: 'filter', hook: 'forward', priority: 0, policy: 'accept' })).toBe('filter');
  });

  it('formats set timeouts like nft', () => {
    expect(renderDuration(10800)).toBe('3h');
    expect(renderDuration(90)).toBe('1m30s');
    expect(renderDuration(90061)).toBe('1d1h1m1s');
  });

  it('lists a ClientIP-affinity set with the size nft gives sets filled by update', () => {
    const text = renderTable(compileNftables(everyServiceTypeModel(), 'node-a'));
    expect(text).toContain(
      '\tset affinity-T5NJ47MW-ns5/lb/tcp/p80__10.244.1.5/8080 {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 3h\n\t}\n',
    );
  });
});
