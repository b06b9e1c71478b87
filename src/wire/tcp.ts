/**
 * TCP header (RFC 9293): ports · seq · ack · data offset/flags · window · checksum ·
 * urgent pointer · options (MSS, window scale, SACK-permitted, SACK, timestamps, NOP, EOL).
 */
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { tcpChecksum, verifyTcpChecksum } from './checksum.js';

export const TCP_MIN_HEADER_LENGTH = 20;
export const TCP_MAX_HEADER_LENGTH = 60;
export const TCP_MAX_OPTIONS_LENGTH = 40;

export const TcpField = {
  SRC_PORT: 0,
  DST_PORT: 2,
  SEQ: 4,
  ACK: 8,
  DATA_OFFSET: 12,
  FLAGS: 13,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT: 18,
  OPTIONS: 20,
} as const;

/**
 * Flag bits as one 9-bit number: the 8 bits of byte 13 plus AE (formerly NS, RFC 3540,
 * now AccECN) from the low bit of byte 12, as bit 8.
 */
export const enum TcpFlag {
  FIN = 0x01,
  SYN = 0x02,
  RST = 0x04,
  PSH = 0x08,
  ACK = 0x10,
  URG = 0x20,
  ECE = 0x40,
  CWR = 0x80,
  AE = 0x100,
}

export const enum TcpOptionKind {
  EOL = 0,
  NOP = 1,
  MSS = 2,
  WINDOW_SCALE = 3,
  SACK_PERMITTED = 4,
  SACK = 5,
  TIMESTAMP = 8,
}

export type TcpOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; value: number }
  | { kind: 'windowScale'; shift: number }
  | { kind: 'sackPermitted' }
  | { kind: 'sack'; blocks: { left: number; right: number }[] }
  | { kind: 'timestamp'; tsval: number; tsecr: number }
  /** Any other kind, kept as raw data (kind ≥ 2, so it has a length byte). */
  | { kind: 'unknown'; type: number; data: Uint8Array };

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** TcpFlag bits (9 bits). */
  flags: number;
  window: number;
  urgent: number;
  options: readonly TcpOption[];
}

/** In-place view over a TCP header; re-point with `attach`, no bounds checks. */
export class TcpView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;

  attach(buf: Uint8Array, offset = 0): this {
    this.buf = buf;
    this.offset = offset;
    return this;
  }

  get srcPort(): number {
    return readU16(this.buf, this.offset + TcpField.SRC_PORT);
  }
  set srcPort(value: number) {
    writeU16(this.buf, this.offset + TcpField.SRC_PORT, value);
  }
  get dstPort(): number {
    return readU16(this.buf, this.offset + TcpField.DST_PORT);
  }
  set dstPort(value: number) {
    writeU16(this.buf, this.offset + TcpField.DST_PORT, value);
  }
  get seq(): number {
    return readU32(this.buf, this.offset + TcpField.SEQ);
  }
  set seq(value: number) {
    writeU32(this.buf, this.offset + TcpField.SEQ, value);
  }
  get ack(): number {
    return readU32(this.buf, this.offset + TcpField.ACK);
  }
  set ack(value: number) {
    writeU32(this.buf, this.offset + TcpField.ACK, value);
  }
  /** Data offset in 32-bit words (5..15 when valid). */
  get dataOffset(): number {
    return this.buf[this.offset + TcpField.DATA_OFFSET] >>> 4;
  }
  get headerLength(): number {
    return (this.buf[this.offset + TcpField.DATA_OFFSET] >>> 4) * 4;
  }
  /** Sets the data offset for `headerLength` bytes, keeping the AE bit, clearing the reserved bits. */
  setHeaderLength(headerLength: number): void {
    const o = this.offset + TcpField.DATA_OFFSET;
    this.buf[o] = ((headerLength >>> 2) << 4) | (this.buf[o] & 0x01);
  }
  get flags(): number {
    return (
      ((this.buf[this.offset + TcpField.DATA_OFFSET] & 0x01) << 8) | this.buf[this.offset + TcpField.FLAGS]
    );
  }
  set flags(value: number) {
    const o = this.offset + TcpField.DATA_OFFSET;
    this.buf[o] = (this.buf[o] & 0xf0) | ((value >>> 8) & 0x01);
    this.buf[o + 1] = value;
  }
  get window(): number {
    return readU16(this.buf, this.offset + TcpField.WINDOW);
  }
  set window(value: number) {
    writeU16(this.buf, this.offset + TcpField.WINDOW, value);
  }
  get checksum(): number {
    return readU16(this.buf, this.offset + TcpField.CHECKSUM);
  }
  set checksum(value: number) {
    writeU16(this.buf, this.offset + TcpField.CHECKSUM, value);
  }
  get urgent(): number {
    return readU16(this.buf, this.offset + TcpField.URGENT);
  }
  set urgent(value: number) {
    writeU16(this.buf, this.offset + TcpField.URGENT, value);
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }

  /** Recomputes the checksum for a segment of `segmentLength` bytes (header + payload). */
  fillChecksum(src: number, dst: number, segmentLength: number): void {
    this.checksum = tcpChecksum(this.buf, this.offset, segmentLength, src, dst);
  }
  verifyChecksum(src: number, dst: number, segmentLength: number): boolean {
    return verifyTcpChecksum(this.buf, this.offset, segmentLength, src, dst);
  }
}

