/** The pods' glibc-like resolver and dig, against CoreDNS over a loopback network. */
import { describe, expect, it } from 'vitest';
import { CoreDnsZone } from '../../src/dns/coredns.js';
import { type DigResult, runDig } from '../../src/dns/dig.js';
import { formatResolvConf, podResolvConf, type ResolvConf } from '../../src/dns/resolv-conf.js';
import { DnsServer } from '../../src/dns/server.js';
import { getaddrinfo, type LookupOutcome } from '../../src/dns/stub-resolver.js';
import { loadManifests, originScenarioYaml } from '../../src/k8s/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { DnsType, decodeDnsMessage } from '../../src/wire/dns.js';
import { FakeDnsNet } from './fake-net.js';

const DNS_IP = '10.233.0.3';
const BIG = Array.from(
  { length: 40 },
  (_, i) => `
---
apiVersion: v1
kind: Pod
metadata: {name: big-${i}, labels: {app: big}}
spec: {containers: [{name: c, image: go-myweb:1.0}]}`,
).join('');
const BIG_SVC = `
---
apiVersion: v1
kind: Service
metadata: {name: big}
spec: {clusterIP: None, selector: {app: big}, ports: [{port: 80}]}`;

function setup(options: { serve?: boolean } = {}) {
  const { cluster } = loadManifests(originScenarioYaml + BIG + BIG_SVC);
  const f = new FakeDnsNet();
  const server = f.host('coredns', DNS_IP);
  const client = f.host('pod', '10.233.64.9');
  const dns = new DnsServer('coredns', new CoreDnsZone(cluster));
  if (options.serve !== false) dns.start(server.udp, server.tcp);
  const pod = cluster.pods().find((p) => p.metadata?.name?.startsWith('myweb-rs-'))!;
  const conf = podResolvConf(pod, { clusterDNS: DNS_IP, clusterDomain: 'cluster.local' });
  return { cluster, f, client, conf, dns };
}

function lookup(s: ReturnType<typeof setup>, name: string, conf: ResolvConf = s.conf): LookupOutcome {
  let out: LookupOutcome | undefined;
  getaddrinfo(s.client, conf, name, 'unspec', (o) => {
    out = o;
  });
  s.f.run();
  if (out === undefined) throw new Error('lookup never finished');
  return out;
}

const queries = (s: ReturnType<typeof setup>) =>
  s.f.sent
    .filter((d) => d.dport === 53)
    .map((d) => {
      const q = decodeDnsMessage(d.payload).questions[0];
      return { name: q.name, type: q.type, sport: d.sport, atNs: d.atNs };
    });

describe('kubelet resolv.conf', () => {
  it('writes ClusterFirst with the namespace search list, ndots:5, and merges dnsConfig options', () => {
    const s = setup();
    expect(formatResolvConf(s.conf)).toBe(
      'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.233.0.3\noptions ndots:5\n',
    );
    const conf = podResolvConf(
      {
        metadata: { namespace: 'shop' },
        spec: {
          containers: [],
          dnsConfig: { options: [{ name: 'ndots', value: '2' }, { name: 'single-request-reopen' }] },
        },
      },
      { clusterDNS: DNS_IP, clusterDomain: 'cluster.local' },
    );
    expect(formatResolvConf(conf)).toBe(
      'search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.233.0.3\noptions ndots:2 single-request-reopen\n',
    );
  });
});

