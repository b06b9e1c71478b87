/**
 * The eBPF-like datapath: Cilium's per-packet service load balancing as two tc programs
 * that work directly on frame bytes (Ethernet + IPv4 + TCP/UDP) and the maps of lbmaps.ts.
 *
 * - `tcIngressNode` — tc ingress of the node's `eth0` (`bpf_host` from-netdev, `nodeport_lb4`):
 *   replies to SNAT'ed NodePort flows (rev-SNAT via the NAT map, then rev-DNAT via the CT
 *   entry's rev-NAT index, sent back out: TX); NodePort / LoadBalancer / externalIP traffic
 *   (service lookup, source-range check, CT_SERVICE lookup/create, backend selection random or
 *   Maglev, DNAT, CT entry with node_port=1, and SNAT to the node IP when the backend is on
 *   another node); replies of pod→ClusterIP flows whose backend was remote (rev-NAT).
 * - `tcIngressPod` — tc ingress of a pod's host-side veth (`bpf_lxc` from-container): pod →
 *   service (per-packet LB, no socket-LB) and replies from local backends (rev-NAT).
 *
 * Both return a TcAction; on DROP `dropReason` holds Cilium's reason. Every rewrite updates
 * the IPv4 and L4 checksums incrementally (RFC 1624). Nothing here allocates per packet:
 * state is numbers on `this`, maps are typed arrays, and results are read from fields.
 *
 * Modelling choices (see the report/README): the reply-side rev-NAT that Cilium performs in
 * the client endpoint's ingress path is done where the reply enters the node (the backend's
 * veth or eth0), with the same CT lookup; CT entries do not expire on lookup (Cilium leaves
 * expiry to its GC and LRU eviction); IPv4 fragments are dropped (DROP_FRAG_NOSUPPORT); DSR is
 * not implemented (SNAT mode only).
 */
import { BPF_NOEXIST, type BpfHashMap, type BpfInlineHashMap, LOOKUP_SKIP } from '../../maps/index.js';
import { parseCidr } from '../../util/ipv4.js';
import type { Rng } from '../../util/rng.js';
import {
  checksumReplace16,
  checksumReplace32,
  udpChecksumReplace16,
  udpChecksumReplace32,
} from '../../wire/checksum.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import { TcpFlag } from '../../wire/tcp.js';
import { TcAction } from '../common/datapath.js';
import type { EbpfLoadBalancer } from './compile.js';
import { DropReason } from './drop.js';
import { ciliumMaglevHashV4 } from './hash.js';
import { CtEntryFlag, LbScope, NatDir, SvcFlag, SvcFlag2, TupleFlag } from './layouts.js';
import { BACKEND_VALUE_WORDS, type LbMaps } from './lbmaps.js';

/** Cilium's IPV4_LOOPBACK (169.254.42.1): the source of a pod's connection to itself via a Service. */
export const IPV4_LOOPBACK = 0xa9fe2a01;

/** CT lifetimes (seconds), current Cilium defaults. */
export const CT_SYN_TIMEOUT = 60;
export const CT_CONNECTION_LIFETIME_TCP = 8000;
export const CT_SERVICE_LIFETIME_TCP = 8000;
export const CT_CONNECTION_LIFETIME_NONTCP = 60;
export const CT_SERVICE_LIFETIME_NONTCP = 60;
export const CT_CLOSE_TIMEOUT = 10;
/** SNAT port range for NodePort masquerading (NODEPORT_PORT_MAX+1 .. 65535). */
export const SNAT_PORT_MIN = 32768;
export const SNAT_PORT_MAX = 65535;
export const SNAT_COLLISION_RETRIES = 128;

/** Cilium's CT lookup results. */
export const enum CtLookupResult {
  NEW = 0,
  ESTABLISHED = 1,
  REPLY = 2,
  RELATED = 3,
  REOPENED = 4,
}

const ETH_HLEN = 14;
const ETH_P_IP = 0x0800;
/** Frames per stage of the hot path (its scratch arrays hold one batch). */
const HOT_BATCH = 128;

export interface DatapathOptions {
  /** Source of Cilium's `get_prandom_u32()` (random selection, SNAT ports). */
  readonly rng: Rng;
  /** First SNAT port: nodePort.range's maximum + 1 (default SNAT_PORT_MIN, after 32767). */
  readonly snatPortMin?: number;
}

/** Counters a run of the programs accumulates (read them; reset with `resetCounters`). */
export interface DatapathCounters {
  /** Packets dropped, indexed by drop reason number (0..255). */
  readonly drops: Float64Array;
  packets: number;
  /** Packets the LB translated forward (DNAT). */
  dnat: number;
  /** Packets reverse-translated (rev-NAT of replies). */
  revNat: number;
  snat: number;
  revSnat: number;
  ctServiceCreated: number;
  ctCreated: number;
}

function u16(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1];
}

function u32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

function put16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 8;
  buf[at + 1] = v;
}

function put32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 24;
  buf[at + 1] = v >>> 16;
  buf[at + 2] = v >>> 8;
  buf[at + 3] = v;
}

