/**
 * Cilium's `tail_no_service_ipv4` (bpf/lib/lb.h, `--service-no-backend-response=reject`, the
 * default): a packet for a frontend without backends — UDP and TCP alike, no TCP RST — is
 * turned in place into an ICMP destination unreachable, code 3 (port unreachable), and sent
 * back out of the interface it came in on. Written the way the program writes it, not the
 * way the kernel's icmp_send would:
 *  - the quote is `min(frame length, 64)` bytes from the IP header on: the sample size is
 *    taken from the whole frame (Ethernet header included) while the sample starts at the
 *    IP header, so a short packet is quoted with zero padding (bpf_skb_change_tail) past
 *    its end, a long one is cut at 64 bytes;
 *  - the outer IP header copies the offending TOS, has id 0, no DF, TTL 64 (IPDEFTTL), the
 *    Service address as source and the sender as destination; MACs are swapped.
 *
 * `tail_no_service_ipv6` answers the same way in ICMPv6: destination unreachable, code 4 (port
 * unreachable), the same sample rule with IPv6's bound — min(frame length, 1232) bytes from the
 * IPv6 header on (1280, the minimum MTU, less the new IPv6 and ICMPv6 headers), zero-padded —
 * an IPv6 header with hop limit 64, traffic class and flow label 0, the addresses swapped.
 */
import { writeU16, writeU32 } from '../../wire/bytes.js';
import { icmpChecksum, ipv4HeaderChecksum } from '../../wire/checksum.js';
import { icmpv6Checksum } from '../../wire/checksum6.js';

const ETH_HLEN = 14;
const IP_HLEN = 20;
const ICMP_HLEN = 8;
/** Cilium's ICMP_PACKET_MAX_SAMPLE_SIZE. */
export const NO_SERVICE_MAX_SAMPLE = 64;
const ICMP_DEST_UNREACH = 3;
const ICMP_PORT_UNREACH = 3;
const IPDEFTTL = 64;
const IPPROTO_ICMP = 1;

/**
 * Both families' first steps: the sample (the first `kept` bytes of the IP packet, zero-padded
 * to `sample`) moves to `inner`, behind where the new IP and ICMP headers go (memmove), and the
 * Ethernet addresses are swapped for the way back.
 */
function moveSampleSwapMacs(buf: Uint8Array, off: number, inner: number, kept: number, sample: number): void {
  const ip = off + ETH_HLEN;
  buf.copyWithin(inner, ip, ip + kept);
  buf.fill(0, inner + kept, inner + sample);
  for (let i = 0; i < 6; i++) {
    const d = buf[off + i];
    buf[off + i] = buf[off + 6 + i];
    buf[off + 6 + i] = d;
  }
}

/**
 * Rewrites the IPv4 frame `buf[off..off+len)` into the ICMP port unreachable answering it;
 * returns the new frame length, or −1 when the buffer has no room for it (DROP_INVALID).
 */
export function writeNoServiceIcmp4(buf: Uint8Array, off: number, len: number): number {
  const sample = Math.min(len, NO_SERVICE_MAX_SAMPLE);
  const ipPacket = len - ETH_HLEN;
  const outLen = ETH_HLEN + IP_HLEN + ICMP_HLEN + sample;
  if (off + outLen > buf.length) return -1;
  const ip = off + ETH_HLEN;
  const tos = buf[ip + 1];
  const saddr0 = buf[ip + 12];
  const saddr1 = buf[ip + 13];
  const saddr2 = buf[ip + 14];
  const saddr3 = buf[ip + 15];
  const daddr = ((buf[ip + 16] << 24) | (buf[ip + 17] << 16) | (buf[ip + 18] << 8) | buf[ip + 19]) >>> 0;
  moveSampleSwapMacs(buf, off, ip + IP_HLEN + ICMP_HLEN, Math.min(ipPacket, sample), sample);
  buf[ip] = 0x45;
  buf[ip + 1] = tos;
  writeU16(buf, ip + 2, IP_HLEN + ICMP_HLEN + sample);
  writeU32(buf, ip + 4, 0); // id 0, no flags, offset 0
  buf[ip + 8] = IPDEFTTL;
  buf[ip + 9] = IPPROTO_ICMP;
  writeU16(buf, ip + 10, 0);
  writeU32(buf, ip + 12, daddr);
  buf[ip + 16] = saddr0;
  buf[ip + 17] = saddr1;
  buf[ip + 18] = saddr2;
  buf[ip + 19] = saddr3;
  writeU16(buf, ip + 10, ipv4HeaderChecksum(buf, ip));
  const icmp = ip + IP_HLEN;
  buf[icmp] = ICMP_DEST_UNREACH;
  buf[icmp + 1] = ICMP_PORT_UNREACH;
  writeU16(buf, icmp + 2, 0);
  writeU32(buf, icmp + 4, 0);
  writeU16(buf, icmp + 2, icmpChecksum(buf, icmp, ICMP_HLEN + sample));
  return outLen;
}

const IPV6_HLEN = 40;
/** Cilium's ICMPV6_PACKET_MAX_SAMPLE_SIZE: 1280 − 40 − 8. */
export const NO_SERVICE_MAX_SAMPLE6 = 1280 - 40 - 8;
const ICMPV6_DEST_UNREACH = 1;
const ICMPV6_PORT_UNREACH = 4;
const IPPROTO_ICMPV6 = 58;

/** The IPv6 frame `buf[off..off+len)` rewritten into its ICMPv6 port unreachable; the new length, or −1. */
export function writeNoServiceIcmp6(buf: Uint8Array, off: number, len: number): number {
  const sample = Math.min(len, NO_SERVICE_MAX_SAMPLE6);
  const ipPacket = len - ETH_HLEN;
  const outLen = ETH_HLEN + IPV6_HLEN + ICMP_HLEN + sample;
  if (off + outLen > buf.length) return -1;
  const ip = off + ETH_HLEN;
  const inner = ip + IPV6_HLEN + ICMP_HLEN;
  // The sample moves first; the addresses are read back from it.
  moveSampleSwapMacs(buf, off, inner, Math.min(ipPacket, sample), sample);
  writeU32(buf, ip, 0x60000000);
  writeU16(buf, ip + 4, ICMP_HLEN + sample);
  buf[ip + 6] = IPPROTO_ICMPV6;
  buf[ip + 7] = IPDEFTTL;
  buf.copyWithin(ip + 8, inner + 24, inner + 40); // source: the Service address
  buf.copyWithin(ip + 24, inner + 8, inner + 24); // destination: the sender
  const icmp = ip + IPV6_HLEN;
  buf[icmp] = ICMPV6_DEST_UNREACH;
  buf[icmp + 1] = ICMPV6_PORT_UNREACH;
  writeU16(buf, icmp + 2, 0);
  writeU32(buf, icmp + 4, 0);
  writeU16(buf, icmp + 2, icmpv6Checksum(buf, ip, icmp, ICMP_HLEN + sample));
  return outLen;
}
