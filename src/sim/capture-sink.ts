/**
 * Connects the pump's capture taps to a pcapng file: one Interface Description Block per
 * captured interface, named `host/ifname` (`client/eth0`, `node1/cali…`,
 * `myweb-rs-abcde/eth0`), packets timestamped with the simulated clock.
 */
import { PcapngWriter } from '../capture/index.js';
import type { CaptureSink } from '../topology/network.js';

export class PcapngCaptureSink implements CaptureSink {
  readonly writer: PcapngWriter;
  frames = 0;

  constructor(
    readonly snaplen = 0,
    sectionComment?: string,
  ) {
    this.writer = new PcapngWriter({ application: 'dpsim', ...(sectionComment ? { sectionComment } : {}) });
  }

  addInterface(name: string, description: string): number {
    return this.writer.addInterface({ name, description, snaplen: this.snaplen });
  }

  record(captureId: number, timeNs: number, frame: Uint8Array, length: number): void {
    this.frames++;
    // In-memory writer: never asks to wait, so the pump stays synchronous.
    void this.writer.writePacket(captureId, Math.round(timeNs), frame.subarray(0, length));
  }

  toBuffer(): Uint8Array {
    return this.writer.toBuffer();
  }
}
