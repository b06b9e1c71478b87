import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildSctpFrame } from '../../src/wire/build.js';
import { verifyIpv4HeaderChecksum } from '../../src/wire/checksum.js';
import { crc32c } from '../../src/wire/crc32c.js';
import { newFiveTuple, ParseStatus, parseFiveTuple } from '../../src/wire/five-tuple.js';
import { rewriteDestination, rewriteDstPort, rewriteIpv4Src, rewriteSource } from '../../src/wire/rewrite.js';
import {
  decodeSctpPacket,
  encodeSctpPacket,
  SCTP_SCAN_MALFORMED,
  type SctpChunk,
  SctpChunkType,
  SctpDecodeError,
  type SctpPacket,
  SctpParamType,
  scanSctpChunks,
  sctpChunkBit,
  verifySctpChecksum,
} from '../../src/wire/sctp.js';
import { u16, u32 } from './arbitraries.js';

const bytes = (maxLength = 24) => fc.uint8Array({ maxLength });

const chunk: fc.Arbitrary<SctpChunk> = fc.oneof(
  fc.record({
    kind: fc.constant('data' as const),
    flags: fc.integer({ min: 0, max: 15 }),
    tsn: u32,
    streamId: u16,
    streamSeq: u16,
    ppid: u32,
    payload: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }),
  fc.record({
    kind: fc.constantFrom('init' as const, 'init-ack' as const),
    flags: fc.constant(0),
    initiateTag: u32,
    aRwnd: u32,
    outboundStreams: u16,
    inboundStreams: u16,
    initialTsn: u32,
    params: fc.array(fc.record({ type: u16, value: bytes() }), { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('sack' as const),
    flags: fc.constant(0),
    cumulativeTsnAck: u32,
    aRwnd: u32,
    gapBlocks: fc.array(fc.record({ start: u16, end: u16 }), { maxLength: 3 }),
    duplicateTsns: fc.array(u32, { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constantFrom('heartbeat' as const, 'heartbeat-ack' as const),
    flags: fc.constant(0),
    info: bytes(),
  }),
  fc.record({ kind: fc.constant('abort' as const), flags: fc.constantFrom(0, 1), causes: bytes() }),
  fc.record({ kind: fc.constant('shutdown' as const), flags: fc.constant(0), cumulativeTsnAck: u32 }),
  fc.record({ kind: fc.constant('cookie-echo' as const), flags: fc.constant(0), cookie: bytes(40) }),
  fc.record({
    kind: fc.constantFrom('cookie-ack' as const, 'shutdown-ack' as const, 'shutdown-complete' as const),
    flags: fc.constantFrom(0, 1),
  }),
  fc.record({
    kind: fc.constant('raw' as const),
    type: fc.constantFrom(9, 12, 13, 15, 64, 128, 192, 255),
    flags: fc.integer({ min: 0, max: 255 }),
    value: bytes(),
  }),
);

const packet: fc.Arbitrary<SctpPacket> = fc.record({
  sport: u16,
  dport: u16,
  verificationTag: u32,
  chunks: fc.array(chunk, { minLength: 1, maxLength: 4 }),
});

describe('CRC32c', () => {
  it('matches the RFC 3720 B.4 test vectors and the "123456789" check value', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('matches the RFC 3720 B.4 iSCSI read command PDU', () => {
    const pdu = new Uint8Array(48);
    pdu.set([0x01, 0xc0], 0);
    pdu[16] = 0x14;
    pdu[22] = 0x04;
    pdu[27] = 0x14;
    pdu[31] = 0x18;
    pdu[32] = 0x28;
    pdu[40] = 0x02;
    expect(crc32c(pdu)).toBe(0xd9963a56);
  });
});

describe('SCTP codec', () => {
  it('property: every packet decodes back to itself and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(packet, (p) => {
        const wire = encodeSctpPacket(p);
        expect(wire.length % 4).toBe(0);
        const d = decodeSctpPacket(wire);
        expect(d.ok).toBe(true);
        if (!d.ok) return;
        expect(d.packet).toEqual(p);
        expect(encodeSctpPacket(d.packet)).toEqual(wire);
      }),
    );
  });

  it('property: flipping any one bit of a packet makes its CRC32c fail', () => {
    fc.assert(
      fc.property(packet, fc.nat(), fc.integer({ min: 0, max: 7 }), (p, at, bit) => {
        const wire = encodeSctpPacket(p);
        expect(verifySctpChecksum(wire, 0, wire.length)).toBe(true);
        wire[at % wire.length] ^= 1 << bit;
        expect(verifySctpChecksum(wire, 0, wire.length)).toBe(false);
        const d = decodeSctpPacket(wire);
        expect(d.ok ? 'ok' : d.error).toBe(SctpDecodeError.BAD_CHECKSUM);
      }),
    );
  });

  it('property: any byte string decodes to a packet or an error code, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (b, crc) => {
        const d = decodeSctpPacket(b, 0, b.length, crc);
        if (!d.ok) expect(d.error).toBeGreaterThan(0);
        expect(() => scanSctpChunks(b, 0, b.length)).not.toThrow();
      }),
    );
  });

  it('writes the INIT ACK State Cookie as parameter 7 and pads only between parameters', () => {
    const cookie = Uint8Array.of(1, 2, 3, 4, 5);
    const wire = encodeSctpPacket({
      sport: 5000,
      dport: 40000,
      verificationTag: 0x11223344,
      chunks: [
        {
          kind: 'init-ack',
          flags: 0,
          initiateTag: 0xdeadbeef,
          aRwnd: 106496,
          outboundStreams: 10,
          inboundStreams: 10,
          initialTsn: 1,
          params: [{ type: SctpParamType.STATE_COOKIE, value: cookie }],
        },
      ],
    });
    // chunk length 20 + 4 + 5 = 29 (the last parameter's padding is not counted), 3 pad bytes.
    expect(wire[12]).toBe(SctpChunkType.INIT_ACK);
    expect((wire[14] << 8) | wire[15]).toBe(29);
    expect(wire.length).toBe(12 + 32);
    expect((wire[32] << 8) | wire[33]).toBe(SctpParamType.STATE_COOKIE);
    // The CRC is stored least-significant byte first.
    const crc = wire[8] | (wire[9] << 8) | (wire[10] << 16) | (wire[11] << 24);
    const zeroed = wire.slice();
    zeroed.fill(0, 8, 12);
    expect(crc >>> 0).toBe(crc32c(zeroed));
  });

  it.each([
    ['a truncated common header', Uint8Array.of(0, 1, 0, 2), SctpDecodeError.TRUNCATED_HEADER],
    ['no chunk', new Uint8Array(12), SctpDecodeError.NO_CHUNKS],
    [
      'a chunk length below 4',
      Uint8Array.of(...new Uint8Array(12), 0, 0, 0, 2),
      SctpDecodeError.BAD_CHUNK_LENGTH,
    ],
    [
      'a chunk running past the end',
      Uint8Array.of(...new Uint8Array(12), 0, 0, 0, 40),
      SctpDecodeError.BAD_CHUNK_LENGTH,
    ],
    [
      'a DATA chunk without user data',
      Uint8Array.of(...new Uint8Array(12), 0, 3, 0, 16, ...new Uint8Array(12)),
      SctpDecodeError.SHORT_CHUNK,
    ],
    [
      'an INIT shorter than 20 bytes',
      Uint8Array.of(...new Uint8Array(12), 1, 0, 0, 8, 0, 0, 0, 0),
      SctpDecodeError.SHORT_CHUNK,
    ],
    [
      'three stray bytes after a chunk',
      Uint8Array.of(...new Uint8Array(12), 11, 0, 0, 4, 0, 0, 0),
      SctpDecodeError.TRUNCATED_CHUNK,
    ],
  ])('reports %s as its own error', (_name, wire, error) => {
    const d = decodeSctpPacket(wire, 0, wire.length, false);
    expect(d.ok ? 'ok' : d.error).toBe(error);
  });
});

