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

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses dotted-quad text ("10.233.0.1") into a u32. Throws AddressError when malformed. */
export function parseIPv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) {
    throw new AddressError(`invalid IPv4 address "${text}"`);
  }
  return ((+parts[0] << 24) | (+parts[1] << 16) | (+parts[2] << 8) | +parts[3]) >>> 0;
}

/** True when `text` is a canonical dotted-quad IPv4 address. */
export function isIPv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => OCTET.test(p));
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
