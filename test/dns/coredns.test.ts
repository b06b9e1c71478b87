/** CoreDNS's kubernetes plugin answers, per the Kubernetes DNS-based service discovery spec. */
import { describe, expect, it } from 'vitest';
import { CoreDnsZone } from '../../src/dns/coredns.js';
import { loadManifests, originScenarioYaml } from '../../src/k8s/index.js';
import {
  DNS_CLASS_IN,
  type DnsMessage,
  DnsRcode,
  DnsType,
  decodeDnsMessage,
  emptyFlags,
  optRecord,
} from '../../src/wire/dns.js';

const EXTRA = `
---
apiVersion: v1
kind: Service
metadata: {name: nginx}
spec:
  clusterIP: None
  selector: {app: nginx}
  ports: [{name: web, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: nginx
  replicas: 2
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec:
      containers: [{name: web, image: go-myweb:1.0}]
---
apiVersion: v1
kind: Service
metadata: {name: search, namespace: default}
spec:
  type: ExternalName
  externalName: search.example.com
---
apiVersion: v1
kind: Service
metadata: {name: named}
spec:
  selector: {app: myweb}
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
`;

function zone() {
  const { cluster } = loadManifests(originScenarioYaml + EXTRA);
  return { cluster, dns: new CoreDnsZone(cluster) };
}

