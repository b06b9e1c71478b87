/**
 * VXLAN (RFC 7348): an 8-byte header after UDP — flags (0x08 = I, "VNI valid") ·
 * 3 reserved bytes · 24-bit VNI · 1 reserved byte — followed by the inner Ethernet frame.
 * IANA's port is 4789; Linux's legacy default and Cilium's/flannel's default is 8472.
 */
import { readU24, writeU24 } from './bytes.js';

export const VXLAN_HEADER_LENGTH = 8;
export const VXLAN_FLAG_I = 0x08;
export const VXLAN_PORT_IANA = 4789;
export const VXLAN_PORT_LINUX_LEGACY = 8472;
/** Outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8: a 1500-byte underlay leaves a 1450-byte inner MTU. */
export const VXLAN_IPV4_OVERHEAD = 50;

export const VxlanField = {
  FLAGS: 0,
  VNI: 4,
} as const;

export interface VxlanRepr {
  vni: number;
}

/** In-place view over a VXLAN header; re-point with `attach`, no bounds checks. */
export class VxlanView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;

  attach(buf: Uint8Array, offset = 0): this {
    this.buf = buf;
    this.offset = offset;
    return this;
  }

  get flags(): number {
    return this.buf[this.offset + VxlanField.FLAGS];
  }
  get vniValid(): boolean {
    return (this.flags & VXLAN_FLAG_I) !== 0;
  }
  get vni(): number {
    return readU24(this.buf, this.offset + VxlanField.VNI);
  }
  set vni(value: number) {
    writeU24(this.buf, this.offset + VxlanField.VNI, value);
  }
  get innerOffset(): number {
    return this.offset + VXLAN_HEADER_LENGTH;
  }
}

/** Writes a VXLAN header with the I flag and the VNI; returns VXLAN_HEADER_LENGTH. */
export function writeVxlanHeader(buf: Uint8Array, offset: number, repr: VxlanRepr): number {
  buf[offset] = VXLAN_FLAG_I;
  buf[offset + 1] = 0;
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
  writeU24(buf, offset + VxlanField.VNI, repr.vni);
  buf[offset + 7] = 0;
  return VXLAN_HEADER_LENGTH;
}
