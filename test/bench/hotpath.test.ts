import { describe, expect, it } from 'vitest';
import {
  type HotpathDatapath,
  HotpathRunner,
  HotpathVerificationError,
  runHotpath,
} from '../../src/bench/hotpath.js';
import {
  createHotpathDatapath,
  hotpathModes,
  registerHotpathMode,
  UnknownHotpathModeError,
} from '../../src/bench/hotpath-modes.js';
import { NaiveMapHotpath } from '../../src/bench/hotpath-naive.js';
import {
  BENCH_TARGET_PORT,
  HOTPATH_FRAME_SIZE,
  hotpathBackendAddrs,
  hotpathModel,
  makeFlows,
  writeFlowFrames,
} from '../../src/bench/workload.js';
import type { ProxyModel } from '../../src/proxy/common/model.js';
import { verifyIpv4HeaderChecksum, verifyTcpChecksum } from '../../src/wire/checksum.js';

const NOW = 1000;

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function framesFor(count: number, seed = 3): Uint8Array {
  const frames = new Uint8Array(count * HOTPATH_FRAME_SIZE);
  writeFlowFrames(frames, 0, makeFlows(count, seed));
  return frames;
}

describe('hot-path datapaths', () => {
  it.each(hotpathModes())(
    '%s: every output frame has valid checksums and every flow keeps one backend',
    (mode) => {
      const flows = 48;
      const input = framesFor(flows);
      const dp = createHotpathDatapath(mode);
      dp.prepare(hotpathModel(), { nodeName: 'node-a', expectedFlows: flows, seed: 9 });
      const backends = hotpathBackendAddrs();
      const backendOf = new Map<number, number>();
      // Three rounds of the same flows, in different batch splits: first packets, then established.
      for (const split of [flows, 5, 17]) {
        for (let first = 0; first < flows; first += split) {
          const n = Math.min(split, flows - first);
          const chunk = input.subarray(first * HOTPATH_FRAME_SIZE, (first + n) * HOTPATH_FRAME_SIZE);
          const out = chunk.slice();
          expect(dp.processBatch(chunk, out, HOTPATH_FRAME_SIZE, n, NOW)).toBe(n);
          for (let i = 0; i < n; i++) {
            const at = i * HOTPATH_FRAME_SIZE;
            const src = u32(out, at + 26);
            const dst = u32(out, at + 30);
            expect(verifyIpv4HeaderChecksum(out, at + 14)).toBe(true);
            expect(verifyTcpChecksum(out, at + 34, 20, src, dst)).toBe(true);
            expect(backends.has(dst)).toBe(true);
            expect((out[at + 36] << 8) | out[at + 37]).toBe(BENCH_TARGET_PORT);
            // The input is untouched (output is a separate buffer).
            expect(u32(chunk, at + 30)).toBe(0x0a60000a);
            const key = src * 65536 + ((out[at + 34] << 8) | out[at + 35]);
            if (!backendOf.has(key)) backendOf.set(key, dst);
            expect(backendOf.get(key)).toBe(dst);
          }
        }
      }
      expect(backendOf.size).toBe(flows);
      // 48 flows over 16 backends: a real load balancer uses more than one.
      expect(new Set(backendOf.values()).size).toBeGreaterThan(1);
    },
  );

  it('HotpathRunner.pass continues across calls and translates every packet', () => {
    const runner = new HotpathRunner('ebpf', framesFor(300), 300, 1, 64);
    expect(runner.verify()).toBe(300);
    expect(runner.pass(1000)).toBe(1000);
    expect(runner.pass(7)).toBe(7);
    runner.shuffle();
    expect(runner.verify()).toBe(300);
    expect(runner.datapath.flowEntries?.()).toBe(300);
  });

  it('runHotpath reports a median over the passes, the machine, and the frames it verified', () => {
    const r = runHotpath({ mode: 'ebpf', flows: 500, packets: 2000, passes: 3, seed: 4 });
    expect(r).toMatchObject({ mode: 'ebpf', flows: 500, packets: 2000, passes: 3, workers: 1 });
    expect(r.passPps).toHaveLength(3);
    expect(r.pps).toBeGreaterThan(0);
    expect(r.nsPerPacket).toBeCloseTo(1e9 / r.pps, 6);
    expect([...r.passPps].sort((a, b) => a - b)[1]).toBe(r.pps);
    expect(r.verifiedFrames).toBe(1000);
    expect(r.flowEntries).toBe(500);
    expect(r.machine.cpus).toBeGreaterThan(0);
    expect(r.machine.node).toBe(process.version);
  });

  it('the plain-js yardstick translates every frame to one live backend per flow with valid checksums', () => {
    // runHotpath checks each output frame's checksums and backend, and that a flow keeps its
    // backend, before and after the timed passes (a wrong frame throws).
    const r = runHotpath({ mode: 'plain-js', flows: 700, packets: 3000, passes: 2, seed: 9 });
    expect(r.verifiedFrames).toBe(1400);
    expect(r.flowEntries).toBe(700);
  });

  it('builds only min(F, N) frames when there are fewer packets than flows', () => {
    const r = runHotpath({ mode: 'ebpf', flows: 100_000, packets: 50, passes: 1 });
    expect(r.flows).toBe(50);
    expect(r.flowEntries).toBe(50);
  });

  it('names the available modes when the mode is unknown', () => {
    expect(() => runHotpath({ mode: 'pf', flows: 10, packets: 10 })).toThrow(UnknownHotpathModeError);
    expect(() => createHotpathDatapath('pf')).toThrow(/unknown hot-path mode "pf"; available: ebpf, /);
    expect(() => createHotpathDatapath('iptables')).toThrow(/"iptables" has no hot-path datapath yet/);
  });

  it('fails loudly when a datapath writes a wrong checksum', () => {
    class CorruptingDatapath extends NaiveMapHotpath {
      override processBatch(i: Uint8Array, o: Uint8Array, size: number, n: number, now: number): number {
        const done = super.processBatch(i, o, size, n, now);
        o[14 + 10] ^= 0x01; // first frame's IPv4 checksum
        return done;
      }
    }
    registerHotpathMode('test-corrupt', () => new CorruptingDatapath());
    expect(() => runHotpath({ mode: 'test-corrupt', flows: 20, packets: 20, passes: 1 })).toThrow(
      /bad IPv4 header checksum/,
    );
  });

  it('fails loudly when a flow changes backend between packets', () => {
    /** Forgets its flows before every batch, so flows are re-balanced at random. */
    class ForgetfulDatapath implements HotpathDatapath {
      readonly mode = 'test-forgetful';
      private inner = new NaiveMapHotpath();
      private model: ProxyModel | null = null;
      private round = 0;
      prepare(model: ProxyModel): void {
        this.model = model;
      }
      processBatch(i: Uint8Array, o: Uint8Array, size: number, n: number, now: number): number {
        this.inner.prepare(this.model!, { nodeName: 'node-a', expectedFlows: n, seed: ++this.round });
        return this.inner.processBatch(i, o, size, n, now);
      }
    }
    registerHotpathMode('test-forgetful', () => new ForgetfulDatapath());
    expect(() => runHotpath({ mode: 'test-forgetful', flows: 64, packets: 64, passes: 1 })).toThrow(
      HotpathVerificationError,
    );
  });
});
