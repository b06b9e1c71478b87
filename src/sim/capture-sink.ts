/**
 * Connects the pump's capture taps to a pcapng file: one Interface Description Block per
 * captured interface, named `host/ifname` (`client/eth0`, `node1/cali…`,
 * `myweb-rs-abcde/eth0`), packets timestamped with the simulated clock.
 *
 * The pump is synchronous, so the sink writes either into memory (read it with
 * `toBuffer()`) or straight to a file through a Writable whose writes complete at once
 * (`fs.writeSync` per 64 KiB chunk): memory stays bounded however long the run, and the
 * writer never has to wait for a drain in the middle of a packet.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { PcapngWriter } from '../capture/index.js';
import type { CaptureSink } from '../topology/network.js';

/** A Writable over a file descriptor whose writes finish synchronously. */
class SyncFileWritable extends Writable {
  private fd: number;
  /** The first write error (ENOSPC, EIO …), kept so the caller can name it rather than its echoes. */
  failure: Error | undefined;

  constructor(path: string) {
    super({ highWaterMark: 1 << 20 });
    this.fd = openSync(path, 'w');
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      let off = 0;
      while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
      callback();
    } catch (e) {
      this.failure ??= e as Error;
      callback(e as Error);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      closeSync(this.fd);
      callback();
    } catch (e) {
      callback(e as Error);
    }
  }
}

export class PcapngCaptureSink implements CaptureSink {
  readonly writer: PcapngWriter;
  frames = 0;
  private readonly file: SyncFileWritable | undefined;

  constructor(
    readonly snaplen = 0,
    sectionComment?: string,
    /** Write to this file as the run goes, instead of keeping the capture in memory. */
    readonly path?: string,
    /** Wall-clock time of simulated time 0, ms since the Unix epoch (the cluster's clock). */
    epochMs = 0,
  ) {
    this.file = path !== undefined ? new SyncFileWritable(path) : undefined;
    this.writer = new PcapngWriter({
      application: 'dpsim',
      timestampOffsetNs: BigInt(Math.round(epochMs)) * 1_000_000n,
      ...(sectionComment ? { sectionComment } : {}),
      ...(this.file !== undefined ? { stream: this.file } : {}),
    });
  }

  addInterface(name: string, description: string): number {
    return this.writer.addInterface({ name, description, snaplen: this.snaplen });
  }

  record(captureId: number, timeNs: number, frame: Uint8Array, length: number): void {
    this.frames++;
    // Memory or a synchronous file: the writer never asks to wait, so the pump stays synchronous.
    void this.writer.writePacket(captureId, Math.round(timeNs), frame.subarray(0, length));
  }

  /** The first error writing the file (e.g. ENOSPC), if any: the cause of any later writer error. */
  get writeError(): Error | undefined {
    return this.file?.failure;
  }

  /** The whole capture, for an in-memory sink. */
  toBuffer(): Uint8Array {
    return this.writer.toBuffer();
  }

  /** Flushes and closes the file (a no-op for memory). */
  close(): Promise<void> {
    return this.writer.close();
  }
}