function query(name: string, type: number, opt?: number): DnsMessage {
  return {
    id: 7,
    flags: { ...emptyFlags(), rd: true },
    questions: [{ name, type, class: DNS_CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: opt === undefined ? [] : [optRecord(opt)],
  };
}

const data = (m: DnsMessage) => m.answers.map((r) => r.data);

describe('CoreDNS kubernetes plugin', () => {
  it('answers a ClusterIP Service A with its ClusterIP, authoritative, TTL 5, no RA', () => {
    const { cluster, dns } = zone();
    const m = dns.answer(query('myweb-svc-np.default.svc.cluster.local', DnsType.A));
    expect(m.flags).toMatchObject({ qr: true, aa: true, rd: true, ra: false, rcode: DnsRcode.NOERROR });
    expect(m.answers).toEqual([
      {
        name: 'myweb-svc-np.default.svc.cluster.local',
        type: DnsType.A,
        class: 1,
        ttl: 5,
        data: { kind: 'A', address: cluster.getService('myweb-svc-np')?.spec?.clusterIP },
      },
    ]);
  });

  it('gives AAAA of an IPv4-only Service NODATA with the SOA in authority', () => {
    const { dns } = zone();
    const m = dns.answer(query('myweb-svc-np.default.svc.cluster.local', DnsType.AAAA));
    expect(m.flags.rcode).toBe(DnsRcode.NOERROR);
    expect(m.answers).toEqual([]);
    expect(m.authorities[0].data).toMatchObject({
      kind: 'SOA',
      mname: 'ns.dns.cluster.local',
      rname: 'hostmaster.cluster.local',
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: 5,
    });
  });

  it('answers NXDOMAIN with the SOA for a Service that does not exist (the search-list misses)', () => {
    const { dns } = zone();
    for (const n of ['nope.default.svc.cluster.local', 'myweb-svc-np.svc.cluster.local', 'x.cluster.local']) {
      const m = dns.answer(query(n, DnsType.A));
      expect(m.flags.rcode, n).toBe(DnsRcode.NXDOMAIN);
      expect(m.authorities.map((r) => r.name)).toEqual(['cluster.local']);
    }
  });

  it('answers a headless Service with one A per ready endpoint and the StatefulSet pods by hostname', () => {
    const { cluster, dns } = zone();
    const ip = (n: string) => cluster.getPod(n)?.status?.podIP;
    const all = dns.answer(query('nginx.default.svc.cluster.local', DnsType.A));
    expect(
      data(all)
        .map((d) => (d as { address: string }).address)
        .sort(),
    ).toEqual([ip('web-0'), ip('web-1')].sort());
    const one = dns.answer(query('web-1.nginx.default.svc.cluster.local', DnsType.A));
    expect(data(one)).toEqual([{ kind: 'A', address: ip('web-1') }]);
  });

  it('answers SRV for a named port: ClusterIP target with its A, headless one record per endpoint (weight 50)', () => {
    const { cluster, dns } = zone();
    const m = dns.answer(query('_http._tcp.named.default.svc.cluster.local', DnsType.SRV));
    expect(data(m)).toEqual([
      { kind: 'SRV', priority: 0, weight: 100, port: 80, target: 'named.default.svc.cluster.local' },
    ]);
    expect(m.additionals[0].data).toEqual({
      kind: 'A',
      address: cluster.getService('named')?.spec?.clusterIP,
    });
    const h = dns.answer(query('_web._tcp.nginx.default.svc.cluster.local', DnsType.SRV));
    expect(data(h)).toEqual([
      { kind: 'SRV', priority: 0, weight: 50, port: 8080, target: 'web-0.nginx.default.svc.cluster.local' },
      { kind: 'SRV', priority: 0, weight: 50, port: 8080, target: 'web-1.nginx.default.svc.cluster.local' },
    ]);
    expect(dns.answer(query('_nope._tcp.named.default.svc.cluster.local', DnsType.SRV)).flags.rcode).toBe(3);
  });

  it('answers ExternalName as a CNAME, pod A records (pods insecure) and PTR for a ClusterIP', () => {
    const { cluster, dns } = zone();
    expect(data(dns.answer(query('search.default.svc.cluster.local', DnsType.A)))).toEqual([
      { kind: 'name', target: 'search.example.com' },
    ]);
    expect(data(dns.answer(query('10-233-64-7.default.pod.cluster.local', DnsType.A)))).toEqual([
      { kind: 'A', address: '10.233.64.7' },
    ]);
    const cip = cluster.getService('myweb-svc-np')?.spec?.clusterIP ?? '';
    const rev = `${cip.split('.').reverse().join('.')}.in-addr.arpa`;
    expect(data(dns.answer(query(rev, DnsType.PTR)))).toEqual([
      { kind: 'name', target: 'myweb-svc-np.default.svc.cluster.local' },
    ]);
  });

  it('gives names outside its zones SERVFAIL (no upstream is simulated)', () => {
    const { dns } = zone();
    const m = dns.answer(query('example.com', DnsType.A));
    expect(m.flags.rcode).toBe(DnsRcode.SERVFAIL);
    expect(m.flags.aa).toBe(false);
  });

  it('echoes the client OPT record and truncates over UDP at 512 bytes without EDNS0 (TC set), not over TCP', () => {
    const many = Array.from(
      { length: 40 },
      (_, i) => `
---
apiVersion: v1
kind: Pod
metadata: {name: big-${i}, labels: {app: big}}
spec: {containers: [{name: c, image: go-myweb:1.0}]}`,
    ).join('');
    const svc = `
---
apiVersion: v1
kind: Service
metadata: {name: big}
spec: {clusterIP: None, selector: {app: big}, ports: [{port: 80}]}`;
    const { cluster } = loadManifests(originScenarioYaml + many + svc);
    const dns = new CoreDnsZone(cluster);
    const name = 'big.default.svc.cluster.local';
    const udp = decodeDnsMessage(dns.reply(query(name, DnsType.A), 'udp'));
    expect(udp.flags.tc).toBe(true);
    expect(dns.reply(query(name, DnsType.A), 'udp').length).toBeLessThanOrEqual(512);
    const tcp = decodeDnsMessage(dns.reply(query(name, DnsType.A), 'tcp'));
    expect(tcp.flags.tc).toBe(false);
    expect(tcp.answers).toHaveLength(40);
    const edns = decodeDnsMessage(dns.reply(query(name, DnsType.A, 1232), 'udp'));
    expect(edns.flags.tc).toBe(false);
    expect(edns.additionals.at(-1)).toMatchObject({ type: DnsType.OPT, class: 1232 });
  });
});