// ---------------------------------------------------------------------------------------
// Options

export type TcpOptionsResult = { ok: true; options: TcpOption[] } | { ok: false; reason: string };

/**
 * Parses the options in `buf[start .. end)`. Stops after EOL (the bytes after it are
 * padding). Never throws; a malformed option yields `{ok:false, reason}`.
 */
export function parseTcpOptions(buf: Uint8Array, start: number, end: number): TcpOptionsResult {
  const options: TcpOption[] = [];
  let i = start;
  while (i < end) {
    const kind = buf[i];
    if (kind === TcpOptionKind.EOL) {
      options.push({ kind: 'eol' });
      break;
    }
    if (kind === TcpOptionKind.NOP) {
      options.push({ kind: 'nop' });
      i += 1;
      continue;
    }
    if (i + 1 >= end)
      return { ok: false, reason: `option kind ${kind} at options byte ${i - start} has no length byte` };
    const length = buf[i + 1];
    if (length < 2) return { ok: false, reason: `option kind ${kind} has length ${length} < 2` };
    if (i + length > end) {
      return {
        ok: false,
        reason: `option kind ${kind} length ${length} exceeds the ${end - i} bytes left in the header`,
      };
    }
    const data = i + 2;
    switch (kind) {
      case TcpOptionKind.MSS:
        if (length !== 4) return { ok: false, reason: `mss option length ${length} != 4` };
        options.push({ kind: 'mss', value: readU16(buf, data) });
        break;
      case TcpOptionKind.WINDOW_SCALE:
        if (length !== 3) return { ok: false, reason: `wscale option length ${length} != 3` };
        options.push({ kind: 'windowScale', shift: buf[data] });
        break;
      case TcpOptionKind.SACK_PERMITTED:
        if (length !== 2) return { ok: false, reason: `sackOK option length ${length} != 2` };
        options.push({ kind: 'sackPermitted' });
        break;
      case TcpOptionKind.SACK: {
        if ((length - 2) % 8 !== 0 || length === 2) {
          return { ok: false, reason: `sack option length ${length} is not 2 + a positive multiple of 8` };
        }
        const blocks: { left: number; right: number }[] = [];
        for (let b = data; b < i + length; b += 8)
          blocks.push({ left: readU32(buf, b), right: readU32(buf, b + 4) });
        options.push({ kind: 'sack', blocks });
        break;
      }
      case TcpOptionKind.TIMESTAMP:
        if (length !== 10) return { ok: false, reason: `timestamp option length ${length} != 10` };
        options.push({ kind: 'timestamp', tsval: readU32(buf, data), tsecr: readU32(buf, data + 4) });
        break;
      default:
        options.push({ kind: 'unknown', type: kind, data: buf.slice(data, i + length) });
    }
    i += length;
  }
  return { ok: true, options };
}

/** Encoded length of one option. */
export function tcpOptionLength(option: TcpOption): number {
  switch (option.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'windowScale':
      return 3;
    case 'sackPermitted':
      return 2;
    case 'sack':
      return 2 + 8 * option.blocks.length;
    case 'timestamp':
      return 10;
    case 'unknown':
      return 2 + option.data.length;
  }
}

/** Encoded length of a list of options, before padding. */
export function tcpOptionsLength(options: readonly TcpOption[]): number {
  let length = 0;
  for (const option of options) length += tcpOptionLength(option);
  return length;
}

/** TCP header length for these options: 20 + options rounded up to a multiple of 4. */
export function tcpHeaderLength(options: readonly TcpOption[]): number {
  return TCP_MIN_HEADER_LENGTH + ((tcpOptionsLength(options) + 3) & ~3);
}

/**
 * Writes options at `offset` in the order given and pads with zero bytes (EOL) up to a
 * multiple of 4. Returns the padded length. Lists whose length is already a multiple
 * of 4 (as real stacks align them with NOPs) therefore parse back identically.
 */