describe('glibc-like stub resolver', () => {
  it('resolves a bare Service name on the first search domain, A and AAAA from one source port', () => {
    const s = setup();
    const out = lookup(s, 'myweb-svc-np');
    expect(out.ok && out.addresses).toEqual([s.cluster.getService('myweb-svc-np')?.spec?.clusterIP]);
    const q = queries(s);
    expect(q.map((x) => [x.name, x.type])).toEqual([
      ['myweb-svc-np.default.svc.cluster.local', DnsType.A],
      ['myweb-svc-np.default.svc.cluster.local', DnsType.AAAA],
    ]);
    expect(q[0].sport).toBe(q[1].sport);
    expect(q[1].atNs).toBe(q[0].atNs);
    expect(out.elapsedNs).toBeLessThan(1e6);
  });

  it('walks the search list with ndots:5: NXDOMAIN on default.svc.cluster.local, then the svc.cluster.local name answers', () => {
    const s = setup();
    const out = lookup(s, 'myweb-svc-np.default');
    expect(out.ok && out.name).toBe('myweb-svc-np.default.svc.cluster.local');
    expect([...new Set(queries(s).map((x) => x.name))]).toEqual([
      'myweb-svc-np.default.default.svc.cluster.local',
      'myweb-svc-np.default.svc.cluster.local',
    ]);
  });

  it('fails with EAI_NONAME after every candidate is NXDOMAIN, the absolute name last', () => {
    const s = setup();
    const out = lookup(s, 'nosuch');
    expect(out.ok).toBe(false);
    expect(!out.ok && out.error).toBe('EAI_AGAIN'); // the bare name goes upstream: SERVFAIL (none simulated)
    expect([...new Set(queries(s).map((x) => x.name))]).toEqual([
      'nosuch.default.svc.cluster.local',
      'nosuch.svc.cluster.local',
      'nosuch.cluster.local',
      'nosuch',
    ]);
  });

  it('waits the 5 s timeout when one of the two parallel replies is lost, then retries one query at a time', () => {
    const s = setup();
    let dropped = false;
    s.f.dropIf = (d) => {
      if (dropped || d.sport !== 53) return false;
      const m = decodeDnsMessage(d.payload);
      if (m.questions[0].type !== DnsType.AAAA) return false;
      dropped = true;
      return true;
    };
    const out = lookup(s, 'myweb-svc-np');
    expect(out.ok).toBe(true);
    expect(out.elapsedNs).toBeGreaterThanOrEqual(5e9);
    expect(out.elapsedNs).toBeLessThan(5.01e9);
    expect(out.log.join('\n')).toMatch(
      /timeout after 5 s with 1 of 2 replies\n.*switching to single-request/,
    );
    // The retry: A, then AAAA only after A's reply (not at the same instant).
    const retry = queries(s).slice(2);
    expect(retry.map((x) => x.type)).toEqual([DnsType.A, DnsType.AAAA]);
    expect(retry[1].atNs).toBeGreaterThan(retry[0].atNs);
  });

  it('with single-request-reopen sends AAAA only after the A reply, from a new source port', () => {
    const s = setup();
    const out = lookup(s, 'myweb-svc-np', { ...s.conf, singleRequestReopen: true });
    expect(out.ok).toBe(true);
    const q = queries(s);
    expect(q.map((x) => x.type)).toEqual([DnsType.A, DnsType.AAAA]);
    expect(q[1].sport).not.toBe(q[0].sport);
    expect(q[1].atNs).toBeGreaterThan(q[0].atNs);
  });

  it('retries over TCP when the UDP reply is truncated, and gets every address', () => {
    const s = setup();
    const out = lookup(s, 'big');
    expect(out.ok && out.addresses.length).toBe(40);
    expect(out.log.join('\n')).toMatch(/truncated: retrying over TCP/);
    expect(s.dns.stats.tcp).toBe(2);
  });

  it('gives up at once on ECONNREFUSED (no DNS server bound), and after attempts × timeout on silence', () => {
    const refused = setup({ serve: false });
    const r = lookup(refused, 'myweb-svc-np');
    expect(r.ok).toBe(false);
    expect(r.elapsedNs).toBeLessThan(1e6);
    const silent = setup();
    silent.f.dropIf = () => true;
    const t = lookup(silent, 'myweb-svc-np');
    expect(!t.ok && t.error).toBe('EAI_AGAIN');
    expect(t.elapsedNs).toBe(10e9);
  });
});

function dig(
  s: ReturnType<typeof setup>,
  name: string,
  opts: Partial<Parameters<typeof runDig>[1]> = {},
): DigResult {
  let out: DigResult | undefined;
  runDig(
    s.client,
    {
      name,
      type: DnsType.A,
      server: parseIPv4(DNS_IP),
      serverGiven: false,
      tcp: false,
      short: false,
      tries: 3,
      timeoutS: 5,
      argv: [name],
      epochMs: Date.UTC(2026, 11, 7, 22, 30, 0),
      ...opts,
    },
    (r) => {
      out = r;
    },
  );
  s.f.run();
  if (out === undefined) throw new Error('dig never finished');
  return out;
}

