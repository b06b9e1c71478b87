import { MalformedCaptureError, NotACaptureError, TruncatedCaptureError } from './errors.js';
import {
  DEFAULT_TSRESOL,
  IF_DESCRIPTION,
  IF_NAME,
  IF_TSOFFSET,
  IF_TSRESOL,
  OPT_COMMENT,
  OPT_ENDOFOPT,
  PCAP_FILE_HEADER_LENGTH,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_MAGIC_NANOSECONDS,
  PCAP_RECORD_HEADER_LENGTH,
  PCAPNG_BLOCK_EPB,
  PCAPNG_BLOCK_IDB,
  PCAPNG_BLOCK_OPB,
  PCAPNG_BLOCK_SHB,
  PCAPNG_BLOCK_SPB,
  PCAPNG_BYTE_ORDER_MAGIC,
  pad4,
} from './format.js';
import { ticksToNanoseconds } from './timestamp.js';

export type CaptureFormat = 'pcap' | 'pcapng';
export type ByteOrder = 'little-endian' | 'big-endian';

export interface CaptureInterface {
  /** Index in {@link CaptureFile.interfaces}; for a one-section pcapng, the IDB's interface id. */
  id: number;
  /** pcapng section the interface belongs to (0 for pcap and single-section files). */
  section: number;
  linktype: number;
  /** 0 = no limit (pcapng only). */
  snaplen: number;
  name?: string;
  description?: string;
  /**
   * Timestamp resolution as pcapng's if_tsresol byte: 6 = microseconds, 9 = nanoseconds;
   * for pcap, 6 or 9 from the magic number.
   */
  tsresol: number;
}

export interface CapturedPacket {
  /** Index into {@link CaptureFile.interfaces}. */
  interfaceId: number;
  timestampNs: bigint;
  /** Bytes captured (= data.length). */
  caplen: number;
  /** Bytes the frame had on the wire. */
  origlen: number;
  /** A view into the input buffer (not a copy). */
  data: Uint8Array;
  /** The packet's first opt_comment (pcapng). */
  comment?: string;
}

export interface CaptureFile {
  format: CaptureFormat;
  /** Byte order of the file (of the first section for pcapng). */
  byteOrder: ByteOrder;
  versionMajor: number;
  versionMinor: number;
  interfaces: CaptureInterface[];
  packets: CapturedPacket[];
}

/**
 * Decodes a whole pcap or pcapng file held in memory. Throws a CaptureFormatError subclass
 * (NotACaptureError, TruncatedCaptureError, MalformedCaptureError) for anything it cannot
 * decode; every read is bounds-checked first, so garbage never causes a RangeError.
 */
export function readCapture(input: Uint8Array): CaptureFile {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  if (input.byteLength < 4) throw new NotACaptureError(`only ${input.byteLength} bytes`);
  const magicLE = view.getUint32(0, true);
  if (magicLE === PCAPNG_BLOCK_SHB) return readPcapng(input, view);
  const pcapLE = pcapResolution(magicLE);
  if (pcapLE !== 0) return readPcap(input, view, true, pcapLE);
  const pcapBE = pcapResolution(view.getUint32(0, false));
  if (pcapBE !== 0) return readPcap(input, view, false, pcapBE);
  throw new NotACaptureError(`unknown magic number 0x${magicLE.toString(16).padStart(8, '0')} (as read LE)`);
}

function pcapResolution(magic: number): number {
  if (magic === PCAP_MAGIC_MICROSECONDS) return 6;
  if (magic === PCAP_MAGIC_NANOSECONDS) return 9;
  return 0;
}

