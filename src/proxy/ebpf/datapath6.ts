/**
 * The eBPF mode's IPv6 programs (Cilium's `nodeport_lb6` / `lb6_local` / `tail_no_service_ipv6`
 * halves of cil_from_netdev and cil_from_container): the flow logic of datapath.ts — service
 * lookup and scopes, CT_SERVICE and CT entries, random or Maglev backend choice, affinity,
 * hairpin loopback, NodePort SNAT and its reverse, rev-NAT of replies — run over IPv6 frames.
 *
 * The load balancer is the node's IPv6 one (compile.ts with `ipv6`): its map words hold IPv6
 * address-table indices where the IPv4 maps hold addresses, so the shared code's lookups,
 * CT and NAT entries key 128-bit addresses through their index. What differs is here: parsing
 * (extension headers skipped, fragments refused as DROP_FRAG_NOSUPPORT), the rewrites (RFC 1624
 * over the upper-layer checksum, no IP header checksum), the pod-CIDR test, the ICMPv6 no-service
 * answer and the service loopback address (Cilium's default fe80::1).
 * The Maglev flow hash is Cilium's hash_from_tuple_v6 over the source's 128 bits, read back
 * from the address table behind its index, seeded with HASH_INIT6_SEED.
 */

import { ipv6Bytes, parseCidr6 } from '../../util/ipv6.js';
import { newIpv6FiveTuple, Parse6Status, parseIpv6FiveTuple } from '../../wire/five-tuple6.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import { Ipv6Field } from '../../wire/ipv6.js';
import { rewriteIpv6AddrAt, rewriteIpv6Endpoint } from '../../wire/rewrite6.js';
import { TcpField } from '../../wire/tcp.js';
import type { Ipv6AddressStore } from '../common/ipv6-lookup.js';
import type { EbpfLoadBalancer } from './compile.js';
import { type DatapathOptions, EbpfDatapath } from './datapath.js';
import { DropReason } from './drop.js';
import { ciliumMaglevHashV6 } from './hash.js';
import { writeNoServiceIcmp6 } from './no-service.js';

/** Cilium's default `--ipv6-service-loopback-address`. */
export const IPV6_SERVICE_LOOPBACK = 'fe80::1';

export class EbpfDatapath6 extends EbpfDatapath {
  private readonly addresses: Ipv6AddressStore;
  private readonly ft = newIpv6FiveTuple();
  private readonly podPrefix: Uint8Array;
  private readonly podPrefixLength: number;
  /** HASH_INIT6_SEED: the IPv6 flow hash's seed (the Maglev seed's third word). */
  private readonly maglevSeed6: number;

  constructor(lb: EbpfLoadBalancer, addresses: Ipv6AddressStore, options: DatapathOptions) {
    super(lb, options);
    this.addresses = addresses;
    const pods = parseCidr6(lb.podCidr);
    this.podPrefix = ipv6Bytes(pods.network);
    this.podPrefixLength = pods.prefixLength;
    this.loopbackAddr = addresses.internText(IPV6_SERVICE_LOOPBACK);
    this.maglevSeed6 = lb.maglevSeeds.jhash1;
  }

  override isLocalPod(addr: number): boolean {
    return this.addresses.inPrefix(addr, this.podPrefix, 0, this.podPrefixLength);
  }

  /** 1 = IPv6 TCP/UDP parsed into the scratch registers, 0 = not for the LB (pass), −1 = drop. */
  protected override parse(buf: Uint8Array, off: number, len: number): number {
    const ft = this.ft;
    const status = parseIpv6FiveTuple(buf, ft, off, len);
    if (status === Parse6Status.NOT_IPV6) return 0;
    if (status === Parse6Status.FRAGMENT) {
      this.dropReason = DropReason.FRAG_NOSUPPORT;
      return -1;
    }
    if (status !== Parse6Status.OK) {
      this.dropReason =
        status === Parse6Status.TRUNCATED_L4 || status === Parse6Status.BAD_TCP_DATA_OFFSET
          ? DropReason.CT_INVALID_HDR
          : DropReason.INVALID;
      return -1;
    }
    const proto = ft.proto;
    if (proto !== IpProtocol.TCP && proto !== IpProtocol.UDP) return 0;
    this.pIp = ft.ipOffset;
    this.pL4 = ft.l4Offset;
    this.pProto = proto;
    this.pSaddr = this.addresses.intern(buf, ft.saddrAt);
    this.pDaddr = this.addresses.intern(buf, ft.daddrAt);
    this.pSport = ft.sport;
    this.pDport = ft.dport;
    this.pTcpFlags = ft.tcpFlags & 0xff;
    this.ctMap = proto === IpProtocol.TCP ? this.ctTcp : this.ctAny;
    return 1;
  }

  protected override writeDestination(buf: Uint8Array, addr: number, port: number): void {
    rewriteIpv6Endpoint(
      buf,
      this.pIp,
      Ipv6Field.DST,
      this.pL4,
      TcpField.DST_PORT,
      this.pProto,
      this.addresses.storeOf(),
      addr * 16,
      port,
    );
  }

  protected override writeSourceAddr(buf: Uint8Array, addr: number): void {
    rewriteIpv6AddrAt(
      buf,
      this.pIp,
      Ipv6Field.SRC,
      this.pL4,
      this.pProto,
      this.addresses.storeOf(),
      addr * 16,
    );
  }

  protected override writeDestinationAddr(buf: Uint8Array, addr: number): void {
    rewriteIpv6AddrAt(
      buf,
      this.pIp,
      Ipv6Field.DST,
      this.pL4,
      this.pProto,
      this.addresses.storeOf(),
      addr * 16,
    );
  }

  /** hash_from_tuple_v6 of the parsed packet; the store is fetched per call because it grows. */
  protected override maglevHash(affinity: boolean): number {
    return ciliumMaglevHashV6(
      this.addresses.storeOf(),
      this.pSaddr * 16,
      affinity ? 0 : this.pSport,
      this.pDport,
      this.pProto,
      this.maglevSeed6,
    );
  }

  protected override writeNoService(buf: Uint8Array, off: number, len: number): number {
    return writeNoServiceIcmp6(buf, off, len);
  }
}