describe('dig', () => {
  it('prints dig 9.18 output line for line for a Service A lookup', () => {
    const s = setup();
    const ip = s.cluster.getService('myweb-svc-np')?.spec?.clusterIP;
    const out = dig(s, 'myweb-svc-np.default.svc.cluster.local');
    expect(out.exitCode).toBe(0);
    const id = out.reply?.id;
    const cookie = out.stdout.match(/; COOKIE: ([0-9a-f]{16}) \(echoed\)/)?.[1];
    expect(cookie).toBeDefined();
    expect(out.stdout).toBe(
      [
        '',
        '; <<>> DiG 9.18.28-1~deb12u2-Debian <<>> myweb-svc-np.default.svc.cluster.local',
        ';; global options: +cmd',
        ';; Got answer:',
        `;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: ${id}`,
        ';; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1',
        ';; WARNING: recursion requested but not available',
        '',
        ';; OPT PSEUDOSECTION:',
        '; EDNS: version: 0, flags:; udp: 1232',
        `; COOKIE: ${cookie} (echoed)`,
        ';; QUESTION SECTION:',
        ';myweb-svc-np.default.svc.cluster.local.\tIN A',
        '',
        ';; ANSWER SECTION:',
        `myweb-svc-np.default.svc.cluster.local.\t5 IN A\t${ip}`,
        '',
        ';; Query time: 0 msec',
        ';; SERVER: 10.233.0.3#53(10.233.0.3) (UDP)',
        ';; WHEN: Mon Dec 07 22:30:00 UTC 2026',
        `;; MSG SIZE  rcvd: ${out.stdout.match(/rcvd: (\d+)/)?.[1]}`,
        '',
        '',
      ].join('\n'),
    );
    // 12 header + question 44 + answer 16 + OPT 11 + cookie option 12 = 95 bytes.
    expect(out.stdout).toContain(';; MSG SIZE  rcvd: 95\n');
  });

  it('shows NXDOMAIN with the SOA in the AUTHORITY SECTION in BIND column layout', () => {
    const s = setup();
    const out = dig(s, 'nope.default.svc.cluster.local');
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toContain('status: NXDOMAIN');
    expect(out.stdout).toMatch(
      /;; AUTHORITY SECTION:\ncluster\.local\.\t\t5\tIN\tSOA\tns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 7200 1800 86400 5\n/,
    );
  });

  it('+short prints just the addresses; +tcp says (TCP) on the SERVER line', () => {
    const s = setup();
    const ip = s.cluster.getService('myweb-svc-np')?.spec?.clusterIP;
    expect(dig(s, 'myweb-svc-np.default.svc.cluster.local', { short: true }).stdout).toBe(`${ip}\n`);
    const t = dig(s, 'myweb-svc-np.default.svc.cluster.local', { tcp: true });
    expect(t.stdout).toContain(';; SERVER: 10.233.0.3#53(10.233.0.3) (TCP)\n');
  });

  it('exits 9 after three timed-out tries (15 s), printing each communications error', () => {
    const s = setup();
    s.f.dropIf = () => true;
    const out = dig(s, 'myweb-svc-np.default.svc.cluster.local', {
      serverGiven: true,
      argv: ['@10.233.0.3', 'x'],
    });
    expect(out.exitCode).toBe(9);
    expect(out.elapsedNs).toBe(15e9);
    expect(out.stdout).toBe(
      `${';; communications error to 10.233.0.3#53: timed out\n'.repeat(3)}\n; <<>> DiG 9.18.28-1~deb12u2-Debian <<>> @10.233.0.3 x\n; (1 server found)\n;; global options: +cmd\n;; no servers could be reached\n\n`,
    );
  });

  it('honours its 1232-byte EDNS buffer: 40 A records come over UDP untruncated', () => {
    const s = setup();
    const out = dig(s, 'big.default.svc.cluster.local');
    // dig's 1232-byte EDNS buffer holds 40 A records: no truncation …
    expect(out.reply?.answers).toHaveLength(40);
    expect(out.stdout).not.toContain('Truncated');
  });
});
