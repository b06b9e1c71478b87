/**
 * `dpsim bench hotpath`: packets per second of a mode's per-packet datapath at one node.
 *
 * A batch of pre-built 54-byte frames over F distinct flows to one ClusterIP with 16
 * endpoints goes through the mode's batch entry point. Only F frames exist (not N): each pass
 * shuffles them in place (untimed: the pass's random arrival order) and then walks them in
 * chunks, wrapping around until N packets were processed, writing into a small scratch output
 * buffer that stays in L1 — the input streams in as from a NIC ring, the flow state is hit at
 * random. Order of work: a verification pass (first packets of every flow: CT entries are
 * created; every output frame's checksums and backend are checked), an untimed warm-up pass,
 * the timed passes (median reported), and a final verification pass (every flow must still
 * map to the backend it got first).
 */
import { formatIPv4 } from '../util/ipv4.js';
import { Rng } from '../util/rng.js';
import { verifyIpv4HeaderChecksum, verifyTcpChecksum } from '../wire/checksum.js';
import type { HotpathDatapath } from './hotpath-datapath.js';
import { createHotpathDatapath } from './hotpath-modes.js';
import { type MachineInfo, machineInfo } from './machine.js';
import {
  BENCH_NODE,
  BENCH_TARGET_PORT,
  HOTPATH_FRAME_SIZE,
  hotpathBackendAddrs,
  hotpathModel,
  makeFlows,
  shuffleFrames,
  writeFlowFrames,
} from './workload.js';

export type { HotpathDatapath, HotpathPrepareOptions } from './hotpath-datapath.js';

export class HotpathError extends Error {
  override name = 'HotpathError';
}

/** An output frame failed verification: the datapath produced wrong bytes. */
export class HotpathVerificationError extends HotpathError {
  override name = 'HotpathVerificationError';
}

/** Frames per processBatch call: 256 × 54 B of scratch output stays in L1. */
export const HOTPATH_BATCH = 256;
/** Monotonic seconds handed to the datapath (any constant: entries never expire within a run). */
const NOW_SEC = 1000;

export interface ShardRunOptions {
  readonly mode: string;
  /** This shard's frames, back to back (shuffled in place between passes). */
  readonly frames: Uint8Array;
  readonly frameCount: number;
  /** Packets per timed pass. */
  readonly packets: number;
  readonly passes: number;
  readonly seed: number;
  readonly batch?: number;
  /** Called right before each timed pass starts (a barrier between worker threads). */
  readonly beforePass?: () => void;
}

export interface ShardRunResult {
  /** Elapsed (wall-clock) nanoseconds of each timed pass. */
  readonly passNs: number[];
  /**
   * Process CPU time of each timed pass in nanoseconds. On one thread this is the pass's own
   * CPU time, which stays meaningful when other processes compete for the cores; with worker
   * threads it sums all threads and is not used.
   */
  readonly passCpuNs: number[];
  readonly packetsPerPass: number;
  /** Frames the verification passes checked. */
  readonly verifiedFrames: number;
  readonly flowEntries: number | null;
}

/**
 * One datapath over one set of frames, ready to run: the pieces a timed loop, a benny case
 * and a worker share. The cursor persists across `pass` calls, so short passes (benny's
 * operations) walk through all frames too.
 */
export class HotpathRunner {
  readonly datapath: HotpathDatapath;
  readonly frames: Uint8Array;
  readonly frameCount: number;
  private readonly chunks: Uint8Array[];
  private readonly scratch: Uint8Array;
  private readonly rng: Rng;
  private readonly backendOf = new Map<number, number>();
  private cursor = 0;

  constructor(mode: string, frames: Uint8Array, frameCount: number, seed: number, batch = HOTPATH_BATCH) {
    if (!Number.isInteger(frameCount) || frameCount < 1) {
      throw new HotpathError(`a run needs at least one flow, got ${frameCount}`);
    }
    if (frames.length < frameCount * HOTPATH_FRAME_SIZE) {
      throw new HotpathError(`${frames.length} bytes cannot hold ${frameCount} frames`);
    }
    this.datapath = createHotpathDatapath(mode);
    this.datapath.prepare(hotpathModel(), { nodeName: BENCH_NODE, expectedFlows: frameCount, seed });
    this.frames = frames;
    this.frameCount = frameCount;
    this.rng = new Rng(seed ^ 0x5a5a5a5a);
    this.chunks = [];
    for (let f = 0; f < frameCount; f += batch) {
      const n = Math.min(batch, frameCount - f);
      this.chunks.push(frames.subarray(f * HOTPATH_FRAME_SIZE, (f + n) * HOTPATH_FRAME_SIZE));
    }
    this.scratch = new Uint8Array(batch * HOTPATH_FRAME_SIZE);
  }

  /** A new random arrival order of the frames (in place; untimed). */
  shuffle(): void {
    shuffleFrames(this.frames, this.frameCount, HOTPATH_FRAME_SIZE, this.rng);
  }

