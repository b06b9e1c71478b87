/**
 * Connects the pump's capture taps to a pcapng file: one Interface Description Block per
 * captured interface, named `host/ifname` (`client/eth0`, `node1/cali…`,
 * `myweb-rs-abcde/eth0`), packets timestamped with the simulated clock.
 *
 * The pump is synchronous, so the sink writes either into memory (read it with
 * `toBuffer()`) or straight to a file with `fs.writeSync`, one 256 KiB chunk at a time from a
 * single preallocated buffer: memory stays bounded however long the run, nothing is
 * allocated per packet or per chunk, and the writer never waits for a drain.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { PcapngWriter } from '../capture/index.js';
import type { CaptureSink } from '../topology/network.js';

/** Bytes handed to the file per write: few syscalls, and small enough to stay in the CPU cache (1 MiB measured slower). */
const FILE_CHUNK = 256 * 1024;

export class PcapngCaptureSink implements CaptureSink {
  readonly writer: PcapngWriter;
  frames = 0;
  private fd = -1;
  /** The first write error (ENOSPC, EIO …), kept so the caller can name it rather than its echoes. */
  private failure: Error | undefined;

  constructor(
    readonly snaplen = 0,
    sectionComment?: string,
    /** Write to this file as the run goes, instead of keeping the capture in memory. */
    readonly path?: string,
    /** Wall-clock time of simulated time 0, ms since the Unix epoch (the cluster's clock). */
    epochMs = 0,
  ) {
    if (path !== undefined) this.fd = openSync(path, 'w');
    this.writer = new PcapngWriter({
      application: 'dpsim',
      timestampOffsetNs: BigInt(Math.round(epochMs)) * 1_000_000n,
      ...(sectionComment ? { sectionComment } : {}),
      ...(path !== undefined
        ? { sink: (bytes: Uint8Array) => this.writeAll(bytes), chunkSize: FILE_CHUNK }
        : {}),
    });
  }

  private writeAll(bytes: Uint8Array): void {
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    } catch (e) {
      this.failure ??= e as Error;
      throw e;
    }
  }

  addInterface(name: string, description: string): number {
    return this.writer.addInterface({ name, description, snaplen: this.snaplen });
  }

  record(captureId: number, timeNs: number, frame: Uint8Array, length: number): void {
    this.frames++;
    // Memory or a synchronous file: the writer never asks to wait, so the pump stays synchronous.
    void this.writer.writeFrame(captureId, Math.round(timeNs), frame, length);
  }

  /** The first error writing the file (e.g. ENOSPC), if any: the cause of any later writer error. */
  get writeError(): Error | undefined {
    return this.failure;
  }

  /** The whole capture, for an in-memory sink. */
  toBuffer(): Uint8Array {
    return this.writer.toBuffer();
  }

  /** Flushes and closes the file (a no-op for memory). */
  async close(): Promise<void> {
    try {
      await this.writer.close();
    } finally {
      if (this.fd >= 0) {
        closeSync(this.fd);
        this.fd = -1;
      }
    }
  }
}
