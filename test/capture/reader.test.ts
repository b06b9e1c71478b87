import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CaptureFormatError,
  MalformedCaptureError,
  NotACaptureError,
  PcapngWriter,
  PcapWriter,
  readCapture,
  TruncatedCaptureError,
} from '../../src/capture/index.js';

function samplePcap(): Buffer {
  const w = new PcapWriter();
  w.writePacket(1_000_000_000n, new Uint8Array(60).fill(1));
  w.writePacket(1_000_001_000n, new Uint8Array(54).fill(2));
  return w.toBuffer();
}

function samplePcapng(): Buffer {
  const w = new PcapngWriter();
  w.addInterface({ name: 'node1/eth0', description: 'uplink' });
  w.writePacket(0, 5n, new Uint8Array(61).fill(3), 'hello');
  w.addInterface({ name: 'pod-a/eth0' });
  w.writePacket(1, 6n, new Uint8Array(54).fill(4));
  return w.toBuffer();
}

/** Offsets at which a whole record/block ends: cutting there leaves a valid, shorter file. */
function boundaries(file: Buffer, format: 'pcap' | 'pcapng'): Set<number> {
  const ends = new Set<number>();
  let at = format === 'pcap' ? 24 : 0;
  if (format === 'pcap') ends.add(24);
  while (at < file.length) {
    at += format === 'pcap' ? 16 + file.readUInt32LE(at + 8) : file.readUInt32LE(at + 4);
    ends.add(at);
  }
  return ends;
}

