/**
 * tcpdump-style one-line summaries of decoded frames, following tcpdump 4.99's printers
 * (print-ether.c, print-arp.c, print-ip.c, print-tcp.c, print-udp.c, print-icmp.c,
 * print-vxlan.c) as run with `-n -S` and without -e/-v:
 *
 *   IP 192.168.100.1.40000 > 192.168.100.100.30532: Flags [S], seq 1, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
 *   IP 10.0.0.1.1234 > 10.0.0.2.53: UDP, length 10
 *   IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64
 *   ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28
 *
 * Sequence numbers are always absolute, as with `tcpdump -S`: plain tcpdump prints the
 * first SYN's seq absolute and later ones relative to it, which needs per-connection
 * state a per-frame formatter does not have. Ports and addresses are numeric (-n).
 * Application payloads (HTTP, DNS, …) are not decoded: the line ends at `length N`.
 * VXLAN is also recognised on port 8472, where tcpdump itself would print OTV. ICMP
 * redirect and parameter-problem messages print as `type-#N` (tcpdump adds details),
 * and rare TCP options (md5, mptcp, tfo, uto, …) print as their name plus hex data.
 */
import type { DecodedLayer, DecodeFault } from './decode.js';
import { ETHERTYPE_NAMES } from './ethernet.js';
import { formatMac } from './mac.js';
import { TcpFlag, type TcpOption } from './tcp.js';
import { formatIpv6 } from './tcpdump6.js';

