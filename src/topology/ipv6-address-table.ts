/**
 * The network's IPv6 addresses, interned: each distinct 128-bit address seen gets a small
 * index (1, 2, …), and the IPv6 datapath carries that index wherever the IPv4 path carries a
 * u32 address — conntrack tuples, NAT bindings, routes' next hops, neighbour keys, the rule
 * evaluator's PacketMeta. An index names exactly one address, so a tuple of indices is a tuple
 * of 128-bit addresses; the bytes stay here (16 per index) for prefix matches, rewrites and text.
 *
 * Why not a 128-bit key everywhere: the typed-array flow tables, NAT and the evaluators are
 * written over u32 addresses for the IPv4 hot path; an IPv6 node gets its own instances of them
 * (a separate conntrack table, its own ip6tables evaluator) keyed by indices, so IPv4 pays
 * nothing. Interning a frame's address is an open-addressing probe over bytes: no allocation.
 *
 * Applications (src/apps) keep numbers for addresses too; an IPv6 address reaches them as
 * APP_IPV6_BASE + index, above every u32, so a TCP 4-tuple key never mixes the families.
 */
import { APP_IPV6_BASE } from '../apps/transport.js';
import { formatIPv6Bytes, ipv6Bytes, parseIPv6 } from '../util/ipv6.js';

export { APP_IPV6_BASE };

export function isAppIpv6(addr: number): boolean {
  return addr >= APP_IPV6_BASE;
}

export function appIpv6(index: number): number {
  return APP_IPV6_BASE + index;
}

export function indexOfAppIpv6(addr: number): number {
  return addr - APP_IPV6_BASE;
}

export class Ipv6AddressTable {
  /** 16 bytes per index; index 0 is unused (0 means "no address", as for IPv4). */
  private bytes = new Uint8Array(16 * 64);
  private count = 1;
  /** Open-addressing hash: slot → index (0 = empty). */
  private slots = new Uint32Array(256);

  get size(): number {
    return this.count - 1;
  }

  /** The index of the 16 bytes at `buf[at..)`, interned on first sight. */
  intern(buf: Uint8Array, at: number): number {
    const mask = this.slots.length - 1;
    let h = hash16(buf, at) & mask;
    for (;;) {
      const idx = this.slots[h];
      if (idx === 0) break;
      if (this.equals(idx, buf, at)) return idx;
      h = (h + 1) & mask;
    }
    const idx = this.count++;
    if (idx * 16 + 16 > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes.set(buf.subarray(at, at + 16), idx * 16);
    this.slots[h] = idx;
    if (this.count * 2 > this.slots.length) this.rehash();
    return idx;
  }

  /** The index of an address given as text (control plane, not per packet). */
  internText(text: string): number {
    return this.intern(ipv6Bytes(parseIPv6(text)), 0);
  }

  /** The index of the address, or 0 when it was never seen. */
  find(buf: Uint8Array, at: number): number {
    const mask = this.slots.length - 1;
    let h = hash16(buf, at) & mask;
    for (;;) {
      const idx = this.slots[h];
      if (idx === 0) return 0;
      if (this.equals(idx, buf, at)) return idx;
      h = (h + 1) & mask;
    }
  }

  /** Writes the address of `index` at `buf[at..)`. */
  write(index: number, buf: Uint8Array, at: number): void {
    buf.set(this.bytes.subarray(index * 16, index * 16 + 16), at);
  }

  /** Byte `i` (0..15) of the address of `index`. */
  byteOf(index: number, i: number): number {
    return this.bytes[index * 16 + i];
  }

  /** The table's byte store and the offset of `index` in it (read-only use: rewrites copy from it). */
  storeOf(): Uint8Array {
    return this.bytes;
  }

  /** RFC 5952 text of `index`. */
  text(index: number): string {
    return formatIPv6Bytes(this.bytes, index * 16);
  }

  /** True when the first `prefixLength` bits of the address of `index` equal those of `network` (16 bytes at `at`). */
  inPrefix(index: number, network: Uint8Array, at: number, prefixLength: number): boolean {
    const base = index * 16;
    let bits = prefixLength;
    for (let i = 0; bits > 0; i++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((this.bytes[base + i] & mask) !== (network[at + i] & mask)) return false;
    }
    return true;
  }

  private equals(index: number, buf: Uint8Array, at: number): boolean {
    const b = this.bytes;
    const base = index * 16;
    for (let i = 0; i < 16; i++) if (b[base + i] !== buf[at + i]) return false;
    return true;
  }

  private rehash(): void {
    const slots = new Uint32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let idx = 1; idx < this.count; idx++) {
      let h = hash16(this.bytes, idx * 16) & mask;
      while (slots[h] !== 0) h = (h + 1) & mask;
      slots[h] = idx;
    }
    this.slots = slots;
  }
}

/** FNV-1a over the 16 bytes. */
function hash16(buf: Uint8Array, at: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ buf[at + i], 0x01000193);
  return h >>> 0;
}
