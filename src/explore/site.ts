/**
 * Writes the explorer as a static site: `index.html` with the data embedded as JSON, the
 * pre-bundled viewer (`assets/explore.js`, `assets/explore.css`, built by
 * scripts/bundle-viewer.mjs during `npm run build`) with the bundled libraries' licences, and
 * one pcapng per mode. Opens from file:// with no network: the script is a classic one
 * (Chromium refuses module scripts on file:// pages) and nothing is fetched.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExploreData } from './model.js';

export class ExploreSiteError extends Error {
  override name = 'ExploreSiteError';
}

/** The package root: the nearest folder above this file with a package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new ExploreSiteError('cannot find the dpsim package root');
    dir = up;
  }
  return dir;
}

/** Where the built viewer lives (dist/explore/viewer in the package). */
export function viewerDir(): string {
  return join(packageRoot(), 'dist', 'explore', 'viewer');
}

/** JSON safe inside a <script> element: no `</script>`, no `<!--`. */
function embeddedJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export function renderIndexHtml(data: ExploreData): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${escapeHtml(data.generatedBy)}">
<title>dpsim explore — ${escapeHtml(data.title)}</title>
<link rel="stylesheet" href="assets/explore.css">
</head>
<body>
<div id="app"><noscript>The explorer needs JavaScript (it runs locally; nothing is fetched).</noscript></div>
<script id="dpsim-data" type="application/json">${embeddedJson(data)}</script>
<script src="assets/explore.js"></script>
</body>
</html>
`;
}

export interface SiteFiles {
  readonly data: ExploreData;
  /** pcapng files by name, written beside index.html. */
  readonly captures: ReadonlyMap<string, Uint8Array>;
}

/** Writes the site into `outDir` (created if missing); returns the index.html path. */
export function writeSite(outDir: string, files: SiteFiles, viewer = viewerDir()): string {
  const js = join(viewer, 'explore.js');
  const css = join(viewer, 'explore.css');
  if (!existsSync(js) || !existsSync(css))
    throw new ExploreSiteError(`the explorer's viewer is not built (${js} missing): run "npm run build"`);
  try {
    mkdirSync(join(outDir, 'assets'), { recursive: true });
    writeFileSync(join(outDir, 'assets', 'explore.js'), readFileSync(js));
    writeFileSync(join(outDir, 'assets', 'explore.css'), readFileSync(css));
    const notices = join(viewer, 'THIRD-PARTY-LICENSES.txt');
    if (existsSync(notices))
      writeFileSync(join(outDir, 'assets', 'THIRD-PARTY-LICENSES.txt'), readFileSync(notices));
    for (const [name, bytes] of files.captures) writeFileSync(join(outDir, name), bytes);
    const index = join(outDir, 'index.html');
    writeFileSync(index, renderIndexHtml(files.data));
    return index;
  } catch (e) {
    throw new ExploreSiteError(`cannot write the site to "${outDir}": ${(e as Error).message}`);
  }
}
