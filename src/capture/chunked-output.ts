import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { CaptureWriteError } from './errors.js';

/** Default size of the chunk records are batched into before being handed to the stream. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;

/**
 * A destination that consumes bytes before it returns (e.g. `fs.writeSync` on a file
 * descriptor). The writer then reuses one preallocated chunk for the whole run: no chunk is
 * allocated per hand-off, and nothing ever waits for a drain.
 */
export type SyncSink = (bytes: Uint8Array) => void;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function wordsOf(chunk: Buffer): Uint32Array | null {
  if (!LITTLE_ENDIAN_HOST || (chunk.byteOffset & 3) !== 0) return null;
  return new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length >>> 2);
}

/**
 * Batches encoded records into one fixed-size chunk and hands full chunks either to a Node
 * `Writable` (honouring backpressure) or to an in-memory list.
 *
 * Backpressure: `stream.write` is never called while the stream waits for 'drain'; the
 * write that made it wait returns a promise, and the caller awaits it before the next one.
 * Memory bound: the writer holds at most one chunk plus one record. That record is either
 * larger than a chunk, or a record written while a drain was pending that did not fit in
 * the chunk (e.g. after an unawaited addInterface): it is parked and flushed after the
 * drain. A second such record while still draining is refused with an error rather than
 * buffered, so ignoring the promises cannot grow memory silently.
 */
export class ChunkedOutput {
  readonly chunkSize: number;
  private readonly stream: Writable | undefined;
  private readonly sink: SyncSink | undefined;
  private readonly memory: Buffer[] = [];
  private chunk: Buffer;
  /** The chunk as little-endian u32 words (null on a big-endian host or an unaligned chunk). */
  private chunkWords: Uint32Array | null;
  private used = 0;
  /** A parked record (with the chunk bytes before it): being encoded, or waiting for a drain. */
  private big: Buffer | undefined;
  /** Bytes of earlier chunk content at the front of {@link big}. */
  private bigPrefix = 0;
  private drainPromise: Promise<void> | undefined;
  private failure: Error | undefined;
  private closed = false;
  private peakHeld = 0;

  constructor(stream: Writable | SyncSink | undefined, chunkSize = DEFAULT_CHUNK_SIZE) {
    if (!Number.isInteger(chunkSize) || chunkSize < 64) {
      throw new CaptureWriteError(`chunkSize must be an integer >= 64 bytes, got ${chunkSize}`);
    }
    this.sink = typeof stream === 'function' ? stream : undefined;
    stream = typeof stream === 'function' ? undefined : stream;
    this.stream = stream;
    this.chunkSize = chunkSize;
    this.chunk = Buffer.allocUnsafe(chunkSize);
    this.chunkWords = wordsOf(this.chunk);
    if (stream) {
      stream.on('error', (err: Error) => {
        this.failure ??= err;
      });
    }
  }

  /** Bytes accepted but not yet handed to the stream (or to the in-memory list). */
  get heldBytes(): number {
    return this.used + (this.big ? this.big.length : 0);
  }

  /** The largest {@link heldBytes} ever reached (including a record while it is encoded). */
  get maxHeldBytes(): number {
    return this.peakHeld;
  }

  /** Resolves when the stream has drained; undefined when nothing is pending. */
  get pendingDrain(): Promise<void> | undefined {
    return this.drainPromise;
  }

  /**
   * Makes room for a record of `length` bytes and returns the buffer to encode it into, at
   * {@link offset}; call {@link commit} after encoding. Throws only when a parked record
   * still waits for a drain the caller did not await.
   */
  reserve(length: number): Buffer {
    this.assertWritable();
    if (this.big) this.flushParked();
    if (this.used + length <= this.chunkSize) {
      this.notePeak(this.used + length);
      return this.chunk;
    }
    if (!this.drainPromise && this.used > 0) this.handOff();
    if (this.used + length <= this.chunkSize) {
      this.notePeak(length);
      return this.chunk;
    }
    // Larger than a chunk, or no room while the stream drains: park the chunk's bytes and
    // the record in one buffer, so that flushing it later is a single write.
    this.bigPrefix = this.used;
    this.big = Buffer.allocUnsafe(this.used + length);
    this.chunk.copy(this.big, 0, 0, this.used);
    this.used = 0;
    this.notePeak(this.big.length);
    return this.big;
  }

  /**
   * The buffer {@link reserve} returned as u32 words when it is the current chunk, the record
   * starts on a 4-byte boundary and the host is little-endian (so a word store writes the
   * bytes pcapng's little-endian section expects); otherwise null and the caller stores bytes.
   */
  wordsFor(buf: Buffer, at: number): Uint32Array | null {
    return buf === this.chunk && (at & 3) === 0 ? this.chunkWords : null;
  }

