/**
 * Building a cluster the way the CLI does: manifests from `-f` files (or the embedded origin
 * scenario when none is given) plus the flag overrides. Rejected documents are reported with
 * their kubectl-style messages; the caller decides the exit code from `rejected`.
 */
import { readFileSync } from 'node:fs';
import type { ClusterOptions } from './cluster-config.js';
import { type LoadResult, loadManifests, type ManifestSource } from './manifests.js';
import { originScenarioYaml } from './scenarios/origin.js';

export interface ClusterLoadRequest extends ClusterOptions {
  /** Manifest files; empty or absent means the embedded origin scenario. */
  files?: readonly string[];
}

export class ManifestFileError extends Error {
  override name = 'ManifestFileError';
}

/** Reads the manifests and loads them; unreadable files throw ManifestFileError (kubectl's wording). */
export function loadClusterFromFiles(req: ClusterLoadRequest = {}): LoadResult {
  const sources: ManifestSource[] = [];
  for (const file of req.files ?? []) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ManifestFileError(
        code === 'ENOENT'
          ? `error: the path "${file}" does not exist`
          : `error: cannot read "${file}": ${(e as Error).message}`,
      );
    }
    sources.push({ source: file, text });
  }
  if (sources.length === 0) sources.push({ source: 'origin.yaml', text: originScenarioYaml });
  const { files: _files, ...options } = req;
  return loadManifests(sources, options);
}

/**
 * Maps commander's camel-cased flag values (`--service-cluster-ip-range` →
 * `serviceClusterIpRange`, …) to ClusterOptions. Unknown keys are ignored.
 */
export function clusterOptionsFromFlags(flags: Record<string, unknown>): ClusterOptions {
  const out: ClusterOptions = {};
  const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  const nodePorts = str('serviceNodePortRange');
  const svcRange = str('serviceClusterIpRange') ?? str('serviceClusterIPRange');
  const clusterCidr = str('clusterCidr') ?? str('clusterCIDR');
  const mode = str('proxyMode');
  if (nodePorts !== undefined) out.serviceNodePortRange = nodePorts;
  if (svcRange !== undefined) out.serviceClusterIPRange = svcRange;
  if (clusterCidr !== undefined) out.clusterCIDR = clusterCidr;
  if (mode !== undefined) out.proxyMode = mode;
  const seed = flags.seed;
  if (typeof seed === 'number' && Number.isFinite(seed)) out.seed = seed;
  else if (typeof seed === 'string' && /^\d+$/.test(seed)) out.seed = Number(seed);
  return out;
}
