/**
 * ICMPv6 (RFC 4443): type · code · checksum (over the IPv6 pseudo-header, next header 58) ·
 * 4 type-specific bytes · data. The messages a Service dataplane meets: destination
 * unreachable (code 4 port unreachable is what `ip6tables -j REJECT --reject-with
 * icmp6-port-unreachable` and kube-proxy's no-endpoints rules send), packet too big (its
 * 32-bit MTU), time exceeded (hop limit reached zero), echo request/reply. Errors quote as
 * much of the offending packet as fits in the 1280-byte minimum MTU.
 */
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';

export const ICMPV6_HEADER_LENGTH = 8;

export const Icmpv6Field = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Echo: identifier, then sequence. */
  IDENT: 4,
  SEQUENCE: 6,
  /** Packet too big: the MTU (32 bits); parameter problem: the pointer. */
  MTU: 4,
  DATA: 8,
} as const;

export const enum Icmpv6Type {
  DEST_UNREACHABLE = 1,
  PACKET_TOO_BIG = 2,
  TIME_EXCEEDED = 3,
  PARAMETER_PROBLEM = 4,
  ECHO_REQUEST = 128,
  ECHO_REPLY = 129,
}

/** Destination-unreachable codes (RFC 4443 §3.1). */
export const enum Icmpv6UnreachableCode {
  NO_ROUTE = 0,
  ADMIN_PROHIBITED = 1,
  BEYOND_SCOPE = 2,
  ADDRESS = 3,
  PORT = 4,
  POLICY_FAILED = 5,
  REJECT_ROUTE = 6,
}

export type Icmpv6Repr =
  | { kind: 'echoRequest'; ident: number; sequence: number }
  | { kind: 'echoReply'; ident: number; sequence: number }
  | { kind: 'destUnreachable'; code: number }
  | { kind: 'packetTooBig'; mtu: number }
  | { kind: 'timeExceeded'; code: number }
  /** Any other type, its 4 type-specific bytes as one u32. */
  | { kind: 'other'; type: number; code: number; rest: number };

/** True for the error messages (types below 128), which quote the offending packet. */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

/** Reads the header at `offset`. */
export function readIcmpv6(buf: Uint8Array, offset: number): Icmpv6Repr {
  const type = buf[offset];
  const code = buf[offset + 1];
  switch (type) {
    case Icmpv6Type.ECHO_REQUEST:
      return { kind: 'echoRequest', ident: readU16(buf, offset + 4), sequence: readU16(buf, offset + 6) };
    case Icmpv6Type.ECHO_REPLY:
      return { kind: 'echoReply', ident: readU16(buf, offset + 4), sequence: readU16(buf, offset + 6) };
    case Icmpv6Type.DEST_UNREACHABLE:
      return { kind: 'destUnreachable', code };
    case Icmpv6Type.PACKET_TOO_BIG:
      return { kind: 'packetTooBig', mtu: readU32(buf, offset + 4) };
    case Icmpv6Type.TIME_EXCEEDED:
      return { kind: 'timeExceeded', code };
    default:
      return { kind: 'other', type, code, rest: readU32(buf, offset + 4) };
  }
}

/** Writes the header (checksum zero; the frame builder fills it) at `offset`; returns its length. */
export function writeIcmpv6Header(buf: Uint8Array, offset: number, repr: Icmpv6Repr): number {
  writeU16(buf, offset + Icmpv6Field.CHECKSUM, 0);
  writeU32(buf, offset + 4, 0);
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      buf[offset] = repr.kind === 'echoRequest' ? Icmpv6Type.ECHO_REQUEST : Icmpv6Type.ECHO_REPLY;
      buf[offset + 1] = 0;
      writeU16(buf, offset + Icmpv6Field.IDENT, repr.ident);
      writeU16(buf, offset + Icmpv6Field.SEQUENCE, repr.sequence);
      break;
    case 'destUnreachable':
      buf[offset] = Icmpv6Type.DEST_UNREACHABLE;
      buf[offset + 1] = repr.code;
      break;
    case 'packetTooBig':
      buf[offset] = Icmpv6Type.PACKET_TOO_BIG;
      buf[offset + 1] = 0;
      writeU32(buf, offset + Icmpv6Field.MTU, repr.mtu);
      break;
    case 'timeExceeded':
      buf[offset] = Icmpv6Type.TIME_EXCEEDED;
      buf[offset + 1] = repr.code;
      break;
    case 'other':
      buf[offset] = repr.type;
      buf[offset + 1] = repr.code;
      writeU32(buf, offset + 4, repr.rest);
      break;
  }
  return ICMPV6_HEADER_LENGTH;
}
