/**
 * The address family of a kube-proxy nftables table. kube-proxy runs one proxier per family
 * (its MetaProxier): the IPv4 one writes `table ip kube-proxy`, the IPv6 one `table ip6
 * kube-proxy`, with the same chains and maps; only the address words differ (`ip daddr` /
 * `ip6 daddr`, `ipv4_addr` / `ipv6_addr`, localhost `127.0.0.0/8` / `::1`). This file is the
 * one place that knows those differences, for the compiler and the renderer.
 */
import { cidrContains, isIPv4, parseCidr, parseIPv4 } from '../../util/ipv4.js';
import { isIPv6Text, parseCidr6, parseIPv6, prefixMask6 } from '../../util/ipv6.js';

export type NftFamily = 'ip' | 'ip6';
export type NftAddrType = 'ipv4_addr' | 'ipv6_addr';

export function addrTypeOf(family: NftFamily): NftAddrType {
  return family === 'ip6' ? 'ipv6_addr' : 'ipv4_addr';
}

/** The family of a set or map key type (`ipv6_addr . inet_proto . inet_service` → ip6). */
export function familyOfKeyType(keyType: string): NftFamily | null {
  if (keyType.startsWith('ipv4_addr')) return 'ip';
  if (keyType.startsWith('ipv6_addr')) return 'ip6';
  return null;
}

export function isFamilyAddress(family: NftFamily, text: string): boolean {
  return family === 'ip6' ? isIPv6Text(text) && !text.includes('/') : isIPv4(text);
}

/** The address that kube-proxy's match-all NodePort rules exclude: `127.0.0.0/8` or `::1`. */
export function localhostPrefix(family: NftFamily): string {
  return family === 'ip6' ? '::1' : '127.0.0.0/8';
}

/** Validates `text` as a prefix of the family ("10.0.0.0/8", "fd00::/64", or a bare address). */
export function parseFamilyCidr(family: NftFamily, text: string): void {
  if (family === 'ip6') parseCidr6(text);
  else parseCidr(text);
}

/** True when the family's prefix `cidrText` holds the address `addrText`. */
export function familyCidrContains(family: NftFamily, cidrText: string, addrText: string): boolean {
  if (family === 'ip6') {
    const c = parseCidr6(cidrText);
    return (parseIPv6(addrText) & prefixMask6(c.prefixLength)) === c.network;
  }
  return cidrContains(parseCidr(cidrText), parseIPv4(addrText));
}
