/**
 * What CoreDNS answers in a kubespray cluster, whose Corefile serves
 * `kubernetes cluster.local in-addr.arpa ip6.arpa { pods insecure; fallthrough in-addr.arpa ip6.arpa }`
 * and forwards everything else to the node's resolvers. Records follow the Kubernetes
 * DNS-based service discovery specification as CoreDNS's kubernetes plugin implements it:
 *
 *   svc.ns.svc.cluster.local          A/AAAA: the ClusterIP(s); headless: one per ready endpoint;
 *                                     ExternalName: a CNAME to the external name
 *   host.svc.ns.svc.cluster.local     the endpoint publishing that hostname (StatefulSet pods), or
 *                                     whose address, dashed (10-233-64-5), is `host`
 *   _port._proto.svc.ns.svc.cluster.local  SRV per named port (one per endpoint when headless),
 *                                     with the targets' A records as additionals
 *   a-b-c-d.ns.pod.cluster.local      A a.b.c.d (`pods insecure`: not checked against pods);
 *                                     IPv6 with colons as dashes (fd00--1.ns.pod…) AAAA fd00::1
 *   d.c.b.a.in-addr.arpa              PTR to the Service (ClusterIP) or endpoint name owning it;
 *   (32 nibbles).ip6.arpa             the same for IPv6 addresses (a dual-stack Service's second
 *                                     ClusterIP, a headless Service's IPv6 endpoints)
 *
 * On a dual-stack cluster a Service's name has an A record per IPv4 and an AAAA record per
 * IPv6 ClusterIP (a headless one per ready endpoint of each family's EndpointSlices), and SRV
 * targets carry A or AAAA additionals as their addresses are.
 *
 * A name in the zone that does not exist is NXDOMAIN, an existing name without the asked type
 * NODATA; both carry the zone's SOA (`ns.dns.cluster.local. hostmaster.cluster.local.`) in the
 * authority section. Names CoreDNS would forward upstream get SERVFAIL: no upstream resolver
 * is simulated. The kubernetes plugin's TTL is 5 s; the `cache` and `loadbalance` plugins (which
 * would shuffle the A records) are not modelled: records come in address order.
 *
 * The server's sockets live in server.ts; this file only maps a query to a reply.
 */
import type { Cluster } from '../k8s/cluster.js';
import { isIPv4, parseIPv4 } from '../util/ipv4.js';
import { formatIPv6, isIPv6Text, parseIPv6 } from '../util/ipv6.js';
import {
  canonicalName,
  DNS_CLASS_IN,
  type DnsMessage,
  DnsRcode,
  type DnsRecord,
  DnsType,
  dnsOptRecord,
  emptyFlags,
  encodeDnsMessage,
} from '../wire/dns.js';

export const CLUSTER_DOMAIN = 'cluster.local';
/** The kubernetes plugin's default TTL (`ttl` option unset). */
export const KUBERNETES_TTL = 5;
/** A DNS message over UDP without EDNS0 (RFC 1035 §4.2.1). */
export const UDP_LIMIT_WITHOUT_EDNS = 512;

export type DnsTransportKind = 'udp' | 'tcp';

interface Found {
  readonly rcode: number;
  readonly answers: DnsRecord[];
  readonly additionals: DnsRecord[];
  /** True for names outside CoreDNS's zones (would be forwarded). */
  readonly forwarded?: boolean;
}

const NXDOMAIN: Found = { rcode: DnsRcode.NXDOMAIN, answers: [], additionals: [] };
const NODATA: Found = { rcode: DnsRcode.NOERROR, answers: [], additionals: [] };

/** CoreDNS's kubernetes plugin over one cluster's Services, EndpointSlices and pods. */
export class CoreDnsZone {
  constructor(
    private readonly cluster: Cluster,
    readonly domain: string = CLUSTER_DOMAIN,
  ) {}

