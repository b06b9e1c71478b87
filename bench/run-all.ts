/**
 * `npm run bench`: runs every benny suite in bench/*.bench.ts in turn (each prints its
 * table and writes JSON under bench/results/). Pass suite names to run a subset:
 * `npm run bench -- maps checksum`.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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

for (const name of suites) {
  const mod = (await import(pathToFileURL(join(here, `${name}.bench.ts`)).href)) as {
    default: () => Promise<unknown>;
  };
  console.log(`\n=== ${name} ===`);
  await mod.default();
}