describe('scanSctpChunks (conntrack basic checks)', () => {
  const raw = (...chunks: number[][]) => Uint8Array.of(...new Uint8Array(12), ...chunks.flat());
  const ch = (type: number, length = 4) => [type, 0, 0, length, ...new Uint8Array(((length + 3) & ~3) - 4)];

  it('maps the chunk types present', () => {
    const b = raw(ch(SctpChunkType.COOKIE_ECHO, 8), ch(SctpChunkType.DATA, 20));
    expect(scanSctpChunks(b, 0, b.length)).toBe(
      sctpChunkBit(SctpChunkType.COOKIE_ECHO) | sctpChunkBit(SctpChunkType.DATA),
    );
  });

  it.each([
    ['no chunk', raw()],
    ['a zero chunk length', raw([0, 0, 0, 0])],
    ['COOKIE ECHO after another chunk', raw(ch(SctpChunkType.DATA, 20), ch(SctpChunkType.COOKIE_ECHO, 8))],
    ['INIT bundled with DATA', raw(ch(SctpChunkType.INIT, 20), ch(SctpChunkType.DATA, 20))],
    ['SHUTDOWN COMPLETE after SACK', raw(ch(SctpChunkType.SACK, 16), ch(SctpChunkType.SHUTDOWN_COMPLETE))],
  ])('rejects %s as the kernel does', (_name, b) => {
    expect(scanSctpChunks(b, 0, b.length)).toBe(SCTP_SCAN_MALFORMED);
  });
});

describe('SCTP NAT rewrites', () => {
  const MAC = new Uint8Array(6);
  it('property: after DNAT/SNAT of address and port the CRC32c verifies, the IP checksum too, and the chunks are unchanged', () => {
    fc.assert(
      fc.property(packet, u32, u32, u16, u32, u16, (p, src, dst, dport, naddr, nport) => {
        const frame = buildSctpFrame({ srcMac: MAC, dstMac: MAC, src, dst, sctp: p });
        const ft = newFiveTuple();
        expect(parseFiveTuple(frame, ft)).toBe(ParseStatus.OK);
        expect([ft.sport, ft.dport]).toEqual([p.sport, p.dport]);
        rewriteDestination(frame, ft.ipOffset, naddr, dport);
        rewriteSource(frame, ft.ipOffset, naddr ^ 1, nport);
        rewriteIpv4Src(frame, ft.ipOffset, src);
        rewriteDstPort(frame, ft.ipOffset, nport ^ 0x5a);
        expect(verifyIpv4HeaderChecksum(frame, ft.ipOffset)).toBe(true);
        const d = decodeSctpPacket(frame, ft.l4Offset, ft.l4Length);
        expect(d.ok).toBe(true);
        if (!d.ok) return;
        expect(d.packet).toEqual({ ...p, sport: nport, dport: nport ^ 0x5a });
      }),
    );
  });
});