  /**
   * The reply to one query as it goes on the wire: over UDP cut to 512 bytes without EDNS0
   * (or to the client's advertised size with it) with the TC bit set when records had to go.
   */
  reply(query: DnsMessage, transport: DnsTransportKind): Uint8Array {
    const reply = this.answer(query);
    const bytes = encodeDnsMessage(reply);
    if (transport === 'tcp') return bytes;
    const opt = dnsOptRecord(query);
    const limit = opt === undefined ? UDP_LIMIT_WITHOUT_EDNS : Math.max(UDP_LIMIT_WITHOUT_EDNS, opt.class);
    if (bytes.length <= limit) return bytes;
    return encodeDnsMessage(truncate(reply, limit));
  }

  /** The reply message (before any truncation). */
  answer(query: DnsMessage): DnsMessage {
    const flags = {
      ...emptyFlags(),
      qr: true,
      opcode: query.flags.opcode,
      rd: query.flags.rd,
      cd: query.flags.cd,
    };
    const reply: DnsMessage = {
      id: query.id,
      flags,
      questions: query.questions.map((q) => ({ ...q })),
      answers: [],
      authorities: [],
      additionals: [],
    };
    const opt = dnsOptRecord(query);
    // CoreDNS reuses the client's OPT record (its options — dig's cookie — come back echoed), flags cleared but DO.
    if (opt !== undefined) reply.additionals.push({ ...opt, name: '', ttl: opt.ttl & 0x8000 });
    if (query.flags.opcode !== 0) {
      flags.rcode = DnsRcode.NOTIMP;
      return reply;
    }
    if (query.questions.length !== 1 || query.questions[0].class !== DNS_CLASS_IN) {
      flags.rcode = DnsRcode.FORMERR;
      return reply;
    }
    const q = query.questions[0];
    const found = this.lookup(q.name, q.type);
    flags.rcode = found.rcode;
    if (found.forwarded) {
      flags.ra = true;
      return reply;
    }
    flags.aa = true;
    reply.answers = found.answers;
    reply.additionals = [...found.additionals, ...reply.additionals];
    if (found.answers.length === 0) reply.authorities = [this.soa(this.zoneOf(q.name))];
    return reply;
  }

  /** The zone's SOA, as the kubernetes plugin builds it (serial: the cluster's clock, in seconds). */
  soa(zone: string): DnsRecord {
    return {
      name: zone,
      type: DnsType.SOA,
      class: DNS_CLASS_IN,
      ttl: KUBERNETES_TTL,
      data: {
        kind: 'SOA',
        mname: `ns.dns.${zone}`,
        rname: `hostmaster.${zone}`,
        serial: Math.floor(this.cluster.now() / 1000) >>> 0,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: KUBERNETES_TTL,
      },
    };
  }

  private zoneOf(name: string): string {
    const n = canonicalName(name);
    if (n.endsWith('in-addr.arpa')) return 'in-addr.arpa';
    if (n.endsWith('ip6.arpa')) return 'ip6.arpa';
    return this.domain;
  }

  lookup(name: string, type: number): Found {
    const n = canonicalName(name);
    const domain = this.domain;
    if (n === domain || n.endsWith(`.${domain}`)) {
      const rel = n === domain ? [] : n.slice(0, -domain.length - 1).split('.');
      return this.inCluster(name, rel, type);
    }
    if (n.endsWith('.in-addr.arpa')) return this.reverse(name, n, type);
    if (n.endsWith('.ip6.arpa')) return this.reverse6(name, n, type);
    return { rcode: DnsRcode.SERVFAIL, answers: [], additionals: [], forwarded: true };
  }

  private inCluster(owner: string, rel: string[], type: number): Found {
    if (rel.length === 0)
      return type === DnsType.SOA ? { ...NODATA, answers: [this.soa(this.domain)] } : NODATA;
    const kind = rel[rel.length - 1];
    if (kind === 'svc') return this.serviceName(owner, rel.slice(0, -1), type);
    if (kind === 'pod') return this.podName(owner, rel.slice(0, -1), type);
    return NXDOMAIN;
  }

