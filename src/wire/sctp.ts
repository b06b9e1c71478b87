/**
 * SCTP packets (RFC 9260): the 12-byte common header (source port · destination port ·
 * verification tag · CRC32c checksum) followed by chunks, each `type · flags · length ·
 * value` padded to a multiple of 4 bytes. The chunks an association's life needs are
 * decoded into plain objects (INIT, INIT ACK with its State Cookie parameter, COOKIE ECHO,
 * COOKIE ACK, DATA, SACK, HEARTBEAT and its ACK, ABORT, SHUTDOWN, SHUTDOWN ACK, SHUTDOWN
 * COMPLETE); any other chunk is kept as raw bytes so a packet always re-encodes to itself.
 *
 * Decoding never throws: a malformed packet yields an `SctpDecodeError` code (see
 * SCTP_DECODE_ERROR_TEXT) and the offset of the fault. Encoding throws WireBuildError for
 * what cannot be written (a port above 65535, a buffer too small).
 *
 * The checksum is CRC32c over the whole packet with the checksum field taken as zero,
 * stored least-significant byte first (the kernel writes it as a __le32).
 */
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { CRC32C_INIT, crc32cFinish, crc32cUpdate, crc32cZeros } from './crc32c.js';
import { WireBuildError } from './errors.js';
import { checkFits, checkUint } from './validate.js';

export const SCTP_COMMON_HEADER_LENGTH = 12;
export const SCTP_CHUNK_HEADER_LENGTH = 4;

export const SctpField = {
  SRC_PORT: 0,
  DST_PORT: 2,
  VERIFICATION_TAG: 4,
  CHECKSUM: 8,
} as const;

/** Chunk type numbers (RFC 9260 section 3.2). */
export const enum SctpChunkType {
  DATA = 0,
  INIT = 1,
  INIT_ACK = 2,
  SACK = 3,
  HEARTBEAT = 4,
  HEARTBEAT_ACK = 5,
  ABORT = 6,
  SHUTDOWN = 7,
  SHUTDOWN_ACK = 8,
  ERROR = 9,
  COOKIE_ECHO = 10,
  COOKIE_ACK = 11,
  SHUTDOWN_COMPLETE = 14,
}

/** ABORT / SHUTDOWN COMPLETE: the T bit (the sender had no TCB; the tag is the peer's own). */
export const SCTP_FLAG_T = 0x01;
/** DATA flags: E (ending fragment), B (beginning), U (unordered), I (immediate SACK). */
export const SctpDataFlag = { E: 0x01, B: 0x02, U: 0x04, I: 0x08 } as const;

/** INIT / INIT ACK parameter types used here (RFC 9260 section 3.3.2). */
export const SctpParamType = {
  HEARTBEAT_INFO: 1,
  IPV4_ADDRESS: 5,
  STATE_COOKIE: 7,
  SUPPORTED_ADDRESS_TYPES: 12,
} as const;

export interface SctpParam {
  type: number;
  value: Uint8Array;
}

export interface SctpDataChunk {
  kind: 'data';
  flags: number;
  tsn: number;
  streamId: number;
  streamSeq: number;
  ppid: number;
  payload: Uint8Array;
}

export interface SctpInitChunk {
  kind: 'init' | 'init-ack';
  flags: number;
  initiateTag: number;
  aRwnd: number;
  outboundStreams: number;
  inboundStreams: number;
  initialTsn: number;
  /** Optional/variable parameters in order (an INIT ACK carries the State Cookie, type 7). */
  params: SctpParam[];
}

export interface SctpGapBlock {
  start: number;
  end: number;
}

export interface SctpSackChunk {
  kind: 'sack';
  flags: number;
  cumulativeTsnAck: number;
  aRwnd: number;
  gapBlocks: SctpGapBlock[];
  duplicateTsns: number[];
}

export interface SctpHeartbeatChunk {
  kind: 'heartbeat' | 'heartbeat-ack';
  flags: number;
  /** The Heartbeat Info parameter's value (sender-specific, echoed back by the ACK). */
  info: Uint8Array;
}