describe('readCapture errors', () => {
  it('rejects a non-capture with "not a pcap or pcapng file"', () => {
    const html = Buffer.from('<!doctype html><html><body>404</body></html>');
    expect(() => readCapture(html)).toThrow(NotACaptureError);
    expect(() => readCapture(html)).toThrow(/^not a pcap or pcapng file: unknown magic number/);
    expect(() => readCapture(new Uint8Array(0))).toThrow(/not a pcap or pcapng file: only 0 bytes/);
    expect(() => readCapture(new Uint8Array([0xd4, 0xc3]))).toThrow(NotACaptureError);
  });

  for (const format of ['pcap', 'pcapng'] as const) {
    it(`every cut of a ${format} file that is not at a record boundary gives "record/block at offset N cut short"`, () => {
      const file = format === 'pcap' ? samplePcap() : samplePcapng();
      const whole = readCapture(file).packets.length;
      const ends = boundaries(file, format);
      for (let cut = 4; cut < file.length; cut++) {
        const prefix = file.subarray(0, cut);
        if (ends.has(cut)) {
          expect(readCapture(prefix).packets.length).toBeLessThan(whole);
          continue;
        }
        let error: unknown;
        try {
          readCapture(prefix);
        } catch (err) {
          error = err;
        }
        expect(error, `cut at ${cut}`).toBeInstanceOf(TruncatedCaptureError);
        expect((error as Error).message).toMatch(/^(pcap file header|record|block) at offset \d+ cut short/);
      }
    });
  }

  it('names the offset of the cut-short record', () => {
    const file = samplePcap();
    const secondRecord = 24 + 16 + 60;
    expect(() => readCapture(file.subarray(0, file.length - 1))).toThrow(
      `record at offset ${secondRecord} cut short: needs 70 bytes, 69 left`,
    );
  });

  it('reports inconsistent pcapng blocks as MalformedCaptureError', () => {
    const good = samplePcapng();
    const badTrailer = Buffer.from(good);
    badTrailer.writeUInt32LE(999, good.readUInt32LE(4) - 4);
    expect(() => readCapture(badTrailer)).toThrow(/trailing length 999/);

    const badLength = Buffer.from(good);
    const idb = good.readUInt32LE(4);
    badLength.writeUInt32LE(13, idb + 4);
    expect(() => readCapture(badLength)).toThrow(MalformedCaptureError);
    expect(() => readCapture(badLength)).toThrow(`block at offset ${idb} has invalid total length 13`);

    const badInterface = Buffer.from(good);
    const epb = idb + good.readUInt32LE(idb + 4);
    badInterface.writeUInt32LE(7, epb + 8);
    expect(() => readCapture(badInterface)).toThrow(/refers to interface 7, but only 1 interface/);

    const noShb = Buffer.from(good.subarray(good.readUInt32LE(4)));
    expect(() => readCapture(noShb)).toThrow(NotACaptureError);
  });

  it('random bytes, and random corruptions of valid files, only ever raise CaptureFormatError', () => {
    const samples = [samplePcap(), samplePcapng()];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc
            .tuple(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }))
            .map(([file, edits]) => {
              const copy = Buffer.from(file);
              for (const [at, value] of edits) copy[at % copy.length] = value;
              return copy;
            }),
        ),
        (bytes) => {
          try {
            const file = readCapture(bytes);
            for (const p of file.packets) expect(p.data.length).toBe(p.caplen);
          } catch (err) {
            expect(err).toBeInstanceOf(CaptureFormatError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('readCapture byte orders and resolutions', () => {
  it('reads a big-endian microsecond pcap', () => {
    const file = Buffer.alloc(24 + 16 + 4);
    file.writeUInt32BE(0xa1b2c3d4, 0);
    file.writeUInt16BE(2, 4);
    file.writeUInt16BE(4, 6);
    file.writeUInt32BE(96, 16);
    file.writeUInt32BE(1, 20);
    file.writeUInt32BE(7, 24); // seconds
    file.writeUInt32BE(250_000, 28); // microseconds
    file.writeUInt32BE(4, 32);
    file.writeUInt32BE(60, 36);
    file.set([0xde, 0xad, 0xbe, 0xef], 40);
    const got = readCapture(file);
    expect(got.byteOrder).toBe('big-endian');
    expect(got.interfaces[0]).toMatchObject({ snaplen: 96, linktype: 1, tsresol: 6 });
    expect(got.packets[0]).toMatchObject({ timestampNs: 7_250_000_000n, caplen: 4, origlen: 60 });
    expect(Buffer.from(got.packets[0].data).toString('hex')).toBe('deadbeef');
  });

  it('reads a big-endian pcapng with default microsecond and binary timestamp resolutions', () => {
    const shb = Buffer.alloc(28);
    shb.writeUInt32BE(0x0a0d0d0a, 0);
    shb.writeUInt32BE(28, 4);
    shb.writeUInt32BE(0x1a2b3c4d, 8);
    shb.writeUInt16BE(1, 12);
    shb.writeInt32BE(-1, 16);
    shb.writeInt32BE(-1, 20);
    shb.writeUInt32BE(28, 24);
    // IDB 0: if_name "a", no if_tsresol (so microseconds).
    const idb0 = Buffer.alloc(32);
    idb0.writeUInt32BE(1, 0);
    idb0.writeUInt32BE(32, 4);
    idb0.writeUInt16BE(1, 8);
    idb0.writeUInt32BE(0, 12);
    idb0.writeUInt16BE(2, 16);
    idb0.writeUInt16BE(1, 18);
    idb0.write('a', 20);
    idb0.writeUInt32BE(0, 24);
    idb0.writeUInt32BE(32, 28);
    // IDB 1: if_tsresol = 0x80 | 10 (2^-10 s ticks).
    const idb1 = Buffer.alloc(32);
    idb1.writeUInt32BE(1, 0);
    idb1.writeUInt32BE(32, 4);
    idb1.writeUInt16BE(1, 8);
    idb1.writeUInt16BE(9, 16);
    idb1.writeUInt16BE(1, 18);
    idb1[20] = 0x8a;
    idb1.writeUInt32BE(32, 28);
    const epb = (iface: number, ticks: number): Buffer => {
      const b = Buffer.alloc(36);
      b.writeUInt32BE(6, 0);
      b.writeUInt32BE(36, 4);
      b.writeUInt32BE(iface, 8);
      b.writeUInt32BE(0, 12);
      b.writeUInt32BE(ticks, 16);
      b.writeUInt32BE(3, 20);
      b.writeUInt32BE(3, 24);
      b.set([1, 2, 3], 28);
      b.writeUInt32BE(36, 32);
      return b;
    };
    const got = readCapture(Buffer.concat([shb, idb0, idb1, epb(0, 1_500_000), epb(1, 1536)]));
    expect(got.byteOrder).toBe('big-endian');
    expect(got.interfaces.map((i) => [i.name, i.tsresol])).toEqual([
      ['a', 6],
      [undefined, 0x8a],
    ]);
    expect(got.packets.map((p) => p.timestampNs)).toEqual([1_500_000_000n, 1_500_000_000n]);
    expect(got.packets[1].interfaceId).toBe(1);
  });
});
