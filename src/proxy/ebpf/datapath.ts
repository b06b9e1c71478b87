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
import { BPF_NOEXIST, type BpfHashMap, type BpfInlineHashMap } from '../../maps/index.js';
import { parseCidr } from '../../util/ipv4.js';
import type { Rng } from '../../util/rng.js';
import { readU16, readU32 } from '../../wire/bytes.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import { Ipv4Field } from '../../wire/ipv4.js';
import { natIpv4EndpointAt, rewriteIpv4AddrAt, rewriteL4PortAt } from '../../wire/rewrite.js';
import { TcpField } from '../../wire/tcp.js';
import { TcAction } from '../common/datapath.js';
import type { EbpfLoadBalancer } from './compile.js';
import {
  CtLookup,
  CtLookupResult,
  CtValue,
  ctRefreshLifetime,
  ctRevNat,
  ctServiceHit,
  ctSetRevNat,
} from './ct.js';
import { DropReason } from './drop.js';
import { ciliumMaglevHashV4 } from './hash.js';
import { CtEntryFlag, LbScope, SvcFlag, SvcFlag2, TupleFlag } from './layouts.js';
import {
  BACKEND_VALUE_WORDS,
  BackendValue,
  backendAddr,
  backendPort,
  type LbMaps,
  RevNatValue,
  svcAffinityTimeout,
  svcBackendId,
  svcCount,
  svcFlags,
  svcFlags2,
  svcRevNat,
} from './lbmaps.js';
import { NAT_NO_MAPPING, NatValue, revSnatV4Lookup, SNAT_PORT_MIN, snatV4Port } from './nat.js';
import { writeNoServiceIcmp4 } from './no-service.js';

/** Cilium's IPV4_LOOPBACK (169.254.42.1): the source of a pod's connection to itself via a Service. */
export const IPV4_LOOPBACK = 0xa9fe2a01;

const ETH_HLEN = 14;
const ETH_P_IP = 0x0800;
/** Frames per batch of the hot path (its hash scratch holds one batch). */
const HOT_BATCH = 128;
/**
 * Live CT entries above which the hot path touches a batch's CT slots before using them: one
 * 64-byte line per entry, 8192 entries fill 512 KB, about a core's L2 cache. Below this the
 * slots stay cached and the extra walk would only cost time.
 */
const HOT_PREFETCH_ENTRIES = 8192;
/** EtherType IPv4 then version 4 / IHL 5, as the top 24 bits of the word at byte 12. */
const IPV4_NO_OPTIONS = (ETH_P_IP << 8) | 0x45;
/** Fourth CT_SERVICE key word of a TCP flow: protocol | SERVICE << 8. */
const TCP_SERVICE_K3 = IpProtocol.TCP | (TupleFlag.SERVICE << 8);
// The hit loop's constants as module constants: with isolatedModules the compilers emit
// every `Enum.MEMBER` as a property load on the (imported) enum object, paid per packet.
const TCP = IpProtocol.TCP;
const UDP = IpProtocol.UDP;
const CT_BACKEND_WORD = CtValue.BACKEND_OR_RX;
const BACKEND_PRESENT_WORD = BackendValue.PRESENT;
/** TCP flags byte from the IPv4 header's start (no IP options on this path). */
const TCP_FLAGS_AT = 20 + TcpField.FLAGS;
const IPV4_DST = Ipv4Field.DST;
const TCP_DST_PORT = TcpField.DST_PORT;

export interface DatapathOptions {
  /** Source of Cilium's `get_prandom_u32()` (random selection, SNAT ports). */
  readonly rng: Rng;
  /** First SNAT port: nodePort.range's maximum + 1 (default SNAT_PORT_MIN, after 32767). */
  readonly snatPortMin?: number;
  /**
   * `--service-no-backend-response` (Helm `serviceNoBackendResponse`): 'reject' (Cilium's
   * default) answers a packet for a frontend without backends with ICMP port unreachable
   * (tail_no_service_ipv4); 'drop' drops it as DROP_NO_SERVICE.
   */
  readonly serviceNoBackendResponse?: 'reject' | 'drop';
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
  /** Packets tail_no_service_ipv4 answered with ICMP port unreachable (reject mode). */
  noServiceReplies: number;
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
  /** Frame length after the last program run rewrote it into a reply (0: length unchanged). */
  replyLength = 0;

