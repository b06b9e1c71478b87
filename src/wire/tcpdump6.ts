/**
 * tcpdump-style lines for IPv6 frames (tcpdump 4.99's print-ip6.c and print-icmp6.c, run
 * with `-n -S`, no -v):
 *
 *   IP6 fd85:ee78:d8a6:8607::1:0.40000 > fd85:ee78:d8a6:8607::1000.80: Flags [S], seq 1, win 64800, length 0
 *   IP6 fd00::1 > fd00::2: ICMP6, echo request, id 1, seq 1, length 64
 *   IP6 fd00::2 > fd00::1: ICMP6, destination unreachable, unreachable port, fd00::2 tcp port 80, length 68
 *
 * Extension headers are stepped over silently (tcpdump prints an `HBH`/`frag (…)` prefix for
 * them); neighbour discovery and MLD messages print as `ICMP6, type-#N`.
 */

import { formatIPv6Bytes } from '../util/ipv6.js';
import type { DecodedLayer, DecodeFault } from './decode.js';

type Layer<K extends DecodedLayer['kind']> = Extract<DecodedLayer, { kind: K }>;

const UNREACH_CODE: Readonly<Record<number, string>> = {
  0: 'unreachable route',
  1: 'unreachable prohibited',
  2: 'beyond scope',
  3: 'unreachable address',
  4: 'unreachable port',
  5: 'failed policy',
  6: 'reject route',
};

function quotedDst(quote: Uint8Array): string {
  return quote.length >= 40 ? formatIPv6Bytes(quote, 24) : '?';
}

function icmpv6Text(layer: Layer<'icmpv6'>): string {
  const repr = layer.repr;
  const length = `, length ${layer.length}`;
  switch (repr.kind) {
    case 'echoRequest':
      return `ICMP6, echo request, id ${repr.ident}, seq ${repr.sequence}${length}`;
    case 'echoReply':
      return `ICMP6, echo reply, id ${repr.ident}, seq ${repr.sequence}${length}`;
    case 'packetTooBig':
      return `ICMP6, packet too big, mtu ${repr.mtu}${length}`;
    case 'timeExceeded':
      return repr.code === 0
        ? `ICMP6, time exceeded in-transit for ${quotedDst(layer.payload)}${length}`
        : `ICMP6, time exceeded reassembly${length}`;
    case 'destUnreachable': {
      const quote = layer.payload;
      const codeText = UNREACH_CODE[repr.code] ?? `unknown unreach code (${repr.code})`;
      let detail = ` ${quotedDst(quote)}`;
      if (repr.code === 4 && quote.length >= 44) {
        const proto = quote[6];
        const dport = (quote[42] << 8) | quote[43];
        const name = proto === 6 ? 'tcp' : proto === 17 ? 'udp' : `protocol ${proto}`;
        detail = `, ${quotedDst(quote)} ${name} port ${dport}`;
      }
      return `ICMP6, destination unreachable, ${codeText}${detail}${length}`;
    }
    case 'other':
      return `ICMP6, type-#${repr.type}${length}`;
  }
}

/** Text for the IPv6 layer at `i` and what it carries; `tcpText` is tcpdump.ts's TCP printer. */
export function formatIpv6(
  layers: readonly DecodedLayer[],
  i: number,
  fault: DecodeFault | null,
  tcpText: (layer: Layer<'tcp'>) => string,
  marker: (fault: DecodeFault | null) => string,
): string {
  const layer = layers[i];
  if (layer?.kind !== 'ipv6') return `IP6 ${marker(fault)}`;
  const src = formatIPv6Bytes(layer.repr.src);
  const dst = formatIPv6Bytes(layer.repr.dst);
  const next = layers[i + 1];
  if (next === undefined) return `IP6 ${src} > ${dst}: ${marker(fault)}`;
  switch (next.kind) {
    case 'tcp':
      return `IP6 ${src}.${next.repr.srcPort} > ${dst}.${next.repr.dstPort}: ${tcpText(next)}`;
    case 'udp':
      return `IP6 ${src}.${next.repr.srcPort} > ${dst}.${next.repr.dstPort}: UDP, length ${next.length - 8}`;
    case 'icmpv6':
      if (fault?.layer === 'icmpv6') return `IP6 ${src} > ${dst}: ICMP6 ${marker(fault)}`;
      return `IP6 ${src} > ${dst}: ${icmpv6Text(next)}`;
    case 'unknownIpProtocol':
      return `IP6 ${src} > ${dst}:  ip-proto-${next.protocol} ${next.length}`;
    case 'ipFragment':
      return `IP6 ${src} > ${dst}: frag ip-proto-${next.protocol}`;
    default:
      return `IP6 ${src} > ${dst}: ${marker(fault)}`;
  }
}
