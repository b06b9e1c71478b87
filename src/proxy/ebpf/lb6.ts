/**
 * A dual-stack node's IPv6 load-balancer maps, as Cilium writes them for the Services' IPv6
 * frontends: `cilium_lb6_services_v2` (lb6_key 24 B → lb6_service 12 B),
 * `cilium_lb6_backends_v3` (u32 backend_id → lb6_backend 24 B), `cilium_lb6_reverse_nat`
 * (u16 → lb6_reverse_nat 18 B, packed), `cilium_lb6_source_range` (lb6_src_range_key 24 B),
 * `cilium_lb6_maglev` and the empty `cilium_lb6_affinity` (lb6_affinity_key 24 B) — field
 * order and sizes from Cilium's bpf/lib/lb.h.
 *
 * The frontends follow the IPv4 compiler's rules (compile.ts: one frontend per address:port,
 * ClusterIP / NodePort on the node's IPv6 address / externalIPs / LB IPs, the EXT and INT
 * scopes of eTP=Local, affinity timeout and algorithm in the master slot's first word). Cilium
 * allocates service (rev-NAT) and backend IDs from one space for both families, so the IPv6
 * IDs continue after the node's IPv4 ones. This is the control-plane state, compiled and
 * printed; the IPv6 datapath does not read it (entries are listed in the order they were
 * written, not in the kernel's hash-bucket order).
 */

import { type Cidr6, ipv6Bytes, parseIPv6, prefixMask6 } from '../../util/ipv6.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import { categorizeEndpoints, externalPolicyLocal, internalPolicyLocal } from '../common/categorize.js';
import type { Endpoint, ProxyModel } from '../common/model.js';
import { EbpfCompileError, type FrontendKind, type LbAlgorithmName } from './compile.js';
import { BACKEND_STATE_NAMES, BackendState, LbAlgorithm, LbScope, SvcFlag, SvcFlag2 } from './layouts.js';
import {
  ciliumBackendKey,
  DEFAULT_MAGLEV_HASH_SEED,
  DEFAULT_MAGLEV_TABLE_SIZE,
  maglevLookupTable,
} from './maglev.js';
import { type MapDump, type MapEntryBytes, serviceFlagsString, tabwrite } from './render.js';

const PROTO_NUMBERS: Record<string, number> = {
  TCP: IpProtocol.TCP,
  UDP: IpProtocol.UDP,
  SCTP: IpProtocol.SCTP,
};

export interface Lb6Options {
  readonly algorithm?: LbAlgorithmName;
  readonly maglevTableSize?: number;
  readonly maglevHashSeed?: string;
  readonly externalClusterIP?: boolean;
  /** The first free service (rev-NAT) ID: one past the node's IPv4 frontends. */
  readonly firstRevNat?: number;
  /** The first free backend ID: one past the node's IPv4 backends. */
  readonly firstBackendId?: number;
}

export interface Lb6Backend {
  readonly id: number;
  readonly addr: string;
  readonly port: number;
  readonly proto: number;
  readonly state: BackendState;
}

export interface Lb6Frontend {
  readonly kind: FrontendKind;
  readonly servicePortName: string;
  readonly addr: string;
  readonly port: number;
  readonly proto: number;
  readonly flags: number;
  readonly flags2: number;
  readonly affinityTimeout: number;
  readonly revNat: number;
  readonly extBackendIds: readonly number[];
  /** The INT scope of a two-scope frontend, else null. */
  readonly intBackendIds: readonly number[] | null;
  readonly sourceRanges: readonly Cidr6[];
  /** Maglev lookup table (backend IDs), when the algorithm is maglev. */
  readonly maglev: Uint32Array | null;
}

export interface Lb6State {
  readonly node: string;
  readonly algorithm: LbAlgorithmName;
  readonly frontends: readonly Lb6Frontend[];
  /** By backend ID, in allocation order. */
  readonly backends: ReadonlyMap<number, Lb6Backend>;
}