  private readonly rng: Rng;
  private readonly snatPortMin: number;
  private readonly rejectNoBackend: boolean;
  private readonly nodeIp: number;
  private readonly podNetwork: number;
  private readonly podMask: number;
  protected readonly maglevSeed: number;
  private readonly useMaglev: boolean;
  private readonly maglevM: number;
  private readonly svc: BpfHashMap;
  private readonly maps: LbMaps;
  private readonly revNatMap: BpfHashMap;
  /** The source a pod reaching itself through a Service is SNATed to (Cilium's service loopback). */
  protected loopbackAddr = IPV4_LOOPBACK;
  // Scratch "registers" of the current packet (Cilium keeps them in locals and skb->cb).
  protected pIp = 0;
  protected pL4 = 0;
  protected pProto = 0;
  protected pSaddr = 0;
  protected pDaddr = 0;
  protected pSport = 0;
  protected pDport = 0;
  protected pTcpFlags = 0;
  private readonly ctl = new CtLookup();
  protected ctMap: BpfInlineHashMap;
  protected readonly ctTcp: BpfInlineHashMap;
  protected readonly ctAny: BpfInlineHashMap;
  // Hot-path batch scratch: the CT_SERVICE key hash of each frame (large tables only), and
  // the backend value offset of each CT hit the DNAT pass rewrites (−1: nothing to do).
  private readonly hotHash = new Int32Array(HOT_BATCH);
  private readonly hotBackend = new Int32Array(HOT_BATCH);
  /**
   * Sum of the words the hot path loaded ahead of time (its "prefetches"). Stored where it is
   * observable so the compiler cannot drop those loads; means nothing otherwise.
   */
  touchedSum = 0;
  private inBuffer: ArrayBufferLike | null = null;
  private inView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private outBuffer: ArrayBufferLike | null = null;
  private frameBuffer: ArrayBufferLike | null = null;
  private frameBufView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private outView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  constructor(lb: EbpfLoadBalancer, options: DatapathOptions) {
    this.lb = lb;
    this.rng = options.rng;
    this.snatPortMin = options.snatPortMin ?? SNAT_PORT_MIN;
    this.rejectNoBackend = (options.serviceNoBackendResponse ?? 'reject') === 'reject';
    this.nodeIp = lb.nodeIp;
    // The IPv6 datapath (datapath6.ts) answers isLocalPod over its own prefix.
    const cidr = lb.ipv6 === undefined ? parseCidr(lb.podCidr) : { network: 0, prefixLength: 0 };
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
      noServiceReplies: 0,
    };
  }

  resetCounters(): void {
    const c = this.counters;
    c.drops.fill(0);
    c.packets = c.dnat = c.revNat = c.snat = c.revSnat = c.ctServiceCreated = c.ctCreated = 0;
    c.noServiceReplies = 0;
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
    this.replyLength = 0;
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
      const flags = svcFlags(v, vo);
      if ((flags & SvcFlag.ROUTABLE) === 0) return this.drop(DropReason.IS_CLUSTER_IP);
      const revNat = svcRevNat(v, vo);
      if (flags & SvcFlag.SOURCE_RANGE) {
        const trie = this.lb.maps.sourceRanges[revNat];
        if (trie === undefined || trie.lookup(this.pSaddr) < 0) return this.drop(DropReason.NOT_IN_SRC_RANGE);
      }
      const r = this.lbLocal(frame, svc, LbScope.EXT, now, true);
      if (r !== 0) return this.refuse(frame, off, len, r);
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
    this.replyLength = 0;
    const parsed = this.parse(frame, off, len);
    if (parsed !== 1) return parsed === 0 ? TcAction.PASS : this.drop(this.dropReason);

    let svc = this.lookupService(this.pDaddr, this.pDport, this.pProto, LbScope.EXT);
    if (svc >= 0) {
      let scope = LbScope.EXT;
      // In-cluster clients of a two-scope service (eTP=Local, iTP=Cluster) use the INT scope.
      if (svcFlags2(this.svc.values, this.svc.valueOffset(svc)) & SvcFlag2.TWO_SCOPES) {
        const internal = this.lookupService(this.pDaddr, this.pDport, this.pProto, LbScope.INT);
        if (internal >= 0) {
          svc = internal;
          scope = LbScope.INT;
        }
      }
      const r = this.lbLocal(frame, svc, scope, now, false);
      if (r !== 0) return this.refuse(frame, off, len, r);
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
   * Frames go in batches of HOT_BATCH, each walked in passes: (when the CT map holds more
   * live entries than the caches do, HOT_PREFETCH_ENTRIES) hash every key and touch its home
   * slot; then the CT pass, one frame at a time in order, whose hit path (the CT_SERVICE entry
   * exists and its backend is live) is a few inlined calls, anything else going whole through
   * `hotpathSlow` out of line; then the DNAT pass over the hits.
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
    // Big-endian word access to the frames (one bounds-checked load instead of four byte loads).
    const iv = this.inputView(input);
    const ov = this.outputView(output);
    const inBase = input.byteOffset;
    const outDelta = output.byteOffset - inBase;
    const begin = inBase + first * frameSize;
    const ahead = this.ctTcp.count > HOT_PREFETCH_ENTRIES;
    if (ahead) this.prefetchCtHomes(iv, begin, frameSize, n);
    // Two passes over the batch, each its own function: V8 inlines calls into a function only
    // up to a bytecode budget, and the CT lookup, CT refresh and DNAT of a frame together
    // exceed it, leaving one of them a real call per packet (about a fifth of the packet's
    // time at 1k flows). The CT pass handles frames in order (state changes stay in order);
    // the DNAT pass only writes each hit frame's own output bytes from its backend.
    const slow = this.ctPass(iv, ov, outDelta, begin, frameSize, n, now, ahead);
    return slow + this.dnatPass(iv, ov, outDelta, begin, frameSize, n);
  }

  /**
   * Hashes every frame's TCP CT_SERVICE key into hotHash and touches its home slot, so the
   * batch's cache misses overlap (a CT table of 100k+ flows does not fit in cache; one
   * dependent miss costs more than all the arithmetic of a packet) instead of waiting for
   * each other. The words are read as if the frame were IPv4 TCP; only hashes of frames that
   * are get used. The hash does not depend on the table's contents, so results are unchanged.
   */
  private prefetchCtHomes(iv: DataView<ArrayBufferLike>, begin: number, frameSize: number, n: number): void {
    const ct = this.ctTcp;
    const hashes = this.hotHash;
    for (let i = 0, f = begin; i < n; f += frameSize, i++) {
      const ip = f + ETH_HLEN;
      hashes[i] = ct.hashWords(
        iv.getInt32(ip + 16),
        iv.getInt32(ip + 12),
        iv.getInt32(ip + 20),
        TCP_SERVICE_K3,
      );
    }
    this.touchedSum = ct.touchHomes(hashes, n);
  }

  /**
   * The batch's CT pass, frame by frame in arrival order: parse, CT_SERVICE lookup and
   * refresh. A hit whose backend is live leaves that backend's value offset in hotBackend[i]
   * for the DNAT pass; every other frame gets −1 there and is either not for the LB (not
   * IPv4 without options, not TCP/UDP) or handled whole by `hotpathSlow` (UDP, CT miss,
   * vanished backend). Returns the frames hotpathSlow translated.
   */
  private ctPass(
    iv: DataView<ArrayBufferLike>,
    ov: DataView<ArrayBufferLike>,
    outDelta: number,
    begin: number,
    frameSize: number,
    n: number,
    now: number,
    ahead: boolean,
  ): number {
    const ct = this.ctTcp;
    const hashes = this.hotHash;
    const hot = this.hotBackend;
    const bv = this.maps.backends.values;
    const bmax = this.maps.backends.maxEntries | 0;
    // Value offset = handle × stride + keyWords, with the layout read once per batch.
    const tcpStride = ct.stride | 0;
    const tcpKeyWords = ct.keyWords | 0;
    let translated = 0;
    for (let i = 0, f = begin; i < n; f += frameSize, i++) {
      hot[i] = -1;
      const ip = f + ETH_HLEN;
      // EtherType and version/IHL in one load: 0x0800 then 0x45.
      if (iv.getInt32(f + 12) >> 8 !== IPV4_NO_OPTIONS) continue;
      const proto = iv.getUint8(ip + 9);
      const daddr = iv.getInt32(ip + 16);
      const saddr = iv.getInt32(ip + 12);
      const ports = iv.getInt32(ip + 20);
      if (proto !== TCP) {
        if (proto === UDP)
          translated += this.hotpathSlow(ip, proto, daddr, saddr, ports, iv, ov, outDelta, now);
        continue;
      }
      const h = ahead ? hashes[i] : ct.hashWords(daddr, saddr, ports, TCP_SERVICE_K3);
      const e = ct.lookupHashed(h, daddr, saddr, ports, TCP_SERVICE_K3);
      if (e < 0) {
        translated += this.hotpathSlow(ip, proto, daddr, saddr, ports, iv, ov, outDelta, now);
        continue;
      }
      const cv = ct.values;
      const eo = Math.imul(e, tcpStride) + tcpKeyWords;
      const id = cv[eo + CT_BACKEND_WORD] | 0;
      const bo = Math.imul(id, BACKEND_VALUE_WORDS);
      if (id <= 0 || id >= bmax || bv[bo + BACKEND_PRESENT_WORD] === 0) {
        translated += this.hotpathSlow(ip, proto, daddr, saddr, ports, iv, ov, outDelta, now);
        continue;
      }
      ctServiceHit(cv, eo, true, iv.getUint8(ip + TCP_FLAGS_AT), now);
      hot[i] = bo;
    }
    return translated;
  }

  /**
   * The batch's DNAT pass: each frame the CT pass left a backend for (hotBackend[i] ≥ 0, all
   * IPv4 TCP) gets that backend as destination, both checksums patched. Returns their number.
   */
  private dnatPass(
    iv: DataView<ArrayBufferLike>,
    ov: DataView<ArrayBufferLike>,
    outDelta: number,
    begin: number,
    frameSize: number,
    n: number,
  ): number {
    const hot = this.hotBackend;
    const bv = this.maps.backends.values;
    let translated = 0;
    for (let i = 0, f = begin; i < n; f += frameSize, i++) {
      const bo = hot[i];
      if (bo < 0) continue;
      const ip = f + ETH_HLEN;
      natIpv4EndpointAt(
        iv,
        ov,
        outDelta,
        ip,
        ip + 20,
        TCP,
        IPV4_DST,
        TCP_DST_PORT,
        backendAddr(bv, bo) | 0,
        backendPort(bv, bo),
      );
      translated++;
    }
    return translated;
  }

  /**
   * One frame of the hot path the hit loop does not handle: UDP (the any-protocol CT map), a
   * CT_SERVICE miss, or an entry whose backend vanished. Service lookup, backend choice and
   * CT_SERVICE create or update as needed, then the same refresh and DNAT as the hit path.
   * Returns 1 when translated, 0 when not for the LB or dropped (and counted).
   */
  private hotpathSlow(
    ip: number,
    proto: number,
    daddr: number,
    saddr: number,
    ports: number,
    iv: DataView<ArrayBufferLike>,
    ov: DataView<ArrayBufferLike>,
    outDelta: number,
    now: number,
  ): number {
    const k3 = proto | (TupleFlag.SERVICE << 8);
    const map = proto === IpProtocol.TCP ? this.ctTcp : this.ctAny;
    let e = map.lookupWords(daddr, saddr, ports, k3);
    const cv = map.values;
    let eo = e < 0 ? -1 : map.valueOffset(e);
    let bo = e < 0 ? -1 : this.maps.backendOffset(cv[eo + CtValue.BACKEND_OR_RX]);
    if (bo < 0) {
      e = this.hotpathMiss(map, e, daddr, saddr, ports, k3);
      if (e < 0) return 0;
      eo = map.valueOffset(e);
      bo = this.maps.backendOffset(cv[eo + CtValue.BACKEND_OR_RX]);
    }
    const bv = this.maps.backends.values;
    const l4 = ip + 20;
    const tcp = proto === IpProtocol.TCP;
    ctServiceHit(cv, eo, tcp, tcp ? iv.getUint8(l4 + TcpField.FLAGS) : 0, now);
    natIpv4EndpointAt(
      iv,
      ov,
      outDelta,
      ip,
      l4,
      proto,
      Ipv4Field.DST,
      TcpField.DST_PORT,
      backendAddr(bv, bo) | 0,
      backendPort(bv, bo),
    );
    return 1;
  }

  /** A DataView over `input`'s whole buffer, kept while the buffer stays the same. */
  private inputView(input: Uint8Array): DataView<ArrayBufferLike> {
    if (input.buffer !== this.inBuffer) {
      this.inBuffer = input.buffer;
      this.inView = new DataView(input.buffer);
    }
    return this.inView;
  }

  /** A DataView over a simulated frame's buffer (the frame pool's), kept while it stays the same. */
  private frameView(frame: Uint8Array): DataView<ArrayBufferLike> {
    if (frame.buffer !== this.frameBuffer) {
      this.frameBuffer = frame.buffer;
      this.frameBufView = new DataView(frame.buffer);
    }
    return this.frameBufView;
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
    const cnt = svcCount(sv, so);
    if (cnt === 0 || (svcFlags(sv, so) & SvcFlag.AFFINITY) !== 0) {
      // Affinity services take the full path (affinity map); empty ones drop.
      if (cnt === 0) drops[DropReason.NO_SERVICE]++;
      return -1;
    }
    this.pSaddr = saddr >>> 0;
    this.pSport = ports >>> 16;
    this.pDport = dport;
    this.pProto = proto;
    const revNat = svcRevNat(sv, so);
    const id = this.selectBackend(svc, LbScope.EXT, revNat, cnt, false);
    if (this.maps.backendOffset(id) < 0) {
      drops[DropReason.NO_SERVICE]++;
      return -1;
    }
    e = this.ctServiceRecord(map, e, daddr, saddr, ports, k3, revNat, id);
    if (e < 0) drops[DropReason.CT_CREATE_FAILED]++;
    return e;
  }

  /**
   * Records the flow's backend in its CT_SERVICE entry {VIP, client, ports, SERVICE},
   * creating the entry when `e` < 0. Returns the entry's handle, or −1 when the map is full.
   * Both the programs (lbLocal) and the benchmark's miss path go through here.
   */
  private ctServiceRecord(
    ct: BpfInlineHashMap,
    e: number,
    vip: number,
    saddr: number,
    ports: number,
    k3: number,
    revNat: number,
    backendId: number,
  ): number {
    if (e < 0) {
      e = ct.insertWords(BPF_NOEXIST, vip, saddr, ports, k3);
      if (e < 0) return -1;
      this.counters.ctServiceCreated++;
    }
    const eo = ct.valueOffset(e);
    ctSetRevNat(ct.values, eo, revNat);
    ct.values[eo + CtValue.BACKEND_OR_RX] = backendId;
    return e;
  }

  // ------------------------------------------------------------------ steps

  /**
   * An lb4_local failure: DROP_NO_SERVICE goes to tail_no_service_ipv4 when the node rejects
   * (the ICMP error leaves by the ingress interface, TX), every other reason is a drop.
   */
  private refuse(frame: Uint8Array, off: number, len: number, reason: number): TcAction {
    if (reason !== DropReason.NO_SERVICE || !this.rejectNoBackend) return this.drop(reason);
    const replyLength = this.writeNoService(frame, off, len);
    if (replyLength < 0) return this.drop(DropReason.INVALID);
    this.replyLength = replyLength;
    this.counters.noServiceReplies++;
    return TcAction.TX;
  }

  private drop(reason: number): TcAction {
    this.dropReason = reason;
    this.counters.drops[reason & 0xff]++;
    return TcAction.DROP;
  }

  /** 1 = IPv4 TCP/UDP parsed into the scratch registers, 0 = not for the LB (pass), −1 = drop. */
  protected parse(buf: Uint8Array, off: number, len: number): number {
    if (len < ETH_HLEN + 20 || off + len > buf.length) {
      this.dropReason = DropReason.INVALID;
      return -1;
    }
    if (readU16(buf, off + 12) !== ETH_P_IP) return 0;
    const ip = off + ETH_HLEN;
    const vihl = buf[ip];
    const ihl = (vihl & 0x0f) << 2;
    if (vihl >>> 4 !== 4 || ihl < 20 || ETH_HLEN + ihl > len) {
      this.dropReason = DropReason.INVALID;
      return -1;
    }
    const proto = buf[ip + 9];
    if (proto !== IpProtocol.TCP && proto !== IpProtocol.UDP) return 0;
    if ((readU16(buf, ip + 6) & 0x3fff) !== 0) {
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
    this.pSaddr = readU32(buf, ip + 12);
    this.pDaddr = readU32(buf, ip + 16);
    this.pSport = readU16(buf, l4);
    this.pDport = readU16(buf, l4 + 2);
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
    const count = svcCount(sv, so);
    const revNat = svcRevNat(sv, so);
    const flags = svcFlags(sv, so);
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
      backendId = cv[eo + CtValue.BACKEND_OR_RX];
      be = this.lookupBackend(backendId);
      // Stale entry (service re-created) or vanished backend ⇒ reselect.
      if (ctRevNat(cv, eo) !== revNat || be < 0) backendId = 0;
    }
    if (backendId === 0) {
      const affinity = (flags & SvcFlag.AFFINITY) !== 0;
      if (affinity) backendId = this.affinityBackend(saddr, revNat, svcAffinityTimeout(sv, so), now);
      if (backendId === 0) backendId = this.selectBackend(svc, scope, revNat, count, affinity);
      be = this.lookupBackend(backendId);
      if (be < 0) return DropReason.NO_SERVICE;
      e = this.ctServiceRecord(ct, e, vip, saddr, k2, k3, revNat, backendId);
      if (e < 0) return DropReason.CT_CREATE_FAILED;
    }
    ctServiceHit(cv, ct.valueOffset(e), tcp, this.pTcpFlags, now);
    if (flags & SvcFlag.AFFINITY) this.touchAffinity(saddr, revNat, backendId, now);
    this.backendId = backendId;

    // DNAT to the backend.
    const bv = this.maps.backends.values;
    const bo = be;
    const baddr = backendAddr(bv, bo);
    const bport = backendPort(bv, bo);
    this.writeDestination(buf, baddr, bport);
    this.pDaddr = baddr;
    this.pDport = bport;
    this.counters.dnat++;

    // A pod reaching itself through its Service (hairpin): Cilium's lb4_local marks the
    // connection loopback and bpf_lxc SNATs the source to the service loopback address
    // (169.254.42.1; fe80::1 for IPv6), so the pod's reply leaves through its veth and can be
    // reverse-translated.
    let client = saddr;
    let loopback = 0;
    if (baddr === saddr && !fromNetdev) {
      client = this.loopbackAddr;
      loopback = CtEntryFlag.LB_LOOPBACK;
      this.writeSourceAddr(buf, client);
      this.pSaddr = client;
    }

    // Regular CT on the translated tuple (CT_EGRESS), remembering the rev-NAT index.
    const status = this.ctLookup(client, baddr, sport, bport, false, now);
    this.ctStatus = status;
    if (status === CtLookupResult.NEW) {
      // Forward key: {daddr=client, saddr=backend, dport=backend port, sport=client port, OUT}.
      const ne = ct.insertWords(BPF_NOEXIST, client, baddr, ((bport << 16) | sport) >>> 0, this.pProto);
      if (ne < 0) return DropReason.CT_CREATE_FAILED;
      const no = ct.valueOffset(ne);
      cv[no + CtValue.FLAGS_REV_NAT] = (fromNetdev ? CtEntryFlag.NODE_PORT : 0) | loopback | (revNat << 16);
      ctRefreshLifetime(cv, no, tcp, false, this.pTcpFlags, now);
      cv[no + CtValue.TX_PACKETS] = 1;
      this.counters.ctCreated++;
    }
    return 0;
  }

  /** `ct_lookup4` for the current packet's tuple (see ct.ts); the entry is in `ctl.entry`. */
  private ctLookup(
    saddr: number,
    daddr: number,
    sport: number,
    dport: number,
    ingress: boolean,
    now: number,
  ): number {
    return this.ctl.lookup(this.ctMap, this.pProto, saddr, daddr, sport, dport, this.pTcpFlags, ingress, now);
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
          return inner.values[this.maglevHash(affinity) % this.maglevM];
        }
      }
    }
    const slot = (this.rng.nextU32() % count) + 1;
    const sk = this.svc.keys;
    const ko = this.svc.keyOffset(svc);
    const s = this.svc.lookupWords(sk[ko], (sk[ko + 1] & 0xffff) | (slot << 16), sk[ko + 2]);
    return s < 0 ? 0 : svcBackendId(this.svc.values, this.svc.valueOffset(s));
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
    const eo = ct.valueOffset(this.ctl.entry);
    const word = ct.values[eo + CtValue.FLAGS_REV_NAT];
    const revNat = word >>> 16;
    const nodePort = (word & CtEntryFlag.NODE_PORT) !== 0;
    if (revNat === 0 || (requireNodePort && !nodePort)) return false;
    const r = this.revNatMap.lookupWords(revNat);
    if (r < 0) return false;
    const ro = this.revNatMap.valueOffset(r);
    const addr = this.revNatMap.values[ro + RevNatValue.ADDR];
    const port = this.revNatMap.values[ro + RevNatValue.PORT];
    // Loopback connection: the reply goes back to the pod itself, which is also the backend.
    if (word & CtEntryFlag.LB_LOOPBACK) {
      this.writeDestinationAddr(buf, this.pSaddr);
      this.pDaddr = this.pSaddr;
    }
    this.writeSourceAddr(buf, addr);
    rewriteL4PortAt(buf, this.pL4, TcpField.SRC_PORT, this.pProto, port);
    this.pSaddr = addr;
    this.pSport = port;
    this.counters.revNat++;
    return nodePort;
  }

  /**
   * SNAT the (already DNAT'ed) packet to the node IP with the flow's mapping (nat.ts).
   * Returns 0 or DROP_NAT_NO_MAPPING.
   */
  private snat(buf: Uint8Array, now: number): number {
    const proto = this.pProto;
    const port = snatV4Port(
      this.lb.maps.nat,
      this.rng,
      this.nodeIp,
      this.pSaddr,
      this.pSport,
      this.pDaddr,
      this.pDport,
      proto,
      now,
      this.snatPortMin,
    );
    if (port === NAT_NO_MAPPING) return DropReason.NAT_NO_MAPPING;
    this.writeSourceAddr(buf, this.nodeIp);
    rewriteL4PortAt(buf, this.pL4, TcpField.SRC_PORT, proto, port);
    this.pSaddr = this.nodeIp;
    this.pSport = port;
    this.counters.snat++;
    return 0;
  }

  /** Rev-SNAT a packet addressed to the node: true when a NAT mapping rewrote its destination. */
  private revSnat(buf: Uint8Array, _now: number): boolean {
    const nat = this.lb.maps.nat;
    const ro = revSnatV4Lookup(nat, this.pSaddr, this.pDaddr, this.pSport, this.pDport, this.pProto);
    if (ro < 0) return false;
    const addr = nat.values[ro + NatValue.TO_ADDR];
    const port = nat.values[ro + NatValue.TO_PORT];
    this.writeDestinationAddr(buf, addr);
    rewriteL4PortAt(buf, this.pL4, TcpField.DST_PORT, this.pProto, port);
    this.pDaddr = addr;
    this.pDport = port;
    this.counters.revSnat++;
    return true;
  }

  // ------------------------------------------------------------------ the family's bytes
  // What differs between the IPv4 programs and the IPv6 ones (datapath6.ts): where the
  // addresses sit in the frame and which checksums cover them; the flow logic above is shared.

  /** DNAT of the parsed packet to `addr`:`port`, checksums patched (lb4_local's rewrite). */
  protected writeDestination(buf: Uint8Array, addr: number, port: number): void {
    const view = this.frameView(buf);
    const base = buf.byteOffset;
    natIpv4EndpointAt(
      view,
      view,
      0,
      base + this.pIp,
      base + this.pL4,
      this.pProto,
      Ipv4Field.DST,
      TcpField.DST_PORT,
      addr,
      port,
    );
  }

  /** The parsed packet's source address becomes `addr` (its port stays). */
  protected writeSourceAddr(buf: Uint8Array, addr: number): void {
    rewriteIpv4AddrAt(buf, this.pIp, Ipv4Field.SRC, this.pL4, this.pProto, addr);
  }

  /** The parsed packet's destination address becomes `addr` (its port stays). */
  protected writeDestinationAddr(buf: Uint8Array, addr: number): void {
    rewriteIpv4AddrAt(buf, this.pIp, Ipv4Field.DST, this.pL4, this.pProto, addr);
  }

  /** tail_no_service_ipv4: the frame rewritten into its ICMP error; the new length, or −1. */
  protected writeNoService(buf: Uint8Array, off: number, len: number): number {
    return writeNoServiceIcmp4(buf, off, len);
  }

  /** The Maglev flow hash of the parsed packet (hash_from_tuple_v4). */
  protected maglevHash(affinity: boolean): number {
    return ciliumMaglevHashV4(
      this.pSaddr,
      affinity ? 0 : this.pSport,
      this.pDport,
      this.pProto,
      this.maglevSeed,
    );
  }
}