/** Rewrites the IPv4 address at `ip + field` (12 = saddr, 16 = daddr) and fixes IP + L4 checksums. */
function rewriteAddr(
  buf: Uint8Array,
  ip: number,
  field: number,
  l4: number,
  proto: number,
  addr: number,
): void {
  const old = u32(buf, ip + field);
  if (old === addr) return;
  put32(buf, ip + field, addr);
  put16(buf, ip + 10, checksumReplace32(u16(buf, ip + 10), old, addr));
  if (proto === IpProtocol.TCP) put16(buf, l4 + 16, checksumReplace32(u16(buf, l4 + 16), old, addr));
  else put16(buf, l4 + 6, udpChecksumReplace32(u16(buf, l4 + 6), old, addr));
}

/** Rewrites the L4 port at `l4 + field` (0 = source, 2 = destination) and fixes the L4 checksum. */
function rewritePort(buf: Uint8Array, l4: number, field: number, proto: number, port: number): void {
  const old = u16(buf, l4 + field);
  if (old === port) return;
  put16(buf, l4 + field, port);
  if (proto === IpProtocol.TCP) put16(buf, l4 + 16, checksumReplace16(u16(buf, l4 + 16), old, port));
  else put16(buf, l4 + 6, udpChecksumReplace16(u16(buf, l4 + 6), old, port));
}

/**
 * A checksum after changes whose one's-complement difference (Σ ~old + new, 16-bit words) is
 * `delta`, given the old checksum's complement: RFC 1624 eqn. 3 for several words at once.
 * Equals chained `checksumReplace16/32` calls (one's-complement addition is associative).
 */
function checksumFold(notCheck: number, delta: number): number {
  let sum = notCheck + delta;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0 ? 0 : ~sum & 0xffff;
}

export class EbpfDatapath {
  readonly lb: EbpfLoadBalancer;
  readonly counters: DatapathCounters;
  /** Why the last program run dropped (DropReason.NONE otherwise). */
  dropReason = 0;
  /** Backend chosen by the last forward translation (0 when none). */
  backendId = 0;
  /** Result of the last regular CT lookup. */
  ctStatus = 0;

  private readonly rng: Rng;
  private readonly snatPortMin: number;
  private readonly nodeIp: number;
  private readonly podNetwork: number;
  private readonly podMask: number;
  private readonly maglevSeed: number;
  private readonly useMaglev: boolean;
  private readonly maglevM: number;
  private readonly svc: BpfHashMap;
  private readonly maps: LbMaps;
  private readonly revNatMap: BpfHashMap;
  // Scratch "registers" of the current packet (Cilium keeps them in locals and skb->cb).
  private pIp = 0;
  private pL4 = 0;
  private pProto = 0;
  private pSaddr = 0;
  private pDaddr = 0;
  private pSport = 0;
  private pDport = 0;
  private pTcpFlags = 0;
  private ctEntry = -1;
  private ctMap: BpfInlineHashMap;
  private readonly ctTcp: BpfInlineHashMap;
  private readonly ctAny: BpfInlineHashMap;
  // Hot-path batch scratch: CT_SERVICE keys (4 words each), frame offsets, lookup results.
  private readonly hotKeys = new Int32Array(HOT_BATCH * 4);
  private readonly hotFrame = new Int32Array(HOT_BATCH);
  private readonly hotFound = new Int32Array(HOT_BATCH);
  private inBuffer: ArrayBufferLike | null = null;
  private inView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private outBuffer: ArrayBufferLike | null = null;
  private outView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  constructor(lb: EbpfLoadBalancer, options: DatapathOptions) {
    this.lb = lb;
    this.rng = options.rng;
    this.snatPortMin = options.snatPortMin ?? SNAT_PORT_MIN;
    this.nodeIp = lb.nodeIp;
    const cidr = parseCidr(lb.podCidr);
    this.podNetwork = cidr.network;
    this.podMask = cidr.prefixLength === 0 ? 0 : (0xffffffff << (32 - cidr.prefixLength)) >>> 0;
    this.maglevSeed = lb.maglevSeeds.jhash0;
    this.useMaglev = lb.algorithm === 'maglev';
    this.maglevM = lb.maglevTableSize;
    this.svc = lb.maps.services;
    this.maps = lb.maps;
    this.revNatMap = lb.maps.revNat;
    this.ctMap = lb.maps.ctTcp;
    this.ctTcp = lb.maps.ctTcp;
    this.ctAny = lb.maps.ctAny;
    this.counters = {
      drops: new Float64Array(256),
      packets: 0,
      dnat: 0,
      revNat: 0,
      snat: 0,
      revSnat: 0,
      ctServiceCreated: 0,
      ctCreated: 0,
    };
  }

  resetCounters(): void {
    const c = this.counters;
    c.drops.fill(0);
    c.packets = c.dnat = c.revNat = c.snat = c.revSnat = c.ctServiceCreated = c.ctCreated = 0;
  }

  /** True when `addr` is a pod on this node (Cilium asks its local endpoint map). */
  isLocalPod(addr: number): boolean {
    return (addr & this.podMask) >>> 0 === this.podNetwork;
  }

