import type { Writable } from 'node:stream';
import { ChunkedOutput, type SyncSink } from './chunked-output.js';
import { CaptureWriteError } from './errors.js';
import {
  BLOCK_TRAILER_LENGTH,
  EPB_HEADER_LENGTH,
  IF_DESCRIPTION,
  IF_NAME,
  IF_TSRESOL,
  LINKTYPE_ETHERNET,
  NANOSECOND_TSRESOL,
  OPT_COMMENT,
  OPT_ENDOFOPT,
  PCAPNG_BLOCK_EPB,
  PCAPNG_BLOCK_IDB,
  PCAPNG_BLOCK_SHB,
  PCAPNG_BYTE_ORDER_MAGIC,
  pad4,
  SHB_USERAPPL,
} from './format.js';
import { copyPrefix } from './pcap-writer.js';
import { lastLow, splitHighLow, type TimestampNs } from './timestamp.js';

const TWO_POW_32 = 4294967296;
/** Up to this many bytes a plain loop copies faster than making a view for `set`. */
const SMALL_COPY = 128;

export interface PcapngWriterOptions {
  /** Destination; omit to write into memory and read the result with `toBuffer()`. */
  stream?: Writable;
  /**
   * Instead of `stream`: a function that consumes each full chunk before it returns (e.g.
   * `fs.writeSync`). The writer then reuses one preallocated chunk for the whole run and
   * never waits for a drain; close() flushes the last chunk (closing the file is the caller's).
   */
  sink?: SyncSink;
  /** Blocks are batched into chunks of this many bytes (default 64 KiB). */
  chunkSize?: number;
  /** shb_userappl of the Section Header Block (default 'dpsim'). */
  application?: string;
  /** opt_comment of the Section Header Block. */
  sectionComment?: string;
  /** Whether close() ends the stream (default true). */
  endStream?: boolean;
  /**
   * Added to every packet's timestamp: the wall-clock instant (ns since the Unix epoch) of
   * timestamp 0, so a simulator clock starting at 0 shows as a real date in Wireshark.
   */
  timestampOffsetNs?: bigint;
}

export interface PcapngInterfaceOptions {
  /** if_name, e.g. 'node1/eth0'. */
  name: string;
  /** if_description. */
  description?: string;
  /**
   * Snap length of the interface, stored in the IDB's SnapLen field (pcapng has no
   * `if_snaplen` option: the length is a fixed IDB field). 0 or absent = no limit.
   */
  snaplen?: number;
  /** Link-layer type (default LINKTYPE_ETHERNET). */
  linktype?: number;
}

/**
 * Streaming pcapng writer (little-endian, one section). Every interface is written with
 * if_tsresol = 9, so Enhanced Packet Block timestamps are nanoseconds, exactly the
 * simulator clock. Interfaces may be added at any point: pcapng only requires an IDB to
 * precede the packets that reference it, and tshark 4.0 reads such files (tested).
 */
export class PcapngWriter {
  private readonly out: ChunkedOutput;
  private readonly endStream: boolean;
  /** Per-interface snap length, 0 = unlimited; indexed by interface id. */
  private readonly snaplens: number[] = [];
  /** timestampOffsetNs as u32 halves, added with a carry: no BigInt per packet. */
  private readonly offsetHigh: number;
  private readonly offsetLow: number;
  /** u32 view of the buffer the last word-copied frame lived in (the frame pool's). */
  private sourceWords: Uint32Array | null = null;

