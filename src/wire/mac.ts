/**
 * MAC addresses are 6 raw bytes (a Uint8Array of length 6) everywhere inside the wire
 * layer; text ("aa:bb:cc:dd:ee:ff") appears only at the edges, through these helpers.
 */
import { MacAddressError } from './errors.js';

export const MAC_LENGTH = 6;

const MAC_TEXT = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** Parses "aa:bb:cc:dd:ee:ff" (either case) into 6 bytes. Throws MacAddressError when malformed. */
export function parseMac(text: string): Uint8Array {
  if (!MAC_TEXT.test(text)) throw new MacAddressError(`invalid MAC address "${text}"`);
  const mac = new Uint8Array(MAC_LENGTH);
  for (let i = 0; i < MAC_LENGTH; i++) mac[i] = Number.parseInt(text.slice(i * 3, i * 3 + 2), 16);
  return mac;
}

/** Formats the 6 bytes at `offset` as lower-case "aa:bb:cc:dd:ee:ff" (tcpdump's style). */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  let text = '';
  for (let i = 0; i < MAC_LENGTH; i++) {
    if (i > 0) text += ':';
    text += (bytes[offset + i] ?? 0).toString(16).padStart(2, '0');
  }
  return text;
}

/** ff:ff:ff:ff:ff:ff, a fresh copy each call so no caller can corrupt a shared constant. */
export function broadcastMac(): Uint8Array {
  return new Uint8Array(MAC_LENGTH).fill(0xff);
}

/** 00:00:00:00:00:00 (the target hardware address of an ARP request), a fresh copy. */
export function zeroMac(): Uint8Array {
  return new Uint8Array(MAC_LENGTH);
}

/** Byte equality of two MACs at the given offsets, without allocating. */
export function macEquals(a: Uint8Array, b: Uint8Array, aOffset = 0, bOffset = 0): boolean {
  for (let i = 0; i < MAC_LENGTH; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}