function readPcap(input: Uint8Array, view: DataView, le: boolean, tsresol: number): CaptureFile {
  const size = input.byteLength;
  if (size < PCAP_FILE_HEADER_LENGTH) {
    throw new TruncatedCaptureError('pcap file header', 0, PCAP_FILE_HEADER_LENGTH, size);
  }
  const snaplen = view.getUint32(16, le);
  // The upper bits of the link-type word carry FCS information, not the link type.
  const linktype = view.getUint32(20, le) & 0x03ffffff;
  const fractionToNs = tsresol === 9 ? 1n : 1000n;
  const packets: CapturedPacket[] = [];
  let at = PCAP_FILE_HEADER_LENGTH;
  while (at < size) {
    if (size - at < PCAP_RECORD_HEADER_LENGTH) {
      throw new TruncatedCaptureError('record', at, PCAP_RECORD_HEADER_LENGTH, size - at);
    }
    const seconds = view.getUint32(at, le);
    const fraction = view.getUint32(at + 4, le);
    const caplen = view.getUint32(at + 8, le);
    const origlen = view.getUint32(at + 12, le);
    const dataStart = at + PCAP_RECORD_HEADER_LENGTH;
    if (caplen > size - dataStart) {
      throw new TruncatedCaptureError('record', at, PCAP_RECORD_HEADER_LENGTH + caplen, size - at);
    }
    packets.push({
      interfaceId: 0,
      timestampNs: BigInt(seconds) * 1_000_000_000n + BigInt(fraction) * fractionToNs,
      caplen,
      origlen,
      data: input.subarray(dataStart, dataStart + caplen),
    });
    at = dataStart + caplen;
  }
  return {
    format: 'pcap',
    byteOrder: le ? 'little-endian' : 'big-endian',
    versionMajor: view.getUint16(4, le),
    versionMinor: view.getUint16(6, le),
    interfaces: [{ id: 0, section: 0, linktype, snaplen, tsresol }],
    packets,
  };
}

interface SectionInterface {
  globalId: number;
  tsresol: number;
  tsoffsetNs: bigint;
  snaplen: number;
}

function readPcapng(input: Uint8Array, view: DataView): CaptureFile {
  const size = input.byteLength;
  const interfaces: CaptureInterface[] = [];
  const packets: CapturedPacket[] = [];
  let sectionInterfaces: SectionInterface[] = [];
  let section = -1;
  let le = true;
  let firstLE = true;
  let versionMajor = 0;
  let versionMinor = 0;
  let at = 0;
  while (at < size) {
    if (size - at < 12) throw new TruncatedCaptureError('block', at, 12, size - at);
    // A Section Header Block's type reads the same in both byte orders; its byte-order
    // magic decides how everything up to the next SHB is read.
    if (view.getUint32(at, true) === PCAPNG_BLOCK_SHB) {
      const bom = view.getUint32(at + 8, true);
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) le = true;
      else if (view.getUint32(at + 8, false) === PCAPNG_BYTE_ORDER_MAGIC) le = false;
      else if (at === 0) throw new NotACaptureError('pcapng section header with a bad byte-order magic');
      else throw new MalformedCaptureError(`section header at offset ${at} has a bad byte-order magic`, at);
      section++;
      if (section === 0) firstLE = le;
      sectionInterfaces = [];
    } else if (section < 0) {
      throw new NotACaptureError('no section header block');
    }
    const type = view.getUint32(at, le);
    const length = view.getUint32(at + 4, le);
    if (length < 12 || length % 4 !== 0) {
      throw new MalformedCaptureError(`block at offset ${at} has invalid total length ${length}`, at);
    }
    if (length > size - at) throw new TruncatedCaptureError('block', at, length, size - at);
    if (view.getUint32(at + length - 4, le) !== length) {
      throw new MalformedCaptureError(
        `block at offset ${at}: trailing length ${view.getUint32(at + length - 4, le)} != ${length}`,
        at,
      );
    }
    const body = at + 8;
    const bodyEnd = at + length - 4;
    switch (type) {
      case PCAPNG_BLOCK_SHB: {
        need(body, 16, bodyEnd, 'section header block', at);
        if (section === 0) {
          versionMajor = view.getUint16(body + 4, le);
          versionMinor = view.getUint16(body + 6, le);
        }
        break;
      }
      case PCAPNG_BLOCK_IDB: {
        need(body, 8, bodyEnd, 'interface description block', at);
        const iface: CaptureInterface = {
          id: interfaces.length,
          section,
          linktype: view.getUint16(body, le),
          snaplen: view.getUint32(body + 4, le),
          tsresol: DEFAULT_TSRESOL,
        };
        let tsoffsetNs = 0n;
        forEachOption(view, body + 8, bodyEnd, le, at, (code, start, len) => {
          if (code === IF_NAME) iface.name = utf8(input, start, len);
          else if (code === IF_DESCRIPTION) iface.description = utf8(input, start, len);
          else if (code === IF_TSRESOL && len >= 1) iface.tsresol = input[start];
          else if (code === IF_TSOFFSET && len >= 8)
            tsoffsetNs = view.getBigInt64(start, le) * 1_000_000_000n;
        });
        sectionInterfaces.push({
          globalId: iface.id,
          tsresol: iface.tsresol,
          tsoffsetNs,
          snaplen: iface.snaplen,
        });
        interfaces.push(iface);
        break;
      }
      case PCAPNG_BLOCK_EPB:
      case PCAPNG_BLOCK_OPB: {
        need(body, 20, bodyEnd, 'packet block', at);
        // The obsolete Packet Block has a 16-bit interface id followed by a drop count.
        const localId = type === PCAPNG_BLOCK_EPB ? view.getUint32(body, le) : view.getUint16(body, le);
        const iface = interfaceFor(sectionInterfaces, localId, at);
        const ticks = (BigInt(view.getUint32(body + 4, le)) << 32n) | BigInt(view.getUint32(body + 8, le));
        const caplen = view.getUint32(body + 12, le);
        const origlen = view.getUint32(body + 16, le);
        const dataStart = body + 20;
        if (caplen > bodyEnd - dataStart) {
          throw new MalformedCaptureError(
            `packet block at offset ${at}: captured length ${caplen} overruns the block`,
            at,
          );
        }
        const packet: CapturedPacket = {
          interfaceId: iface.globalId,
          timestampNs: ticksToNanoseconds(ticks, iface.tsresol) + iface.tsoffsetNs,
          caplen,
          origlen,
          data: input.subarray(dataStart, dataStart + caplen),
        };
        const optionsStart = dataStart + pad4(caplen);
        forEachOption(view, optionsStart, bodyEnd, le, at, (code, start, len) => {
          if (code === OPT_COMMENT && packet.comment === undefined) packet.comment = utf8(input, start, len);
        });
        packets.push(packet);
        break;
      }
      case PCAPNG_BLOCK_SPB: {
        need(body, 4, bodyEnd, 'simple packet block', at);
        const iface = interfaceFor(sectionInterfaces, 0, at);
        const origlen = view.getUint32(body, le);
        const room = bodyEnd - (body + 4);
        let caplen = iface.snaplen !== 0 && origlen > iface.snaplen ? iface.snaplen : origlen;
        if (caplen > room) caplen = room;
        packets.push({
          interfaceId: iface.globalId,
          // A Simple Packet Block carries no timestamp.
          timestampNs: 0n,
          caplen,
          origlen,
          data: input.subarray(body + 4, body + 4 + caplen),
        });
        break;
      }
      default:
        // Name resolution, interface statistics, custom blocks…: not needed, skipped whole.
        break;
    }
    at += length;
  }
  return {
    format: 'pcapng',
    byteOrder: firstLE ? 'little-endian' : 'big-endian',
    versionMajor,
    versionMinor,
    interfaces,
    packets,
  };
}