function ip(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

function hex(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += byte.toString(16).padStart(2, '0');
  return text;
}

/** tcpdump's tcp_flag_values order: F S R P . U E W e; no flag at all prints "none". */
const FLAG_LETTERS: readonly [number, string][] = [
  [0x01, 'F'],
  [0x02, 'S'],
  [0x04, 'R'],
  [0x08, 'P'],
  [0x10, '.'],
  [0x20, 'U'],
  [0x40, 'E'],
  [0x80, 'W'],
  [0x100, 'e'],
];

export function formatTcpFlags(flags: number): string {
  let text = '';
  for (const [bit, letter] of FLAG_LETTERS) if (flags & bit) text += letter;
  return text === '' ? 'none' : text;
}

/** tcpdump's names for option kinds it knows but this layer keeps as `unknown`. */
const OTHER_OPTION_NAMES: Readonly<Record<number, string>> = {
  6: 'echo',
  7: 'echoreply',
  11: 'cc',
  12: 'ccnew',
  13: 'ccecho',
  19: 'md5',
  20: 'scps',
  28: 'uto',
  29: 'tcp-ao',
  30: 'mptcp',
  34: 'tfo',
  254: 'exp',
};

export function formatTcpOption(option: TcpOption): string {
  switch (option.kind) {
    case 'eol':
      return 'eol';
    case 'nop':
      return 'nop';
    case 'mss':
      return `mss ${option.value}`;
    case 'windowScale':
      return `wscale ${option.shift}`;
    case 'sackPermitted':
      return 'sackOK';
    case 'sack':
      return `sack ${option.blocks.length} ${option.blocks.map((b) => `{${b.left}:${b.right}}`).join('')}`;
    case 'timestamp':
      return `TS val ${option.tsval} ecr ${option.tsecr}`;
    case 'unknown': {
      const name = OTHER_OPTION_NAMES[option.type];
      // echo/echoreply/cc* carry one u32, printed in decimal; the rest is approximated as hex.
      if (name && option.type <= 13 && option.data.length === 4) {
        const value =
          ((option.data[0] << 24) | (option.data[1] << 16) | (option.data[2] << 8) | option.data[3]) >>> 0;
        return `${name} ${value}`;
      }
      const label = name ?? `unknown-${option.type}`;
      return option.data.length > 0 ? `${label} 0x${hex(option.data)}` : label;
    }
  }
}

const ICMP_UNREACHABLE_TEXT: Readonly<Record<number, (dst: string) => string>> = {
  0: (d) => `net ${d} unreachable`,
  1: (d) => `host ${d} unreachable`,
  5: (d) => `${d} unreachable - source route failed`,
  6: (d) => `net ${d} unreachable - unknown`,
  7: (d) => `host ${d} unreachable - unknown`,
  8: (d) => `${d} unreachable - source host isolated`,
  9: (d) => `net ${d} unreachable - admin prohibited`,
  10: (d) => `host ${d} unreachable - admin prohibited`,
  11: (d) => `net ${d} unreachable - tos prohibited`,
  12: (d) => `host ${d} unreachable - tos prohibited`,
  13: (d) => `host ${d} unreachable - admin prohibited filter`,
  14: (d) => `host ${d} unreachable - host precedence violation`,
  15: (d) => `host ${d} unreachable - precedence cutoff`,
};

const ICMP_TYPE_NAMES: Readonly<Record<number, string>> = {
  4: 'source quench',
  10: 'router solicitation',
  13: 'time stamp request',
  14: 'time stamp reply',
  15: 'information request',
  16: 'information reply',
  17: 'address mask request',
  42: 'extended echo request',
  43: 'extended echo reply',
};

function quotedDst(quote: Uint8Array): string {
  return ip(((quote[16] << 24) | (quote[17] << 16) | (quote[18] << 8) | quote[19]) >>> 0);
}

function icmpText(layer: Extract<DecodedLayer, { kind: 'icmp' }>): string {
  const repr = layer.repr;
  switch (repr.kind) {
    case 'echoRequest':
      return `echo request, id ${repr.ident}, seq ${repr.sequence}`;
    case 'echoReply':
      return `echo reply, id ${repr.ident}, seq ${repr.sequence}`;
    case 'destUnreachable': {
      const quote = layer.payload;
      const dst = quotedDst(quote);
      const quotedProto = quote[9];
      switch (repr.code) {
        case 2:
          return `${dst} protocol ${quotedProto} unreachable`;
        case 3: {
          const l4 = (quote[0] & 0x0f) * 4;
          const dport = (quote[l4 + 2] << 8) | quote[l4 + 3];
          if (quotedProto === 6) return `${dst} tcp port ${dport} unreachable`;
          if (quotedProto === 17) return `${dst} udp port ${dport} unreachable`;
          return `${dst} protocol ${quotedProto} port ${dport} unreachable`;
        }
        case 4:
          return repr.nextHopMtu
            ? `${dst} unreachable - need to frag (mtu ${repr.nextHopMtu})`
            : `${dst} unreachable - need to frag`;
        default: {
          const text = ICMP_UNREACHABLE_TEXT[repr.code];
          return text ? text(dst) : `${dst} unreachable - #${repr.code}`;
        }
      }
    }
    case 'other':
      if (repr.type === 11) {
        if (repr.code === 0) return 'time exceeded in-transit';
        if (repr.code === 1) return 'ip reassembly time exceeded';
        return `time exceeded-#${repr.code}`;
      }
      return ICMP_TYPE_NAMES[repr.type] ?? `type-#${repr.type}`;
  }
}

function arpText(layer: Extract<DecodedLayer, { kind: 'arp' }>): string {
  const a = layer.repr;
  const length = `, length ${layer.length}`;
  switch (a.operation) {
    case 1: {
      const targetMac = a.targetMac.some((b) => b !== 0) ? ` (${formatMac(a.targetMac)})` : '';
      return `Request who-has ${ip(a.targetIp)}${targetMac} tell ${ip(a.senderIp)}${length}`;
    }
    case 2:
      return `Reply ${ip(a.senderIp)} is-at ${formatMac(a.senderMac)}${length}`;
    case 3:
      return `Reverse Request who-is ${formatMac(a.targetMac)} tell ${formatMac(a.senderMac)}${length}`;
    case 4:
      return `Reverse Reply ${formatMac(a.targetMac)} at ${ip(a.targetIp)}${length}`;
    case 8:
      return `Inverse Request who-is ${formatMac(a.targetMac)} tell ${formatMac(a.senderMac)}${length}`;
    case 9:
      return `Inverse Reply ${formatMac(a.senderMac)} at ${ip(a.senderIp)}${length}`;
    default:
      // tcpdump hex-dumps unknown operations and prints no length.
      return `Unknown (${a.operation})`;
  }
}

function tcpText(layer: Extract<DecodedLayer, { kind: 'tcp' }>): string {
  const t = layer.repr;
  const length = layer.payload.length;
  let text = `Flags [${formatTcpFlags(t.flags)}]`;
  if (length > 0 || t.flags & (TcpFlag.FIN | TcpFlag.SYN | TcpFlag.RST)) {
    text += `, seq ${t.seq}`;
    if (length > 0) text += `:${(t.seq + length) >>> 0}`;
  }
  if (t.flags & TcpFlag.ACK) text += `, ack ${t.ack}`;
  text += `, win ${t.window}`;
  if (t.flags & TcpFlag.URG) text += `, urg ${t.urgent}`;
  if (t.options.length > 0) text += `, options [${t.options.map(formatTcpOption).join(',')}]`;
  return `${text}, length ${length}`;
}

function marker(fault: DecodeFault | null): string {
  return fault ? `[|${fault.layer}: ${fault.reason}]` : '';
}

/** Text for the IPv4 layer at `i` and everything inside it. */
function formatIpv4(layers: readonly DecodedLayer[], i: number, fault: DecodeFault | null): string {
  const layer = layers[i];
  if (layer?.kind !== 'ipv4') return `IP ${marker(fault)}`;
  const src = ip(layer.repr.src);
  const dst = ip(layer.repr.dst);
  const next = layers[i + 1];
  if (next === undefined) return `IP ${src} > ${dst}: ${marker(fault)}`;
  switch (next.kind) {
    case 'tcp':
      return `IP ${src}.${next.repr.srcPort} > ${dst}.${next.repr.dstPort}: ${tcpText(next)}`;
    case 'udp': {
      const prefix = `IP ${src}.${next.repr.srcPort} > ${dst}.${next.repr.dstPort}: `;
      const vxlan = layers[i + 2];
      if (vxlan?.kind === 'vxlan') {
        const head = `VXLAN, flags [I] (0x${vxlan.flags.toString(16).padStart(2, '0')}), vni ${vxlan.repr.vni}`;
        return `${prefix}${head}\n${formatFrom(layers, i + 3, fault)}`;
      }
      if (fault?.layer === 'vxlan') return `${prefix}VXLAN ${marker(fault)}`;
      return `${prefix}UDP, length ${next.length - 8}`;
    }
    case 'icmp':
      if (fault?.layer === 'icmp') return `IP ${src} > ${dst}: ICMP ${marker(fault)}`;
      return `IP ${src} > ${dst}: ICMP ${icmpText(next)}, length ${next.length}`;
    case 'ipv4':
      return `IP ${src} > ${dst}: ${formatIpv4(layers, i + 1, fault)}`;
    case 'unknownIpProtocol':
      // Two spaces, as tcpdump prints them (its "src > dst: " then " ip-proto-N").
      return `IP ${src} > ${dst}:  ip-proto-${next.protocol} ${next.length}`;
    case 'ipFragment':
      return `IP ${src} > ${dst}: ip-proto-${next.protocol}`;
    default:
      return `IP ${src} > ${dst}: ${marker(fault)}`;
  }
}

/** Text for the Ethernet frame whose header is layer `i`. */
function formatFrom(layers: readonly DecodedLayer[], i: number, fault: DecodeFault | null): string {
  const layer = layers[i];
  if (layer?.kind !== 'ethernet') return marker(fault);
  const next = layers[i + 1];
  if (next === undefined) {
    if (fault?.layer === 'ipv4') return `IP ${marker(fault)}`;
    if (fault?.layer === 'arp') return `ARP, ${marker(fault)}`;
    if (fault?.layer === 'ipv6') return `IP6 ${marker(fault)}`;
    return marker(fault);
  }
  switch (next.kind) {
    case 'arp':
      return `ARP, ${arpText(next)}`;
    case 'ipv4':
      return formatIpv4(layers, i + 1, fault);
    case 'ipv6':
      return formatIpv6(layers, i + 1, fault, tcpText, marker);
    case 'unknownEthertype': {
      const type = next.etherType;
      const name = ETHERTYPE_NAMES[type] ?? 'Unknown';
      return (
        `${formatMac(layer.repr.src)} > ${formatMac(layer.repr.dst)}, ` +
        `ethertype ${name} (0x${type.toString(16).padStart(4, '0')}), length ${next.length}:`
      );
    }
    default:
      return marker(fault);
  }
}

/** Formats decoded layers (and the fault that stopped decoding, if any) as tcpdump would. */
export function formatTcpdumpLine(layers: readonly DecodedLayer[], fault: DecodeFault | null): string {
  if (layers.length === 0) return marker(fault);
  return formatFrom(layers, 0, fault);
}
