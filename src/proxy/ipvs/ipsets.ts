/**
 * The ipsets kube-proxy's IPVS mode keeps (pkg/proxy/ipvs/ipset.go, proxier.go `ipsetInfo`):
 * names, types, comments, the entry text forms (`utilipset.Entry.String()`), and a
 * membership test for `-m set --match-set NAME dirs` so an iptables evaluator can use them.
 */
import { NOT_FOUND, PairMap } from '../../maps/pair-map.js';
import { type Cidr, cidrContains, parseIPv4, prefixMask } from '../../util/ipv4.js';
import { ipv6Bytes, isIPv6Text, parseCidr6 } from '../../util/ipv6.js';
import type { Ipv6AddressLookup } from '../common/ipv6-lookup.js';
import type { PacketMeta } from '../common/packet-meta.js';
import type { IpsetLookup } from '../iptables/evaluate.js';

export type IpsetType = 'hash:ip' | 'hash:ip,port' | 'hash:ip,port,ip' | 'hash:ip,port,net' | 'bitmap:port';

export interface IpsetSpec {
  readonly name: string;
  readonly type: IpsetType;
  readonly comment: string;
}

/** In kube-proxy's `ipsetInfo` order. */
export const KUBE_IPSETS: readonly IpsetSpec[] = [
  {
    name: 'KUBE-LOOP-BACK',
    type: 'hash:ip,port,ip',
    comment: 'Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose',
  },
  {
    name: 'KUBE-CLUSTER-IP',
    type: 'hash:ip,port',
    comment: 'Kubernetes service cluster ip + port for masquerade purpose',
  },
  {
    name: 'KUBE-EXTERNAL-IP',
    type: 'hash:ip,port',
    comment: 'Kubernetes service external ip + port for masquerade and filter purpose',
  },
  {
    name: 'KUBE-EXTERNAL-IP-LOCAL',
    type: 'hash:ip,port',
    comment: 'Kubernetes service external ip + port with externalTrafficPolicy=local',
  },
  { name: 'KUBE-LOAD-BALANCER', type: 'hash:ip,port', comment: 'Kubernetes service lb portal' },
  {
    name: 'KUBE-LOAD-BALANCER-FW',
    type: 'hash:ip,port',
    comment: 'Kubernetes service load balancer ip + port for load balancer with sourceRange',
  },
  {
    name: 'KUBE-LOAD-BALANCER-LOCAL',
    type: 'hash:ip,port',
    comment: 'Kubernetes service load balancer ip + port with externalTrafficPolicy=local',
  },
  {
    name: 'KUBE-LOAD-BALANCER-SOURCE-IP',
    type: 'hash:ip,port,ip',
    comment: 'Kubernetes service load balancer ip + port + source IP for packet filter purpose',
  },
  {
    name: 'KUBE-LOAD-BALANCER-SOURCE-CIDR',
    type: 'hash:ip,port,net',
    comment: 'Kubernetes service load balancer ip + port + source cidr for packet filter purpose',
  },
  {
    name: 'KUBE-NODE-PORT-TCP',
    type: 'bitmap:port',
    comment: 'Kubernetes nodeport TCP port for masquerade purpose',
  },
  {
    name: 'KUBE-NODE-PORT-LOCAL-TCP',
    type: 'bitmap:port',
    comment: 'Kubernetes nodeport TCP port with externalTrafficPolicy=local',
  },
  {
    name: 'KUBE-NODE-PORT-UDP',
    type: 'bitmap:port',
    comment: 'Kubernetes nodeport UDP port for masquerade purpose',
  },
  {
    name: 'KUBE-NODE-PORT-LOCAL-UDP',
    type: 'bitmap:port',
    comment: 'Kubernetes nodeport UDP port with externalTrafficPolicy=local',
  },
  {
    name: 'KUBE-NODE-PORT-SCTP-HASH',
    type: 'hash:ip,port',
    comment: "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
  },
  {
    name: 'KUBE-NODE-PORT-LOCAL-SCTP-HASH',
    type: 'hash:ip,port',
    comment: "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
  },
  { name: 'KUBE-HEALTH-CHECK-NODE-PORT', type: 'bitmap:port', comment: 'Kubernetes health check node port' },
  { name: 'KUBE-IPVS-IPS', type: 'hash:ip', comment: 'Addresses on the ipvs interface' },
];