export function writeTcpOptions(buf: Uint8Array, offset: number, options: readonly TcpOption[]): number {
  let i = offset;
  for (const option of options) {
    switch (option.kind) {
      case 'eol':
        buf[i++] = TcpOptionKind.EOL;
        break;
      case 'nop':
        buf[i++] = TcpOptionKind.NOP;
        break;
      case 'mss':
        buf[i] = TcpOptionKind.MSS;
        buf[i + 1] = 4;
        writeU16(buf, i + 2, option.value);
        i += 4;
        break;
      case 'windowScale':
        buf[i] = TcpOptionKind.WINDOW_SCALE;
        buf[i + 1] = 3;
        buf[i + 2] = option.shift;
        i += 3;
        break;
      case 'sackPermitted':
        buf[i] = TcpOptionKind.SACK_PERMITTED;
        buf[i + 1] = 2;
        i += 2;
        break;
      case 'sack':
        buf[i] = TcpOptionKind.SACK;
        buf[i + 1] = 2 + 8 * option.blocks.length;
        i += 2;
        for (const block of option.blocks) {
          writeU32(buf, i, block.left);
          writeU32(buf, i + 4, block.right);
          i += 8;
        }
        break;
      case 'timestamp':
        buf[i] = TcpOptionKind.TIMESTAMP;
        buf[i + 1] = 10;
        writeU32(buf, i + 2, option.tsval);
        writeU32(buf, i + 6, option.tsecr);
        i += 10;
        break;
      case 'unknown':
        buf[i] = option.type;
        buf[i + 1] = 2 + option.data.length;
        buf.set(option.data, i + 2);
        i += 2 + option.data.length;
        break;
    }
  }
  while ((i - offset) & 3) buf[i++] = 0;
  return i - offset;
}

/**
 * Hot-path lookup: offset of the first option of `kind` in the TCP header at
 * `tcpOffset`, or -1 (absent, or the options are malformed before reaching it).
 */
export function findTcpOption(buf: Uint8Array, tcpOffset: number, kind: number): number {
  const end = tcpOffset + (buf[tcpOffset + TcpField.DATA_OFFSET] >>> 4) * 4;
  let i = tcpOffset + TCP_MIN_HEADER_LENGTH;
  while (i < end) {
    const k = buf[i];
    if (k === kind) return i;
    if (k === TcpOptionKind.EOL) return -1;
    if (k === TcpOptionKind.NOP) {
      i += 1;
      continue;
    }
    const length = buf[i + 1];
    if (i + 1 >= end || length < 2) return -1;
    i += length;
  }
  return -1;
}

/**
 * The options Linux puts on a SYN or SYN-ACK, in Linux's order (tcp_options_write):
 * mss, then sackOK+TS (or nop,nop,TS / nop,nop,sackOK), then nop,wscale. With every
 * option on this is tcpdump's familiar `[mss 1460,sackOK,TS val … ecr …,nop,wscale 7]`.
 */
export function linuxSynOptions(spec: {
  mss: number;
  sackPermitted?: boolean;
  windowScale?: number;
  timestamp?: { tsval: number; tsecr: number };
}): TcpOption[] {
  const options: TcpOption[] = [{ kind: 'mss', value: spec.mss }];
  const sack = spec.sackPermitted ?? true;
  if (spec.timestamp) {
    if (sack) options.push({ kind: 'sackPermitted' });
    else options.push({ kind: 'nop' }, { kind: 'nop' });
    options.push({ kind: 'timestamp', tsval: spec.timestamp.tsval, tsecr: spec.timestamp.tsecr });
  }
  if (spec.windowScale !== undefined)
    options.push({ kind: 'nop' }, { kind: 'windowScale', shift: spec.windowScale });
  if (sack && !spec.timestamp) options.push({ kind: 'nop' }, { kind: 'nop' }, { kind: 'sackPermitted' });
  return options;
}

/** Linux's timestamp option on every non-SYN segment: nop,nop,TS (12 bytes). */
export function linuxTimestampOptions(tsval: number, tsecr: number): TcpOption[] {
  return [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', tsval, tsecr }];
}

/** Writes a TCP header (options included, checksum zero) at `offset`; returns its length. */
export function writeTcpHeader(buf: Uint8Array, offset: number, repr: TcpRepr): number {
  writeU16(buf, offset + TcpField.SRC_PORT, repr.srcPort);
  writeU16(buf, offset + TcpField.DST_PORT, repr.dstPort);
  writeU32(buf, offset + TcpField.SEQ, repr.seq);
  writeU32(buf, offset + TcpField.ACK, repr.ack);
  const headerLength = TCP_MIN_HEADER_LENGTH + writeTcpOptions(buf, offset + TcpField.OPTIONS, repr.options);
  buf[offset + TcpField.DATA_OFFSET] = ((headerLength >>> 2) << 4) | ((repr.flags >>> 8) & 0x01);
  buf[offset + TcpField.FLAGS] = repr.flags;
  writeU16(buf, offset + TcpField.WINDOW, repr.window);
  writeU16(buf, offset + TcpField.CHECKSUM, 0);
  writeU16(buf, offset + TcpField.URGENT, repr.urgent);
  return headerLength;
}

/** Reads the fixed fields of a TCP header plus already-parsed options into a repr. */
export function readTcpRepr(view: TcpView, options: readonly TcpOption[]): TcpRepr {
  return {
    srcPort: view.srcPort,
    dstPort: view.dstPort,
    seq: view.seq,
    ack: view.ack,
    flags: view.flags,
    window: view.window,
    urgent: view.urgent,
    options,
  };
}
