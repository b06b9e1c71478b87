/**
 * Argument checks shared by the builders. Plain comparisons that allocate nothing
 * unless they fail, so the write-into-buffer variants can keep them on the hot path.
 */
import { WireBuildError } from './errors.js';
import { MAC_LENGTH } from './mac.js';

export function checkUint(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new WireBuildError(`${name} must be an integer in 0..${max}, got ${value}`);
  }
}

export function checkMac(name: string, mac: Uint8Array): void {
  if (mac.length !== MAC_LENGTH)
    throw new WireBuildError(`${name} must be ${MAC_LENGTH} bytes, got ${mac.length}`);
}

export function checkFits(buf: Uint8Array, offset: number, length: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + length > buf.length) {
    throw new WireBuildError(
      `frame of ${length} bytes does not fit at offset ${offset} of a ${buf.length}-byte buffer`,
    );
  }
}