function need(start: number, bytes: number, end: number, what: string, blockAt: number): void {
  if (end - start < bytes) {
    throw new MalformedCaptureError(
      `${what} at offset ${blockAt} is too short for its fixed fields`,
      blockAt,
    );
  }
}

function interfaceFor(list: SectionInterface[], localId: number, blockAt: number): SectionInterface {
  const iface = list[localId];
  if (iface === undefined) {
    throw new MalformedCaptureError(
      `packet block at offset ${blockAt} refers to interface ${localId}, but only ${list.length} ` +
        'interface(s) were described before it in its section',
      blockAt,
    );
  }
  return iface;
}

/** Walks a pcapng option list; stops at opt_endofopt or the end of the block body. */
function forEachOption(
  view: DataView,
  start: number,
  end: number,
  le: boolean,
  blockAt: number,
  visit: (code: number, valueStart: number, valueLength: number) => void,
): void {
  let at = start;
  while (end - at >= 4) {
    const code = view.getUint16(at, le);
    const len = view.getUint16(at + 2, le);
    if (code === OPT_ENDOFOPT) return;
    if (pad4(len) > end - at - 4) {
      throw new MalformedCaptureError(
        `block at offset ${blockAt}: option ${code} at offset ${at} (${len} bytes) overruns the block`,
        blockAt,
      );
    }
    visit(code, at + 4, len);
    at += 4 + pad4(len);
  }
}

const decoder = new TextDecoder('utf-8');

function utf8(input: Uint8Array, start: number, length: number): string {
  return decoder.decode(input.subarray(start, start + length));
}