  private namespaceExists(ns: string): boolean {
    return this.cluster.namespaces().some((n) => n.metadata?.name === ns);
  }

  /** `rel`: the labels left of `svc.cluster.local`, e.g. [web-0, nginx, default]. */
  private serviceName(owner: string, rel: string[], type: number): Found {
    if (rel.length === 0) return NODATA;
    if (rel.length === 1) return this.namespaceExists(rel[0]) ? NODATA : NXDOMAIN;
    const ns = rel[rel.length - 1];
    const svcName = rel[rel.length - 2];
    const svc = this.cluster.getService(svcName, ns);
    if (svc === undefined) return NXDOMAIN;
    const svcFqdn = `${svcName}.${ns}.svc.${this.domain}`;
    if (rel.length === 2) return this.serviceRecords(owner, svc, svcFqdn, type);
    if (rel.length === 3) return this.endpointRecords(owner, svc, svcFqdn, rel[0], type);
    if (rel.length === 4 && rel[0].startsWith('_') && rel[1].startsWith('_'))
      return this.srvRecords(owner, svc, svcFqdn, rel[0].slice(1), rel[1].slice(1), type);
    return NXDOMAIN;
  }

  private clusterIPs(svc: ReturnType<Cluster['getService']> & object): string[] {
    const ips = svc.spec?.clusterIPs ?? (svc.spec?.clusterIP !== undefined ? [svc.spec.clusterIP] : []);
    return ips.filter((ip) => ip !== '' && ip !== 'None');
  }

  /** Every ready endpoint address of the Service with the name CoreDNS gives it. */
  private endpoints(svc: ReturnType<Cluster['getService']> & object): { address: string; host: string }[] {
    const out: { address: string; host: string }[] = [];
    const seen = new Set<string>();
    for (const s of this.cluster.slicesOfService(svc))
      for (const e of s.endpoints) {
        if (e.conditions?.ready === false) continue;
        for (const a of e.addresses) {
          if (seen.has(a)) continue;
          seen.add(a);
          out.push({ address: a, host: e.hostname ?? dashed(a) });
        }
      }
    return out.sort((x, y) => addressOrder(x.address, y.address));
  }

  private serviceRecords(
    owner: string,
    svc: NonNullable<ReturnType<Cluster['getService']>>,
    fqdn: string,
    type: number,
  ): Found {
    if (svc.spec?.type === 'ExternalName') {
      if (type === DnsType.A || type === DnsType.AAAA || type === DnsType.CNAME || type === DnsType.ANY)
        return { ...NODATA, answers: [cname(owner, svc.spec.externalName ?? '')] };
      return NODATA;
    }
    if (type === DnsType.SRV) {
      const records: DnsRecord[] = [];
      const extra: DnsRecord[] = [];
      for (const p of svc.spec?.ports ?? []) {
        const r = this.srvRecords(
          owner,
          svc,
          fqdn,
          p.name ?? '',
          (p.protocol ?? 'TCP').toLowerCase(),
          type,
          p.name === undefined,
        );
        records.push(...r.answers);
        extra.push(...r.additionals);
      }
      return records.length === 0 ? NODATA : { ...NODATA, answers: records, additionals: dedupe(extra) };
    }
    const addresses =
      svc.spec?.clusterIP === 'None' ? this.endpoints(svc).map((e) => e.address) : this.clusterIPs(svc);
    if (svc.spec?.clusterIP === 'None' && addresses.length === 0) return NXDOMAIN;
    return { ...NODATA, answers: addressRecords(owner, addresses, type) };
  }

  private endpointRecords(
    owner: string,
    svc: NonNullable<ReturnType<Cluster['getService']>>,
    _fqdn: string,
    host: string,
    type: number,
  ): Found {
    const matches = this.endpoints(svc).filter((e) => e.host === host);
    if (matches.length === 0) return NXDOMAIN;
    return {
      ...NODATA,
      answers: addressRecords(
        owner,
        matches.map((e) => e.address),
        type,
      ),
    };
  }

