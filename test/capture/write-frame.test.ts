import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureWriteError, PcapngWriter, readCapture } from '../../src/capture/index.js';

/** A pool like the simulator's: frames live at some offset inside one larger buffer. */
const packetArb = fc.record({
  bytes: fc.uint8Array({ minLength: 0, maxLength: 300 }),
  /** Offset of the frame in its pool buffer: multiples of 4 take the word path, others the byte path. */
  offset: fc.integer({ min: 0, max: 64 }),
  /** Bytes after the frame in the pool (garbage that must not leak into the capture). */
  slack: fc.integer({ min: 0, max: 8 }),
  ts: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  iface: fc.integer({ min: 0, max: 2 }),
});

function inPool(bytes: Uint8Array, offset: number, slack: number): Uint8Array {
  const pool = new Uint8Array(offset + bytes.length + slack).fill(0xee);
  pool.set(bytes, offset);
  // The frame view runs to the pool's end, as the frame pool's slot views do; the frame is its prefix.
  return pool.subarray(offset);
}

describe('PcapngWriter.writeFrame (the capture hot path)', () => {
  it('property: writeFrame writes byte for byte what writePacket writes, aligned or not, in memory or through a sync sink', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(packetArb, { maxLength: 25 }),
        fc.integer({ min: 64, max: 600 }),
        fc.constantFrom(0, 60, 128),
        fc.bigInt({ min: 0n, max: 2n ** 40n }),
        async (packets, chunkSize, snaplen, offsetNs) => {
          const reference = new PcapngWriter({ chunkSize, timestampOffsetNs: offsetNs });
          const memory = new PcapngWriter({ chunkSize, timestampOffsetNs: offsetNs });
          const sunk: Uint8Array[] = [];
          const viaSink = new PcapngWriter({
            chunkSize,
            timestampOffsetNs: offsetNs,
            // The writer reuses its chunk: the sink must copy what it keeps.
            sink: (b) => sunk.push(Uint8Array.from(b)),
          });
          for (const w of [reference, memory, viaSink])
            for (let i = 0; i < 3; i++) w.addInterface({ name: `node1/eth${i}`, snaplen });
          for (const p of packets) {
            const frame = inPool(p.bytes, p.offset, p.slack);
            reference.writePacket(p.iface, p.ts, frame.subarray(0, p.bytes.length));
            memory.writeFrame(p.iface, p.ts, frame, p.bytes.length);
            viaSink.writeFrame(p.iface, p.ts, frame, p.bytes.length);
          }
          const expected = reference.toBuffer();
          expect(Buffer.from(memory.toBuffer()).equals(expected)).toBe(true);
          await viaSink.close();
          expect(Buffer.concat(sunk).equals(expected)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('frames read back with their bytes, lengths and timestamps (a 1500-byte frame, a 54-byte one cut at snaplen 40)', () => {
    const w = new PcapngWriter();
    w.addInterface({ name: 'a' });
    w.addInterface({ name: 'b', snaplen: 40 });
    const big = inPool(
      Uint8Array.from({ length: 1500 }, (_, i) => i & 0xff),
      8,
      3,
    );
    const small = inPool(
      Uint8Array.from({ length: 54 }, (_, i) => 255 - i),
      4,
      0,
    );
    w.writeFrame(0, 2 ** 33 + 5, big, 1500);
    w.writeFrame(1, 7, small, 54);
    const file = readCapture(w.toBuffer());
    expect(file.packets.map((p) => [p.interfaceId, p.timestampNs, p.data.length, p.origlen])).toEqual([
      [0, 2n ** 33n + 5n, 1500, 1500],
      [1, 7n, 40, 54],
    ]);
    expect(Buffer.from(file.packets[0].data).equals(Buffer.from(big.subarray(0, 1500)))).toBe(true);
    expect(Buffer.from(file.packets[1].data).equals(Buffer.from(small.subarray(0, 40)))).toBe(true);
  });

  it.each([
    [
      'an unknown interface',
      (w: PcapngWriter) => w.writeFrame(5, 0, new Uint8Array(10), 10),
      /unknown interface id 5/,
    ],
    [
      'a length beyond the frame',
      (w: PcapngWriter) => w.writeFrame(0, 0, new Uint8Array(10), 11),
      /length 11/,
    ],
    [
      'a fractional timestamp',
      (w: PcapngWriter) => w.writeFrame(0, 1.5, new Uint8Array(10), 10),
      /invalid timestamp 1.5/,
    ],
    [
      'a negative timestamp',
      (w: PcapngWriter) => w.writeFrame(0, -1, new Uint8Array(10), 10),
      /invalid timestamp -1/,
    ],
  ])('refuses %s with a CaptureWriteError and writes nothing', (_what, write, message) => {
    const w = new PcapngWriter();
    w.addInterface({ name: 'a' });
    const before = w.toBuffer().length;
    expect(() => write(w)).toThrow(CaptureWriteError);
    expect(() => write(w)).toThrow(message);
    expect(w.toBuffer().length).toBe(before);
  });

  it('a failing sink is reported as a CaptureWriteError naming the cause', () => {
    const w = new PcapngWriter({
      chunkSize: 64,
      sink: () => {
        throw new Error('ENOSPC: no space left on device');
      },
    });
    const frame = new Uint8Array(60);
    expect(() => {
      w.addInterface({ name: 'a' });
      for (let i = 0; i < 10; i++) w.writeFrame(0, i, frame, 60);
    }).toThrow(/output stream failed: ENOSPC/);
  });

  it('stream and sink together are refused', () => {
    expect(() => new PcapngWriter({ sink: () => {}, stream: {} as never })).toThrow(/either stream or sink/);
  });
});
