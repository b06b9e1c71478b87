/**
 * Scale benchmark (issue 11 item 11): 100k pods behind 10k Services on four nodes, as a user
 * meets it — the dpsim CLI on one manifest file (bench/scale-manifest.ts writes it: a Cluster
 * document with four /16 pod nodes, 10k ReplicaSets × 10 pods, 10k Services, the first a
 * NodePort on 31000). Each command is its own `node dist/cli/main.js` process, as a user runs it:
 *
 * - "get svc"                                  (`dpsim get svc -f scale.yaml`, mode-agnostic)
 * - "<mode>: rules --node node1"               (`dpsim rules --mode M --node node1 -f scale.yaml`)
 * - "<mode>: curl http://192.168.100.100:31000/" (one curl from the client through the NodePort)
 *
 * for iptables, nftables, IPVS and eBPF (eBPF with bpf.lbMapMax 131072: Cilium's default 65536
 * cannot hold 10k Services × 10 backends, and dpsim fails as Cilium does).
 *
 * bench/results/scale.json: the wall time per command in benny's schema (one run each: a run
 * is a whole process). bench/results/scale.extra.json: per command its wall and CPU seconds
 * (`scale-wall|scale-cpu/<mode>/command=<get|rules|curl>`, CPU = user + system of the process,
 * which on a shared machine is the figure to compare: wall time includes waiting for a core),
 * its peak RSS, and the machine's 1-minute load average before and after the suite
 * (`scale-load/all/when=before|after`).
 *
 * The CLI is the compiled one: dist/ is rebuilt first when any source under src/ is newer.
 * Run alone: `npx tsx bench/scale.bench.ts`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { machineInfo } from '../src/bench/machine.js';
import { scaleManifestYaml } from './scale-manifest.js';

const here = dirname(fileURLToPath(import.meta.url));
const REPO = join(here, '..');
const CLI = join(REPO, 'dist', 'cli', 'main.js');
const RESULTS = join(here, 'results');
const MODES = ['iptables', 'nftables', 'ipvs', 'ebpf'] as const;
const URL = 'http://192.168.100.100:31000/';

/** Newest modification time of any file under `dir` (ms). */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(path) : st.mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is missing or older than the sources, so the figures are today's code. */
function ensureBuilt(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestMtime(join(REPO, 'src'))) return;
  console.log('dist/ is missing or older than src/: npm run build');
  const r = spawnSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed: the scale bench runs the compiled CLI');
}

interface CommandRun {
  readonly wallS: number;
  readonly cpuS: number;
  readonly maxRssMb: number;
  readonly stdout: string;
}

/** A preload that reports the process's own CPU time and peak RSS when it exits. */
function writeUsagePreload(dir: string): string {
  const path = join(dir, 'usage-preload.mjs');
  writeFileSync(
    path,
    [
      "import { writeFileSync } from 'node:fs';",
      "process.on('exit', () => {",
      '  const u = process.resourceUsage();',
      '  writeFileSync(process.env.DPSIM_BENCH_USAGE, JSON.stringify({ cpuS: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMb: u.maxRSS / 1024 }));',
      '});',
      '',
    ].join('\n'),
  );
  return path;
}

function runCli(args: readonly string[], dir: string, preload: string): CommandRun {
  const usageFile = join(dir, 'usage.json');
  rmSync(usageFile, { force: true });
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(preload).href, CLI, ...args], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, DPSIM_BENCH_USAGE: usageFile },
  });
  const wallS = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`dpsim ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { cpuS: number; maxRssMb: number };
  return { wallS, ...usage, stdout: r.stdout };
}

/**
 * One command's run in benny's result schema (what bench/results/*.json hold and the report
 * reads). benny itself would run each command three times (its calibration), minutes at this
 * size on a shared machine, so the suite runs each once and writes the case itself.
 */
function oneSampleCase(name: string, seconds: number): Record<string, unknown> {
  return {
    name,
    ops: 1 / seconds,
    margin: 0,
    percentSlower: 0,
    samples: 1,
    details: { min: seconds, max: seconds, mean: seconds, median: seconds, sampleResults: [seconds] },
    completed: true,
  };
}

export default async function run(): Promise<void> {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'dpsim-scale-'));
  try {
    writeFileSync(join(dir, 'scale.yaml'), scaleManifestYaml());
    writeFileSync(join(dir, 'cilium.yaml'), 'bpf:\n  lbMapMax: 131072\n');
    const preload = writeUsagePreload(dir);
    const modeArgs = (mode: string) => [
      '--mode',
      mode,
      ...(mode === 'ebpf' ? ['--cilium-values', 'cilium.yaml'] : []),
    ];
    const commands: { name: string; mode: string; command: string; args: string[] }[] = [
      { name: 'get svc', mode: 'all', command: 'get', args: ['get', 'svc', '-f', 'scale.yaml'] },
      ...MODES.flatMap((mode) => [
        {
          name: `${mode}: rules --node node1`,
          mode,
          command: 'rules',
          args: ['rules', ...modeArgs(mode), '--node', 'node1', '-f', 'scale.yaml'],
        },
        {
          name: `${mode}: curl ${URL}`,
          mode,
          command: 'curl',
          args: ['curl', ...modeArgs(mode), '-f', 'scale.yaml', URL],
        },
      ]),
    ];
    const loadBefore = loadavg()[0]!;
    const machine = machineInfo();
    console.log(
      `${machine.cpus} CPUs (${machine.model}), node ${machine.node}, load average ${loadBefore.toFixed(1)}; ` +
        'the dpsim CLI on 100k pods / 10k Services, one process per command:',
    );
    const extra: { name: string; value: number; unit: string }[] = [];
    const results: Record<string, unknown>[] = [];
    for (const c of commands) {
      const r = runCli(c.args, dir, preload);
      if (c.command === 'curl' && !r.stdout.startsWith('Hello World!'))
        throw new Error(`${c.name}: unexpected answer ${JSON.stringify(r.stdout)}`);
      console.log(
        `  ${c.name}: ${r.wallS.toFixed(1)} s wall, ${r.cpuS.toFixed(1)} s CPU, ${r.maxRssMb.toFixed(0)} MB peak RSS (load ${loadavg()[0]!.toFixed(1)})`,
      );
      results.push(oneSampleCase(c.name, r.wallS));
      extra.push({ name: `scale-wall/${c.mode}/command=${c.command}`, value: r.wallS, unit: 's' });
      extra.push({ name: `scale-cpu/${c.mode}/command=${c.command}`, value: r.cpuS, unit: 's' });
      extra.push({ name: `scale-rss/${c.mode}/command=${c.command}`, value: r.maxRssMb, unit: 'MB' });
    }
    writeFileSync(
      join(RESULTS, 'scale.json'),
      `${JSON.stringify({ name: 'scale', date: new Date().toISOString(), version: null, results }, null, 2)}\n`,
    );
    const loadAfter = loadavg()[0]!;
    extra.push({ name: 'scale-load/all/when=before', value: loadBefore, unit: 'load average (1 min)' });
    extra.push({ name: 'scale-load/all/when=after', value: loadAfter, unit: 'load average (1 min)' });
    writeFileSync(join(RESULTS, 'scale.extra.json'), `${JSON.stringify({ cases: extra }, null, 2)}\n`);
    console.log(
      `load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after (${machine.cpus} CPUs)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