  // ------------------------------------------------------------------ programs

  /** tc ingress of the node's external device. `now` is mono seconds. */
  tcIngressNode(frame: Uint8Array, off: number, len: number, now: number): TcAction {
    this.counters.packets++;
    this.dropReason = DropReason.NONE;
    this.backendId = 0;
    const parsed = this.parse(frame, off, len);
    if (parsed !== 1) return parsed === 0 ? TcAction.PASS : this.drop(this.dropReason);

    // Replies to SNAT'ed NodePort flows: rev-SNAT, then rev-DNAT via CT.
    if (this.pDaddr === this.nodeIp && this.revSnat(frame, now)) {
      if (this.revNatReply(frame, now, true)) return TcAction.TX;
      return TcAction.PASS;
    }

    const svc = this.lookupService(this.pDaddr, this.pDport, this.pProto, LbScope.EXT);
    if (svc >= 0) {
      const v = this.svc.values;
      const vo = this.svc.valueOffset(svc);
      const flags = v[vo + 2] & 0xff;
      if ((flags & SvcFlag.ROUTABLE) === 0) return this.drop(DropReason.IS_CLUSTER_IP);
      const revNat = v[vo + 1] >>> 16;
      if (flags & SvcFlag.SOURCE_RANGE) {
        const trie = this.lb.maps.sourceRanges[revNat];
        if (trie === undefined || trie.lookup(this.pSaddr) < 0) return this.drop(DropReason.NOT_IN_SRC_RANGE);
      }
      const r = this.lbLocal(frame, svc, LbScope.EXT, now, true);
      if (r !== 0) return this.drop(r);
      // Remote backend and not eTP=Local: masquerade to the node IP so replies come back here.
      if ((flags & SvcFlag.EXT_LOCAL_SCOPE) === 0 && !this.isLocalPod(this.pDaddr)) {
        const s = this.snat(frame, now);
        if (s !== 0) return this.drop(s);
      }
      return TcAction.PASS;
    }

    // Replies of pod→service flows whose backend sat on another node.
    this.revNatReply(frame, now, false);
    return TcAction.PASS;
  }

  /** tc ingress of a pod's host-side veth (traffic the pod sends). `now` is mono seconds. */
  tcIngressPod(frame: Uint8Array, off: number, len: number, now: number): TcAction {
    this.counters.packets++;
    this.dropReason = DropReason.NONE;
    this.backendId = 0;
    const parsed = this.parse(frame, off, len);
    if (parsed !== 1) return parsed === 0 ? TcAction.PASS : this.drop(this.dropReason);

    let svc = this.lookupService(this.pDaddr, this.pDport, this.pProto, LbScope.EXT);
    if (svc >= 0) {
      let scope = LbScope.EXT;
      // In-cluster clients of a two-scope service (eTP=Local, iTP=Cluster) use the INT scope.
      if ((this.svc.values[this.svc.valueOffset(svc) + 2] >>> 8) & SvcFlag2.TWO_SCOPES) {
        const internal = this.lookupService(this.pDaddr, this.pDport, this.pProto, LbScope.INT);
        if (internal >= 0) {
          svc = internal;
          scope = LbScope.INT;
        }
      }
      const r = this.lbLocal(frame, svc, scope, now, false);
      if (r !== 0) return this.drop(r);
      return TcAction.PASS;
    }
    // Replies from a local backend: restore the frontend as source.
    this.revNatReply(frame, now, false);
    return TcAction.PASS;
  }

  /**
   * Benchmark entry point: the per-packet service path alone, over `count` frames of
   * `frameSize` bytes laid back to back in `input` (Ethernet + 20-byte IPv4 + TCP/UDP, e.g.
   * 54-byte TCP frames). Per frame: parse, CT_SERVICE lookup; on a miss, service lookup,
   * backend choice (random or Maglev) and CT insert; backend lookup; DNAT with incremental IP
   * and L4 checksum updates. Translated fields are written to `output` (pass `input` to work in
   * place, or a copy of it so the same batch can be replayed). Returns the number of frames
   * translated; the others are counted as drops or not for the LB.
   *
   * Frames go through in batches of HOT_BATCH, in three stages, so that the CT lookups of a
   * batch overlap their cache misses instead of waiting for each other (a CT table of 100k+
   * flows does not fit in cache; one dependent miss costs far more than all the arithmetic of a
   * packet): (1) parse every frame's CT_SERVICE key into a scratch array, (2) look all TCP keys
   * up at once (`BpfInlineHashMap.lookupBatch`), (3) per frame, in order: the miss path, the
   * CT update and the DNAT. The result is the same as handling the frames one by one in order.
   */
  hotpath(input: Uint8Array, output: Uint8Array, frameSize: number, count: number, now: number): number {
    if (count > 0 && (count * frameSize > input.length || count * frameSize > output.length)) {
      throw new RangeError(
        `hotpath: ${count} frames of ${frameSize} B need ${count * frameSize} B, input has ${input.length}, output ${output.length}`,
      );
    }
    let translated = 0;
    for (let first = 0; first < count; first += HOT_BATCH) {
      translated += this.hotpathBatch(
        input,
        output,
        frameSize,
        first,
        Math.min(HOT_BATCH, count - first),
        now,
      );
    }
    this.counters.packets += count;
    this.counters.dnat += translated;
    return translated;
  }