  /** `_port._proto.svc.ns.svc.cluster.local` (or, from serviceRecords, every port). */
  private srvRecords(
    owner: string,
    svc: NonNullable<ReturnType<Cluster['getService']>>,
    fqdn: string,
    portName: string,
    proto: string,
    type: number,
    anyName = false,
  ): Found {
    const port = (svc.spec?.ports ?? []).find(
      (p) => (anyName || (p.name ?? '') === portName) && (p.protocol ?? 'TCP').toLowerCase() === proto,
    );
    if (port === undefined || svc.spec?.type === 'ExternalName') return NXDOMAIN;
    if (type !== DnsType.SRV && type !== DnsType.ANY) return NODATA;
    const headless = svc.spec?.clusterIP === 'None';
    if (!headless) {
      const target = fqdn;
      return {
        ...NODATA,
        answers: [srv(owner, 100, port.port, target)],
        additionals: addressRecords(target, this.clusterIPs(svc), DnsType.ANY),
      };
    }
    const eps = this.endpoints(svc);
    if (eps.length === 0) return NXDOMAIN;
    // CoreDNS: weights split 100 evenly between the records of one priority.
    const weight = Math.max(1, Math.floor(100 / eps.length));
    const portNumber = this.endpointPort(svc, port.name ?? '', port.port);
    return {
      ...NODATA,
      answers: eps.map((e) => srv(owner, weight, portNumber, `${e.host}.${fqdn}`)),
      additionals: eps.flatMap((e) => addressRecords(`${e.host}.${fqdn}`, [e.address], DnsType.ANY)),
    };
  }

  /** A headless Service's SRV port is the endpoints' (the target port), as its slices say. */
  private endpointPort(
    svc: NonNullable<ReturnType<Cluster['getService']>>,
    name: string,
    fallback: number,
  ): number {
    for (const s of this.cluster.slicesOfService(svc))
      for (const p of s.ports ?? []) if ((p.name ?? '') === name && p.port !== undefined) return p.port;
    return fallback;
  }

  /** `a-b-c-d.ns.pod.cluster.local` (pods insecure: any well-formed address answers). */
  private podName(owner: string, rel: string[], type: number): Found {
    if (rel.length === 1) return this.namespaceExists(rel[0]) ? NODATA : NXDOMAIN;
    if (rel.length !== 2) return NXDOMAIN;
    const ip4 = rel[0].replace(/-/g, '.');
    if (isIPv4(ip4)) return { ...NODATA, answers: addressRecords(owner, [ip4], type) };
    // An IPv6 pod name has the address's colons as dashes (fd85-ee78-d8a6-8607--1-2).
    const ip6 = rel[0].replace(/-/g, ':');
    if (!isIPv6Text(ip6)) return NXDOMAIN;
    return { ...NODATA, answers: addressRecords(owner, [formatIPv6(parseIPv6(ip6))], type) };
  }

  /** PTR for a ClusterIP or an endpoint address; anything else falls through upstream. */
  private reverse(owner: string, n: string, type: number): Found {
    const labels = n.slice(0, -'.in-addr.arpa'.length).split('.');
    const ip = labels.reverse().join('.');
    if (labels.length !== 4 || !isIPv4(ip)) return { ...NXDOMAIN, forwarded: true, rcode: DnsRcode.SERVFAIL };
    return this.ptrFor(owner, ip, type);
  }

