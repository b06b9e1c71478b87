/**
 * The contract between `dpsim bench hotpath` and a datapath it measures: its own file, so
 * the modes (hotpath-ebpf.ts, hotpath-naive.ts) and the runner (hotpath.ts) each depend on
 * it and not on one another.
 */
import type { ProxyModel } from '../proxy/common/model.js';

/** What a mode must offer to be benchmarked on the hot path. */
export interface HotpathDatapath {
  readonly mode: string;
  /** Compiles the model for the node; sizes flow tables for `expectedFlows`. Control plane. */
  prepare(model: ProxyModel, options: HotpathPrepareOptions): void;
  /**
   * Processes `count` frames of `frameSize` bytes laid back to back in `input`; writes the
   * translated fields into `output` at the same offsets (the rest of `output` is untouched).
   * Returns the number of frames translated. Must not allocate per packet.
   */
  processBatch(
    input: Uint8Array,
    output: Uint8Array,
    frameSize: number,
    count: number,
    nowSec: number,
  ): number;
  /** Live flow-table entries (optional, for the report). */
  flowEntries?(): number;
}

export interface HotpathPrepareOptions {
  readonly nodeName: string;
  /** Distinct flows the run will send (flow tables must hold them all). */
  readonly expectedFlows: number;
  /** Seed of the mode's own random choices (backend selection). */
  readonly seed: number;
}
