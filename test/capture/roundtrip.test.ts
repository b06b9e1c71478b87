import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PcapngWriter, PcapWriter, readCapture } from '../../src/capture/index.js';

const frameArb = fc.uint8Array({ minLength: 0, maxLength: 300 });
const MAX_PCAP_NS = (2n ** 32n - 1n) * 1_000_000_000n + 999_999_999n;
const textArb = fc.string({ unit: 'grapheme', maxLength: 40 });

describe('pcap round trip', () => {
  it('packets written as pcap read back with their bytes cut at snaplen, original lengths and timestamps at the file resolution', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'ns' | 'us'>('ns', 'us'),
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 64, max: 1024 }),
        fc.array(
          fc.record({ frame: frameArb, ts: fc.bigInt({ min: 0n, max: MAX_PCAP_NS }), extra: fc.nat(5000) }),
          { maxLength: 20 },
        ),
        (resolution, snaplen, chunkSize, packets) => {
          const writer = new PcapWriter({ resolution, snaplen, chunkSize });
          for (const p of packets) writer.writePacket(p.ts, p.frame, p.frame.length + p.extra);
          const file = readCapture(writer.toBuffer());
          expect(file.format).toBe('pcap');
          expect(file.byteOrder).toBe('little-endian');
          expect([file.versionMajor, file.versionMinor]).toEqual([2, 4]);
          expect(file.interfaces).toEqual([
            { id: 0, section: 0, linktype: 1, snaplen, tsresol: resolution === 'ns' ? 9 : 6 },
          ]);
          expect(file.packets).toHaveLength(packets.length);
          file.packets.forEach((got, i) => {
            const want = packets[i];
            const caplen = Math.min(want.frame.length, snaplen);
            expect(got.caplen).toBe(caplen);
            expect(got.caplen).toBeLessThanOrEqual(snaplen);
            expect(got.origlen).toBe(want.frame.length + want.extra);
            expect(Buffer.from(got.data).equals(Buffer.from(want.frame.subarray(0, caplen)))).toBe(true);
            const expectedTs = resolution === 'ns' ? want.ts : (want.ts / 1000n) * 1000n;
            expect(got.timestampNs).toBe(expectedTs);
            expect(got.interfaceId).toBe(0);
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('writes the classic microsecond and the nanosecond magic numbers and the snaplen in the header', () => {
    const us = new PcapWriter({ resolution: 'us', snaplen: 1234 }).toBuffer();
    const ns = new PcapWriter({ snaplen: 65535 }).toBuffer();
    expect(us.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(ns.readUInt32LE(0)).toBe(0xa1b23c4d);
    expect(us.readUInt32LE(16)).toBe(1234);
    expect(ns.readUInt32LE(16)).toBe(65535);
    expect(us.readUInt32LE(20)).toBe(1);
    expect(us.length).toBe(24);
  });

  it('accepts number and bigint nanoseconds alike', () => {
    const a = new PcapWriter();
    const b = new PcapWriter();
    a.writePacket(1_234_567_890_123, new Uint8Array([1, 2, 3]));
    b.writePacket(1_234_567_890_123n, new Uint8Array([1, 2, 3]));
    expect(a.toBuffer().equals(b.toBuffer())).toBe(true);
    expect(readCapture(a.toBuffer()).packets[0].timestampNs).toBe(1_234_567_890_123n);
  });
});

type Step = { kind: 'iface'; name: string; description: string | null; snaplen: number | null } | PacketStep;
type PacketStep = {
  kind: 'packet';
  pick: number;
  ts: bigint;
  frame: Uint8Array;
  comment: string | null;
  extra: number;
};

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('iface' as const),
    name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
    description: fc.option(textArb),
    snaplen: fc.option(fc.integer({ min: 0, max: 400 })),
  }),
  fc.record({
    kind: fc.constant('packet' as const),
    pick: fc.nat(),
    ts: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    frame: frameArb,
    comment: fc.option(textArb),
    extra: fc.nat(5000),
  }),
  fc.record({
    kind: fc.constant('packet' as const),
    pick: fc.nat(),
    ts: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    frame: frameArb,
    comment: fc.option(textArb),
    extra: fc.nat(5000),
  }),
);

