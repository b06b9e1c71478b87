/**
 * ARP for IPv4 over Ethernet (RFC 826): htype 1 · ptype 0x0800 · hlen 6 · plen 4 ·
 * operation · sender MAC · sender IP · target MAC · target IP = 28 bytes.
 */
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { MAC_LENGTH } from './mac.js';

export const ARP_LENGTH = 28;
export const ARP_HTYPE_ETHERNET = 1;
export const ARP_PTYPE_IPV4 = 0x0800;

export const ArpField = {
  HTYPE: 0,
  PTYPE: 2,
  HLEN: 4,
  PLEN: 5,
  OPER: 6,
  SHA: 8,
  SPA: 14,
  THA: 18,
  TPA: 24,
} as const;

export const enum ArpOperation {
  REQUEST = 1,
  REPLY = 2,
}

export interface ArpRepr {
  /** 1 request, 2 reply (ArpOperation). */
  operation: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

/** In-place view over an ARP packet; re-point with `attach`, no bounds checks. */
export class ArpView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;

  attach(buf: Uint8Array, offset = 0): this {
    this.buf = buf;
    this.offset = offset;
    return this;
  }

  get hardwareType(): number {
    return readU16(this.buf, this.offset + ArpField.HTYPE);
  }
  get protocolType(): number {
    return readU16(this.buf, this.offset + ArpField.PTYPE);
  }
  get hardwareLength(): number {
    return this.buf[this.offset + ArpField.HLEN];
  }
  get protocolLength(): number {
    return this.buf[this.offset + ArpField.PLEN];
  }
  get operation(): number {
    return readU16(this.buf, this.offset + ArpField.OPER);
  }
  set operation(value: number) {
    writeU16(this.buf, this.offset + ArpField.OPER, value);
  }
  get senderIp(): number {
    return readU32(this.buf, this.offset + ArpField.SPA);
  }
  set senderIp(value: number) {
    writeU32(this.buf, this.offset + ArpField.SPA, value);
  }
  get targetIp(): number {
    return readU32(this.buf, this.offset + ArpField.TPA);
  }
  set targetIp(value: number) {
    writeU32(this.buf, this.offset + ArpField.TPA, value);
  }
  /** True when this is IPv4-over-Ethernet ARP, the only kind this view understands. */
  get isEthernetIpv4(): boolean {
    return (
      this.hardwareType === ARP_HTYPE_ETHERNET &&
      this.protocolType === ARP_PTYPE_IPV4 &&
      this.hardwareLength === MAC_LENGTH &&
      this.protocolLength === 4
    );
  }

  read(): ArpRepr {
    const b = this.buf;
    const o = this.offset;
    return {
      operation: this.operation,
      senderMac: b.slice(o + ArpField.SHA, o + ArpField.SHA + MAC_LENGTH),
      senderIp: this.senderIp,
      targetMac: b.slice(o + ArpField.THA, o + ArpField.THA + MAC_LENGTH),
      targetIp: this.targetIp,
    };
  }
}

/** Writes an IPv4-over-Ethernet ARP packet at `offset`; returns ARP_LENGTH. */
export function writeArp(buf: Uint8Array, offset: number, repr: ArpRepr): number {
  writeU16(buf, offset + ArpField.HTYPE, ARP_HTYPE_ETHERNET);
  writeU16(buf, offset + ArpField.PTYPE, ARP_PTYPE_IPV4);
  buf[offset + ArpField.HLEN] = MAC_LENGTH;
  buf[offset + ArpField.PLEN] = 4;
  writeU16(buf, offset + ArpField.OPER, repr.operation);
  buf.set(repr.senderMac.subarray(0, MAC_LENGTH), offset + ArpField.SHA);
  writeU32(buf, offset + ArpField.SPA, repr.senderIp);
  buf.set(repr.targetMac.subarray(0, MAC_LENGTH), offset + ArpField.THA);
  writeU32(buf, offset + ArpField.TPA, repr.targetIp);
  return ARP_LENGTH;
}