  private hotpathBatch(
    input: Uint8Array,
    output: Uint8Array,
    frameSize: number,
    first: number,
    n: number,
    now: number,
  ): number {
    const keys = this.hotKeys;
    const frameOf = this.hotFrame;
    const found = this.hotFound;
    const ct = this.ctTcp;
    // Big-endian word access to the frames (one bounds-checked load instead of four byte loads).
    const iv = this.inputView(input);
    const ov = this.outputView(output);
    const inBase = input.byteOffset;
    const outDelta = output.byteOffset - inBase;

    // Stage 1: parse. Frames that are not IPv4 (without options) TCP/UDP are not for the LB.
    let m = 0;
    const end = inBase + (first + n) * frameSize;
    for (let f = inBase + first * frameSize; f < end; f += frameSize) {
      const ip = f + ETH_HLEN;
      if (iv.getUint16(f + 12) !== ETH_P_IP || iv.getUint8(ip) !== 0x45) continue;
      const proto = iv.getUint8(ip + 9);
      if (proto !== IpProtocol.TCP && proto !== IpProtocol.UDP) continue;
      const k = m << 2;
      keys[k] = iv.getInt32(ip + 16);
      keys[k + 1] = iv.getInt32(ip + 12);
      keys[k + 2] = iv.getInt32(ip + 20);
      keys[k + 3] = proto | (TupleFlag.SERVICE << 8);
      // UDP goes to the any-protocol CT map, looked up in stage 3.
      found[m] = proto === IpProtocol.TCP ? -1 : LOOKUP_SKIP;
      frameOf[m] = ip;
      m++;
    }

    // Stage 2: every TCP CT_SERVICE lookup of the batch at once.
    ct.lookupBatch(keys, m, found);
    const moves = ct.moves;

    // Stage 3: per frame, in arrival order.
    let translated = 0;
    const bv = this.maps.backends.values;
    const bmax = this.maps.backends.maxEntries | 0;
    const ctAny = this.ctAny;
    // Value offset = handle × stride + keyWords, with the layouts read once per batch.
    const tcpStride = ct.stride | 0;
    const tcpKeyWords = ct.keyWords | 0;
    const anyStride = ctAny.stride | 0;
    const anyKeyWords = ctAny.keyWords | 0;
    for (let j = 0; j < m; j++) {
      const k = j << 2;
      const daddr = keys[k];
      const saddr = keys[k + 1];
      const ports = keys[k + 2];
      const k3 = keys[k + 3];
      const tcp = (k3 & 0xff) === IpProtocol.TCP;
      const map = tcp ? ct : ctAny;
      let e = found[j];
      // Re-look-up when the batch had no answer for this key (UDP), when an insert earlier in
      // this batch may have created it (a flow's second packet), or when an eviction or delete
      // moved entries since the batch lookup.
      if (e < 0 || ct.moves !== moves) e = map.lookupWords(daddr, saddr, ports, k3);
      const cv = map.values;
      let eo = tcp ? Math.imul(e, tcpStride) + tcpKeyWords : Math.imul(e, anyStride) + anyKeyWords;
      let bo = -1;
      if (e >= 0) {
        const id = cv[eo + 2] | 0;
        if (id > 0 && id < bmax) {
          bo = Math.imul(id, BACKEND_VALUE_WORDS);
          if (bv[bo + 2] === 0) bo = -1;
        }
      }
      if (bo < 0) {
        e = this.hotpathMiss(map, e, daddr, saddr, ports, k3);
        if (e < 0) continue;
        eo = map.valueOffset(e);
        bo = Math.imul(cv[eo + 2], BACKEND_VALUE_WORDS);
      }
      cv[eo] = now + (tcp ? CT_SERVICE_LIFETIME_TCP : CT_SERVICE_LIFETIME_NONTCP);
      cv[eo + 3] = (cv[eo + 3] + 1) | 0;

      // DNAT: address (IP + pseudo-header) and port, RFC 1624 on both checksums.
      const baddr = bv[bo] | 0;
      const bport = bv[bo + 1] & 0xffff;
      const dport = ports & 0xffff;
      const ip = frameOf[j];
      const l4 = ip + 20;
      const oip = ip + outDelta;
      ov.setInt32(oip + 16, baddr);
      ov.setUint16(oip + 22, bport);
      // One's-complement difference of the address change, shared by both checksums.
      const addrDelta = (~daddr >>> 16) + (~daddr & 0xffff) + (baddr >>> 16) + (baddr & 0xffff);
      ov.setUint16(oip + 10, checksumFold(~iv.getUint16(ip + 10) & 0xffff, addrDelta));
      if (tcp) {
        const sum = addrDelta + (~dport & 0xffff) + bport;
        ov.setUint16(oip + 36, checksumFold(~iv.getUint16(l4 + 16) & 0xffff, sum));
      } else {
        const old = iv.getUint16(l4 + 6);
        ov.setUint16(
          oip + 26,
          udpChecksumReplace16(udpChecksumReplace32(old, daddr >>> 0, baddr >>> 0), dport, bport),
        );
      }
      translated++;
    }
    return translated;
  }

