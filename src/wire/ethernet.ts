/**
 * Ethernet II: dst MAC (6) · src MAC (6) · ethertype (2), then the payload.
 * No 802.1Q tags and no FCS: captures (and dpsim's frames) carry neither.
 */
import { MAC_LENGTH } from './mac.js';

export const ETHERNET_HEADER_LENGTH = 14;
/** Frames shorter than this are padded on a real wire (60 bytes without the 4-byte FCS). */
export const ETHERNET_MIN_FRAME_LENGTH = 60;

export const EthernetField = {
  DST: 0,
  SRC: 6,
  ETHERTYPE: 12,
} as const;

export const enum EtherType {
  IPV4 = 0x0800,
  ARP = 0x0806,
  VLAN = 0x8100,
  IPV6 = 0x86dd,
  LLDP = 0x88cc,
}

/** Names tcpdump prints in "ethertype NAME (0x....)". */
export const ETHERTYPE_NAMES: Readonly<Record<number, string>> = {
  2048: 'IPv4',
  2054: 'ARP',
  33024: '802.1Q',
  34525: 'IPv6',
  35020: 'LLDP',
};

export interface EthernetRepr {
  dst: Uint8Array;
  src: Uint8Array;
  etherType: number;
}

/**
 * Reads and writes an Ethernet header in place. Re-point one instance with `attach`
 * per packet instead of allocating; accessors do no bounds checks (validate first).
 */
export class EthernetView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;

  attach(buf: Uint8Array, offset = 0): this {
    this.buf = buf;
    this.offset = offset;
    return this;
  }

  get etherType(): number {
    const o = this.offset + EthernetField.ETHERTYPE;
    return (this.buf[o] << 8) | this.buf[o + 1];
  }
  set etherType(value: number) {
    const o = this.offset + EthernetField.ETHERTYPE;
    this.buf[o] = value >>> 8;
    this.buf[o + 1] = value;
  }

  /** Offset of the byte after the header. */
  get payloadOffset(): number {
    return this.offset + ETHERNET_HEADER_LENGTH;
  }

  setDst(mac: Uint8Array, macOffset = 0): void {
    this.buf.set(mac.subarray(macOffset, macOffset + MAC_LENGTH), this.offset + EthernetField.DST);
  }
  setSrc(mac: Uint8Array, macOffset = 0): void {
    this.buf.set(mac.subarray(macOffset, macOffset + MAC_LENGTH), this.offset + EthernetField.SRC);
  }
  /** Copies the dst MAC into `out` at `outOffset` (no allocation). */
  copyDst(out: Uint8Array, outOffset = 0): void {
    out.set(this.buf.subarray(this.offset, this.offset + MAC_LENGTH), outOffset);
  }
  copySrc(out: Uint8Array, outOffset = 0): void {
    const o = this.offset + EthernetField.SRC;
    out.set(this.buf.subarray(o, o + MAC_LENGTH), outOffset);
  }
  /** Swaps dst and src MACs in place (reflecting a frame back out its port). */
  swapMacs(): void {
    const b = this.buf;
    const o = this.offset;
    for (let i = 0; i < MAC_LENGTH; i++) {
      const t = b[o + i];
      b[o + i] = b[o + MAC_LENGTH + i];
      b[o + MAC_LENGTH + i] = t;
    }
  }

  read(): EthernetRepr {
    const o = this.offset;
    return {
      dst: this.buf.slice(o, o + MAC_LENGTH),
      src: this.buf.slice(o + EthernetField.SRC, o + EthernetField.SRC + MAC_LENGTH),
      etherType: this.etherType,
    };
  }

  write(repr: EthernetRepr): void {
    this.setDst(repr.dst);
    this.setSrc(repr.src);
    this.etherType = repr.etherType;
  }
}

/** Writes an Ethernet header at `offset`; returns the header length. */
export function writeEthernetHeader(
  buf: Uint8Array,
  offset: number,
  dst: Uint8Array,
  src: Uint8Array,
  etherType: number,
): number {
  buf.set(dst.subarray(0, MAC_LENGTH), offset);
  buf.set(src.subarray(0, MAC_LENGTH), offset + EthernetField.SRC);
  buf[offset + EthernetField.ETHERTYPE] = etherType >>> 8;
  buf[offset + EthernetField.ETHERTYPE + 1] = etherType;
  return ETHERNET_HEADER_LENGTH;
}
