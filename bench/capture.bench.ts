/**
 * Capture-writer throughput: pcap and pcapng records of 54-byte (bare TCP segment) and
 * 1500-byte (full MTU) Ethernet frames, written into memory (`toBuffer()`) and through a
 * Writable that discards its input (the chunking and backpressure path without disk I/O).
 * One benchmark op writes BATCH packets. Run alone: `npx tsx bench/capture.bench.ts`.
 */
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import b from 'benny';
import { PcapngWriter, PcapWriter } from '../src/capture/index.js';

const BATCH = 256;

/** Accepts every chunk at once; a high-water mark above the chunk size means no drain waits. */
class NullSink extends Writable {
  constructor() {
    super({ highWaterMark: 1 << 20 });
  }

  override _write(_chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    done();
  }
}

function frameOf(size: number): Uint8Array {
  const frame = new Uint8Array(size);
  for (let i = 0; i < size; i++) frame[i] = (i * 31) & 0xff;
  return frame;
}

function memoryCase(format: 'pcap' | 'pcapng', size: number) {
  const frame = frameOf(size);
  return b.add(`${format} ${size}B x${BATCH} -> buffer`, () => {
    let ts = 1_000_000_000;
    if (format === 'pcap') {
      const writer = new PcapWriter();
      for (let i = 0; i < BATCH; i++) {
        ts += 1000;
        writer.writePacket(ts, frame);
      }
      return writer.toBuffer().length;
    }
    const writer = new PcapngWriter();
    const iface = writer.addInterface({ name: 'node1/eth0' });
    for (let i = 0; i < BATCH; i++) {
      ts += 1000;
      writer.writePacket(iface, ts, frame);
    }
    return writer.toBuffer().length;
  });
}

function streamCase(format: 'pcap' | 'pcapng', size: number) {
  const frame = frameOf(size);
  const pcap = new PcapWriter({ stream: new NullSink() });
  const pcapng = new PcapngWriter({ stream: new NullSink() });
  const iface = pcapng.addInterface({ name: 'node1/eth0' });
  let ts = 1_000_000_000;
  return b.add(`${format} ${size}B x${BATCH} -> null stream`, async () => {
    for (let i = 0; i < BATCH; i++) {
      ts += 1000;
      const pending = format === 'pcap' ? pcap.writePacket(ts, frame) : pcapng.writePacket(iface, ts, frame);
      if (pending) await pending;
    }
  });
}

export default async function run(): Promise<void> {
  await b.suite(
    'capture writers',
    // benchmark.js's minTime is per sample, not per case: minTime 1 made each case take 5+ s of
    // samples (3½ minutes for the suite on a loaded machine). The default (~50 ms) with a
    // 1.5 s budget gives the same figures within the noise.
    b.configure({ cases: { minSamples: 5, maxTime: 1.5 } }),
    memoryCase('pcap', 54),
    memoryCase('pcapng', 54),
    memoryCase('pcap', 1500),
    memoryCase('pcapng', 1500),
    streamCase('pcap', 54),
    streamCase('pcapng', 54),
    streamCase('pcap', 1500),
    streamCase('pcapng', 1500),
    b.cycle(),
    b.complete((summary) => {
      console.table(
        summary.results.map((r) => ({
          case: r.name,
          'ops/s': Math.round(r.ops),
          'packets/s': Math.round(r.ops * BATCH),
          'MB/s (frame bytes)': Number(
            ((r.ops * BATCH * Number(/ (\d+)B/.exec(r.name)?.[1] ?? 0)) / 1e6).toFixed(1),
          ),
          '±%': Number(r.margin.toFixed(2)),
        })),
      );
    }),
    b.save({ file: 'capture', folder: 'bench/results', format: 'json' }),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
