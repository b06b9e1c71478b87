/**
 * CRC32c (Castagnoli, reflected polynomial 0x82F63B78), the checksum of SCTP (RFC 9260
 * appendix B) and iSCSI (RFC 3720 B.4). Table-driven, one byte per step: the table is
 * built once at load, and the per-packet functions only read bytes and the table.
 *
 * SCTP's checksum is not the internet checksum: it covers the whole SCTP packet (no
 * pseudo-header) and cannot be patched incrementally as RFC 1624 patches a TCP checksum,
 * so a NAT that rewrites an SCTP port recomputes it over the packet, as Linux's
 * sctp_manip_pkt does.
 */

const POLY_REFLECTED = 0x82f63b78;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY_REFLECTED : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The initial register value (all ones) for `crc32cUpdate`. */
export const CRC32C_INIT = 0xffffffff;

/** Feeds `buf[start .. end)` into a running (not yet inverted) CRC register. */
export function crc32cUpdate(crc: number, buf: Uint8Array, start: number, end: number): number {
  let c = crc;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** Feeds `count` zero bytes (the checksum field while it is being computed). */
export function crc32cZeros(crc: number, count: number): number {
  let c = crc;
  for (let i = 0; i < count; i++) c = TABLE[c & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** The final CRC32c value of a register (its complement). */
export function crc32cFinish(crc: number): number {
  return ~crc >>> 0;
}

/** CRC32c of `buf[start .. end)`: 0xe3069283 for the ASCII bytes "123456789". */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  return crc32cFinish(crc32cUpdate(CRC32C_INIT, buf, start, end));
}
