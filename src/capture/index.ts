export { DEFAULT_CHUNK_SIZE } from './chunked-output.js';
export {
  CaptureFormatError,
  CaptureWriteError,
  MalformedCaptureError,
  NotACaptureError,
  TruncatedCaptureError,
} from './errors.js';
export { DEFAULT_SNAPLEN, LINKTYPE_ETHERNET, NANOSECOND_TSRESOL } from './format.js';
export { PcapWriter, type PcapWriterOptions } from './pcap-writer.js';
export { type PcapngInterfaceOptions, PcapngWriter, type PcapngWriterOptions } from './pcapng-writer.js';
export {
  type ByteOrder,
  type CapturedPacket,
  type CaptureFile,
  type CaptureFormat,
  type CaptureInterface,
  readCapture,
} from './reader.js';
export type { TimestampNs } from './timestamp.js';
