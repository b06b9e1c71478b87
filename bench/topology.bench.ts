/**
 * Full-topology packet rate: established flows through the origin scenario (client and pods →
 * the NodePort / ClusterIP of the web Service, three nodes, three web pods), every hop
 * simulated — routing, the proxy mode's netfilter hooks or tc programs, conntrack, NAT with
 * checksums, every veth and the LAN, and delivery into the backend pod's TCP stack.
 *
 * 256 flows are opened first with real handshakes (src/traffic's LoadGenerator); an op is a
 * burst of 256 data segments (one per flow) injected at the same simulated instant and pumped
 * until all are delivered. The figure of merit is interface traversals (frames handed to an
 * interface: each packet crosses 2–4) per wall-clock second, with the capture off, on (pcapng
 * of every interface, in memory) and file (the same written to a file in the OS temp
 * directory, as `--pcap FILE` does). ns-3 manages ~0.15 M/s on such a topology; the aim
 * is ≥ 1 M/s with the capture off, and a capture costing ≤ 1.3× the time without.
 *
 * Writes bench/results/topology.json (benny; `topology-burst/<mode>/capture=<off|on|file>`, an
 * op = one burst) and bench/results/topology.extra.json (`topology/<mode>/capture=<…>` in
 * traversals/s, `topology-pps/<mode>/capture=<…>` in packets/s, and
 * `topology-capture-cost/<mode>/capture=<on|file>`: time per burst with that capture ÷ without).
 * The capture cost is measured interleaved, after the benny cases: rounds of ROUND_BURSTS
 * bursts without, then with the capture, the median of the per-round ratios — on a shared
 * machine, load that changes between two benny cases would otherwise swamp a 1.3× figure.
 * Run alone: `npx tsx bench/topology.bench.ts` (~30 s).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types.js';
import type { ExtraCase, ExtraFile } from '../src/bench/results.js';
import { PROXY_MODES, type ProxyMode } from '../src/proxy/common/datapath.js';
import { buildSimulation } from '../src/sim/simulation.js';
import { LoadGenerator } from '../src/traffic/generator.js';

const RESULTS = 'bench/results';
const FLOWS = 256;
const BURST = 256;
const SEED = 5;
const CASE_OPTIONS = { minSamples: 5, maxTime: 1.5 };
const ROUNDS = 25;
const ROUND_BURSTS = 8;

/** Median over ROUNDS of (time of ROUND_BURSTS bursts with the capture ÷ the same without). */
function interleavedCost(off: Case, on: Case): number {
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    for (let i = 0; i < ROUND_BURSTS; i++) off.gen.burst(BURST);
    const without = performance.now() - t;
    t = performance.now();
    for (let i = 0; i < ROUND_BURSTS; i++) on.gen.burst(BURST);
    ratios.push((performance.now() - t) / without);
  }
  ratios.sort((a, b) => a - b);
  return ratios[ROUNDS >> 1];
}

type Capture = 'off' | 'on' | 'file';
const CAPTURES: readonly Capture[] = ['off', 'on', 'file'];

interface Case {
  readonly name: string;
  readonly mode: ProxyMode;
  readonly capture: Capture;
  readonly gen: LoadGenerator;
  readonly traversalsPerBurst: number;
}

function prepare(mode: ProxyMode, capture: Capture, dir: string): Case {
  const sim = buildSimulation({
    mode,
    seed: SEED,
    capture: capture !== 'off',
    ...(capture === 'file' ? { captureFile: join(dir, `${mode}.pcapng`) } : {}),
  });
  const gen = new LoadGenerator(sim, { flows: FLOWS, packets: 0, seed: SEED });
  const established = gen.openFlows();
  if (established !== FLOWS)
    throw new Error(`${mode}: only ${established} of ${FLOWS} flows were established`);
  const before = sim.network.transmissions;
  const deliveredBefore = sim.network.drops.delivered;
  const sent = gen.burst(BURST);
  const delivered = sim.network.drops.delivered - deliveredBefore;
  if (sent !== BURST || delivered !== BURST)
    throw new Error(
      `${mode}: a burst of ${BURST} delivered ${delivered} (drops: ${JSON.stringify(sim.network.drops.toRecord())})`,
    );
  return {
    name: `topology-burst/${mode}/capture=${capture}`,
    mode,
    capture,
    gen,
    traversalsPerBurst: sim.network.transmissions - before,
  };
}

export default async function run(): Promise<Summary> {
  const cases: Case[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'dpsim-topology-bench-'));
  for (const mode of PROXY_MODES) {
    for (const capture of CAPTURES) {
      try {
        cases.push(prepare(mode, capture, dir));
      } catch (e) {
        process.stderr.write(
          `topology bench: ${mode} capture=${capture} left out: ${(e as Error).message}\n`,
        );
      }
    }
  }
  const summary = await b.suite(
    `topology: bursts of ${BURST} established-flow segments through the origin scenario`,
    ...cases.map((c) => b.add(c.name, () => c.gen.burst(BURST), CASE_OPTIONS)),
    b.cycle(),
    b.complete((s) => {
      console.table(
        s.results.map((r) => {
          const c = cases.find((x) => x.name === r.name)!;
          return {
            case: r.name,
            'bursts/s': r.ops,
            'M packets/s': ((r.ops * BURST) / 1e6).toFixed(3),
            'M traversals/s': ((r.ops * c.traversalsPerBurst) / 1e6).toFixed(3),
            'traversals/packet': (c.traversalsPerBurst / BURST).toFixed(2),
            '±%': r.margin,
          };
        }),
      );
    }),
    b.save({ file: 'topology', folder: RESULTS, format: 'json' }),
  );
  const extra: ExtraCase[] = [];
  for (const c of cases) {
    const ops = summary.results.find((r) => r.name === c.name)?.ops ?? 0;
    const tag = `${c.mode}/capture=${c.capture}`;
    extra.push({ name: `topology/${tag}`, value: ops * c.traversalsPerBurst, unit: 'traversals/s' });
    extra.push({ name: `topology-pps/${tag}`, value: ops * BURST, unit: 'pps' });
  }
  const file: ExtraFile = { cases: extra };
  mkdirSync(RESULTS, { recursive: true });
  const rows: Record<string, string>[] = [];
  for (const mode of PROXY_MODES) {
    const off = cases.find((c) => c.mode === mode && c.capture === 'off');
    if (off === undefined) continue;
    const row: Record<string, string> = { mode };
    for (const capture of ['on', 'file'] as const) {
      const on = cases.find((c) => c.mode === mode && c.capture === capture);
      if (on === undefined) continue;
      const ratio = interleavedCost(off, on);
      extra.push({
        name: `topology-capture-cost/${mode}/capture=${capture}`,
        value: ratio,
        unit: '× time without capture',
      });
      row[`time × (capture ${capture === 'on' ? 'in memory' : 'to file'})`] = ratio.toFixed(2);
    }
    rows.push(row);
  }
  writeFileSync(join(RESULTS, 'topology.extra.json'), `${JSON.stringify(file, null, 2)}\n`);
  console.table(rows);
  rmSync(dir, { recursive: true, force: true });
  return summary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await run();
}