/** An ipset's address family (`family inet` / `family inet6` in `ipset list`). */
export type IpsetFamily = 'inet' | 'inet6';

/**
 * The name a set has in the kernel. kube-proxy's IPv6 proxier renames "KUBE-" to "KUBE-6-"
 * so both families' sets coexist on a dual-stack node, cut to ipset's 31 characters
 * (pkg/proxy/ipvs/ipset.go NewIPSet): KUBE-6-LOAD-BALANCER-SOURCE-CID.
 */
export function ipsetKernelName(name: string, family: IpsetFamily): string {
  if (family === 'inet' || !name.startsWith('KUBE-')) return name;
  return `KUBE-6-${name.slice('KUBE-'.length)}`.slice(0, 31);
}

export class IpsetError extends Error {
  override name = 'IpsetError';
}

export function ipsetSpec(name: string): IpsetSpec {
  const spec = KUBE_IPSETS.find((s) => s.name === name);
  if (spec === undefined) throw new IpsetError(`unknown ipset ${name}`);
  return spec;
}

/** Lower-case protocol as ipset entries spell it. */
export function ipsetProto(protocol: string): string {
  return protocol.toLowerCase();
}

const PROTO_NUM: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };

/** Per set: member entries (strings, as kube-proxy writes them) and a numeric index for tests. */
export class IpsetMembers {
  readonly entries = new Set<string>();
  /**
   * hash:ip → (addr, 0); hash:ip,port → (addr, protoPort); hash:ip,port,ip → (addr, protoPort)
   * gives an id, then (id, ip2); bitmap:port → port. Typed-array pair maps, so a packet's
   * test costs one or two probes and no allocation, whatever the set's size.
   */
  private readonly pairs = new PairMap();
  private readonly thirdIp = new PairMap();
  private readonly ports = new Set<number>();
  /** hash:ip,port,net: the nets of each (addr, protoPort); an inet6 set's are 16-byte prefixes. */
  private readonly ipPortNet = new Map<number, Map<number, Cidr[]>>();
  private readonly ipPortNet6 = new Map<number, Map<number, Prefix6[]>>();