/** Compiles the IPv6 frontends Cilium installs on `nodeName` from the IPv6 model. */
export function compileLb6(model: ProxyModel, nodeName: string, options: Lb6Options = {}): Lb6State {
  const node = model.nodes.find((n) => n.name === nodeName);
  if (node === undefined) throw new EbpfCompileError(`node "${nodeName}" is not in the model`);
  const algorithm = options.algorithm ?? 'random';
  let nextRevNat = options.firstRevNat ?? 1;
  let nextBackend = options.firstBackendId ?? 1;
  const backendIds = new Map<string, number>();
  const backends = new Map<number, Lb6Backend>();
  const frontends: Lb6Frontend[] = [];
  const seen = new Map<string, string>();

  const backendId = (e: Endpoint, proto: number, protocol: string): number => {
    const key = `[${e.ip}]:${e.port}/${protocol}`;
    let id = backendIds.get(key);
    if (id === undefined) {
      id = nextBackend++;
      backendIds.set(key, id);
      const state = e.ready ? BackendState.ACTIVE : BackendState.TERMINATING;
      backends.set(id, { id, addr: e.ip, port: e.port, proto, state });
    }
    return id;
  };

  for (const sp of model.servicePorts) {
    if (!sp.clusterIP.includes(':')) continue;
    const proto = PROTO_NUMBERS[sp.protocol];
    if (proto === undefined) throw new EbpfCompileError(`unsupported protocol ${sp.protocol}`);
    const cat = categorizeEndpoints(sp, nodeName);
    const ids = (eps: readonly Endpoint[] | null) => (eps ?? []).map((e) => backendId(e, proto, sp.protocol));
    const affinity = sp.sessionAffinity === 'ClientIP';
    const ranges = sp.loadBalancerSourceRanges.map(sourceRange);

    const add = (
      kind: FrontendKind,
      addr: string,
      port: number,
      baseFlags: number,
      sourceRanges: Cidr6[],
    ) => {
      const key = `[${addr}]:${port}/${sp.protocol}`;
      const claimant = seen.get(key);
      if (claimant !== undefined)
        throw new EbpfCompileError(`frontend ${key} is claimed by ${claimant} and ${sp.servicePortName}`);
      seen.set(key, sp.servicePortName);
      let flags = baseFlags | (affinity ? SvcFlag.AFFINITY : 0);
      let flags2 = 0;
      let ext: readonly Endpoint[] | null;
      let int: readonly Endpoint[] | null = null;
      if (kind === 'ClusterIP') {
        if (internalPolicyLocal(sp)) flags2 |= SvcFlag2.INT_LOCAL_SCOPE;
        ext = internalPolicyLocal(sp) ? cat.localEndpoints : cat.clusterEndpoints;
      } else if (externalPolicyLocal(sp)) {
        flags |= SvcFlag.EXT_LOCAL_SCOPE;
        ext = cat.localEndpoints;
        if (!internalPolicyLocal(sp)) {
          flags2 |= SvcFlag2.TWO_SCOPES;
          int = cat.clusterEndpoints ?? [];
        }
      } else ext = cat.clusterEndpoints;
      const extIds = ids(ext);
      let maglev: Uint32Array | null = null;
      if (algorithm === 'maglev') {
        const table = maglevLookupTable(
          (ext ?? []).map((e) => ({ key: ciliumBackendKey(e.ip, e.port, sp.protocol) })),
          {
            tableSize: options.maglevTableSize ?? DEFAULT_MAGLEV_TABLE_SIZE,
            seed: options.maglevHashSeed ?? DEFAULT_MAGLEV_HASH_SEED,
          },
        );
        maglev = Uint32Array.from(table, (i) => (i < 0 ? 0 : extIds[i]));
      }
      frontends.push({
        kind,
        servicePortName: sp.servicePortName,
        addr,
        port,
        proto,
        flags,
        flags2,
        affinityTimeout: affinity ? sp.stickyMaxAgeSeconds : 0,
        revNat: nextRevNat++,
        extBackendIds: extIds,
        intBackendIds: int === null ? null : ids(int),
        sourceRanges,
        maglev,
      });
    };

    add('ClusterIP', sp.clusterIP, sp.port, options.externalClusterIP ? SvcFlag.ROUTABLE : 0, []);
    if (sp.nodePort !== 0 && node.ip !== '')
      add('NodePort', node.ip, sp.nodePort, SvcFlag.NODEPORT | SvcFlag.ROUTABLE, []);
    for (const ip of sp.externalIPs)
      if (ip.includes(':')) add('ExternalIP', ip, sp.port, SvcFlag.EXTERNAL_IP | SvcFlag.ROUTABLE, []);
    for (const ip of sp.loadBalancerIPs) {
      if (!ip.includes(':')) continue;
      const f = SvcFlag.LOADBALANCER | SvcFlag.ROUTABLE | (ranges.length > 0 ? SvcFlag.SOURCE_RANGE : 0);
      add('LoadBalancer', ip, sp.port, f, ranges);
    }
  }
  return { node: nodeName, algorithm, frontends, backends };
}

