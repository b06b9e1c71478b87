/**
 * Trace wording of the IPv6 path (host6.ts): the same steps as host-steps.ts, with IPv6
 * endpoints written as `[addr]:port`, the way ip6tables' and the kernel's tools print them.
 */

import type { PathVerdict } from './drop-reasons.js';
import { ctStateText, PATH_VERDICT_TEXT } from './host-steps.js';

/** An IPv6 endpoint as text: `[fd85:ee78:d8a6:8607::1:2]:8080`. */
export function endpoint6(addr: string, port: number): string {
  return `[${addr}]:${port}`;
}

/** One netfilter hook on the IPv6 path: verdict, tuple after it, conntrack state and the NAT it did. */
export function hookStep6Text(
  verdict: PathVerdict,
  seen: { s: string; sport: number; d: string; dport: number },
  after: { s: string; sport: number; d: string; dport: number },
  ctState: number,
  firstPacket: boolean,
): string {
  const tuple = `${endpoint6(after.s, after.sport)} → ${endpoint6(after.d, after.dport)}`;
  let nat = '';
  if (seen.d !== after.d || seen.dport !== after.dport)
    nat = `  DNAT ${endpoint6(seen.d, seen.dport)} → ${endpoint6(after.d, after.dport)}`;
  if (seen.s !== after.s || seen.sport !== after.sport)
    nat += `  SNAT ${endpoint6(seen.s, seen.sport)} → ${endpoint6(after.s, after.sport)}`;
  const ct = ctStateText(ctState) + (firstPacket ? ', first packet' : '');
  return `${PATH_VERDICT_TEXT[verdict]}  ${tuple}  ct ${ct}${nat}`;
}

export function route6Text(daddr: string, nextHop: string, device: string): string {
  return `${daddr} via ${nextHop} dev ${device}`;
}

export function deliverTcp6Text(daddr: string, dport: number, saddr: string, sport: number): string {
  return `tcp ${endpoint6(daddr, dport)} from ${endpoint6(saddr, sport)}`;
}

export function deliverUdp6Text(daddr: string, dport: number, saddr: string, sport: number): string {
  return `udp ${endpoint6(daddr, dport)} from ${endpoint6(saddr, sport)}`;
}

export function icmpv6SentText(type: number, code: number, dst: string): string {
  return `icmp6 type ${type} code ${code} → ${dst}`;
}

export function deliverIcmpv6Text(type: number, code: number): string {
  return `icmp6 type ${type} code ${code}`;
}

/** IPVS claimed the packet at INPUT and sends it on to a real server (ip_vs_nat_xmit). */
export function ipvsRedirect6Text(daddr: string, dport: number): string {
  return `→ ${endpoint6(daddr, dport)}`;
}