  /** The ip6.arpa form: 32 nibbles, least significant first. */
  private reverse6(owner: string, n: string, type: number): Found {
    const nibbles = n.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x)))
      return { ...NXDOMAIN, forwarded: true, rcode: DnsRcode.SERVFAIL };
    const ip = formatIPv6(BigInt(`0x${nibbles.reverse().join('')}`));
    return this.ptrFor(owner, ip, type);
  }

  private ptrFor(owner: string, ip: string, type: number): Found {
    const names: string[] = [];
    for (const svc of this.cluster.services()) {
      const ns = svc.metadata?.namespace ?? 'default';
      const fqdn = `${svc.metadata?.name}.${ns}.svc.${this.domain}`;
      if (this.clusterIPs(svc).includes(ip)) names.push(fqdn);
      if (svc.spec?.clusterIP === 'None')
        for (const e of this.endpoints(svc)) if (e.address === ip) names.push(`${e.host}.${fqdn}`);
    }
    if (names.length === 0)
      return { rcode: DnsRcode.SERVFAIL, answers: [], additionals: [], forwarded: true };
    if (type !== DnsType.PTR && type !== DnsType.ANY) return NODATA;
    return {
      ...NODATA,
      answers: [...new Set(names)].map((t) => ({
        name: owner,
        type: DnsType.PTR,
        class: DNS_CLASS_IN,
        ttl: KUBERNETES_TTL,
        data: { kind: 'name' as const, target: t },
      })),
    };
  }
}

function dashed(address: string): string {
  return address.replace(/[.:]/g, '-');
}

/** IPv4 addresses first, each family in numeric order. */
function addressOrder(a: string, b: string): number {
  const a4 = isIPv4(a);
  const b4 = isIPv4(b);
  if (a4 && b4) return parseIPv4(a) - parseIPv4(b);
  if (a4 !== b4) return a4 ? -1 : 1;
  if (isIPv6Text(a) && isIPv6Text(b)) {
    const x = parseIPv6(a);
    const y = parseIPv6(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A records for the IPv4 addresses (AAAA for the IPv6 ones), per the asked type. */
function addressRecords(owner: string, addresses: readonly string[], type: number): DnsRecord[] {
  const out: DnsRecord[] = [];
  for (const a of addresses) {
    const v6 = a.includes(':');
    if (!v6 && (type === DnsType.A || type === DnsType.ANY))
      out.push({
        name: owner,
        type: DnsType.A,
        class: DNS_CLASS_IN,
        ttl: KUBERNETES_TTL,
        data: { kind: 'A', address: a },
      });
    if (v6 && (type === DnsType.AAAA || type === DnsType.ANY))
      out.push({
        name: owner,
        type: DnsType.AAAA,
        class: DNS_CLASS_IN,
        ttl: KUBERNETES_TTL,
        data: { kind: 'AAAA', address: a },
      });
  }
  return out;
}

function cname(owner: string, target: string): DnsRecord {
  return {
    name: owner,
    type: DnsType.CNAME,
    class: DNS_CLASS_IN,
    ttl: KUBERNETES_TTL,
    data: { kind: 'name', target },
  };
}

function srv(owner: string, weight: number, port: number, target: string): DnsRecord {
  return {
    name: owner,
    type: DnsType.SRV,
    class: DNS_CLASS_IN,
    ttl: KUBERNETES_TTL,
    data: { kind: 'SRV', priority: 0, weight, port, target },
  };
}

function dedupe(records: DnsRecord[]): DnsRecord[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    const key = JSON.stringify([r.name, r.type, r.data]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * miekg/dns's Msg.Truncate, as CoreDNS applies it: keep the OPT record, drop additionals, then
 * answers from the end until the message fits, and set TC when an answer had to go.
 */
export function truncate(m: DnsMessage, limit: number): DnsMessage {
  const opt = dnsOptRecord(m);
  const out: DnsMessage = {
    ...m,
    flags: { ...m.flags },
    additionals: opt === undefined ? [] : [opt],
    authorities: [],
  };
  const answers = [...m.answers];
  out.answers = answers;
  while (answers.length > 0 && encodeDnsMessage(out).length > limit) answers.pop();
  out.flags.tc = answers.length < m.answers.length;
  if (!out.flags.tc && m.authorities.length > 0) {
    out.authorities = [...m.authorities];
    if (encodeDnsMessage(out).length > limit) out.authorities = [];
  }
  return out;
}
