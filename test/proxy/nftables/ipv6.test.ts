/**
 * kube-proxy's IPv6 nftables proxier on a dual-stack node (issue 15 item 3): the `ip6
 * kube-proxy` table compiled from the IPv6 model, with its IPv6 differences (`ip6 daddr`,
 * `ipv6_addr` sets, `ip6 daddr != ::1`, `dnat to [addr]:port`, colons as dots in endpoint
 * chain names), and the IPv4 table of the same node unchanged by the cluster being dual-stack.
 */
import { describe, expect, it } from 'vitest';
import { toProxyModel } from '../../../src/k8s/proxy-model.js';
import { compileNftables, NftCompileError } from '../../../src/proxy/nftables/compile.js';
import { renderTable } from '../../../src/proxy/nftables/render.js';
import { compileIpv6Nftables } from '../../../src/sim/ipv6-rules.js';
import { dpsim } from '../../cli/harness.js';
import { dualStackCluster, writeDualStackManifests } from '../iptables/ipv6-scenario.js';
import { proxyModel6 } from './ipv6-model.js';
import { endpoint, servicePort } from './model-builder.js';

const ip6Table = (node = 'node1') =>
  renderTable(compileIpv6Nftables(dualStackCluster(), node, undefined, undefined));

describe('nftables ip6 kube-proxy table of a dual-stack node', () => {
  it('holds the IPv6 ClusterIPs and [addr]:port DNATs to the pods’ IPv6 addresses, and nothing IPv4', () => {
    const c = dualStackCluster();
    const text = ip6Table();
    const webNp = c.getService('web-np')?.spec?.clusterIPs ?? [];
    const v6only = c.getService('web-v6')?.spec?.clusterIPs ?? [];
    expect(text.startsWith('table ip6 kube-proxy {\n\tcomment "rules for kube-proxy"\n')).toBe(true);
    expect(text).toContain(`${webNp[1]} . tcp . 80 : goto service-`);
    expect(text).toContain(`${v6only[0]} . tcp . 8080 : goto service-`);
    expect(text).not.toContain(webNp[0]);
    expect(text).not.toMatch(/\b\d+\.\d+\.\d+\.\d+\b/);
    for (const pod of c.pods()) {
      const v6 = pod.status?.podIPs?.find((p) => p.ip?.includes(':'))?.ip;
      expect(text).toContain(`dnat to [${v6}]:8080`);
      expect(text).toContain(`\tip6 saddr ${v6} jump mark-for-masquerade`);
    }
    expect(text).toContain('type ipv6_addr . inet_proto . inet_service : verdict');
    expect(text).not.toContain('ipv4_addr');
    expect(text).toMatch(
      /\tip6 daddr fd85:ee78:d8a6:8607::[0-9a-f]+ ip6 saddr != fd85:ee78:d8a6:8607::1:0\/112 jump mark-for-masquerade\n/,
    );
    expect(text).toContain(
      'ip6 daddr fd85:ee78:d8a6:8607::1000/116 drop comment "Drop traffic to unallocated ClusterIPs"',
    );
    expect(text).toContain('elements = { fd00:192:168:100::100 }');
  });

  it('names endpoint chains and affinity sets with the IPv6 address’s colons as dots, as kube-proxy does', () => {
    const text = ip6Table();
    expect(text).toMatch(
      /chain endpoint-[A-Z2-7]{8}-default\/web-np\/tcp\/__fd85\.ee78\.d8a6\.8607\.\.1\.2\/8080 \{/,
    );
    expect(text).toMatch(
      /set affinity-[A-Z2-7]{8}-default\/sticky\/tcp\/__fd85\.ee78\.d8a6\.8607\.\.1\.2\/8080 \{\n\t\ttype ipv6_addr\n/,
    );
    expect(text).toContain('update @affinity-');
    expect(text).toMatch(/update @affinity-\S+ \{ ip6 saddr \}/);
  });

  it('excludes ::1 where the IPv4 table excludes 127.0.0.0/8 (match-all NodePort addresses)', () => {
    const m = toProxyModel(dualStackCluster(), 'IPv6');
    const text = renderTable(compileNftables(m, 'node1', { family: 'ip6', nodePortAddresses: 'all' }));
    expect(text).toContain(
      '\t\tfib daddr type local ip6 daddr != ::1 meta l4proto . th dport vmap @service-nodeports\n',
    );
    expect(text).toContain('\t\tip6 daddr != ::1 meta l4proto . th dport vmap @no-endpoint-nodeports\n');
    expect(text).not.toContain('set nodeport-ips');
  });

  it('leaves the IPv4 table of the same node without the IPv6-only Service or any IPv6 address', () => {
    const v4 = renderTable(compileNftables(toProxyModel(dualStackCluster()), 'node1'));
    expect(v4.startsWith('table ip kube-proxy {')).toBe(true);
    expect(v4).not.toContain('web-v6');
    expect(v4).not.toMatch(/fd85|fd00/);
  });

  it('refuses an IPv4 endpoint in an ip6 table with one line', () => {
    const m = proxyModel6([
      servicePort({
        name: 'odd',
        clusterIP: 'fd85:ee78:d8a6:8607::1001',
        endpoints: [endpoint('10.0.0.1', 80, 'node-a')],
      }),
    ]);
    expect(() => compileNftables(m, 'node-a', { family: 'ip6' })).toThrow(NftCompileError);
    expect(() => compileNftables(m, 'node-a', { family: 'ip6' })).toThrow(
      'default/odd endpoint: "10.0.0.1" is not an IPv6 address',
    );
  });
});

describe('dpsim rules --mode nftables --family ipv6', () => {
  it('prints nft list table ip6 kube-proxy of the dual-stack node', async () => {
    const file = writeDualStackManifests();
    const r = await dpsim([
      'rules',
      '--dual-stack',
      '--mode',
      'nftables',
      '--family',
      'ipv6',
      '-f',
      file,
      '--node',
      'node2',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.startsWith('table ip6 kube-proxy {\n')).toBe(true);
    expect(r.stdout).toMatch(/dnat to \[fd85:ee78:d8a6:8607::1:[0-9a-f]+\]:8080/);
    expect(r.stdout).toContain('fd00:192:168:100::101');
  });
});