export interface SctpAbortChunk {
  kind: 'abort';
  /** SCTP_FLAG_T or 0. */
  flags: number;
  /** Error causes, raw. */
  causes: Uint8Array;
}

export interface SctpShutdownChunk {
  kind: 'shutdown';
  flags: number;
  cumulativeTsnAck: number;
}

export interface SctpCookieEchoChunk {
  kind: 'cookie-echo';
  flags: number;
  cookie: Uint8Array;
}

export interface SctpEmptyChunk {
  kind: 'cookie-ack' | 'shutdown-ack' | 'shutdown-complete';
  /** SHUTDOWN COMPLETE: SCTP_FLAG_T or 0. */
  flags: number;
}

/** A chunk type this codec does not interpret (ERROR, FORWARD-TSN, …): kept byte for byte. */
export interface SctpRawChunk {
  kind: 'raw';
  type: number;
  flags: number;
  value: Uint8Array;
}

export type SctpChunk =
  | SctpDataChunk
  | SctpInitChunk
  | SctpSackChunk
  | SctpHeartbeatChunk
  | SctpAbortChunk
  | SctpShutdownChunk
  | SctpCookieEchoChunk
  | SctpEmptyChunk
  | SctpRawChunk;

export interface SctpPacket {
  sport: number;
  dport: number;
  verificationTag: number;
  chunks: SctpChunk[];
}

export const enum SctpDecodeError {
  /** Fewer than 12 bytes. */
  TRUNCATED_HEADER = 1,
  /** A packet with no chunk at all. */
  NO_CHUNKS = 2,
  /** Fewer than 4 bytes left for a chunk header. */
  TRUNCATED_CHUNK = 3,
  /** A chunk length below 4 or past the end of the packet. */
  BAD_CHUNK_LENGTH = 4,
  /** A chunk shorter than its type's fixed part (INIT < 20, DATA < 17, …) or SACK counts past its end. */
  SHORT_CHUNK = 5,
  /** A parameter length below 4 or past the end of its chunk. */
  BAD_PARAMETER_LENGTH = 6,
  /** The CRC32c does not match. */
  BAD_CHECKSUM = 7,
}

export const SCTP_DECODE_ERROR_TEXT: readonly string[] = [
  'ok',
  'truncated SCTP common header',
  'SCTP packet without chunks',
  'truncated SCTP chunk header',
  'bad SCTP chunk length',
  'SCTP chunk shorter than its fixed fields',
  'bad SCTP parameter length',
  'bad SCTP checksum (CRC32c)',
];

export type SctpDecodeResult =
  | { ok: true; packet: SctpPacket }
  | { ok: false; error: SctpDecodeError; offset: number };

const CHUNK_TYPE_BY_KIND: Record<Exclude<SctpChunk['kind'], 'raw'>, number> = {
  data: SctpChunkType.DATA,
  init: SctpChunkType.INIT,
  'init-ack': SctpChunkType.INIT_ACK,
  sack: SctpChunkType.SACK,
  heartbeat: SctpChunkType.HEARTBEAT,
  'heartbeat-ack': SctpChunkType.HEARTBEAT_ACK,
  abort: SctpChunkType.ABORT,
  shutdown: SctpChunkType.SHUTDOWN,
  'shutdown-ack': SctpChunkType.SHUTDOWN_ACK,
  'cookie-echo': SctpChunkType.COOKIE_ECHO,
  'cookie-ack': SctpChunkType.COOKIE_ACK,
  'shutdown-complete': SctpChunkType.SHUTDOWN_COMPLETE,
};