  constructor(options: PcapngWriterOptions = {}) {
    this.endStream = options.endStream ?? true;
    const offset = options.timestampOffsetNs ?? 0n;
    if (offset < 0n || offset > 0xffffffffffffffffn)
      throw new CaptureWriteError(`timestampOffsetNs ${offset} is not a u64`);
    this.offsetHigh = Number(offset >> 32n);
    this.offsetLow = Number(offset & 0xffffffffn);
    if (options.stream !== undefined && options.sink !== undefined)
      throw new CaptureWriteError('give either stream or sink, not both');
    this.out = new ChunkedOutput(options.stream ?? options.sink, options.chunkSize);
    const application = options.application ?? 'dpsim';
    const comment = options.sectionComment;
    const optionsLength =
      stringOptionLength(application) + (comment === undefined ? 0 : stringOptionLength(comment)) + 4;
    const blockLength = 24 + optionsLength + BLOCK_TRAILER_LENGTH;
    const buf = this.out.reserve(blockLength);
    const start = this.out.offset;
    buf.writeUInt32LE(PCAPNG_BLOCK_SHB, start);
    buf.writeUInt32LE(blockLength, start + 4);
    buf.writeUInt32LE(PCAPNG_BYTE_ORDER_MAGIC, start + 8);
    buf.writeUInt16LE(1, start + 12); // major version
    buf.writeUInt16LE(0, start + 14); // minor version
    // Section length -1: unknown, which lets the file be written as a stream.
    buf.writeInt32LE(-1, start + 16);
    buf.writeInt32LE(-1, start + 20);
    let at = start + 24;
    if (comment !== undefined) at = writeStringOption(buf, at, OPT_COMMENT, comment);
    at = writeStringOption(buf, at, SHB_USERAPPL, application);
    at = writeEndOfOptions(buf, at);
    buf.writeUInt32LE(blockLength, at);
    this.out.commit(blockLength);
  }

  /** Number of interfaces declared so far. */
  get interfaceCount(): number {
    return this.snaplens.length;
  }

  /**
   * Writes an Interface Description Block and returns the new interface id (0, 1, …).
   * If the block made the stream ask for a drain, {@link pendingDrain} says so; the next
   * writePacket returns that promise too, so awaiting each writePacket is enough.
   */
  addInterface(iface: PcapngInterfaceOptions): number {
    const snaplen = iface.snaplen ?? 0;
    const linktype = iface.linktype ?? LINKTYPE_ETHERNET;
    if (typeof iface.name !== 'string' || iface.name.length === 0) {
      throw new CaptureWriteError('interface name must be a non-empty string');
    }
    if (!Number.isInteger(snaplen) || snaplen < 0 || snaplen > 0xffffffff) {
      throw new CaptureWriteError(`interface ${iface.name}: snaplen must be a u32, got ${snaplen}`);
    }
    if (!Number.isInteger(linktype) || linktype < 0 || linktype > 0xffff) {
      throw new CaptureWriteError(`interface ${iface.name}: linktype must be a u16, got ${linktype}`);
    }
    const description = iface.description;
    const optionsLength =
      stringOptionLength(iface.name) +
      (description === undefined ? 0 : stringOptionLength(description)) +
      8 + // if_tsresol: 4-byte option header + 1 byte value padded to 4
      4; // opt_endofopt
    const blockLength = 16 + optionsLength + BLOCK_TRAILER_LENGTH;
    const buf = this.out.reserve(blockLength);
    const start = this.out.offset;
    buf.writeUInt32LE(PCAPNG_BLOCK_IDB, start);
    buf.writeUInt32LE(blockLength, start + 4);
    buf.writeUInt16LE(linktype, start + 8);
    buf.writeUInt16LE(0, start + 10);
    buf.writeUInt32LE(snaplen, start + 12);
    let at = writeStringOption(buf, start + 16, IF_NAME, iface.name);
    if (description !== undefined) at = writeStringOption(buf, at, IF_DESCRIPTION, description);
    buf.writeUInt16LE(IF_TSRESOL, at);
    buf.writeUInt16LE(1, at + 2);
    buf.writeUInt32LE(NANOSECOND_TSRESOL, at + 4); // value byte, then 3 zero padding bytes
    at = writeEndOfOptions(buf, at + 8);
    buf.writeUInt32LE(blockLength, at);
    this.out.commit(blockLength);
    this.snaplens.push(snaplen);
    return this.snaplens.length - 1;
  }