describe('pcapng round trip', () => {
  it('interfaces (declared at any point) and packets with comments read back equal, captured bytes cut at each interface snaplen', () => {
    fc.assert(
      fc.property(
        fc.array(stepArb, { maxLength: 30 }),
        fc.integer({ min: 64, max: 1024 }),
        (steps, chunkSize) => {
          const writer = new PcapngWriter({ chunkSize });
          const interfaces: Array<{ name: string; description: string | null; snaplen: number }> = [];
          const written: Array<PacketStep & { iface: number }> = [];
          for (const step of steps) {
            if (step.kind === 'iface') {
              const id = writer.addInterface({
                name: step.name,
                description: step.description ?? undefined,
                snaplen: step.snaplen ?? undefined,
              });
              expect(id).toBe(interfaces.length);
              interfaces.push({ name: step.name, description: step.description, snaplen: step.snaplen ?? 0 });
            } else if (interfaces.length > 0) {
              const iface = step.pick % interfaces.length;
              writer.writePacket(
                iface,
                step.ts,
                step.frame,
                step.comment ?? undefined,
                step.frame.length + step.extra,
              );
              written.push({ ...step, iface });
            }
          }
          const file = readCapture(writer.toBuffer());
          expect(file.format).toBe('pcapng');
          expect(
            file.interfaces.map((i) => [i.id, i.name, i.description, i.snaplen, i.tsresol, i.linktype]),
          ).toEqual(interfaces.map((i, id) => [id, i.name, i.description ?? undefined, i.snaplen, 9, 1]));
          expect(file.packets).toHaveLength(written.length);
          file.packets.forEach((got, k) => {
            const want = written[k];
            const snaplen = interfaces[want.iface].snaplen;
            const caplen = snaplen === 0 ? want.frame.length : Math.min(snaplen, want.frame.length);
            expect(got.interfaceId).toBe(want.iface);
            expect(got.timestampNs).toBe(want.ts);
            expect(got.caplen).toBe(caplen);
            expect(got.origlen).toBe(want.frame.length + want.extra);
            expect(Buffer.from(got.data).equals(Buffer.from(want.frame.subarray(0, caplen)))).toBe(true);
            expect(got.comment).toBe(want.comment ?? undefined);
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('every block is 32-bit aligned and carries the same total length at both ends', () => {
    const writer = new PcapngWriter({ sectionComment: 'run 1' });
    const a = writer.addInterface({ name: 'node1/eth0', description: 'uplink', snaplen: 100 });
    writer.writePacket(a, 5n, new Uint8Array(53).fill(7), 'odd-sized frame');
    writer.writePacket(a, 6n, new Uint8Array(200).fill(1));
    const buf = writer.toBuffer();
    const types: number[] = [];
    for (let at = 0; at < buf.length; ) {
      const length = buf.readUInt32LE(at + 4);
      expect(length % 4).toBe(0);
      expect(buf.readUInt32LE(at + length - 4)).toBe(length);
      types.push(buf.readUInt32LE(at));
      at += length;
    }
    expect(types).toEqual([0x0a0d0d0a, 1, 6, 6]);
    // The IDB says if_tsresol = 9: nanosecond ticks.
    const idb = buf.subarray(buf.readUInt32LE(4));
    expect(idb.indexOf(Buffer.from([9, 0, 1, 0, 9, 0, 0, 0]))).toBeGreaterThan(0);
  });

  it('a 64-bit nanosecond timestamp is stored as high and low words of the EPB', () => {
    const writer = new PcapngWriter();
    writer.addInterface({ name: 'x' });
    const ts = 0x0123_4567_89ab_cdefn;
    writer.writePacket(0, ts, new Uint8Array(4));
    const buf = writer.toBuffer();
    const epb = buf.length - 36;
    expect(buf.readUInt32LE(epb)).toBe(6);
    expect(buf.readUInt32LE(epb + 12)).toBe(0x01234567);
    expect(buf.readUInt32LE(epb + 16)).toBe(0x89abcdef);
  });
});

describe('pcapng timestamp offset', () => {
  it('adds timestampOffsetNs to every packet, carrying across the 32-bit halves', () => {
    const offset = 1_735_689_900_000_000_000n; // 2025-01-01T00:05:00Z
    const w = new PcapngWriter({ timestampOffsetNs: offset });
    w.addInterface({ name: 'node1/eth0' });
    const frame = new Uint8Array(60);
    const times = [0, 1, 4_294_967_295, 4_294_967_296, 8_050_000, 123_456_789_012];
    for (const t of times) void w.writePacket(0, t, frame);
    const read = readCapture(w.toBuffer());
    expect(read.packets.map((p) => p.timestampNs)).toEqual(times.map((t) => offset + BigInt(t)));
  });
});