/** A source range with its host bits cleared, as Cilium's parser leaves it. */
function sourceRange(text: string): Cidr6 {
  const [addr, len] = text.split('/');
  const prefixLength = len === undefined ? 128 : Number(len);
  return { network: parseIPv6(addr) & prefixMask6(prefixLength), prefixLength };
}

class Bytes {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  addr6(at: number, text: string): this {
    this.bytes.set(ipv6Bytes(parseIPv6(text)), at);
    return this;
  }
  raw(at: number, b: Uint8Array): this {
    this.bytes.set(b, at);
    return this;
  }
  be16(at: number, v: number): this {
    this.view.setUint16(at, v, false);
    return this;
  }
  le16(at: number, v: number): this {
    this.view.setUint16(at, v, true);
    return this;
  }
  le32(at: number, v: number): this {
    this.view.setUint32(at, v >>> 0, true);
    return this;
  }
  u8(at: number, v: number): this {
    this.bytes[at] = v;
    return this;
  }
}

/** `lb6_key`: address, be16 dport, u16 backend_slot, u8 proto, u8 scope, u8 pad[2]. */
function lb6Key(addr: string, port: number, slot: number, proto: number, scope: number): Uint8Array {
  return new Bytes(24).addr6(0, addr).be16(16, port).le16(18, slot).u8(20, proto).u8(21, scope).bytes;
}

/** `lb6_service`: u32 backend_id | affinity_timeout, u16 count, u16 rev_nat_index, u8 flags, u8 flags2, u16 qcount. */
function lb6Service(word0: number, count: number, revNat: number, flags: number, flags2: number): Uint8Array {
  return new Bytes(12).le32(0, word0).le16(4, count).le16(6, revNat).u8(8, flags).u8(9, flags2).bytes;
}

/** `lb6_backend`: address, be16 port, u8 proto, u8 flags (state), u16 cluster_id, u8 zone, u8 pad. */
function lb6Backend(b: Lb6Backend): Uint8Array {
  return new Bytes(24).addr6(0, b.addr).be16(16, b.port).u8(18, b.proto).u8(19, b.state).bytes;
}

/** The service-map entries of one frontend, in the order the IPv4 compiler writes them. */
function serviceEntries(f: Lb6Frontend, algo: number): MapEntryBytes[] {
  const out: MapEntryBytes[] = [];
  const word0 = (f.affinityTimeout & 0xffffff) | (algo << 24);
  const scope = (scope: number, ids: readonly number[]) => {
    ids.forEach((id, s) => {
      out.push({
        key: lb6Key(f.addr, f.port, s + 1, f.proto, scope),
        value: lb6Service(id, 0, f.revNat, f.flags, f.flags2),
      });
    });
    out.push({
      key: lb6Key(f.addr, f.port, 0, f.proto, scope),
      value: lb6Service(word0, ids.length, f.revNat, f.flags, f.flags2),
    });
  };
  scope(LbScope.EXT, f.extBackendIds);
  if (f.intBackendIds !== null) scope(LbScope.INT, f.intBackendIds);
  return out;
}