  /**
   * Appends an Enhanced Packet Block on `interfaceId`: the first min(frame.length, snaplen)
   * bytes of `frame`, original length `origLength` (default frame.length), and an optional
   * opt_comment. Returns a promise when the stream wants the caller to wait before the
   * next write.
   */
  writePacket(
    interfaceId: number,
    timestampNs: TimestampNs,
    frame: Uint8Array,
    comment?: string,
    origLength?: number,
  ): Promise<void> | undefined {
    if (!(interfaceId >= 0 && interfaceId < this.snaplens.length) || !Number.isInteger(interfaceId)) {
      throw new CaptureWriteError(
        `unknown interface id ${interfaceId}: ${this.snaplens.length} declared; call addInterface() first`,
      );
    }
    const wireLength = origLength ?? frame.length;
    if (!Number.isInteger(wireLength) || wireLength < frame.length || wireLength > 0xffffffff) {
      throw new CaptureWriteError(
        `original length ${wireLength} must be a u32 no smaller than the ${frame.length} bytes given`,
      );
    }
    let high = splitHighLow(timestampNs) + this.offsetHigh;
    let low = lastLow() + this.offsetLow;
    if (low >= TWO_POW_32) {
      low -= TWO_POW_32;
      high++;
    }
    if (high > 0xffffffff)
      throw new CaptureWriteError(`timestamp ${String(timestampNs)} plus the offset overflows 64 bits`);
    const snaplen = this.snaplens[interfaceId];
    const caplen = snaplen !== 0 && frame.length > snaplen ? snaplen : frame.length;
    const paddedData = pad4(caplen);
    const optionsLength = comment === undefined ? 0 : stringOptionLength(comment) + 4;
    const blockLength = EPB_HEADER_LENGTH + paddedData + optionsLength + BLOCK_TRAILER_LENGTH;
    const buf = this.out.reserve(blockLength);
    const start = this.out.offset;
    buf.writeUInt32LE(PCAPNG_BLOCK_EPB, start);
    buf.writeUInt32LE(blockLength, start + 4);
    buf.writeUInt32LE(interfaceId, start + 8);
    buf.writeUInt32LE(high, start + 12);
    buf.writeUInt32LE(low, start + 16);
    buf.writeUInt32LE(caplen, start + 20);
    buf.writeUInt32LE(wireLength, start + 24);
    let at = start + EPB_HEADER_LENGTH;
    copyPrefix(frame, caplen, buf, at);
    at = zeroPad(buf, at + caplen, at + paddedData);
    if (comment !== undefined) {
      at = writeStringOption(buf, at, OPT_COMMENT, comment);
      at = writeEndOfOptions(buf, at);
    }
    buf.writeUInt32LE(blockLength, at);
    return this.out.commit(blockLength);
  }

  /**
   * The simulator's per-packet path: an Enhanced Packet Block of the first `length` bytes of
   * `frame` (cut to the interface's snap length), no options, timestamp a whole number of
   * nanoseconds. Same bytes as {@link writePacket}, without its per-packet costs: no
   * subarray, no BigInt, no Buffer.writeUInt32LE argument checks; when the frame is 4-byte
   * aligned (frame pool slots are) the block is stored and the frame copied a u32 word at a
   * time into the preallocated chunk.
   */
  writeFrame(
    interfaceId: number,
    timestampNs: number,
    frame: Uint8Array,
    length: number,
  ): Promise<void> | undefined {
    if (!(interfaceId >= 0 && interfaceId < this.snaplens.length)) {
      throw new CaptureWriteError(
        `unknown interface id ${interfaceId}: ${this.snaplens.length} declared; call addInterface() first`,
      );
    }
    if (!(length >= 0 && length <= frame.length) || (length | 0) !== length)
      throw new CaptureWriteError(
        `length ${length} must be a whole number within the ${frame.length}-byte frame`,
      );
    if (!Number.isSafeInteger(timestampNs) || timestampNs < 0)
      throw new CaptureWriteError(
        `invalid timestamp ${timestampNs}: expected a non-negative integer count of nanoseconds`,
      );
    let high = Math.floor(timestampNs / TWO_POW_32);
    let low = timestampNs - high * TWO_POW_32 + this.offsetLow;
    high += this.offsetHigh;
    if (low >= TWO_POW_32) {
      low -= TWO_POW_32;
      high++;
    }
    if (high > 0xffffffff)
      throw new CaptureWriteError(`timestamp ${timestampNs} plus the offset overflows 64 bits`);
    const snaplen = this.snaplens[interfaceId];
    const caplen = snaplen !== 0 && length > snaplen ? snaplen : length;
    const paddedData = pad4(caplen);
    const blockLength = EPB_HEADER_LENGTH + paddedData + BLOCK_TRAILER_LENGTH;
    const buf = this.out.reserve(blockLength);
    const start = this.out.offset;
    const words = this.out.wordsFor(buf, start);
    if (
      words !== null &&
      this.copyWords(words, start >>> 2, frame, caplen, blockLength, interfaceId, high, low, length)
    )
      return this.out.commit(blockLength);
    putU32(buf, start, PCAPNG_BLOCK_EPB);
    putU32(buf, start + 4, blockLength);
    putU32(buf, start + 8, interfaceId);
    putU32(buf, start + 12, high);
    putU32(buf, start + 16, low);
    putU32(buf, start + 20, caplen);
    putU32(buf, start + 24, length);
    const at = start + EPB_HEADER_LENGTH;
    if (caplen <= SMALL_COPY) for (let i = 0; i < caplen; i++) buf[at + i] = frame[i];
    else buf.set(caplen === frame.length ? frame : frame.subarray(0, caplen), at);
    for (let i = at + caplen; i < at + paddedData; i++) buf[i] = 0;
    putU32(buf, at + paddedData, blockLength);
    return this.out.commit(blockLength);
  }

