import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HOTPATH_FRAME_SIZE,
  makeFlows,
  shardFlows,
  shardOfFlow,
  shuffleFrames,
  WorkloadError,
  writeFlowFrames,
} from '../../src/bench/workload.js';
import { Rng } from '../../src/util/rng.js';
import { verifyIpv4HeaderChecksum, verifyTcpChecksum } from '../../src/wire/checksum.js';

describe('hot-path workload', () => {
  it('draws distinct flows, the same ones for the same seed', () => {
    const a = makeFlows(5000, 11);
    const b = makeFlows(5000, 11);
    const c = makeFlows(5000, 12);
    const ids = new Set<number>();
    for (let i = 0; i < a.count; i++) ids.add(a.saddr[i] * 65536 + a.sport[i]);
    expect(ids.size).toBe(5000);
    expect(b.saddr).toEqual(a.saddr);
    expect(b.sport).toEqual(a.sport);
    expect(c.saddr).not.toEqual(a.saddr);
    expect(() => makeFlows(0, 1)).toThrow(WorkloadError);
  });

  it('writes 54-byte TCP frames whose checksums verify', () => {
    const flows = makeFlows(20, 1);
    const buf = new Uint8Array(20 * HOTPATH_FRAME_SIZE);
    expect(writeFlowFrames(buf, 0, flows)).toBe(20);
    for (let i = 0; i < 20; i++) {
      const at = i * HOTPATH_FRAME_SIZE;
      expect(verifyIpv4HeaderChecksum(buf, at + 14)).toBe(true);
      expect(verifyTcpChecksum(buf, at + 34, 20, flows.saddr[i], flows.daddr)).toBe(true);
    }
    expect(() => writeFlowFrames(new Uint8Array(100), 0, flows)).toThrow(WorkloadError);
  });

  it('sharding puts every flow in exactly one shard, for any flow and shard count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 16 }), (count, shards) => {
        const flows = makeFlows(count, count);
        const parts = shardFlows(flows, shards);
        expect(parts).toHaveLength(shards);
        const seen = new Uint8Array(count);
        for (const [s, part] of parts.entries()) {
          for (const f of part) {
            seen[f]++;
            expect(shardOfFlow(flows.saddr[f], flows.daddr, flows.sport[f], flows.dport, 6, shards)).toBe(s);
          }
        }
        expect(seen.every((n) => n === 1)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('the symmetric flow hash puts both directions of a flow on the same shard', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom(6, 17),
        fc.integer({ min: 1, max: 64 }),
        (a, b, p, q, proto, shards) => {
          expect(shardOfFlow(a, b, p, q, proto, shards)).toBe(shardOfFlow(b, a, q, p, proto, shards));
        },
      ),
    );
  });

  it('spreads flows over shards roughly evenly', () => {
    const parts = shardFlows(makeFlows(20_000, 5), 4);
    for (const p of parts) expect(Math.abs(p.length - 5000)).toBeLessThan(400);
  });

  it('shuffling frames is a permutation of whole frames', () => {
    const flows = makeFlows(300, 2);
    const buf = new Uint8Array(300 * HOTPATH_FRAME_SIZE);
    writeFlowFrames(buf, 0, flows);
    const before = frameSet(buf, 300);
    const copy = buf.slice();
    shuffleFrames(buf, 300, HOTPATH_FRAME_SIZE, new Rng(1));
    expect(buf).not.toEqual(copy);
    expect(frameSet(buf, 300)).toEqual(before);
  });
});

function frameSet(buf: Uint8Array, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(Buffer.from(buf.subarray(i * HOTPATH_FRAME_SIZE, (i + 1) * HOTPATH_FRAME_SIZE)).toString('hex'));
  }
  return out.sort();
}
