/**
 * ICMPv4 (RFC 792): type · code · checksum · 4 bytes that depend on the type, then data.
 * Echo request/reply carry id and sequence; destination unreachable carries (for code 4)
 * the next-hop MTU and quotes the offending datagram's IP header plus at least 8 bytes.
 */
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { icmpChecksum, verifyIcmpChecksum } from './checksum.js';

export const ICMP_HEADER_LENGTH = 8;

export const IcmpField = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  IDENT: 4,
  SEQUENCE: 6,
  /** Next-hop MTU of "fragmentation needed" (RFC 1191), in the second half of the rest-of-header. */
  NEXT_HOP_MTU: 6,
  DATA: 8,
} as const;

export const enum IcmpType {
  ECHO_REPLY = 0,
  DEST_UNREACHABLE = 3,
  ECHO_REQUEST = 8,
  TIME_EXCEEDED = 11,
}

export const enum IcmpUnreachableCode {
  NET = 0,
  HOST = 1,
  PROTOCOL = 2,
  PORT = 3,
  FRAG_NEEDED = 4,
  SOURCE_ROUTE_FAILED = 5,
  NET_PROHIBITED = 9,
  HOST_PROHIBITED = 10,
  ADMIN_PROHIBITED = 13,
}

export type IcmpRepr =
  | { kind: 'echoRequest'; ident: number; sequence: number }
  | { kind: 'echoReply'; ident: number; sequence: number }
  | { kind: 'destUnreachable'; code: number; nextHopMtu: number }
  /** Any other type, with its 4 type-specific bytes as one u32. */
  | { kind: 'other'; type: number; code: number; rest: number };

/** In-place view over an ICMP header; re-point with `attach`, no bounds checks. */
export class IcmpView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;

  attach(buf: Uint8Array, offset = 0): this {
    this.buf = buf;
    this.offset = offset;
    return this;
  }

  get type(): number {
    return this.buf[this.offset + IcmpField.TYPE];
  }
  set type(value: number) {
    this.buf[this.offset + IcmpField.TYPE] = value;
  }
  get code(): number {
    return this.buf[this.offset + IcmpField.CODE];
  }
  set code(value: number) {
    this.buf[this.offset + IcmpField.CODE] = value;
  }
  get checksum(): number {
    return readU16(this.buf, this.offset + IcmpField.CHECKSUM);
  }
  set checksum(value: number) {
    writeU16(this.buf, this.offset + IcmpField.CHECKSUM, value);
  }
  get ident(): number {
    return readU16(this.buf, this.offset + IcmpField.IDENT);
  }
  set ident(value: number) {
    writeU16(this.buf, this.offset + IcmpField.IDENT, value);
  }
  get sequence(): number {
    return readU16(this.buf, this.offset + IcmpField.SEQUENCE);
  }
  set sequence(value: number) {
    writeU16(this.buf, this.offset + IcmpField.SEQUENCE, value);
  }
  get nextHopMtu(): number {
    return readU16(this.buf, this.offset + IcmpField.NEXT_HOP_MTU);
  }
  /** The 4 type-specific bytes as a u32. */
  get rest(): number {
    return readU32(this.buf, this.offset + IcmpField.IDENT);
  }
  get isEcho(): boolean {
    const type = this.type;
    return type === IcmpType.ECHO_REQUEST || type === IcmpType.ECHO_REPLY;
  }
  /** True for the error types that quote an offending datagram. */
  get isError(): boolean {
    const type = this.type;
    return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
  }
  get dataOffset(): number {
    return this.offset + ICMP_HEADER_LENGTH;
  }

  /** Recomputes the checksum over the whole message of `length` bytes. */
  fillChecksum(length: number): void {
    this.checksum = icmpChecksum(this.buf, this.offset, length);
  }
  verifyChecksum(length: number): boolean {
    return verifyIcmpChecksum(this.buf, this.offset, length);
  }

  read(): IcmpRepr {
    const type = this.type;
    if (type === IcmpType.ECHO_REQUEST)
      return { kind: 'echoRequest', ident: this.ident, sequence: this.sequence };
    if (type === IcmpType.ECHO_REPLY)
      return { kind: 'echoReply', ident: this.ident, sequence: this.sequence };
    if (type === IcmpType.DEST_UNREACHABLE) {
      return { kind: 'destUnreachable', code: this.code, nextHopMtu: this.nextHopMtu };
    }
    return { kind: 'other', type, code: this.code, rest: this.rest };
  }
}

/** Writes an ICMP header (checksum zero) at `offset`; returns ICMP_HEADER_LENGTH. */
export function writeIcmpHeader(buf: Uint8Array, offset: number, repr: IcmpRepr): number {
  writeU16(buf, offset + IcmpField.CHECKSUM, 0);
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      buf[offset + IcmpField.TYPE] =
        repr.kind === 'echoRequest' ? IcmpType.ECHO_REQUEST : IcmpType.ECHO_REPLY;
      buf[offset + IcmpField.CODE] = 0;
      writeU16(buf, offset + IcmpField.IDENT, repr.ident);
      writeU16(buf, offset + IcmpField.SEQUENCE, repr.sequence);
      break;
    case 'destUnreachable':
      buf[offset + IcmpField.TYPE] = IcmpType.DEST_UNREACHABLE;
      buf[offset + IcmpField.CODE] = repr.code;
      writeU16(buf, offset + IcmpField.IDENT, 0);
      writeU16(buf, offset + IcmpField.NEXT_HOP_MTU, repr.nextHopMtu);
      break;
    case 'other':
      buf[offset + IcmpField.TYPE] = repr.type;
      buf[offset + IcmpField.CODE] = repr.code;
      writeU32(buf, offset + IcmpField.IDENT, repr.rest);
      break;
  }
  return ICMP_HEADER_LENGTH;
}