  /** The timed loop: `packets` frames through the datapath, continuing where the last pass stopped. */
  pass(packets: number): number {
    const dp = this.datapath;
    const chunks = this.chunks;
    const scratch = this.scratch;
    let remaining = packets;
    let translated = 0;
    let c = this.cursor;
    while (remaining > 0) {
      const chunk = chunks[c];
      const inChunk = chunk.length / HOTPATH_FRAME_SIZE;
      const n = Math.min(inChunk, remaining);
      translated += dp.processBatch(chunk, scratch, HOTPATH_FRAME_SIZE, n, NOW_SEC);
      remaining -= n;
      c = c + 1 === chunks.length ? 0 : c + 1;
    }
    this.cursor = c;
    return translated;
  }

  /**
   * Every frame once through the datapath into a full copy, then checked: IPv4 and TCP
   * checksums verify, the destination is one of the service's endpoints on the target port,
   * and every flow keeps the backend it got on its first verified packet. Returns the number
   * of frames checked; throws HotpathVerificationError on the first wrong frame.
   */
  verify(): number {
    const backends = hotpathBackendAddrs();
    const mode = this.datapath.mode;
    let checked = 0;
    for (const chunk of this.chunks) {
      const out = chunk.slice();
      const n = chunk.length / HOTPATH_FRAME_SIZE;
      const translated = this.datapath.processBatch(chunk, out, HOTPATH_FRAME_SIZE, n, NOW_SEC);
      if (translated !== n) {
        throw new HotpathVerificationError(`${mode}: translated ${translated} of ${n} frames of a batch`);
      }
      for (let i = 0; i < n; i++) {
        verifyFrame(mode, out, i * HOTPATH_FRAME_SIZE, backends, this.backendOf);
        checked++;
      }
    }
    return checked;
  }
}

/**
 * Runs one shard end to end on the calling thread: prepare, verify, warm up, time, verify.
 * Throws HotpathVerificationError when any output frame is wrong.
 */
export function runShard(options: ShardRunOptions): ShardRunResult {
  const { frameCount, packets, passes } = options;
  if (!Number.isInteger(packets) || packets < 1)
    throw new HotpathError(`packets must be ≥ 1, got ${packets}`);
  if (!Number.isInteger(passes) || passes < 1) throw new HotpathError(`passes must be ≥ 1, got ${passes}`);
  const runner = new HotpathRunner(options.mode, options.frames, frameCount, options.seed, options.batch);
  let verified = runner.verify();
  runner.pass(Math.min(packets, frameCount * 2)); // warm-up
  const passNs: number[] = [];
  const passCpuNs: number[] = [];
  for (let p = 0; p < passes; p++) {
    runner.shuffle();
    options.beforePass?.();
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const translated = runner.pass(packets);
    passNs.push(Number(process.hrtime.bigint() - t0));
    const c1 = process.cpuUsage(c0);
    passCpuNs.push((c1.user + c1.system) * 1000);
    if (translated !== packets) {
      throw new HotpathVerificationError(
        `${options.mode}: translated ${translated} of ${packets} packets in timed pass ${p + 1}`,
      );
    }
  }
  verified += runner.verify();
  return {
    passNs,
    passCpuNs,
    packetsPerPass: packets,
    verifiedFrames: verified,
    flowEntries: runner.datapath.flowEntries?.() ?? null,
  };
}

