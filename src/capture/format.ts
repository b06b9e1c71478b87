/**
 * On-disk constants of the two capture formats.
 * pcap: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap (file header + record headers).
 * pcapng: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng (blocks with options).
 */

/** LINKTYPE_ETHERNET: every frame dpsim captures starts with an Ethernet II header. */
export const LINKTYPE_ETHERNET = 1;

/**
 * Default snap length: Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD. tshark refuses records
 * larger than this for Ethernet, so it is also the largest useful value.
 */
export const DEFAULT_SNAPLEN = 262144;

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
export const PCAP_FILE_HEADER_LENGTH = 24;
export const PCAP_RECORD_HEADER_LENGTH = 16;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;

export const PCAPNG_BLOCK_SHB = 0x0a0d0d0a;
export const PCAPNG_BLOCK_IDB = 0x00000001;
export const PCAPNG_BLOCK_OPB = 0x00000002;
export const PCAPNG_BLOCK_SPB = 0x00000003;
export const PCAPNG_BLOCK_EPB = 0x00000006;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const IF_TSOFFSET = 14;

/**
 * dpsim writes every pcapng interface with if_tsresol = 9 (10^-9 s ticks), so a simulator
 * timestamp in nanoseconds is stored as-is in the EPB's 64-bit timestamp.
 */
export const NANOSECOND_TSRESOL = 9;
/** The pcapng default when an IDB has no if_tsresol: 10^-6 s. */
export const DEFAULT_TSRESOL = 6;

/** Bytes of an EPB before the packet data: type, length, interface, ts hi, ts lo, caplen, origlen. */
export const EPB_HEADER_LENGTH = 28;
/** Bytes after the padded data when there are no options: the trailing block total length. */
export const BLOCK_TRAILER_LENGTH = 4;

/** Round up to the 32-bit boundary pcapng pads every field to. */
export function pad4(n: number): number {
  return (n + 3) & ~3;
}
