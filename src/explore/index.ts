/**
 * `dpsim explore` as a library call: collect every mode's paths, dumps and distributions,
 * then write the static site.
 */
import type { ProxyMode } from '../proxy/common/datapath.js';
import { type CollectOptions, collectMode } from './collect.js';
import type { ExploreData, ModeView } from './model.js';
import { writeSite } from './site.js';

export type { ExploreData } from './model.js';
export { ExploreSiteError, renderIndexHtml, writeSite } from './site.js';

export interface ExploreOptions extends Omit<CollectOptions, 'captureFile'> {
  readonly modes: readonly ProxyMode[];
  readonly outDir: string;
  readonly title: string;
  readonly generatedBy: string;
  /** Where the built viewer is (default: the package's dist/explore/viewer). */
  readonly viewerDir?: string;
}

export interface ExploreResult {
  readonly index: string;
  readonly data: ExploreData;
}

export const captureFileName = (mode: ProxyMode) => `capture-${mode}.pcapng`;

export async function explore(options: ExploreOptions): Promise<ExploreResult> {
  const views: ModeView[] = [];
  const captures = new Map<string, Uint8Array>();
  for (const mode of options.modes) {
    const { view, capture } = await collectMode(mode, { ...options, captureFile: captureFileName });
    views.push(view);
    captures.set(view.captureFile, capture);
  }
  const data: ExploreData = {
    title: options.title,
    generatedBy: options.generatedBy,
    seed: options.seed,
    modes: views,
  };
  return { index: writeSite(options.outDir, { data, captures }, options.viewerDir), data };
}
