/**
 * Typed errors for capture files. Readers throw a {@link CaptureFormatError} subclass for any
 * input they cannot decode (never a RangeError from an out-of-bounds read); writers throw a
 * {@link CaptureWriteError} when they are used wrongly or their stream fails.
 */

/** Base class of every "this byte string is not a capture file we can decode" error. */
export class CaptureFormatError extends Error {
  /** Byte offset in the input where decoding failed. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(message);
    this.name = new.target.name;
    this.offset = offset;
  }
}

/** The first bytes match neither a pcap magic number nor a pcapng Section Header Block. */
export class NotACaptureError extends CaptureFormatError {
  constructor(detail: string) {
    super(`not a pcap or pcapng file: ${detail}`, 0);
  }
}

/** A header, block or record starts inside the input but ends after its last byte. */
export class TruncatedCaptureError extends CaptureFormatError {
  constructor(what: string, offset: number, needed: number, available: number) {
    super(`${what} at offset ${offset} cut short: needs ${needed} bytes, ${available} left`, offset);
  }
}

/** The structure is complete but inconsistent (bad block length, unknown interface, …). */
export class MalformedCaptureError extends CaptureFormatError {}

/** A writer was misused (bad argument, write after close) or its output stream failed. */
export class CaptureWriteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
