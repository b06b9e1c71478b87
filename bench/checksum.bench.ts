/**
 * DNAT checksum maintenance on a 54-byte TCP frame (Ethernet 14 + IPv4 20 + TCP 20):
 * rewrite the destination address and port, then fix the checksums either
 *   - incrementally (RFC 1624), as a datapath does: rewriteIpv4Dst + rewriteDstPort, or the
 *     one-pass rewriteDestination that folds both deltas into each checksum once, or
 *   - by full recomputation of the IPv4 header and TCP checksums.
 * A last pair repeats the comparison on a 1514-byte frame, where a full recompute must sum
 * 1480 bytes of segment while the incremental update still touches a few words.
 * Every op is a batch of 1024 rewrites (alternating between two backends so each one
 * really changes the bytes), so harness overhead does not hide the per-packet cost.
 *
 * Run alone: `npx tsx bench/checksum.bench.ts` (writes bench/results/checksum.json).
 */
import { fileURLToPath } from 'node:url';
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types.js';
import { parseIPv4 } from '../src/util/ipv4.js';
import {
  buildTcpFrame,
  ipv4HeaderChecksum,
  parseMac,
  rewriteDestination,
  rewriteDstPort,
  rewriteIpv4Dst,
  tcpChecksum,
  writeU16,
  writeU32,
} from '../src/wire/index.js';

const BATCH = 1024;
const IP = 14;
const TCP = 34;
const SEGMENT_LENGTH = 20;
const BIG_SEGMENT_LENGTH = 1480;

export default async function run(): Promise<Summary> {
  const frame = buildTcpFrame({
    srcMac: parseMac('02:00:00:00:00:01'),
    dstMac: parseMac('02:00:00:00:00:02'),
    src: parseIPv4('192.168.100.1'),
    dst: parseIPv4('10.233.21.104'),
    sport: 40000,
    dport: 80,
    seq: 1,
    flags: 0x02,
    window: 64240,
  });
  if (frame.length !== 54) throw new Error(`expected a 54-byte frame, built ${frame.length}`);
  const big = buildTcpFrame({
    srcMac: parseMac('02:00:00:00:00:01'),
    dstMac: parseMac('02:00:00:00:00:02'),
    src: parseIPv4('192.168.100.1'),
    dst: parseIPv4('10.233.21.104'),
    sport: 40000,
    dport: 80,
    seq: 1,
    ack: 1,
    flags: 0x18,
    window: 502,
    payload: new Uint8Array(1460).fill(0x61),
  });
  const src = parseIPv4('192.168.100.1');
  const backends = [parseIPv4('10.244.1.2'), parseIPv4('10.244.2.7')];
  const ports = [8080, 8443];
  let sink = 0;
  const fullRewrite = (target: Uint8Array, segmentLength: number, k: number): void => {
    const dst = backends[k];
    writeU32(target, IP + 16, dst);
    writeU16(target, TCP + 2, ports[k]);
    writeU16(target, IP + 10, ipv4HeaderChecksum(target, IP));
    writeU16(target, TCP + 16, tcpChecksum(target, TCP, segmentLength, src, dst));
  };

  const summary = await b.suite(
    'checksum: DNAT address+port rewrite of a 54-byte TCP frame (ops = batches of 1024)',
    // Microsecond ops: 1.5 s per case (benchmark.js's default is 5 s) keeps the margin small.
    b.configure({ cases: { minSamples: 5, maxTime: 1.5 } }),
    b.add('incremental update (RFC 1624)', () => {
      for (let n = 0; n < BATCH; n++) {
        const k = n & 1;
        rewriteIpv4Dst(frame, IP, backends[k]);
        rewriteDstPort(frame, IP, ports[k]);
      }
      sink += frame[IP + 10];
    }),
    b.add('incremental one pass (rewriteDestination)', () => {
      for (let n = 0; n < BATCH; n++) {
        const k = n & 1;
        rewriteDestination(frame, IP, backends[k], ports[k]);
      }
      sink += frame[IP + 10];
    }),
    b.add('full recompute (IPv4 header + TCP with pseudo-header)', () => {
      for (let n = 0; n < BATCH; n++) fullRewrite(frame, SEGMENT_LENGTH, n & 1);
      sink += frame[IP + 10];
    }),
    b.add('1514-byte frame: incremental one pass', () => {
      for (let n = 0; n < BATCH; n++) {
        const k = n & 1;
        rewriteDestination(big, IP, backends[k], ports[k]);
      }
      sink += big[IP + 10];
    }),
    b.add('1514-byte frame: full recompute', () => {
      for (let n = 0; n < BATCH; n++) fullRewrite(big, BIG_SEGMENT_LENGTH, n & 1);
      sink += big[IP + 10];
    }),
    b.cycle(),
    b.complete((s) => {
      const ops = (name: string) => s.results.find((r) => r.name.startsWith(name))?.ops ?? Number.NaN;
      console.table(s.results.map((r) => ({ case: r.name, 'batches/s': r.ops, '±%': r.margin })));
      const rate = (name: string) => `${((ops(name) * BATCH) / 1e6).toFixed(1)} M/s`;
      console.log(
        `54 B: incremental ${rate('incremental update')}, one pass ${rate('incremental one pass')}, ` +
          `full ${rate('full recompute')}; speed-up ${(ops('incremental one pass') / ops('full recompute')).toFixed(2)}×`,
      );
      console.log(
        `1514 B: incremental ${rate('1514-byte frame: incremental')}, full ${rate('1514-byte frame: full')}; ` +
          `speed-up ${(ops('1514-byte frame: incremental') / ops('1514-byte frame: full')).toFixed(1)}×`,
      );
    }),
    b.save({ file: 'checksum', folder: 'bench/results', format: 'json' }),
  );
  if (sink === -1) console.log('unreachable'); // keeps the rewrites observable
  return summary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await run();
}
