/**
 * Flow-table lookups: the typed-array BPF hash map vs a JS Map keyed by a template string
 * `${saddr}:${daddr}:${sport}:${dport}:${proto}` (what a naive per-packet flow table does).
 * 100k live 5-tuple flows probed in a shuffled order; the probe keys are read sequentially
 * (as a datapath reads them from the packet it just parsed), so what is measured is the
 * table's own cost, random memory accesses included. Every op is a batch of 1024
 * operations so harness overhead does not hide the per-lookup cost.
 * Target: typed-array lookup ≥ 20× the Map. The inline map (the eBPF CT map's layout: key and
 * value in one slot, CLOCK LRU) is measured one key at a time and as a batch (`lookupBatch`,
 * whose cache misses overlap).
 *
 * Run alone: `npx tsx bench/maps.bench.ts` (writes bench/results/maps.json).
 */
import { fileURLToPath } from 'node:url';
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types.js';
import { BPF_ANY, BPF_EXIST, BpfHashMap, BpfInlineHashMap, packPorts } from '../src/maps/index.js';
import { Rng } from '../src/util/rng.js';

const FLOWS = 100_000;
const BATCH = 1024;
const TCP = 6;

/** Builds 100k distinct flows (4 key words each) from a fixed seed, plus the same keys shuffled. */
function makeFlows(): { words: Uint32Array; probe: Uint32Array } {
  const rng = new Rng(42);
  const words = new Uint32Array(FLOWS * 4);
  const seen = new Set<string>();
  for (let i = 0; i < FLOWS; ) {
    const saddr = (0x0a000000 | rng.nextInt(1 << 16)) >>> 0;
    const daddr = (0x0ae90000 | rng.nextInt(1 << 12)) >>> 0;
    const sport = 1024 + rng.nextInt(64512);
    const dport = rng.nextInt(2) === 0 ? 80 : 8080;
    const id = `${saddr}:${daddr}:${sport}:${dport}`;
    if (seen.has(id)) continue;
    seen.add(id);
    words.set([saddr, daddr, packPorts(sport, dport), TCP], i * 4);
    i++;
  }
  const order = new Uint32Array(FLOWS);
  for (let i = 0; i < FLOWS; i++) order[i] = i;
  for (let i = FLOWS - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  // Flow 0 is the churn key (deleted below), so it never appears among the probes.
  const probe = new Uint32Array(FLOWS * 4);
  for (let i = 0; i < FLOWS; i++) {
    const from = (order[i] === 0 ? 1 : order[i]) * 4;
    probe.set(words.subarray(from, from + 4), i * 4);
  }
  return { words, probe };
}

export default async function run(): Promise<Summary> {
  const { words, probe } = makeFlows();
  const map = new BpfHashMap({ keyWords: 4, valueWords: 1, maxEntries: FLOWS });
  const stringMap = new Map<string, number>();
  for (let i = 0; i < FLOWS; i++) {
    const o = i * 4;
    const e = map.insertWords(BPF_ANY, words[o], words[o + 1], words[o + 2], words[o + 3]);
    map.values[map.valueOffset(e)] = i;
    const ports = words[o + 2];
    stringMap.set(`${words[o]}:${words[o + 1]}:${ports >>> 16}:${ports & 0xffff}:${words[o + 3]}`, i);
  }
  const inline = new BpfInlineHashMap({ keyWords: 4, valueWords: 4, maxEntries: FLOWS, lru: true });
  for (let i = 1; i < FLOWS; i++) {
    const o = i * 4;
    const e = inline.insertWords(BPF_ANY, words[o], words[o + 1], words[o + 2], words[o + 3]);
    inline.values[inline.valueOffset(e)] = i;
  }
  const probeInt = new Int32Array(probe.buffer);
  const batchOut = new Int32Array(BATCH);
  // Spare keys (never inserted) for insert+delete churn that keeps the map at 100k - 1 + 1.
  map.deleteWords(words[0], words[1], words[2], words[3]);
  stringMap.delete(`${words[0]}:${words[1]}:${words[2] >>> 16}:${words[2] & 0xffff}:${words[3]}`);

  let cursor = 0;
  let sink = 0;
  /** Offset of the next probe key in `probe`. */
  const nextProbe = (): number => {
    const o = cursor;
    cursor = cursor + 4 === FLOWS * 4 ? 0 : cursor + 4;
    return o;
  };

  const summary = await b.suite(
    'maps: 5-tuple flow table, 100k entries (ops = batches of 1024)',
    b.add('BpfHashMap.lookupWords (typed arrays)', () => {
      for (let n = 0; n < BATCH; n++) {
        const o = nextProbe();
        const e = map.lookupWords(probe[o], probe[o + 1], probe[o + 2], probe[o + 3]);
        sink += map.values[e];
      }
    }),
    b.add('BpfInlineHashMap.lookupWords (CT layout, one at a time)', () => {
      for (let n = 0; n < BATCH; n++) {
        const o = nextProbe();
        const e = inline.lookupWords(probe[o], probe[o + 1], probe[o + 2], probe[o + 3]);
        sink += inline.values[inline.valueOffset(e)];
      }
    }),
    b.add('BpfInlineHashMap.lookupBatch (1024 keys per call)', () => {
      const o = nextProbe();
      const start = o + BATCH * 4 <= FLOWS * 4 ? o : 0;
      cursor = start + BATCH * 4 === FLOWS * 4 ? 0 : start + BATCH * 4;
      batchOut.fill(0);
      inline.lookupBatch(probeInt.subarray(start, start + BATCH * 4), BATCH, batchOut);
      for (let n = 0; n < BATCH; n++) sink += inline.values[inline.valueOffset(batchOut[n])];
    }),
    b.add('BpfHashMap.lookup (key array + offset)', () => {
      for (let n = 0; n < BATCH; n++) {
        const e = map.lookup(probe, nextProbe());
        sink += map.values[e];
      }
    }),
    b.add('Map<string> get (template-string key)', () => {
      for (let n = 0; n < BATCH; n++) {
        const o = nextProbe();
        const ports = probe[o + 2];
        sink += stringMap.get(
          `${probe[o]}:${probe[o + 1]}:${ports >>> 16}:${ports & 0xffff}:${probe[o + 3]}`,
        )!;
      }
    }),
    b.add('BpfHashMap update existing (BPF_EXIST, value in place)', () => {
      for (let n = 0; n < BATCH; n++) {
        const o = nextProbe();
        const e = map.insertWords(BPF_EXIST, probe[o], probe[o + 1], probe[o + 2], probe[o + 3]);
        map.values[map.valueOffset(e)] = n;
      }
    }),
    b.add('Map<string> set existing', () => {
      for (let n = 0; n < BATCH; n++) {
        const o = nextProbe();
        const ports = probe[o + 2];
        stringMap.set(`${probe[o]}:${probe[o + 1]}:${ports >>> 16}:${ports & 0xffff}:${probe[o + 3]}`, n);
      }
    }),
    b.add('BpfHashMap insert new + delete', () => {
      for (let n = 0; n < BATCH; n++) {
        const e = map.insertWords(BPF_ANY, words[0], words[1], words[2] ^ n, words[3]);
        map.values[map.valueOffset(e)] = n;
        map.deleteWords(words[0], words[1], words[2] ^ n, words[3]);
      }
    }),
    b.add('Map<string> set new + delete', () => {
      for (let n = 0; n < BATCH; n++) {
        const ports = words[2] ^ n;
        const key = `${words[0]}:${words[1]}:${ports >>> 16}:${ports & 0xffff}:${words[3]}`;
        stringMap.set(key, n);
        stringMap.delete(key);
      }
    }),
    b.cycle(),
    b.complete((s) => {
      const ops = (name: string) => s.results.find((r) => r.name.startsWith(name))?.ops ?? Number.NaN;
      const lookupRatio = ops('BpfHashMap.lookupWords') / ops('Map<string> get');
      const updateRatio = ops('BpfHashMap update existing') / ops('Map<string> set existing');
      const churnRatio = ops('BpfHashMap insert new') / ops('Map<string> set new');
      console.table(s.results.map((r) => ({ case: r.name, 'batches/s': r.ops, '±%': r.margin })));
      console.log(`lookup speed-up vs string-keyed Map: ${lookupRatio.toFixed(1)}× (target ≥ 20×)`);
      console.log(
        `update-existing speed-up: ${updateRatio.toFixed(1)}×, insert+delete speed-up: ${churnRatio.toFixed(1)}×`,
      );
      console.log(`map memory: ${(map.byteLength / 1048576).toFixed(2)} MiB for ${map.count} entries`);
      console.log(
        `inline (CT) map: ${(inline.byteLength / inline.maxEntries).toFixed(1)} B per entry; batch vs one-at-a-time: ` +
          `${(ops('BpfInlineHashMap.lookupBatch') / ops('BpfInlineHashMap.lookupWords')).toFixed(2)}×`,
      );
    }),
    b.save({ file: 'maps', folder: 'bench/results', format: 'json' }),
  );
  // benny runs cases one after another, so load from other processes can skew the ratio;
  // alternating short passes of both and comparing medians is robust to that.
  const typedPass = (): void => {
    for (let o = 4; o < FLOWS * 4; o += 4) {
      sink += map.values[map.lookupWords(probe[o], probe[o + 1], probe[o + 2], probe[o + 3])];
    }
  };
  const stringPass = (): void => {
    for (let o = 4; o < FLOWS * 4; o += 4) {
      const ports = probe[o + 2];
      sink += stringMap.get(`${probe[o]}:${probe[o + 1]}:${ports >>> 16}:${ports & 0xffff}:${probe[o + 3]}`)!;
    }
  };
  const typedMs: number[] = [];
  const stringMs: number[] = [];
  for (let round = 0; round < 15; round++) {
    let t = performance.now();
    typedPass();
    typedMs.push(performance.now() - t);
    t = performance.now();
    stringPass();
    stringMs.push(performance.now() - t);
  }
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  const perLookupNs = (ms: number): number => (ms * 1e6) / (FLOWS - 1);
  console.log(
    `interleaved medians: typed ${perLookupNs(median(typedMs)).toFixed(0)} ns/lookup, ` +
      `string-keyed Map ${perLookupNs(median(stringMs)).toFixed(0)} ns/lookup → ` +
      `${(median(stringMs) / median(typedMs)).toFixed(1)}×`,
  );
  if (sink === -1) console.log('unreachable'); // keeps the lookups observable
  return summary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await run();
}