  /** A DataView over `input`'s whole buffer, kept while the buffer stays the same. */
  private inputView(input: Uint8Array): DataView<ArrayBufferLike> {
    if (input.buffer !== this.inBuffer) {
      this.inBuffer = input.buffer;
      this.inView = new DataView(input.buffer);
    }
    return this.inView;
  }

  private outputView(output: Uint8Array): DataView<ArrayBufferLike> {
    if (output.buffer !== this.outBuffer) {
      this.outBuffer = output.buffer;
      this.outView = new DataView(output.buffer);
    }
    return this.outView;
  }

  /**
   * The hot path's miss: no CT_SERVICE entry (`e` < 0) or one whose backend vanished. Service
   * lookup, backend choice, CT_SERVICE create or update. Returns the entry's handle with a
   * valid backend id in it, or −1 (not for the LB, or dropped and counted).
   */
  private hotpathMiss(
    map: BpfInlineHashMap,
    e: number,
    daddr: number,
    saddr: number,
    ports: number,
    k3: number,
  ): number {
    const proto = k3 & 0xff;
    const dport = ports & 0xffff;
    const svcMap = this.svc;
    const sv = svcMap.values;
    const drops = this.counters.drops;
    const svc = svcMap.lookupWords(daddr, dport, proto);
    if (svc < 0) return -1;
    const so = svcMap.valueOffset(svc);
    const cnt = sv[so + 1] & 0xffff;
    if (cnt === 0 || (sv[so + 2] & SvcFlag.AFFINITY) !== 0) {
      // Affinity services take the full path (affinity map); empty ones drop.
      if (cnt === 0) drops[DropReason.NO_SERVICE]++;
      return -1;
    }
    this.pSaddr = saddr >>> 0;
    this.pSport = ports >>> 16;
    this.pDport = dport;
    this.pProto = proto;
    const revNat = sv[so + 1] >>> 16;
    const id = this.selectBackend(svc, LbScope.EXT, revNat, cnt, false);
    if (this.maps.backendOffset(id) < 0) {
      drops[DropReason.NO_SERVICE]++;
      return -1;
    }
    if (e < 0) {
      e = map.insertWords(BPF_NOEXIST, daddr, saddr, ports, k3);
      if (e < 0) {
        drops[DropReason.CT_CREATE_FAILED]++;
        return -1;
      }
      this.counters.ctServiceCreated++;
    }
    const eo = map.valueOffset(e);
    map.values[eo + 1] = (map.values[eo + 1] & 0xffff) | (revNat << 16);
    map.values[eo + 2] = id;
    return e;
  }

  // ------------------------------------------------------------------ steps

  private drop(reason: number): TcAction {
    this.dropReason = reason;
    this.counters.drops[reason & 0xff]++;
    return TcAction.DROP;
  }

  /** 1 = IPv4 TCP/UDP parsed into the scratch registers, 0 = not for the LB (pass), −1 = drop. */
  private parse(buf: Uint8Array, off: number, len: number): number {
    if (len < ETH_HLEN + 20 || off + len > buf.length) {
      this.dropReason = DropReason.INVALID;
      return -1;
    }
    if (u16(buf, off + 12) !== ETH_P_IP) return 0;
    const ip = off + ETH_HLEN;
    const vihl = buf[ip];
    const ihl = (vihl & 0x0f) << 2;
    if (vihl >>> 4 !== 4 || ihl < 20 || ETH_HLEN + ihl > len) {
      this.dropReason = DropReason.INVALID;
      return -1;
    }
    const proto = buf[ip + 9];
    if (proto !== IpProtocol.TCP && proto !== IpProtocol.UDP) return 0;
    if ((u16(buf, ip + 6) & 0x3fff) !== 0) {
      this.dropReason = DropReason.FRAG_NOSUPPORT;
      return -1;
    }
    const l4 = ip + ihl;
    if (l4 - off + (proto === IpProtocol.TCP ? 20 : 8) > len) {
      this.dropReason = DropReason.CT_INVALID_HDR;
      return -1;
    }
    this.pIp = ip;
    this.pL4 = l4;
    this.pProto = proto;
    this.pSaddr = u32(buf, ip + 12);
    this.pDaddr = u32(buf, ip + 16);
    this.pSport = u16(buf, l4);
    this.pDport = u16(buf, l4 + 2);
    this.pTcpFlags = proto === IpProtocol.TCP ? buf[l4 + 13] : 0;
    this.ctMap = proto === IpProtocol.TCP ? this.lb.maps.ctTcp : this.lb.maps.ctAny;
    return 1;
  }

  private lookupService(addr: number, port: number, proto: number, scope: number): number {
    return this.svc.lookupWords(addr, port, proto | (scope << 8));
  }

  /** Backend map value offset for an id, or −1. */
  private lookupBackend(id: number): number {
    return this.maps.backendOffset(id);
  }