/** Every IPv6 LB map of the node as raw bytes, in Cilium's layouts. */
export function dumpLb6Maps(state: Lb6State): MapDump[] {
  const algo = state.algorithm === 'maglev' ? LbAlgorithm.MAGLEV : LbAlgorithm.RANDOM;
  const u32 = (v: number) => new Bytes(4).le32(0, v).bytes;
  const u16 = (v: number) => new Bytes(2).le16(0, v).bytes;
  const dumps: MapDump[] = [
    {
      name: 'cilium_lb6_services_v2',
      keySize: 24,
      valueSize: 12,
      entries: state.frontends.flatMap((f) => serviceEntries(f, algo)),
    },
    {
      name: 'cilium_lb6_backends_v3',
      keySize: 4,
      valueSize: 24,
      entries: [...state.backends.values()].map((b) => ({ key: u32(b.id), value: lb6Backend(b) })),
    },
    {
      name: 'cilium_lb6_reverse_nat',
      keySize: 2,
      valueSize: 18,
      entries: state.frontends.map((f) => ({
        key: u16(f.revNat),
        value: new Bytes(18).addr6(0, f.addr).be16(16, f.port).bytes,
      })),
    },
    { name: 'cilium_lb6_affinity', keySize: 24, valueSize: 16, entries: [] },
    {
      name: 'cilium_lb6_source_range',
      keySize: 24,
      valueSize: 1,
      entries: state.frontends.flatMap((f) =>
        f.sourceRanges.map((r) => ({
          // prefixlen counts the 32 bits of rev_nat_id + pad before the address.
          key: new Bytes(24)
            .le32(0, r.prefixLength + 32)
            .le16(4, f.revNat)
            .raw(8, ipv6Bytes(r.network)).bytes,
          value: new Uint8Array([1]),
        })),
      ),
    },
  ];
  if (state.algorithm === 'maglev') {
    dumps.push({
      name: 'cilium_lb6_maglev',
      keySize: 2,
      valueSize: 4,
      entries: state.frontends.map((f, i) => ({ key: u16(f.revNat), value: u32(i) })),
    });
  }
  return dumps;
}

const PROTO_NAMES: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

/** `cilium-dbg bpf lb list` of the IPv6 frontends: `[addr]:port/PROTO`, masters as `[::]:0`. */
export function renderCiliumLbList6(state: Lb6State): string {
  const bySvc = new Map<string, string[]>();
  for (const f of state.frontends) {
    const scopes: [number, readonly number[]][] = [[LbScope.EXT, f.extBackendIds]];
    if (f.intBackendIds !== null) scopes.push([LbScope.INT, f.intBackendIds]);
    for (const [scope, ids] of scopes) {
      const svc = `[${f.addr}]:${f.port}/${PROTO_NAMES[f.proto]}${scope === LbScope.INT ? '/i' : ''}`;
      const lines = [`[::]:0 (${f.revNat}) (0) [${serviceFlagsString(f.flags, f.flags2)}]`];
      ids.forEach((id, s) => {
        const b = state.backends.get(id)!;
        lines.push(`[${b.addr}]:${b.port}/${PROTO_NAMES[b.proto]} (${f.revNat}) (${s + 1})`);
      });
      bySvc.set(svc, lines);
    }
  }
  const rows: string[][] = [['SERVICE ADDRESS', 'BACKEND ADDRESS (REVNAT_ID) (SLOT)']];
  for (const svc of [...bySvc.keys()].sort())
    bySvc.get(svc)!.forEach((t, i) => {
      rows.push([i === 0 ? svc : '', t]);
    });
  return tabwrite(rows);
}

/** `cilium-dbg service list` of the IPv6 frontends, by service ID. */
export function renderCiliumServiceList6(state: Lb6State): string {
  const rows: string[][] = [['ID', 'Frontend', 'Service Type', 'Backend']];
  for (const f of [...state.frontends].sort((a, b) => a.revNat - b.revNat)) {
    const fe = `[${f.addr}]:${f.port}/${PROTO_NAMES[f.proto]}`;
    const type = serviceFlagsString(f.flags, f.flags2).split(', ')[0];
    const backends = [...new Set(f.extBackendIds)].map((id) => {
      const b = state.backends.get(id)!;
      return `[${b.addr}]:${b.port}/${PROTO_NAMES[b.proto]} (${BACKEND_STATE_NAMES[b.state]})`;
    });
    if (backends.length === 0) rows.push([String(f.revNat), fe, type, '']);
    for (let i = 0; i < backends.length; i++) {
      const backend = `${i + 1} => ${backends[i]}`;
      rows.push(i === 0 ? [String(f.revNat), fe, type, backend] : ['', '', '', backend]);
    }
  }
  return tabwrite(rows);
}