function verifyFrame(
  mode: string,
  out: Uint8Array,
  at: number,
  backends: Set<number>,
  backendOf: Map<number, number>,
): void {
  const ip = at + 14;
  const l4 = ip + 20;
  const src = readU32(out, ip + 12);
  const dst = readU32(out, ip + 16);
  const sport = (out[l4] << 8) | out[l4 + 1];
  const dport = (out[l4 + 2] << 8) | out[l4 + 3];
  // Named only when something is wrong (this runs for every frame of a verification pass).
  const flow = (): string => `${formatIPv4(src)}:${sport}`;
  if (!verifyIpv4HeaderChecksum(out, ip)) {
    throw new HotpathVerificationError(`${mode}: bad IPv4 header checksum on the frame of flow ${flow()}`);
  }
  if (!verifyTcpChecksum(out, l4, 20, src, dst)) {
    throw new HotpathVerificationError(`${mode}: bad TCP checksum on the frame of flow ${flow()}`);
  }
  if (!backends.has(dst) || dport !== BENCH_TARGET_PORT) {
    throw new HotpathVerificationError(
      `${mode}: flow ${flow()} was sent to ${formatIPv4(dst)}:${dport}, not to an endpoint of the service`,
    );
  }
  // Client address and port name a flow (one service, one protocol).
  const key = src * 65536 + sport;
  const first = backendOf.get(key);
  if (first === undefined) backendOf.set(key, dst);
  else if (first !== dst) {
    throw new HotpathVerificationError(
      `${mode}: flow ${flow()} moved from backend ${formatIPv4(first)} to ${formatIPv4(dst)}`,
    );
  }
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

// ---------------------------------------------------------------------------- single thread

export interface HotpathOptions {
  readonly mode: string;
  readonly flows: number;
  readonly packets: number;
  readonly passes?: number;
  readonly seed?: number;
  readonly batch?: number;
}

/** The JSON `dpsim bench hotpath --json` prints. */
export interface HotpathResult {
  readonly mode: string;
  readonly flows: number;
  readonly packets: number;
  readonly passes: number;
  /** Median over the timed passes. */
  readonly pps: number;
  readonly nsPerPacket: number;
  readonly workers: number;
  readonly machine: MachineInfo;
  /** Packets/s of each timed pass (merged over workers). */
  readonly passPps: number[];
  /**
   * Single thread: packets per second of CPU time the process got (median over passes). Equals
   * `pps` on an idle machine; under load from other processes it estimates the idle figure.
   */
  readonly cpuPps?: number;
  readonly seed: number;
  readonly verifiedFrames: number;
  readonly flowEntries: number | null;
  /** With workers > 1: the same run on one thread, and pps(N) / (N · pps(1)). */
  readonly scaling?: { readonly singlePps: number; readonly speedup: number; readonly efficiency: number };
  /** With workers > 1: flows per worker (the RSS shard sizes). */
  readonly shardFlows?: number[];
}

export const DEFAULT_PASSES = 5;
export const DEFAULT_SEED = 1;

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Builds the frames and runs the benchmark on the calling thread. */
export function runHotpath(options: HotpathOptions): HotpathResult {
  const passes = options.passes ?? DEFAULT_PASSES;
  const seed = options.seed ?? DEFAULT_SEED;
  validateCounts(options.flows, options.packets, passes);
  createHotpathDatapath(options.mode); // fail fast on an unknown mode, before building frames
  const frameCount = Math.min(options.flows, options.packets);
  const flows = makeFlows(frameCount, seed);
  const frames = new Uint8Array(frameCount * HOTPATH_FRAME_SIZE);
  writeFlowFrames(frames, 0, flows);
  const r = runShard({
    mode: options.mode,
    frames,
    frameCount,
    packets: options.packets,
    passes,
    seed,
    batch: options.batch,
  });
  const passPps = r.passNs.map((ns) => (r.packetsPerPass * 1e9) / ns);
  const pps = median(passPps);
  const cpuPps = median(r.passCpuNs.map((ns) => (r.packetsPerPass * 1e9) / Math.max(ns, 1)));
  return {
    mode: options.mode,
    flows: frameCount,
    packets: options.packets,
    passes,
    pps,
    nsPerPacket: 1e9 / pps,
    workers: 1,
    machine: machineInfo(),
    passPps,
    cpuPps,
    seed,
    verifiedFrames: r.verifiedFrames,
    flowEntries: r.flowEntries,
  };
}

export function validateCounts(flows: number, packets: number, passes: number): void {
  if (!Number.isInteger(flows) || flows < 1)
    throw new HotpathError(`--flows must be a positive integer, got ${flows}`);
  if (!Number.isInteger(packets) || packets < 1)
    throw new HotpathError(`--packets must be a positive integer, got ${packets}`);
  if (!Number.isInteger(passes) || passes < 1)
    throw new HotpathError(`--passes must be a positive integer, got ${passes}`);
}

/** One human-readable line per result. */
export function formatHotpathResult(r: HotpathResult): string {
  const lines = [
    `${r.mode}: ${(r.pps / 1e6).toFixed(2)} M packets/s (${r.nsPerPacket.toFixed(1)} ns/packet), ` +
      `${r.flows} flows, ${r.packets} packets × ${r.passes} passes, ${r.workers} worker${r.workers === 1 ? '' : 's'}`,
    `  passes: ${r.passPps.map((p) => (p / 1e6).toFixed(2)).join(' ')} M pps; ${r.verifiedFrames} frames verified`,
  ];
  if (r.cpuPps !== undefined) {
    lines.push(`  per CPU-second (robust to other load): ${(r.cpuPps / 1e6).toFixed(2)} M packets/s`);
  }
  if (r.scaling !== undefined) {
    lines.push(
      `  one thread: ${(r.scaling.singlePps / 1e6).toFixed(2)} M pps → speed-up ${r.scaling.speedup.toFixed(2)}×, ` +
        `scaling efficiency ${(r.scaling.efficiency * 100).toFixed(0)}%`,
    );
  }
  if (r.shardFlows !== undefined) lines.push(`  flows per worker: ${r.shardFlows.join(', ')}`);
  lines.push(`  machine: ${r.machine.cpus} × ${r.machine.model}, node ${r.machine.node}`);
  return lines.join('\n');
}
