/**
 * IPv6 addresses on the control-plane side: text ⇄ bigint (the 128-bit value) ⇄ 16 bytes.
 *
 * A bigint is the natural number for allocation arithmetic (a /116 Service range, a /112
 * pod range); frames carry the 16 bytes, and per-packet code never builds a bigint. Text
 * output is RFC 5952's canonical form (lower case, leading zeros dropped, the longest run of
 * two or more zero groups — the first of equal runs — shown as `::`), what Go's
 * net/netip, kubectl and the kernel tools print. Parsing accepts RFC 4291's forms,
 * including a trailing dotted quad (`::ffff:10.0.0.1`); zone indexes are refused.
 */
import { AddressError, isIPv4, parseIPv4 } from './ipv4.js';

const GROUP = /^[0-9a-fA-F]{1,4}$/;
const MAX = (1n << 128n) - 1n;

function parseGroups(part: string, text: string): number[] {
  if (part === '') return [];
  const groups: number[] = [];
  const pieces = part.split(':');
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i];
    if (i === pieces.length - 1 && piece.includes('.')) {
      if (!isIPv4(piece)) throw new AddressError(`invalid IPv6 address "${text}"`);
      const v4 = parseIPv4(piece);
      groups.push(v4 >>> 16, v4 & 0xffff);
    } else if (GROUP.test(piece)) groups.push(Number.parseInt(piece, 16));
    else throw new AddressError(`invalid IPv6 address "${text}"`);
  }
  return groups;
}

/** Parses IPv6 text ("fd85:ee78:d8a6:8607::1000") into its 128-bit value. Throws AddressError. */
export function parseIPv6(text: string): bigint {
  const bad = (): AddressError => new AddressError(`invalid IPv6 address "${text}"`);
  if (text.length === 0 || text.length > 45) throw bad();
  const halves = text.split('::');
  if (halves.length > 2) throw bad();
  let groups: number[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0], text);
    const tail = parseGroups(halves[1], text);
    if (head.length + tail.length > 7) throw bad();
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    groups = parseGroups(text, text);
    if (groups.length !== 8) throw bad();
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

/** True when `text` parses as an IPv6 address. */
export function isIPv6Text(text: string): boolean {
  try {
    parseIPv6(text);
    return true;
  } catch {
    return false;
  }
}

/** RFC 5952 canonical text of a 128-bit value. */
export function formatIPv6(value: bigint): string {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // The longest run of at least two zero groups; the first one on a tie.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

/** Writes the 16 network-order bytes of `value` at `buf[offset..)`. */
export function writeIPv6(buf: Uint8Array, offset: number, value: bigint): void {
  for (let i = 15; i >= 0; i--) {
    buf[offset + i] = Number(value & 0xffn);
    value >>= 8n;
  }
}

/** The 16 bytes of an address. */
export function ipv6Bytes(value: bigint): Uint8Array {
  const out = new Uint8Array(16);
  writeIPv6(out, 0, value);
  return out;
}

/** The value of the 16 bytes at `buf[offset..)` (traces and control plane, not per packet). */
export function readIPv6(buf: Uint8Array, offset = 0): bigint {
  let value = 0n;
  for (let i = 0; i < 16; i++) value = (value << 8n) | BigInt(buf[offset + i]);
  return value;
}

/** Canonical text of the 16 bytes at `buf[offset..)`. */
export function formatIPv6Bytes(buf: Uint8Array, offset = 0): string {
  return formatIPv6(readIPv6(buf, offset));
}

export interface Cidr6 {
  /** Network address (host bits cleared). */
  readonly network: bigint;
  readonly prefixLength: number;
}

export function prefixMask6(prefixLength: number): bigint {
  return prefixLength === 0 ? 0n : (MAX << BigInt(128 - prefixLength)) & MAX;
}

/**
 * Parses "fd85:ee78:d8a6:8607::1000/116". A bare address is a /128. Host bits must be zero,
 * as for IPv4 ranges.
 */
export function parseCidr6(text: string): Cidr6 {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? '128' : text.slice(slash + 1);
  if (!/^(12[0-8]|1[01]\d|[1-9]?\d)$/.test(lenText)) throw new AddressError(`invalid CIDR address: ${text}`);
  let addr: bigint;
  try {
    addr = parseIPv6(addrText);
  } catch {
    throw new AddressError(`invalid CIDR address: ${text}`);
  }
  const prefixLength = Number(lenText);
  if ((addr & ~prefixMask6(prefixLength) & MAX) !== 0n)
    throw new AddressError(`invalid CIDR address: ${text} (host bits set)`);
  return { network: addr, prefixLength };
}

export function formatCidr6(cidr: Cidr6): string {
  return `${formatIPv6(cidr.network)}/${cidr.prefixLength}`;
}

export function cidr6Contains(cidr: Cidr6, addr: bigint): boolean {
  return (addr & prefixMask6(cidr.prefixLength)) === cidr.network;
}

/** Number of addresses in the range. */
export function cidr6Size(cidr: Cidr6): bigint {
  return 1n << BigInt(128 - cidr.prefixLength);
}

/** True when two ranges share an address. */
export function cidr6Overlaps(a: Cidr6, b: Cidr6): boolean {
  const len = Math.min(a.prefixLength, b.prefixLength);
  const mask = prefixMask6(len);
  return (a.network & mask) === (b.network & mask);
}
