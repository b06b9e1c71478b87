import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureWriteError, PcapngWriter, PcapWriter, readCapture } from '../../src/capture/index.js';

/**
 * A Writable that accepts each chunk only after a delay, and records whether anyone wrote
 * to it while it had asked for a drain and how much it ever had queued.
 */
class SlowSink extends Writable {
  readonly chunks: Buffer[] = [];
  writesWhileNeedingDrain = 0;
  maxQueued = 0;

  constructor(
    highWaterMark: number,
    private readonly delayMs: number,
  ) {
    super({ highWaterMark });
  }

  override write(chunk: Buffer, ...rest: unknown[]): boolean {
    if (this.writableNeedDrain) this.writesWhileNeedingDrain++;
    // biome-ignore lint/suspicious/noExplicitAny: forwarding Writable.write's overloads
    const ok = (super.write as any)(chunk, ...rest);
    this.maxQueued = Math.max(this.maxQueued, this.writableLength);
    return ok;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error) => void): void {
    this.chunks.push(chunk);
    if (this.delayMs === 0) setImmediate(done);
    else setTimeout(done, this.delayMs);
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

class FailingSink extends Writable {
  override _write(_chunk: Buffer, _enc: BufferEncoding, done: (err?: Error) => void): void {
    setImmediate(() => done(new Error('disk full')));
  }
}

describe('streaming writers', () => {
  it('a slow stream gets the same bytes as memory, is never written while it needs a drain, and the writer holds at most a chunk plus one record', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 64, max: 2048 }),
        fc.integer({ min: 1, max: 4096 }),
        fc.array(fc.record({ size: fc.integer({ min: 0, max: 3000 }), comment: fc.option(fc.string()) }), {
          minLength: 1,
          maxLength: 60,
        }),
        async (chunkSize, highWaterMark, packets) => {
          const sink = new SlowSink(highWaterMark, 0);
          const streamed = new PcapngWriter({ stream: sink, chunkSize });
          const memory = new PcapngWriter({ chunkSize });
          let largestRecord = 0;
          for (const w of [streamed, memory]) w.addInterface({ name: 'node1/eth0' });
          for (const [i, p] of packets.entries()) {
            const frame = new Uint8Array(p.size).fill(i & 0xff);
            await streamed.writePacket(0, i, frame, p.comment ?? undefined);
            memory.writePacket(0, i, frame, p.comment ?? undefined);
            largestRecord = Math.max(largestRecord, 40 + p.size + 8 + Buffer.byteLength(p.comment ?? '') + 3);
            expect(streamed.heldBytes).toBeLessThanOrEqual(chunkSize + largestRecord);
          }
          await streamed.close();
          expect(sink.writableFinished).toBe(true);
          expect(sink.writesWhileNeedingDrain).toBe(0);
          expect(streamed.maxHeldBytes).toBeLessThanOrEqual(chunkSize + largestRecord);
          // The stream only queues what it had below its high-water mark plus one hand-off
          // (a chunk, or a parked record with the chunk bytes before it).
          expect(sink.maxQueued).toBeLessThan(highWaterMark + chunkSize + largestRecord);
          expect(sink.bytes().equals(memory.toBuffer())).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('with timed delays the writer waits for drain: many chunks pass through a 1 KiB stream', async () => {
    const sink = new SlowSink(1024, 1);
    const writer = new PcapWriter({ stream: sink, chunkSize: 4096 });
    let waits = 0;
    const frame = new Uint8Array(1500);
    for (let i = 0; i < 100; i++) {
      const pending = writer.writePacket(i * 1000, frame);
      if (pending) {
        waits++;
        await pending;
      }
      expect(writer.heldBytes).toBeLessThanOrEqual(4096);
    }
    await writer.close();
    expect(waits).toBeGreaterThan(10);
    expect(sink.writesWhileNeedingDrain).toBe(0);
    expect(writer.maxHeldBytes).toBeLessThanOrEqual(4096);
    expect(readCapture(sink.bytes()).packets).toHaveLength(100);
  });

  it('refuses to grow past a chunk plus one record when the caller ignores the drain promises', () => {
    const sink = new SlowSink(16, 50);
    const writer = new PcapWriter({ stream: sink, chunkSize: 256 });
    const frame = new Uint8Array(100);
    const write = (): void => {
      for (let i = 0; i < 10; i++) writer.writePacket(i, frame);
    };
    expect(write).toThrow(CaptureWriteError);
    expect(write).toThrow(/waiting for drain/);
    expect(writer.maxHeldBytes).toBeLessThanOrEqual(256 + 116);
    sink.destroy();
  });

  it('a record bigger than the chunk waits for the drain before it is written', async () => {
    const sink = new SlowSink(16, 1);
    const writer = new PcapWriter({ stream: sink, chunkSize: 128 });
    await writer.writePacket(1, new Uint8Array(100));
    await writer.writePacket(2, new Uint8Array(1000));
    await writer.writePacket(3, new Uint8Array(10));
    await writer.close();
    expect(sink.writesWhileNeedingDrain).toBe(0);
    expect(readCapture(sink.bytes()).packets.map((p) => p.caplen)).toEqual([100, 1000, 10]);
  });

  it('a failing stream is reported as a CaptureWriteError, not a crash', async () => {
    const writer = new PcapWriter({ stream: new FailingSink(), chunkSize: 64 });
    const frame = new Uint8Array(100);
    const attempt = async (): Promise<void> => {
      for (let i = 0; i < 10; i++) await writer.writePacket(i, frame);
      await writer.close();
    };
    const error = await attempt().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CaptureWriteError);
    expect((error as Error).message).toMatch(/output stream failed: disk full/);
    // Once failed, the writer keeps saying why instead of accepting more packets.
    expect(() => writer.writePacket(99, frame)).toThrow(/disk full/);
  });

  it('close() ends the stream only after every byte was handed over, and writing afterwards is an error', async () => {
    const sink = new SlowSink(64, 0);
    const writer = new PcapngWriter({ stream: sink });
    writer.addInterface({ name: 'a' });
    writer.writePacket(0, 1n, new Uint8Array(60));
    await writer.close();
    expect(sink.writableFinished).toBe(true);
    expect(readCapture(sink.bytes()).packets).toHaveLength(1);
    expect(() => writer.writePacket(0, 2n, new Uint8Array(60))).toThrow(/closed/);
    expect(() => writer.toBuffer()).toThrow(/memory/);
  });
});

