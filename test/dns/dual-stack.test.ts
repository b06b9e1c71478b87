/**
 * CoreDNS on a dual-stack cluster (issue 15, DNS): AAAA records for a Service's IPv6
 * ClusterIP and for a headless Service's IPv6 endpoints, SRV targets with AAAA additionals,
 * IPv6 pod names, and PTR records under ip6.arpa; `dpsim dig -x` of an IPv6 address.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Service } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { CoreDnsZone } from '../../src/dns/coredns.js';
import { parseIPv6 } from '../../src/util/ipv6.js';
import { DNS_CLASS_IN, type DnsMessage, DnsRcode, DnsType, emptyFlags } from '../../src/wire/dns.js';
import { dpsim } from '../cli/harness.js';
import { DUAL_STACK_MANIFESTS, dualStackCluster } from '../proxy/iptables/ipv6-scenario.js';

const HEADLESS: Service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'hl' },
  spec: {
    clusterIP: 'None',
    ipFamilyPolicy: 'RequireDualStack',
    selector: { app: 'web' },
    ports: [{ name: 'http', port: 8080 }],
  },
};

function zone() {
  const cluster = dualStackCluster();
  const out = cluster.applyObject(HEADLESS, 'hl.yaml');
  if (out.status === 'rejected') throw new Error(out.message);
  return { cluster, dns: new CoreDnsZone(cluster) };
}

function query(name: string, type: number): DnsMessage {
  return {
    id: 7,
    flags: { ...emptyFlags(), rd: true },
    questions: [{ name, type, class: DNS_CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
  };
}

const addresses = (m: DnsMessage, type: number) =>
  m.answers.filter((r) => r.type === type).map((r) => (r.data as { address: string }).address);

const podIPv6s = (cluster: ReturnType<typeof dualStackCluster>) =>
  cluster
    .pods()
    .map((p) => p.status?.podIPs?.find((i) => i.ip?.includes(':'))?.ip ?? '')
    .sort((a, b) => (parseIPv6(a) < parseIPv6(b) ? -1 : 1));

describe('CoreDNS on a dual-stack cluster', () => {
  it('answers AAAA with a dual-stack Service’s IPv6 ClusterIP and A with its IPv4 one', () => {
    const { cluster, dns } = zone();
    const [v4, v6] = cluster.getService('web-np')!.spec!.clusterIPs!;
    expect(
      addresses(dns.answer(query('web-np.default.svc.cluster.local', DnsType.AAAA)), DnsType.AAAA),
    ).toEqual([v6]);
    expect(addresses(dns.answer(query('web-np.default.svc.cluster.local', DnsType.A)), DnsType.A)).toEqual([
      v4,
    ]);
    const any = dns.answer(query('web-np.default.svc.cluster.local', DnsType.ANY));
    expect(any.answers.map((r) => r.type)).toEqual([DnsType.A, DnsType.AAAA]);
  });

  it('gives an IPv6-only Service AAAA and NODATA for A', () => {
    const { cluster, dns } = zone();
    const v6 = cluster.getService('web-v6')!.spec!.clusterIPs![0];
    expect(
      addresses(dns.answer(query('web-v6.default.svc.cluster.local', DnsType.AAAA)), DnsType.AAAA),
    ).toEqual([v6]);
    const a = dns.answer(query('web-v6.default.svc.cluster.local', DnsType.A));
    expect([a.flags.rcode, a.answers.length, a.authorities.length]).toEqual([DnsRcode.NOERROR, 0, 1]);
  });

  it('answers a headless dual-stack Service’s AAAA with every ready IPv6 endpoint, in numeric order', () => {
    const { cluster, dns } = zone();
    const m = dns.answer(query('hl.default.svc.cluster.local', DnsType.AAAA));
    expect(addresses(m, DnsType.AAAA)).toEqual(podIPv6s(cluster));
    expect(addresses(m, DnsType.A)).toEqual([]);
  });

  it('gives SRV targets of IPv6 endpoints AAAA additionals (and IPv4 ones A), and the endpoint names answer', () => {
    const { cluster, dns } = zone();
    const m = dns.answer(query('_http._tcp.hl.default.svc.cluster.local', DnsType.SRV));
    expect(m.answers).toHaveLength(6);
    const aaaa = m.additionals.filter((r) => r.type === DnsType.AAAA);
    expect(aaaa.map((r) => (r.data as { address: string }).address)).toEqual(podIPv6s(cluster));
    expect(m.additionals.filter((r) => r.type === DnsType.A)).toHaveLength(3);
    const first = podIPv6s(cluster)[0];
    const host = `${first.replaceAll(':', '-')}.hl.default.svc.cluster.local`;
    expect(aaaa[0].name).toBe(host);
    expect(addresses(dns.answer(query(host, DnsType.AAAA)), DnsType.AAAA)).toEqual([first]);
    const svc = dns.answer(query('_http._tcp.web-v6.default.svc.cluster.local', DnsType.SRV));
    expect(svc.additionals.map((r) => r.type)).toEqual([DnsType.AAAA]);
  });

  it('answers an IPv6 pod name (colons as dashes) with AAAA', () => {
    const { dns } = zone();
    const m = dns.answer(query('fd85-ee78-d8a6-8607--1-2.default.pod.cluster.local', DnsType.AAAA));
    expect(addresses(m, DnsType.AAAA)).toEqual(['fd85:ee78:d8a6:8607::1:2']);
  });

  it('answers PTR under ip6.arpa for an IPv6 ClusterIP and an IPv6 headless endpoint, SERVFAIL (forwarded) for others', () => {
    const { cluster, dns } = zone();
    const nibbles = (a: string) =>
      `${[...parseIPv6(a).toString(16).padStart(32, '0')].reverse().join('.')}.ip6.arpa`;
    const v6 = cluster.getService('web-np')!.spec!.clusterIPs![1];
    const ptr = dns.answer(query(nibbles(v6), DnsType.PTR));
    expect(ptr.answers.map((r) => (r.data as { target: string }).target)).toEqual([
      'web-np.default.svc.cluster.local',
    ]);
    const ep = podIPv6s(cluster)[0];
    expect(
      dns.answer(query(nibbles(ep), DnsType.PTR)).answers.map((r) => (r.data as { target: string }).target),
    ).toEqual([`${ep.replaceAll(':', '-')}.hl.default.svc.cluster.local`]);
    expect(dns.answer(query(nibbles('2001:db8::1'), DnsType.PTR)).flags.rcode).toBe(DnsRcode.SERVFAIL);
    expect(dns.answer(query('1.2.ip6.arpa', DnsType.PTR)).flags.rcode).toBe(DnsRcode.SERVFAIL);
  });
});

describe('dpsim dig on a dual-stack cluster', () => {
  it('dig AAAA from a pod and dig -x of an IPv6 ClusterIP answer as dig prints them', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dpsim-dns6-')), 'ds.yaml');
    writeFileSync(file, `${DUAL_STACK_MANIFESTS}\n---\n${JSON.stringify(HEADLESS)}\n`);
    const pods = await dpsim(['get', 'po', '--dual-stack', '-f', file, '-o', 'name']);
    const pod = pods.stdout.split('\n')[0].replace('pod/', '');
    const base = ['--dual-stack', '-f', file, '--from', `pod/${pod}`];
    const aaaa = await dpsim(['dig', 'web-v6.default.svc.cluster.local', 'AAAA', '+short', ...base]);
    expect(aaaa.exitCode).toBe(0);
    expect(aaaa.stdout).toMatch(/^fd85:ee78:d8a6:8607::[0-9a-f]+\n$/);
    const rev = await dpsim(['dig', '-x', aaaa.stdout.trim(), '+short', ...base]);
    expect(rev.stdout).toBe('web-v6.default.svc.cluster.local.\n');
    const bad = await dpsim(['dig', '-x', 'nope', ...base]);
    expect(bad.stderr).toBe('error: -x: "nope" is not an IPv4 or IPv6 address\n');
  });
});
