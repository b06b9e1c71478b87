/**
 * IPv4 addresses as unsigned 32-bit integers (host order: 10.0.0.1 === 0x0a000001).
 *
 * The hot path keeps addresses as numbers; strings appear only at the edges
 * (manifests, CLI, text dumps). Every function here validates its input and
 * throws a specific error on the control-plane side; none is meant for per-packet use
 * except `formatIPv4` in traces.
 */

export class AddressError extends Error {
  override name = 'AddressError';
}

const INVALID = -1;

/**
 * The u32 of canonical dotted-quad text, or INVALID: four decimal octets 0..255 without
 * leading zeros, nothing else. Read character by character (a compile at 10k Services parses
 * a few hundred thousand addresses; split and a regex per octet were a visible share of it).
 */
function scanIPv4(text: string): number {
  const n = text.length;
  if (n < 7 || n > 15) return INVALID;
  let addr = 0;
  let octets = 0;
  let i = 0;
  while (i < n) {
    const start = i;
    let value = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      value = value * 10 + (c - 48);
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || value > 255 || (digits > 1 && text.charCodeAt(start) === 48))
      return INVALID;
    addr = addr * 256 + value;
    octets++;
    if (i === n) break;
    if (text.charCodeAt(i) !== 46 || octets === 4) return INVALID;
    i++;
    if (i === n) return INVALID;
  }
  return octets === 4 ? addr : INVALID;
}

/** Parses dotted-quad text ("10.233.0.1") into a u32. Throws AddressError when malformed. */
export function parseIPv4(text: string): number {
  const addr = scanIPv4(text);
  if (addr === INVALID) throw new AddressError(`invalid IPv4 address "${text}"`);
  return addr;
}

/** True when `text` is a canonical dotted-quad IPv4 address. */
export function isIPv4(text: string): boolean {
  return scanIPv4(text) !== INVALID;
}

export function formatIPv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

export interface Cidr {
  /** Network address (host bits cleared). */
  readonly network: number;
  readonly prefixLength: number;
}

/** Netmask for a prefix length as a u32 (0 → 0, 32 → 0xffffffff). */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/**
 * Parses "10.233.0.0/18". A bare address is a /32. Host bits must be zero, as the
 * API server and kube-proxy flags require (`--service-cluster-ip-range`).
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? '32' : text.slice(slash + 1);
  if (!/^(3[0-2]|[12]?\d)$/.test(lenText)) throw new AddressError(`invalid CIDR address: ${text}`);
  let addr: number;
  try {
    addr = parseIPv4(addrText);
  } catch {
    throw new AddressError(`invalid CIDR address: ${text}`);
  }
  const prefixLength = +lenText;
  const network = (addr & prefixMask(prefixLength)) >>> 0;
  if (network !== addr) throw new AddressError(`invalid CIDR address: ${text} (host bits set)`);
  return { network, prefixLength };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIPv4(cidr.network)}/${cidr.prefixLength}`;
}

export function cidrContains(cidr: Cidr, addr: number): boolean {
  return (addr & prefixMask(cidr.prefixLength)) >>> 0 === cidr.network;
}

/** Number of addresses in the block (2^(32-len)), as a plain number. */
export function cidrSize(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefixLength);
}