  /**
   * An inet6 set's entries are checked and kept as text for listings; given `ipv6` (the
   * network's address table, src/topology/ipv6-address-table.ts) they are also indexed by the
   * address-table indices the IPv6 datapath's packets carry, so `test` answers for them.
   */
  constructor(
    readonly spec: IpsetSpec,
    readonly family: IpsetFamily = 'inet',
    private readonly ipv6?: Ipv6AddressLookup,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Adds an entry in kube-proxy's text form; throws IpsetError when it does not fit the type. */
  add(entry: string): void {
    if (this.entries.has(entry)) return;
    const bad = (): IpsetError =>
      new IpsetError(`invalid entry "${entry}" for ${this.spec.name} (${this.spec.type})`);
    if (this.family === 'inet6') {
      checkIPv6Entry(this.spec.type, entry, bad);
      if (this.ipv6 !== undefined) this.index(entry, (a) => this.ipv6!.internText(a), bad);
    } else this.index(entry, parseIPv4, bad);
    this.entries.add(entry);
  }

  /** Files the entry in the lookup tables, its addresses as the numbers packets carry (`key`). */
  private index(entry: string, key: (addr: string) => number, bad: () => IpsetError): void {
    switch (this.spec.type) {
      case 'hash:ip':
        this.pairs.set(key(entry), 0, 1);
        return;
      case 'bitmap:port': {
        if (!/^\d+$/.test(entry) || +entry > 65535) throw bad();
        this.ports.add(+entry);
        return;
      }
      default: {
        const parts = entry.split(',');
        const m = /^(tcp|udp|sctp):(\d+)$/.exec(parts[1] ?? '');
        if (m === null || +m[2] > 65535) throw bad();
        const addr = key(parts[0]);
        const pp = protoPort(PROTO_NUM[m[1]], +m[2]);
        if (this.spec.type === 'hash:ip,port') {
          if (parts.length !== 2) throw bad();
          this.pairs.set(addr, pp, 1);
        } else if (this.spec.type === 'hash:ip,port,ip') {
          if (parts.length !== 3) throw bad();
          let id = this.pairs.get(addr, pp);
          if (id === NOT_FOUND) {
            id = this.pairs.size;
            this.pairs.set(addr, pp, id);
          }
          this.thirdIp.set(id, key(parts[2]), 1);
        } else {
          if (parts.length !== 3) throw bad();
          if (this.family === 'inet6') {
            const c = parseCidr6(parts[2]);
            getOr(
              getOr(this.ipPortNet6, addr, () => new Map()),
              pp,
              () => [] as Prefix6[],
            ).push({
              bytes: ipv6Bytes(c.network),
              prefixLength: c.prefixLength,
            });
          } else
            getOr(
              getOr(this.ipPortNet, addr, () => new Map()),
              pp,
              () => [] as Cidr[],
            ).push(parseNet(parts[2]));
        }
      }
    }
  }

  /**
   * `-m set --match-set` test with the packet fields the direction flags pick: `ip` and
   * `port` are the first two dimensions (dst,dst → daddr, dport), `ip2` the third.
   */
  test(ip: number, proto: number, port: number, ip2: number): boolean {
    if (this.family === 'inet6' && this.ipv6 === undefined)
      throw new IpsetError(`${this.spec.name}: an inet6 set's membership needs the IPv6 address table`);
    switch (this.spec.type) {
      case 'hash:ip':
        return this.pairs.get(ip, 0) !== NOT_FOUND;
      case 'bitmap:port':
        return this.ports.has(port);
      case 'hash:ip,port':
        return this.pairs.get(ip, protoPort(proto, port)) !== NOT_FOUND;
      case 'hash:ip,port,ip': {
        const id = this.pairs.get(ip, protoPort(proto, port));
        return id !== NOT_FOUND && this.thirdIp.get(id, ip2) !== NOT_FOUND;
      }
      case 'hash:ip,port,net': {
        if (this.ipv6 !== undefined) {
          const nets6 = this.ipPortNet6.get(ip)?.get(protoPort(proto, port));
          if (nets6 === undefined) return false;
          for (const n of nets6) if (this.ipv6.inPrefix(ip2, n.bytes, 0, n.prefixLength)) return true;
          return false;
        }
        const nets = this.ipPortNet.get(ip >>> 0)?.get(protoPort(proto, port));
        if (nets === undefined) return false;
        for (const n of nets) if (cidrContains(n, ip2 >>> 0)) return true;
        return false;
      }
    }
  }

  /** The same inet6 set indexed over `ipv6` (the set itself when there is none to index by). */
  indexedBy(ipv6: Ipv6AddressLookup | undefined): IpsetMembers {
    if (ipv6 === undefined) return this;
    const indexed = new IpsetMembers(this.spec, this.family, ipv6);
    for (const e of this.entries) indexed.add(e);
    return indexed;
  }

  /** Entries sorted for display (numerically for bitmap:port, as text otherwise). */
  sortedEntries(): string[] {
    const list = [...this.entries];
    if (this.spec.type === 'bitmap:port') return list.sort((a, b) => +a - +b);
    return list.sort();
  }
}

/** An inet6 set's entry in kube-proxy's text form, checked against the set type. */
function checkIPv6Entry(type: IpsetType, entry: string, bad: () => IpsetError): void {
  const parts = entry.split(',');
  if (type === 'bitmap:port') {
    if (!/^\d+$/.test(entry) || +entry > 65535) throw bad();
    return;
  }
  if (!isIPv6Text(parts[0])) throw bad();
  const dims = type === 'hash:ip' ? 1 : type === 'hash:ip,port' ? 2 : 3;
  if (parts.length !== dims) throw bad();
  if (dims >= 2) {
    const m = /^(tcp|udp|sctp):(\d+)$/.exec(parts[1]);
    if (m === null || +m[2] > 65535) throw bad();
  }
  if (type === 'hash:ip,port,ip' && !isIPv6Text(parts[2])) throw bad();
  if (type === 'hash:ip,port,net') {
    try {
      parseCidr6(parts[2]);
    } catch {
      throw bad();
    }
  }
}

/** An IPv6 prefix of a hash:ip,port,net entry. */
interface Prefix6 {
  readonly bytes: Uint8Array;
  readonly prefixLength: number;
}

function protoPort(proto: number, port: number): number {
  return proto * 65536 + port;
}

function getOr<K, V>(m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) {
    v = make();
    m.set(k, v);
  }
  return v;
}

