/**
 * `npm run bench`: runs every suite in bench/*.bench.ts in turn (each prints its table and
 * writes JSON under bench/results/), then builds the report (`dpsim bench report`) into
 * bench/report/. Pass suite names to run a subset: `npm run bench -- maps checksum` (the report
 * is built from whatever bench/results/ then holds). Prints each suite's wall time at the end.
 */
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildReport } from '../src/bench/report.js';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = new Set(process.argv.slice(2));
const suites = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .filter((name) => wanted.size === 0 || wanted.has(name))
  .sort();

if (suites.length === 0) {
  console.error(`no bench suite matches ${[...wanted].join(', ')}`);
  process.exit(2);
}

const started = performance.now();
const seconds: { suite: string; 's (wall)': string }[] = [];
for (const name of suites) {
  const mod = (await import(pathToFileURL(join(here, `${name}.bench.ts`)).href)) as {
    default: () => Promise<unknown>;
  };
  console.log(`\n=== ${name} ===`);
  const t = performance.now();
  await mod.default();
  seconds.push({ suite: name, 's (wall)': ((performance.now() - t) / 1000).toFixed(1) });
}

console.log('\n=== report ===');
const report = await buildReport({ resultsDir: join(here, 'results'), outDir: join(here, 'report') });
const empty = report.plots.filter((p) => p.svg === null).length;
console.log(
  `report: ${relative(process.cwd(), report.htmlPath)} and ${report.svgPaths.length} SVG plot(s)` +
    (empty > 0 ? `; ${empty} plot(s) empty (reasons on the page)` : ''),
);
seconds.push({ suite: 'all', 's (wall)': ((performance.now() - started) / 1000).toFixed(1) });
console.table(seconds);
