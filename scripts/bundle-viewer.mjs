// Bundles the explorer's browser code (src/explore/viewer) with dagre, vega and vega-lite
// into one classic script and one stylesheet under dist/explore/viewer/, with the bundled
// packages' licences; `dpsim explore` copies them next to the page it writes. A classic
// (IIFE) script, not a module: Chromium refuses module scripts from file:// pages.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

function packageDir(name) {
  let dir = dirname(require.resolve(name));
  while (
    !existsSync(join(dir, 'package.json')) ||
    JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name
  )
    dir = dirname(dir);
  return dir;
}

function licences(packages) {
  const parts = ['assets/explore.js bundles these packages; their licences follow.\n'];
  for (const name of [...packages].sort()) {
    const dir = packageDir(name);
    const file = ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license']
      .map((f) => join(dir, f))
      .find(existsSync);
    const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
    parts.push(
      `\n==== ${name} ${version} ====\n${file === undefined ? '(no licence file in the package)\n' : readFileSync(file, 'utf8')}`,
    );
  }
  return parts.join('');
}

export async function bundleViewer(outdir = join(root, 'dist', 'explore', 'viewer')) {
  const result = await build({
    entryPoints: { explore: join(root, 'src', 'explore', 'viewer', 'main.ts') },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    legalComments: 'none',
    metafile: true,
    outdir,
    logLevel: 'warning',
  });
  // Every npm package whose code ended up in the bundle.
  const packages = new Set();
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m !== null) packages.add(m[1]);
  }
  writeFileSync(join(outdir, 'THIRD-PARTY-LICENSES.txt'), licences(packages));
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundleViewer();
