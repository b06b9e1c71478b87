/** UDP header (RFC 768): src port · dst port · length (header + payload) · checksum. */
import { readU16, writeU16 } from './bytes.js';
import { udpChecksum, verifyUdpChecksum } from './checksum.js';

export const UDP_HEADER_LENGTH = 8;

export const UdpField = {
  SRC_PORT: 0,
  DST_PORT: 2,
  LENGTH: 4,
  CHECKSUM: 6,
} as const;

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
}

/** In-place view over a UDP header; re-point with `attach`, no bounds checks. */
export class UdpView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;

  attach(buf: Uint8Array, offset = 0): this {
    this.buf = buf;
    this.offset = offset;
    return this;
  }

  get srcPort(): number {
    return readU16(this.buf, this.offset + UdpField.SRC_PORT);
  }
  set srcPort(value: number) {
    writeU16(this.buf, this.offset + UdpField.SRC_PORT, value);
  }
  get dstPort(): number {
    return readU16(this.buf, this.offset + UdpField.DST_PORT);
  }
  set dstPort(value: number) {
    writeU16(this.buf, this.offset + UdpField.DST_PORT, value);
  }
  /** Header + payload length as the header states it. */
  get length(): number {
    return readU16(this.buf, this.offset + UdpField.LENGTH);
  }
  set length(value: number) {
    writeU16(this.buf, this.offset + UdpField.LENGTH, value);
  }
  get checksum(): number {
    return readU16(this.buf, this.offset + UdpField.CHECKSUM);
  }
  set checksum(value: number) {
    writeU16(this.buf, this.offset + UdpField.CHECKSUM, value);
  }
  get payloadOffset(): number {
    return this.offset + UDP_HEADER_LENGTH;
  }

  /** Recomputes the checksum over `length` bytes (0 is sent as 0xffff). */
  fillChecksum(src: number, dst: number): void {
    this.checksum = udpChecksum(this.buf, this.offset, this.length, src, dst);
  }
  /** True when the checksum is correct or absent (0). */
  verifyChecksum(src: number, dst: number): boolean {
    return verifyUdpChecksum(this.buf, this.offset, this.length, src, dst);
  }
}

/** Writes a UDP header for `payloadLength` bytes with checksum 0; returns UDP_HEADER_LENGTH. */
export function writeUdpHeader(
  buf: Uint8Array,
  offset: number,
  repr: UdpRepr,
  payloadLength: number,
): number {
  writeU16(buf, offset + UdpField.SRC_PORT, repr.srcPort);
  writeU16(buf, offset + UdpField.DST_PORT, repr.dstPort);
  writeU16(buf, offset + UdpField.LENGTH, UDP_HEADER_LENGTH + payloadLength);
  writeU16(buf, offset + UdpField.CHECKSUM, 0);
  return UDP_HEADER_LENGTH;
}
