/** Builds the explorer site for the origin scenario into a temporary folder (viewer bundled fresh). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleViewer } from '../../scripts/bundle-viewer.mjs';
import { type ExploreResult, explore } from '../../src/explore/index.js';
import type { ProxyMode } from '../../src/proxy/common/datapath.js';
import { Simulation } from '../../src/sim/simulation.js';

export async function buildOriginSite(modes: readonly ProxyMode[]): Promise<ExploreResult & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dpsim-explore-'));
  const viewerDir = await bundleViewer(join(dir, 'viewer-build'));
  const out = join(dir, 'site');
  const result = await explore({
    modes,
    outDir: out,
    seed: 1,
    loadFlows: 300,
    title: 'origin scenario',
    generatedBy: 'dpsim explore (test)',
    viewerDir,
    simulate: async (mode, capture) => new Simulation({ mode, capture, seed: 1 }),
  });
  return { ...result, dir: out };
}
