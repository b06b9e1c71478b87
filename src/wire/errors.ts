/**
 * Errors raised when a caller asks the wire layer to build something that cannot exist
 * (a port above 65535, options longer than 40 bytes, a buffer too small for the frame).
 * These are programming or input errors on the building side; parsing never throws and
 * reports malformed bytes as results instead (see decode.ts and five-tuple.ts).
 */
export class WireBuildError extends Error {
  override name = 'WireBuildError';
}

/** Thrown by `parseMac` for text that is not six colon-separated hex octets. */
export class MacAddressError extends Error {
  override name = 'MacAddressError';
}