  /**
   * writeFrame's fast case: the whole EPB stored as u32 words, the frame copied a word at a
   * time. Needs the frame 4-byte aligned in its buffer (the simulator's frame pool slots
   * are) with its padded length inside that buffer; returns false (nothing written) if not.
   */
  private copyWords(
    out: Uint32Array,
    w: number,
    frame: Uint8Array,
    caplen: number,
    blockLength: number,
    interfaceId: number,
    high: number,
    low: number,
    length: number,
  ): boolean {
    const src = frame.byteOffset;
    const dataWords = (caplen + 3) >>> 2;
    if ((src & 3) !== 0 || src + dataWords * 4 > frame.buffer.byteLength) return false;
    let from = this.sourceWords;
    if (from === null || from.buffer !== frame.buffer) {
      from = new Uint32Array(frame.buffer, 0, frame.buffer.byteLength >>> 2);
      this.sourceWords = from;
    }
    out[w] = PCAPNG_BLOCK_EPB;
    out[w + 1] = blockLength;
    out[w + 2] = interfaceId;
    out[w + 3] = high;
    out[w + 4] = low;
    out[w + 5] = caplen;
    out[w + 6] = length;
    const d = w + 7;
    const s = src >>> 2;
    const whole = caplen >>> 2;
    for (let i = 0; i < whole; i++) out[d + i] = from[s + i];
    // The last partial word: only the frame's bytes, the padding zero (little-endian host).
    const tail = caplen & 3;
    if (tail !== 0) out[d + whole] = from[s + whole] & ((1 << (8 * tail)) - 1);
    out[d + dataWords] = blockLength;
    return true;
  }

  /** Resolves when the stream has drained; undefined when nothing is pending. */
  get pendingDrain(): Promise<void> | undefined {
    return this.out.pendingDrain;
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

/** Encoded size of a UTF-8 string option: 4-byte header + value padded to 32 bits. */
function stringOptionLength(value: string): number {
  const length = Buffer.byteLength(value, 'utf8');
  if (length > 0xffff) throw new CaptureWriteError(`option value of ${length} bytes exceeds 65535`);
  return 4 + pad4(length);
}

function writeStringOption(buf: Buffer, at: number, code: number, value: string): number {
  const length = buf.write(value, at + 4, 'utf8');
  buf.writeUInt16LE(code, at);
  buf.writeUInt16LE(length, at + 2);
  return zeroPad(buf, at + 4 + length, at + 4 + pad4(length));
}

function writeEndOfOptions(buf: Buffer, at: number): number {
  buf.writeUInt16LE(OPT_ENDOFOPT, at);
  buf.writeUInt16LE(0, at + 2);
  return at + 4;
}

/** Little-endian u32 store without Buffer.writeUInt32LE's argument checks (the hot path's callers checked). */
function putU32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value;
  buf[at + 1] = value >>> 8;
  buf[at + 2] = value >>> 16;
  buf[at + 3] = value >>> 24;
}

function zeroPad(buf: Buffer, from: number, to: number): number {
  for (let i = from; i < to; i++) buf[i] = 0;
  return to;
}