  /**
   * `lb4_local`: CT_SERVICE lookup/create, backend choice, DNAT, then the regular CT entry.
   * Returns 0 or a drop reason.
   */
  private lbLocal(buf: Uint8Array, svc: number, scope: number, now: number, fromNetdev: boolean): number {
    const sv = this.svc.values;
    const so = this.svc.valueOffset(svc);
    const count = sv[so + 1] & 0xffff;
    const revNat = sv[so + 1] >>> 16;
    const flags = sv[so + 2] & 0xff;
    if (count === 0) return DropReason.NO_SERVICE;
    const tcp = this.pProto === IpProtocol.TCP;
    const saddr = this.pSaddr;
    const sport = this.pSport;
    const vip = this.pDaddr;
    const vport = this.pDport;
    const ct = this.ctMap;
    const cv = ct.values;

    // CT_SERVICE entry: {daddr=VIP, saddr=client, dport=client port, sport=svc port, SERVICE}.
    const k2 = ((sport << 16) | vport) >>> 0;
    const k3 = this.pProto | (TupleFlag.SERVICE << 8);
    let e = ct.lookupWords(vip, saddr, k2, k3);
    let backendId = 0;
    let be = -1;
    if (e >= 0) {
      const eo = ct.valueOffset(e);
      backendId = cv[eo + 2];
      be = this.lookupBackend(backendId);
      // Stale entry (service re-created) or vanished backend ⇒ reselect.
      if (cv[eo + 1] >>> 16 !== revNat || be < 0) backendId = 0;
    }
    if (backendId === 0) {
      const affinity = (flags & SvcFlag.AFFINITY) !== 0;
      if (affinity) backendId = this.affinityBackend(saddr, revNat, sv[so] & 0xffffff, now);
      if (backendId === 0) backendId = this.selectBackend(svc, scope, revNat, count, affinity);
      be = this.lookupBackend(backendId);
      if (be < 0) return DropReason.NO_SERVICE;
      if (e < 0) {
        e = ct.insertWords(BPF_NOEXIST, vip, saddr, k2, k3);
        if (e < 0) return DropReason.CT_CREATE_FAILED;
        this.counters.ctServiceCreated++;
      }
      const eo = ct.valueOffset(e);
      cv[eo + 1] = (cv[eo + 1] & 0xffff) | (revNat << 16);
      cv[eo + 2] = backendId;
    }
    const eo = ct.valueOffset(e);
    this.refreshLifetime(cv, eo, tcp, true, now);
    cv[eo + 3] = (cv[eo + 3] + 1) >>> 0;
    if (flags & SvcFlag.AFFINITY) this.touchAffinity(saddr, revNat, backendId, now);
    this.backendId = backendId;

    // DNAT to the backend.
    const bv = this.maps.backends.values;
    const bo = be;
    const baddr = bv[bo];
    const bport = bv[bo + 1] & 0xffff;
    rewriteAddr(buf, this.pIp, 16, this.pL4, this.pProto, baddr);
    rewritePort(buf, this.pL4, 2, this.pProto, bport);
    this.pDaddr = baddr;
    this.pDport = bport;
    this.counters.dnat++;

    // A pod reaching itself through its Service (hairpin): Cilium's lb4_local marks the
    // connection loopback and bpf_lxc SNATs the source to IPV4_LOOPBACK, so the pod's
    // reply (to 169.254.42.1) leaves through its veth and can be reverse-translated.
    let client = saddr;
    let loopback = 0;
    if (baddr === saddr && !fromNetdev) {
      client = IPV4_LOOPBACK;
      loopback = CtEntryFlag.LB_LOOPBACK;
      rewriteAddr(buf, this.pIp, 12, this.pL4, this.pProto, IPV4_LOOPBACK);
      this.pSaddr = IPV4_LOOPBACK;
    }

    // Regular CT on the translated tuple (CT_EGRESS), remembering the rev-NAT index.
    const status = this.ctLookup(client, baddr, sport, bport, false, now);
    this.ctStatus = status;
    if (status === CtLookupResult.NEW) {
      // Forward key: {daddr=client, saddr=backend, dport=backend port, sport=client port, OUT}.
      const ne = ct.insertWords(BPF_NOEXIST, client, baddr, ((bport << 16) | sport) >>> 0, this.pProto);
      if (ne < 0) return DropReason.CT_CREATE_FAILED;
      const no = ct.valueOffset(ne);
      cv[no + 1] = (fromNetdev ? CtEntryFlag.NODE_PORT : 0) | loopback | (revNat << 16);
      this.refreshLifetime(cv, no, tcp, false, now);
      cv[no + 3] = 1;
      this.counters.ctCreated++;
    }
    return 0;
  }