/** The chunk type number of a chunk object. */
export function sctpChunkType(chunk: SctpChunk): number {
  return chunk.kind === 'raw' ? chunk.type : CHUNK_TYPE_BY_KIND[chunk.kind];
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

// ------------------------------------------------------------------ checksum

/** CRC32c of the SCTP packet `buf[l4 .. l4+length)` with its checksum field read as zero. */
export function sctpChecksum(buf: Uint8Array, l4: number, length: number): number {
  let c = crc32cUpdate(CRC32C_INIT, buf, l4, l4 + SctpField.CHECKSUM);
  c = crc32cZeros(c, 4);
  c = crc32cUpdate(c, buf, l4 + SctpField.CHECKSUM + 4, l4 + length);
  return crc32cFinish(c);
}

/** Writes the packet's CRC32c (least-significant byte first, as on the wire). */
export function fillSctpChecksum(buf: Uint8Array, l4: number, length: number): void {
  const crc = sctpChecksum(buf, l4, length);
  const at = l4 + SctpField.CHECKSUM;
  buf[at] = crc;
  buf[at + 1] = crc >>> 8;
  buf[at + 2] = crc >>> 16;
  buf[at + 3] = crc >>> 24;
}

/** True when the stored CRC32c matches the packet. */
export function verifySctpChecksum(buf: Uint8Array, l4: number, length: number): boolean {
  if (length < SCTP_COMMON_HEADER_LENGTH) return false;
  const at = l4 + SctpField.CHECKSUM;
  const stored = (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
  return stored === sctpChecksum(buf, l4, length);
}

// ------------------------------------------------------------------ encode

function paramsLength(params: readonly SctpParam[]): number {
  let n = 0;
  for (let i = 0; i < params.length; i++) {
    const len = SCTP_CHUNK_HEADER_LENGTH + params[i].value.length;
    // The last parameter's padding is not counted in the chunk length (RFC 9260 3.2).
    n += i === params.length - 1 ? len : pad4(len);
  }
  return n;
}

/** The chunk's Length field: header + value, without its trailing padding. */
export function sctpChunkLength(chunk: SctpChunk): number {
  switch (chunk.kind) {
    case 'data':
      return 16 + chunk.payload.length;
    case 'init':
    case 'init-ack':
      return 20 + paramsLength(chunk.params);
    case 'sack':
      return 16 + 4 * chunk.gapBlocks.length + 4 * chunk.duplicateTsns.length;
    case 'heartbeat':
    case 'heartbeat-ack':
      return SCTP_CHUNK_HEADER_LENGTH + SCTP_CHUNK_HEADER_LENGTH + chunk.info.length;
    case 'abort':
      return SCTP_CHUNK_HEADER_LENGTH + chunk.causes.length;
    case 'shutdown':
      return 8;
    case 'cookie-echo':
      return SCTP_CHUNK_HEADER_LENGTH + chunk.cookie.length;
    case 'cookie-ack':
    case 'shutdown-ack':
    case 'shutdown-complete':
      return SCTP_CHUNK_HEADER_LENGTH;
    case 'raw':
      return SCTP_CHUNK_HEADER_LENGTH + chunk.value.length;
  }
}

/** Bytes the packet occupies (common header + every chunk padded to 4). */
export function sctpPacketLength(packet: SctpPacket): number {
  let n = SCTP_COMMON_HEADER_LENGTH;
  for (const c of packet.chunks) n += pad4(sctpChunkLength(c));
  return n;
}

function writeBytes(buf: Uint8Array, at: number, bytes: Uint8Array): number {
  buf.set(bytes, at);
  return at + bytes.length;
}

function zeroPad(buf: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) buf[i] = 0;
}

function writeChunk(buf: Uint8Array, at: number, chunk: SctpChunk): number {
  const length = sctpChunkLength(chunk);
  if (length > 0xffff) throw new WireBuildError(`SCTP chunk of ${length} bytes exceeds the 16-bit length`);
  buf[at] = sctpChunkType(chunk);
  buf[at + 1] = chunk.flags;
  writeU16(buf, at + 2, length);
  let p = at + SCTP_CHUNK_HEADER_LENGTH;
  switch (chunk.kind) {
    case 'data':
      writeU32(buf, p, chunk.tsn);
      writeU16(buf, p + 4, chunk.streamId);
      writeU16(buf, p + 6, chunk.streamSeq);
      writeU32(buf, p + 8, chunk.ppid);
      p = writeBytes(buf, p + 12, chunk.payload);
      break;
    case 'init':
    case 'init-ack':
      writeU32(buf, p, chunk.initiateTag);
      writeU32(buf, p + 4, chunk.aRwnd);
      writeU16(buf, p + 8, chunk.outboundStreams);
      writeU16(buf, p + 10, chunk.inboundStreams);
      writeU32(buf, p + 12, chunk.initialTsn);
      p += 16;
      for (const param of chunk.params) {
        writeU16(buf, p, param.type);
        writeU16(buf, p + 2, SCTP_CHUNK_HEADER_LENGTH + param.value.length);
        const end = writeBytes(buf, p + 4, param.value);
        p = at + SCTP_CHUNK_HEADER_LENGTH + pad4(end - at - SCTP_CHUNK_HEADER_LENGTH);
        zeroPad(buf, end, p);
      }
      break;
    case 'sack':
      writeU32(buf, p, chunk.cumulativeTsnAck);
      writeU32(buf, p + 4, chunk.aRwnd);
      writeU16(buf, p + 8, chunk.gapBlocks.length);
      writeU16(buf, p + 10, chunk.duplicateTsns.length);
      p += 12;
      for (const g of chunk.gapBlocks) {
        writeU16(buf, p, g.start);
        writeU16(buf, p + 2, g.end);
        p += 4;
      }
      for (const d of chunk.duplicateTsns) {
        writeU32(buf, p, d);
        p += 4;
      }
      break;
    case 'heartbeat':
    case 'heartbeat-ack':
      writeU16(buf, p, SctpParamType.HEARTBEAT_INFO);
      writeU16(buf, p + 2, SCTP_CHUNK_HEADER_LENGTH + chunk.info.length);
      p = writeBytes(buf, p + 4, chunk.info);
      break;
    case 'abort':
      p = writeBytes(buf, p, chunk.causes);
      break;
    case 'shutdown':
      writeU32(buf, p, chunk.cumulativeTsnAck);
      p += 4;
      break;
    case 'cookie-echo':
      p = writeBytes(buf, p, chunk.cookie);
      break;
    case 'raw':
      p = writeBytes(buf, p, chunk.value);
      break;
    default:
      break;
  }
  const end = at + pad4(length);
  zeroPad(buf, p, end);
  return end;
}

/**
 * Writes the packet at `buf[offset..)` with its CRC32c filled in; returns its length.
 * Throws WireBuildError for a field out of range or a buffer too small.
 */
export function writeSctpPacket(buf: Uint8Array, offset: number, packet: SctpPacket): number {
  checkUint('sport', packet.sport, 0xffff);
  checkUint('dport', packet.dport, 0xffff);
  checkUint('verificationTag', packet.verificationTag, 0xffffffff);
  if (packet.chunks.length === 0) throw new WireBuildError('an SCTP packet needs at least one chunk');
  const length = sctpPacketLength(packet);
  checkFits(buf, offset, length);
  writeU16(buf, offset + SctpField.SRC_PORT, packet.sport);
  writeU16(buf, offset + SctpField.DST_PORT, packet.dport);
  writeU32(buf, offset + SctpField.VERIFICATION_TAG, packet.verificationTag);
  writeU32(buf, offset + SctpField.CHECKSUM, 0);
  let p = offset + SCTP_COMMON_HEADER_LENGTH;
  for (const c of packet.chunks) p = writeChunk(buf, p, c);
  fillSctpChecksum(buf, offset, length);
  return length;
}

/** A freshly allocated encoding of `packet` (tests, control plane). */
export function encodeSctpPacket(packet: SctpPacket): Uint8Array {
  const out = new Uint8Array(sctpPacketLength(packet));
  writeSctpPacket(out, 0, packet);
  return out;
}

// ------------------------------------------------------------------ decode

type ChunkResult = SctpChunk | { error: SctpDecodeError; offset: number };

function decodeParams(buf: Uint8Array, start: number, end: number): SctpParam[] | number {
  const params: SctpParam[] = [];
  let p = start;
  while (p < end) {
    if (end - p < SCTP_CHUNK_HEADER_LENGTH) return p;
    const len = readU16(buf, p + 2);
    if (len < SCTP_CHUNK_HEADER_LENGTH || p + len > end) return p;
    params.push({ type: readU16(buf, p), value: buf.slice(p + 4, p + len) });
    p += pad4(len);
  }
  return params;
}

function decodeChunk(buf: Uint8Array, at: number, type: number, flags: number, length: number): ChunkResult {
  const v = at + SCTP_CHUNK_HEADER_LENGTH;
  const end = at + length;
  const short = { error: SctpDecodeError.SHORT_CHUNK, offset: at };
  switch (type) {
    case SctpChunkType.DATA:
      // A DATA chunk without user data is a protocol violation (RFC 9260 6.2).
      if (length < 17) return short;
      return {
        kind: 'data',
        flags,
        tsn: readU32(buf, v),
        streamId: readU16(buf, v + 4),
        streamSeq: readU16(buf, v + 6),
        ppid: readU32(buf, v + 8),
        payload: buf.slice(v + 12, end),
      };
    case SctpChunkType.INIT:
    case SctpChunkType.INIT_ACK: {
      if (length < 20) return short;
      const params = decodeParams(buf, v + 16, end);
      if (typeof params === 'number') return { error: SctpDecodeError.BAD_PARAMETER_LENGTH, offset: params };
      return {
        kind: type === SctpChunkType.INIT ? 'init' : 'init-ack',
        flags,
        initiateTag: readU32(buf, v),
        aRwnd: readU32(buf, v + 4),
        outboundStreams: readU16(buf, v + 8),
        inboundStreams: readU16(buf, v + 10),
        initialTsn: readU32(buf, v + 12),
        params,
      };
    }
    case SctpChunkType.SACK: {
      if (length < 16) return short;
      const gaps = readU16(buf, v + 8);
      const dups = readU16(buf, v + 10);
      if (16 + 4 * gaps + 4 * dups !== length) return short;
      const gapBlocks: SctpGapBlock[] = [];
      let p = v + 12;
      for (let i = 0; i < gaps; i++, p += 4)
        gapBlocks.push({ start: readU16(buf, p), end: readU16(buf, p + 2) });
      const duplicateTsns: number[] = [];
      for (let i = 0; i < dups; i++, p += 4) duplicateTsns.push(readU32(buf, p));
      return {
        kind: 'sack',
        flags,
        cumulativeTsnAck: readU32(buf, v),
        aRwnd: readU32(buf, v + 4),
        gapBlocks,
        duplicateTsns,
      };
    }
    case SctpChunkType.HEARTBEAT:
    case SctpChunkType.HEARTBEAT_ACK: {
      if (length < 8) return short;
      const infoLength = readU16(buf, v + 2);
      if (readU16(buf, v) !== SctpParamType.HEARTBEAT_INFO || infoLength < 4 || v + infoLength !== end) {
        return { error: SctpDecodeError.BAD_PARAMETER_LENGTH, offset: v };
      }
      return {
        kind: type === SctpChunkType.HEARTBEAT ? 'heartbeat' : 'heartbeat-ack',
        flags,
        info: buf.slice(v + 4, end),
      };
    }
    case SctpChunkType.ABORT:
      return { kind: 'abort', flags, causes: buf.slice(v, end) };
    case SctpChunkType.SHUTDOWN:
      if (length !== 8) return short;
      return { kind: 'shutdown', flags, cumulativeTsnAck: readU32(buf, v) };
    case SctpChunkType.COOKIE_ECHO:
      return { kind: 'cookie-echo', flags, cookie: buf.slice(v, end) };
    case SctpChunkType.COOKIE_ACK:
      return { kind: 'cookie-ack', flags };
    case SctpChunkType.SHUTDOWN_ACK:
      return { kind: 'shutdown-ack', flags };
    case SctpChunkType.SHUTDOWN_COMPLETE:
      return { kind: 'shutdown-complete', flags };
    default:
      return { kind: 'raw', type, flags, value: buf.slice(v, end) };
  }
}

/**
 * Decodes the SCTP packet `buf[offset .. offset+length)`. With `checkCrc` (default true) a
 * wrong CRC32c is an error. A fixed-length chunk (COOKIE ACK, SHUTDOWN ACK, SHUTDOWN
 * COMPLETE) longer than 4 bytes decodes with its extra bytes ignored, as receivers do.
 */
export function decodeSctpPacket(
  buf: Uint8Array,
  offset = 0,
  length = buf.length - offset,
  checkCrc = true,
): SctpDecodeResult {
  if (length < SCTP_COMMON_HEADER_LENGTH)
    return { ok: false, error: SctpDecodeError.TRUNCATED_HEADER, offset };
  if (checkCrc && !verifySctpChecksum(buf, offset, length)) {
    return { ok: false, error: SctpDecodeError.BAD_CHECKSUM, offset: offset + SctpField.CHECKSUM };
  }
  const end = offset + length;
  const chunks: SctpChunk[] = [];
  let p = offset + SCTP_COMMON_HEADER_LENGTH;
  while (p < end) {
    if (end - p < SCTP_CHUNK_HEADER_LENGTH)
      return { ok: false, error: SctpDecodeError.TRUNCATED_CHUNK, offset: p };
    const chunkLength = readU16(buf, p + 2);
    if (chunkLength < SCTP_CHUNK_HEADER_LENGTH || p + chunkLength > end) {
      return { ok: false, error: SctpDecodeError.BAD_CHUNK_LENGTH, offset: p };
    }
    const c = decodeChunk(buf, p, buf[p], buf[p + 1], chunkLength);
    if ('error' in c) return { ok: false, error: c.error, offset: c.offset };
    chunks.push(c);
    p += pad4(chunkLength);
  }
  if (chunks.length === 0) return { ok: false, error: SctpDecodeError.NO_CHUNKS, offset: p };
  return {
    ok: true,
    packet: {
      sport: readU16(buf, offset + SctpField.SRC_PORT),
      dport: readU16(buf, offset + SctpField.DST_PORT),
      verificationTag: readU32(buf, offset + SctpField.VERIFICATION_TAG),
      chunks,
    },
  };
}

// ------------------------------------------------------------------ hot-path scan

/** Bit of a chunk type in a `scanSctpChunks` map (types 0..29; bit 30 stands for every type above). */
export function sctpChunkBit(type: number): number {
  return type >= 30 ? 1 << 30 : 1 << type;
}

/** `scanSctpChunks` result: the chunks break conntrack's basic checks. */
export const SCTP_SCAN_MALFORMED = -1;

/**
 * Conntrack's `do_basic_checks` without allocating: walks the chunk headers and returns a
 * bit map of the chunk types present (see sctpChunkBit), or SCTP_SCAN_MALFORMED when there
 * is no chunk, a chunk length is zero, or COOKIE ECHO / COOKIE ACK is not the first chunk,
 * or INIT / INIT ACK / SHUTDOWN COMPLETE is bundled with others. Like the kernel it trusts
 * lengths only to step (a length past the end just ends the walk).
 */
export function scanSctpChunks(buf: Uint8Array, l4: number, length: number): number {
  const end = l4 + length;
  let p = l4 + SCTP_COMMON_HEADER_LENGTH;
  let map = 0;
  let count = 0;
  let alone = false;
  while (p + SCTP_CHUNK_HEADER_LENGTH <= end) {
    const type = buf[p];
    const chunkLength = readU16(buf, p + 2);
    if (
      type === SctpChunkType.INIT ||
      type === SctpChunkType.INIT_ACK ||
      type === SctpChunkType.SHUTDOWN_COMPLETE
    ) {
      alone = true;
    }
    if (
      ((type === SctpChunkType.COOKIE_ACK || type === SctpChunkType.COOKIE_ECHO || alone) && count !== 0) ||
      chunkLength === 0
    ) {
      return SCTP_SCAN_MALFORMED;
    }
    map |= sctpChunkBit(type);
    count++;
    p += (chunkLength + 3) & ~3;
  }
  return count === 0 ? SCTP_SCAN_MALFORMED : map;
}
