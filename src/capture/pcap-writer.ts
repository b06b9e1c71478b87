import type { Writable } from 'node:stream';
import { ChunkedOutput } from './chunked-output.js';
import { CaptureWriteError } from './errors.js';
import {
  DEFAULT_SNAPLEN,
  LINKTYPE_ETHERNET,
  PCAP_FILE_HEADER_LENGTH,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_MAGIC_NANOSECONDS,
  PCAP_RECORD_HEADER_LENGTH,
  PCAP_VERSION_MAJOR,
  PCAP_VERSION_MINOR,
} from './format.js';
import { lastNanos, splitSecondsNanos, type TimestampNs } from './timestamp.js';

export interface PcapWriterOptions {
  /** Destination; omit to write into memory and read the result with `toBuffer()`. */
  stream?: Writable;
  /** Records are batched into chunks of this many bytes (default 64 KiB). */
  chunkSize?: number;
  /** Largest number of bytes kept per record (default 262144); written in the file header. */
  snaplen?: number;
  /** 'ns' (magic 0xa1b23c4d, the default) or 'us' (classic magic 0xa1b2c3d4). */
  resolution?: 'ns' | 'us';
  /** Link-layer type of every record (default LINKTYPE_ETHERNET). */
  linktype?: number;
  /** Whether close() ends the stream (default true). */
  endStream?: boolean;
}

/**
 * Streaming writer of classic libpcap files (little-endian, version 2.4). One implicit
 * interface: every record has the same link type and snap length.
 */
export class PcapWriter {
  readonly snaplen: number;
  readonly resolution: 'ns' | 'us';
  private readonly out: ChunkedOutput;
  private readonly endStream: boolean;

  constructor(options: PcapWriterOptions = {}) {
    this.snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
    this.resolution = options.resolution ?? 'ns';
    this.endStream = options.endStream ?? true;
    const linktype = options.linktype ?? LINKTYPE_ETHERNET;
    if (!Number.isInteger(this.snaplen) || this.snaplen < 1 || this.snaplen > 0x7fffffff) {
      throw new CaptureWriteError(`snaplen must be an integer in 1..2^31-1, got ${this.snaplen}`);
    }
    if (this.resolution !== 'ns' && this.resolution !== 'us') {
      throw new CaptureWriteError(`resolution must be 'ns' or 'us', got ${String(this.resolution)}`);
    }
    if (!Number.isInteger(linktype) || linktype < 0 || linktype > 0xffff) {
      throw new CaptureWriteError(`linktype must be a u16, got ${linktype}`);
    }
    this.out = new ChunkedOutput(options.stream, options.chunkSize);
    const buf = this.out.reserve(PCAP_FILE_HEADER_LENGTH);
    const at = this.out.offset;
    buf.writeUInt32LE(this.resolution === 'ns' ? PCAP_MAGIC_NANOSECONDS : PCAP_MAGIC_MICROSECONDS, at);
    buf.writeUInt16LE(PCAP_VERSION_MAJOR, at + 4);
    buf.writeUInt16LE(PCAP_VERSION_MINOR, at + 6);
    buf.writeInt32LE(0, at + 8); // thiszone: timestamps are UTC
    buf.writeUInt32LE(0, at + 12); // sigfigs: always 0 in practice
    buf.writeUInt32LE(this.snaplen, at + 16);
    buf.writeUInt32LE(linktype, at + 20);
    this.out.commit(PCAP_FILE_HEADER_LENGTH);
  }

  /**
   * Appends one record: the first min(frame.length, snaplen) bytes of `frame`, with
   * `origLength` (default frame.length) as the length on the wire.
   * Returns a promise when the stream wants the caller to wait before the next write.
   */
  writePacket(timestampNs: TimestampNs, frame: Uint8Array, origLength?: number): Promise<void> | undefined {
    const wireLength = origLength ?? frame.length;
    if (!Number.isInteger(wireLength) || wireLength < frame.length || wireLength > 0xffffffff) {
      throw new CaptureWriteError(
        `original length ${wireLength} must be a u32 no smaller than the ${frame.length} bytes given`,
      );
    }
    const seconds = splitSecondsNanos(timestampNs);
    const fraction = this.resolution === 'ns' ? lastNanos() : Math.floor(lastNanos() / 1000);
    const caplen = Math.min(frame.length, this.snaplen);
    const recordLength = PCAP_RECORD_HEADER_LENGTH + caplen;
    const buf = this.out.reserve(recordLength);
    const at = this.out.offset;
    buf.writeUInt32LE(seconds, at);
    buf.writeUInt32LE(fraction, at + 4);
    buf.writeUInt32LE(caplen, at + 8);
    buf.writeUInt32LE(wireLength, at + 12);
    copyPrefix(frame, caplen, buf, at + PCAP_RECORD_HEADER_LENGTH);
    return this.out.commit(recordLength);
  }

  /** Bytes batched in the writer, not yet handed to the stream. */
  get heldBytes(): number {
    return this.out.heldBytes;
  }

  /** The most bytes the writer ever held at once. */
  get maxHeldBytes(): number {
    return this.out.maxHeldBytes;
  }

  /** Flushes, ends the stream (unless endStream: false) and waits until it has finished. */
  close(): Promise<void> {
    return this.out.close(this.endStream);
  }

  /** The whole file so far (in-memory mode). */
  toBuffer(): Buffer {
    return this.out.toBuffer();
  }
}

/** Copies the first `length` bytes of `src` to `dst` at `at` without creating a view. */
export function copyPrefix(src: Uint8Array, length: number, dst: Buffer, at: number): void {
  if (length === src.length) {
    dst.set(src, at);
    return;
  }
  for (let i = 0; i < length; i++) dst[at + i] = src[i];
}