  /**
   * `ct_lookup4` for a packet saddr:sport → daddr:dport. `ingress` selects the direction
   * (first key tried is the reply-direction key). Sets `ctEntry`; refreshes lifetime and counters.
   */
  private ctLookup(
    saddr: number,
    daddr: number,
    sport: number,
    dport: number,
    ingress: boolean,
    now: number,
  ): number {
    const ct = this.ctMap;
    const cv = ct.values;
    const proto = this.pProto;
    const tcp = proto === IpProtocol.TCP;
    const first = ingress ? TupleFlag.OUT : TupleFlag.IN;
    let e = ct.lookupWords(daddr, saddr, ((sport << 16) | dport) >>> 0, proto | (first << 8));
    let status: number = CtLookupResult.REPLY;
    if (e < 0) {
      e = ct.lookupWords(saddr, daddr, ((dport << 16) | sport) >>> 0, proto | ((first ^ TupleFlag.IN) << 8));
      status = CtLookupResult.ESTABLISHED;
    }
    this.ctEntry = e;
    if (e < 0) return CtLookupResult.NEW;
    const eo = ct.valueOffset(e);
    const f = this.pTcpFlags;
    if (
      tcp &&
      (f & TcpFlag.SYN) !== 0 &&
      (cv[eo + 1] & (CtEntryFlag.RX_CLOSING | CtEntryFlag.TX_CLOSING)) !== 0
    ) {
      cv[eo + 1] &= ~(CtEntryFlag.RX_CLOSING | CtEntryFlag.TX_CLOSING);
      status = CtLookupResult.REOPENED;
    }
    if (tcp && (f & (TcpFlag.RST | TcpFlag.FIN)) !== 0) {
      cv[eo + 1] |= status === CtLookupResult.REPLY ? CtEntryFlag.RX_CLOSING : CtEntryFlag.TX_CLOSING;
    }
    this.refreshLifetime(cv, eo, tcp, false, now);
    if (status === CtLookupResult.REPLY) cv[eo + 2] = (cv[eo + 2] + 1) >>> 0;
    else cv[eo + 3] = (cv[eo + 3] + 1) >>> 0;
    return status;
  }

  private refreshLifetime(cv: Uint32Array, eo: number, tcp: boolean, service: boolean, now: number): void {
    const flags = cv[eo + 1];
    if (
      (flags & (CtEntryFlag.RX_CLOSING | CtEntryFlag.TX_CLOSING)) ===
      (CtEntryFlag.RX_CLOSING | CtEntryFlag.TX_CLOSING)
    ) {
      cv[eo] = now + CT_CLOSE_TIMEOUT;
      return;
    }
    if (!tcp) {
      cv[eo] = now + (service ? CT_SERVICE_LIFETIME_NONTCP : CT_CONNECTION_LIFETIME_NONTCP);
      return;
    }
    let seen = flags & CtEntryFlag.SEEN_NON_SYN;
    if (seen === 0 && (this.pTcpFlags & TcpFlag.SYN) === 0) {
      seen = CtEntryFlag.SEEN_NON_SYN;
      cv[eo + 1] = flags | seen;
    }
    cv[eo] =
      now + (seen === 0 ? CT_SYN_TIMEOUT : service ? CT_SERVICE_LIFETIME_TCP : CT_CONNECTION_LIFETIME_TCP);
  }

  /** Random (slot = prandom % count + 1) or Maglev (lut[hash % M]) backend id; 0 if none. */
  private selectBackend(
    svc: number,
    scope: number,
    revNat: number,
    count: number,
    affinity: boolean,
  ): number {
    if (this.useMaglev && scope === LbScope.EXT) {
      const o = this.lb.maps.maglevOuter.lookupWords(revNat);
      if (o >= 0) {
        const inner = this.lb.maps.maglevInner[this.lb.maps.maglevOuter.values[o]];
        if (inner !== undefined) {
          // With session affinity the client port is zeroed so all of a client's flows agree.
          const h = ciliumMaglevHashV4(
            this.pSaddr,
            affinity ? 0 : this.pSport,
            this.pDport,
            this.pProto,
            this.maglevSeed,
          );
          return inner.values[h % this.maglevM];
        }
      }
    }
    const slot = (this.rng.nextU32() % count) + 1;
    const sk = this.svc.keys;
    const ko = this.svc.keyOffset(svc);
    const s = this.svc.lookupWords(sk[ko], (sk[ko + 1] & 0xffff) | (slot << 16), sk[ko + 2]);
    return s < 0 ? 0 : this.svc.values[this.svc.valueOffset(s)];
  }

  /** Sticky backend if the affinity entry is fresh and the backend still serves the service; else 0. */
  private affinityBackend(client: number, revNat: number, timeout: number, now: number): number {
    const m = this.lb.maps.affinity;
    const a = m.lookupWords(client, revNat);
    if (a < 0) return 0;
    const ao = m.valueOffset(a);
    if (m.values[ao] + timeout <= now) return 0;
    const id = m.values[ao + 1];
    return this.lb.maps.affinityMatch.lookupWords(id, revNat) >= 0 ? id : 0;
  }

  private touchAffinity(client: number, revNat: number, backendId: number, now: number): void {
    const m = this.lb.maps.affinity;
    const a = m.insertWords(0, client, revNat);
    if (a < 0) return;
    const ao = m.valueOffset(a);
    m.values[ao] = now;
    m.values[ao + 1] = backendId;
  }