describe('writer argument errors', () => {
  it('rejects bad timestamps, unknown interfaces, short original lengths and bad options', () => {
    const pcap = new PcapWriter();
    expect(() => pcap.writePacket(-1, new Uint8Array(1))).toThrow(CaptureWriteError);
    expect(() => pcap.writePacket(1.5, new Uint8Array(1))).toThrow(/non-negative integer/);
    expect(() => pcap.writePacket(2n ** 32n * 1_000_000_000n, new Uint8Array(1))).toThrow(/32-bit/);
    expect(() => pcap.writePacket(0, new Uint8Array(10), 9)).toThrow(/original length/);
    expect(() => new PcapWriter({ snaplen: 0 })).toThrow(/snaplen/);
    expect(() => new PcapWriter({ chunkSize: 8 })).toThrow(/chunkSize/);
    const ng = new PcapngWriter();
    expect(() => ng.writePacket(0, 0n, new Uint8Array(1))).toThrow(/unknown interface id 0: 0 declared/);
    ng.addInterface({ name: 'a' });
    expect(() => ng.writePacket(1, 0n, new Uint8Array(1))).toThrow(/unknown interface id 1/);
    expect(() => ng.writePacket(0, 2n ** 64n, new Uint8Array(1))).toThrow(CaptureWriteError);
    expect(() => ng.addInterface({ name: '' })).toThrow(/name/);
    // Nothing half-written: the file still holds just the SHB and one IDB.
    expect(readCapture(ng.toBuffer()).interfaces).toHaveLength(1);
  });
});