  /** Offset at which the buffer returned by {@link reserve} expects the record. */
  get offset(): number {
    return this.big ? this.bigPrefix : this.used;
  }

  /**
   * Completes the record started with {@link reserve}. Returns a promise when the stream
   * asked to wait for 'drain': the next record must not be written before it resolves.
   */
  commit(length: number): Promise<void> | undefined {
    if (this.big) {
      this.big = this.big.subarray(0, this.bigPrefix + length);
      if (!this.drainPromise) this.flushParked();
    } else {
      this.used += length;
    }
    return this.drainPromise;
  }

  /** Hands out everything held, then ends the stream (if `end`) and waits for it to finish. */
  async close(end = true): Promise<void> {
    if (this.closed) return;
    if (this.drainPromise) await this.drainPromise;
    this.assertWritable();
    if (this.big) {
      this.flushParked();
      if (this.drainPromise) await this.drainPromise;
    }
    if (this.used > 0) this.handOff();
    this.closed = true;
    if (this.drainPromise) await this.drainPromise;
    const stream = this.stream;
    if (!stream || !end) return;
    if (this.failure) throw this.wrapFailure();
    stream.end();
    try {
      await finished(stream);
    } catch (err) {
      throw this.wrapFailure(err as Error);
    }
  }

  /** Everything written so far as one buffer (in-memory mode only). */
  toBuffer(): Buffer {
    if (this.stream || this.sink)
      throw new CaptureWriteError('toBuffer() is only available when writing to memory');
    // In memory nothing ever waits for a drain, so no record is parked here.
    return Buffer.concat([...this.memory, this.chunk.subarray(0, this.used)]);
  }

  private handOff(): void {
    this.assertNotDraining();
    if (this.sink !== undefined) {
      // The sink is done with the bytes when it returns: the same chunk serves again.
      this.emitToSink(this.chunk, this.used);
      this.used = 0;
      return;
    }
    const full = this.chunk.subarray(0, this.used);
    // The stream (or memory list) keeps `full`, so later records need a fresh chunk.
    this.chunk = Buffer.allocUnsafe(this.chunkSize);
    this.chunkWords = wordsOf(this.chunk);
    this.used = 0;
    this.emit(full);
  }

  /** Writes the parked buffer (earlier chunk bytes + one record) once the stream has drained. */
  private flushParked(): void {
    this.assertNotDraining();
    const big = this.big!;
    this.big = undefined;
    this.emit(big);
  }

  private emitToSink(bytes: Buffer, length: number): void {
    try {
      this.sink!(length === bytes.length ? bytes : bytes.subarray(0, length));
    } catch (e) {
      this.failure ??= e as Error;
      throw this.wrapFailure();
    }
  }

  private emit(bytes: Buffer): void {
    if (this.sink !== undefined) {
      this.emitToSink(bytes, bytes.length);
      return;
    }
    const stream = this.stream;
    if (!stream) {
      this.memory.push(bytes);
      return;
    }
    if (!stream.write(bytes)) {
      const drained = this.waitForDrain(stream);
      // Marked handled here; the failure still reaches whoever awaits it (or close()).
      drained.catch(() => {});
      this.drainPromise = drained;
    }
  }

  private assertNotDraining(): void {
    if (this.drainPromise) {
      throw new CaptureWriteError(
        'output stream is waiting for drain: await the promise returned by the previous writePacket()',
      );
    }
  }

  private waitForDrain(stream: Writable): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        stream.off('drain', onDrain);
        stream.off('error', onError);
        stream.off('close', onClose);
        this.drainPromise = undefined;
        if (err) reject(err);
        else resolve();
      };
      const onDrain = (): void => done();
      const onError = (err: Error): void => done(this.wrapFailure(err));
      const onClose = (): void => done(new CaptureWriteError('output stream closed while waiting for drain'));
      stream.on('drain', onDrain);
      stream.on('error', onError);
      stream.on('close', onClose);
    });
  }

  private assertWritable(): void {
    if (this.failure) throw this.wrapFailure();
    if (this.closed) throw new CaptureWriteError('capture writer is closed');
  }

  private wrapFailure(err: Error | undefined = this.failure): CaptureWriteError {
    return new CaptureWriteError(`output stream failed: ${err?.message ?? 'unknown error'}`, { cause: err });
  }

  private notePeak(bytes: number): void {
    if (bytes > this.peakHeld) this.peakHeld = bytes;
  }
}
