import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildCReference,
  CReferenceError,
  disposeCReference,
  runCReference,
  writeReferenceFrames,
} from '../../src/bench/c-reference.js';
import { HOTPATH_FRAME_SIZE, makeFlows, writeFlowFrames } from '../../src/bench/workload.js';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), '../../bench/c/hotpath-ref.c');
const ref = buildCReference(SOURCE);
afterAll(() => disposeCReference(ref));

function workloadFrames(flows: number): Uint8Array {
  const frames = new Uint8Array(flows * HOTPATH_FRAME_SIZE);
  writeFlowFrames(frames, 0, makeFlows(flows, 1));
  return frames;
}

describe('C reference of the hot path', () => {
  it('names a missing compiler as the reason to skip', () => {
    expect(buildCReference(SOURCE, 'dpsim-no-such-cc')).toEqual({
      ok: false,
      reason: 'no C compiler (dpsim-no-such-cc not found)',
    });
  });

  it('compiles with cc when there is one, else says cc is missing', () => {
    if (!ref.ok) {
      expect(ref.reason).toBe('no C compiler (cc not found)');
      return;
    }
    expect(ref.compiler).not.toBe('');
  });

  it('translates every frame of the workload, verifying each output frame twice, and times each pass', () => {
    if (!ref.ok) return expect(ref.reason).toMatch(/^no C compiler/);
    const file = writeReferenceFrames(ref, 'frames-500.bin', workloadFrames(500));
    const run = runCReference(ref, file, 20_000, 2, { capacity: 4096 });
    expect(run.flows).toBe(500);
    expect(run.capacity).toBe(4096);
    expect(run.verified).toBe(1000);
    expect(run.passPps).toHaveLength(2);
    expect(run.passCpuPps).toHaveLength(2);
    for (const pps of run.passPps) expect(pps).toBeGreaterThan(0);
  });

  it('fails loudly when a frame it translates comes out wrong (a broken checksum in the input)', () => {
    if (!ref.ok) return expect(ref.reason).toMatch(/^no C compiler/);
    const frames = workloadFrames(50);
    frames[7 * HOTPATH_FRAME_SIZE + 14 + 10] ^= 0x40; // IPv4 header checksum of frame 7
    const file = writeReferenceFrames(ref, 'frames-bad.bin', frames);
    expect(() => runCReference(ref, file, 1000, 1)).toThrow(CReferenceError);
  });
});