function parseNet(text: string): Cidr {
  const [a, l] = text.split('/');
  const len = l === undefined ? 32 : +l;
  if (!Number.isInteger(len) || len < 0 || len > 32) throw new IpsetError(`invalid net "${text}"`);
  return { network: (parseIPv4(a) & prefixMask(len)) >>> 0, prefixLength: len };
}

/** All of kube-proxy's sets for one node, by name. */
export class IpsetTable {
  /** Keyed by kube-proxy's (IPv4) set name; `kernelName` gives an IPv6 table's KUBE-6- names. */
  readonly sets = new Map<string, IpsetMembers>();

  constructor(readonly family: IpsetFamily = 'inet') {
    for (const spec of KUBE_IPSETS) this.sets.set(spec.name, new IpsetMembers(spec, family));
  }

  /** The set's name in the kernel, `ipset list` and `--match-set`. */
  kernelName(name: string): string {
    return ipsetKernelName(name, this.family);
  }

  get(name: string): IpsetMembers {
    const s = this.sets.get(name);
    if (s === undefined) throw new IpsetError(`unknown ipset ${name}`);
    return s;
  }

  isEmpty(name: string): boolean {
    return this.get(name).size === 0;
  }
}

/** How many dimensions (directions) each set type reads (ip_set_type.dimension). */
const DIMENSIONS: Readonly<Record<IpsetType, number>> = {
  'hash:ip': 1,
  'bitmap:port': 1,
  'hash:ip,port': 2,
  'hash:ip,port,ip': 3,
  'hash:ip,port,net': 3,
};

/**
 * `-m set` membership over one node's compiled sets, for the iptables evaluator: each
 * direction picks the packet's source or destination field for that dimension (address,
 * port, address), as the set type's kadt function does.
 */
export class IpsetMatcher implements IpsetLookup {
  private readonly members: IpsetMembers[];
  private readonly ids = new Map<string, number>();
  private readonly dims: Uint8Array;
  private readonly isPortBitmap: Uint8Array;

  /**
   * An inet6 table's sets are re-indexed over `ipv6`, the network's IPv6 address table (the
   * IPv6 datapath's packets carry its indices); their kernel names (KUBE-6-…) answer too.
   */
  constructor(table: IpsetTable, ipv6?: Ipv6AddressLookup) {
    this.members = [...table.sets.values()].map((m) => (m.family === 'inet6' ? m.indexedBy(ipv6) : m));
    for (let i = 0; i < this.members.length; i++) {
      this.ids.set(this.members[i].spec.name, i);
      this.ids.set(table.kernelName(this.members[i].spec.name), i);
    }
    this.dims = Uint8Array.from(this.members, (m) => DIMENSIONS[m.spec.type]);
    this.isPortBitmap = Uint8Array.from(this.members, (m) => (m.spec.type === 'bitmap:port' ? 1 : 0));
  }

  setId(name: string): number {
    return this.ids.get(name) ?? -1;
  }

  test(id: number, dirs: number, dstFlags: number, meta: PacketMeta): boolean {
    // ip_set_test: a match giving fewer directions than the set's dimension never matches.
    if (dirs < this.dims[id]) return false;
    const set = this.members[id];
    if (this.isPortBitmap[id] === 1)
      return set.test(0, meta.proto, dstFlags & 1 ? meta.dport : meta.sport, 0);
    const ip = dstFlags & 1 ? meta.daddr : meta.saddr;
    const port = dstFlags & 2 ? meta.dport : meta.sport;
    const ip2 = dstFlags & 4 ? meta.daddr : meta.saddr;
    return set.test(ip, meta.proto, port, ip2);
  }
}