  /**
   * Reply path: regular CT lookup in the ingress direction; a CT_REPLY with a rev-NAT index
   * gets its source rewritten to the frontend. Returns true when the entry was a NodePort one.
   */
  private revNatReply(buf: Uint8Array, now: number, requireNodePort: boolean): boolean {
    const status = this.ctLookup(this.pSaddr, this.pDaddr, this.pSport, this.pDport, true, now);
    this.ctStatus = status;
    if (status !== CtLookupResult.REPLY) return false;
    const ct = this.ctMap;
    const eo = ct.valueOffset(this.ctEntry);
    const word = ct.values[eo + 1];
    const revNat = word >>> 16;
    const nodePort = (word & CtEntryFlag.NODE_PORT) !== 0;
    if (revNat === 0 || (requireNodePort && !nodePort)) return false;
    const r = this.revNatMap.lookupWords(revNat);
    if (r < 0) return false;
    const ro = this.revNatMap.valueOffset(r);
    const addr = this.revNatMap.values[ro];
    const port = this.revNatMap.values[ro + 1];
    // Loopback connection: the reply goes back to the pod itself, which is also the backend.
    if (word & CtEntryFlag.LB_LOOPBACK) {
      rewriteAddr(buf, this.pIp, 16, this.pL4, this.pProto, this.pSaddr);
      this.pDaddr = this.pSaddr;
    }
    rewriteAddr(buf, this.pIp, 12, this.pL4, this.pProto, addr);
    rewritePort(buf, this.pL4, 0, this.pProto, port);
    this.pSaddr = addr;
    this.pSport = port;
    this.counters.revNat++;
    return nodePort;
  }

  /**
   * SNAT the (already DNAT'ed) packet to the node IP (`snat_v4_nat` + `snat_v4_new_mapping`):
   * reuse the flow's mapping, else keep the client port if it lies in range, else try random
   * then consecutive ports. Returns 0 or DROP_NAT_NO_MAPPING.
   */
  private snat(buf: Uint8Array, now: number): number {
    const nat = this.lb.maps.nat;
    const nv = nat.values;
    const client = this.pSaddr;
    const cport = this.pSport;
    const backend = this.pDaddr;
    const bport = this.pDport;
    const proto = this.pProto;
    const fk2 = ((bport << 16) | cport) >>> 0;
    let f = nat.lookupWords(backend, client, fk2, proto | (NatDir.EGRESS << 8));
    let port: number;
    if (f >= 0) {
      port = nv[nat.valueOffset(f) + 1];
    } else {
      const portMin = this.snatPortMin;
      // Cilium folds every candidate as (value % (max − min)) + min, so max itself never occurs.
      const span = SNAT_PORT_MAX - portMin;
      port = cport >= portMin && cport <= SNAT_PORT_MAX ? cport : (this.rng.nextU32() % span) + portMin;
      let r = -1;
      for (let retry = 0; retry <= SNAT_COLLISION_RETRIES; retry++) {
        // Reverse key: the reply backend:bport → node:port.
        r = nat.insertWords(
          BPF_NOEXIST,
          this.nodeIp,
          backend,
          ((port << 16) | bport) >>> 0,
          proto | (NatDir.INGRESS << 8),
        );
        if (r >= 0) break;
        port = ((retry === 0 ? this.rng.nextU32() : port + 1) % span) + portMin;
      }
      if (r < 0) return DropReason.NAT_NO_MAPPING;
      const ro = nat.valueOffset(r);
      nv[ro] = client;
      nv[ro + 1] = cport;
      nv[ro + 2] = now;
      f = nat.insertWords(BPF_NOEXIST, backend, client, fk2, proto | (NatDir.EGRESS << 8));
      if (f < 0) {
        nat.deleteEntry(r);
        return DropReason.NAT_NO_MAPPING;
      }
      const fo = nat.valueOffset(f);
      nv[fo] = this.nodeIp;
      nv[fo + 1] = port;
      nv[fo + 2] = now;
    }
    rewriteAddr(buf, this.pIp, 12, this.pL4, proto, this.nodeIp);
    rewritePort(buf, this.pL4, 0, proto, port);
    this.pSaddr = this.nodeIp;
    this.pSport = port;
    this.counters.snat++;
    return 0;
  }

  /** Rev-SNAT a packet addressed to the node: true when a NAT mapping rewrote its destination. */
  private revSnat(buf: Uint8Array, _now: number): boolean {
    const nat = this.lb.maps.nat;
    const r = nat.lookupWords(
      this.pDaddr,
      this.pSaddr,
      ((this.pDport << 16) | this.pSport) >>> 0,
      this.pProto | (NatDir.INGRESS << 8),
    );
    if (r < 0) return false;
    const ro = nat.valueOffset(r);
    const addr = nat.values[ro];
    const port = nat.values[ro + 1];
    rewriteAddr(buf, this.pIp, 16, this.pL4, this.pProto, addr);
    rewritePort(buf, this.pL4, 2, this.pProto, port);
    this.pDaddr = addr;
    this.pDport = port;
    this.counters.revSnat++;
    return true;
  }
}
