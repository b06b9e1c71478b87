/**
 * Building a cluster the way the CLI does: manifests from `-f` files (or the embedded origin
 * scenario when none is given) plus the flag overrides. Rejected documents are reported with
 * their kubectl-style messages; the caller decides the exit code from `rejected`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { ClusterOptions } from './cluster-config.js';
import { type LoadResult, loadManifests, type ManifestSource } from './manifests.js';
import { originScenarioYaml } from './scenarios/origin.js';

export interface ClusterLoadRequest extends ClusterOptions {
  /**
   * Manifest files, as `kubectl apply -f` takes them: a file, a directory (its .json, .yaml and
   * .yml files, not recursing) or `-` for standard input. Empty or absent means the embedded
   * origin scenario.
   */
  files?: readonly string[];
  /** Reads standard input, for `-f -` (default: file descriptor 0). */
  readStdin?: () => string;
}

/** The extensions kubectl reads from a directory (cli-runtime's FileExtensions). */
export const MANIFEST_EXTENSIONS: readonly string[] = ['.json', '.yaml', '.yml'];

export class ManifestFileError extends Error {
  override name = 'ManifestFileError';
}

function readManifest(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ManifestFileError(
      code === 'ENOENT'
        ? `error: the path "${file}" does not exist`
        : `error: cannot read "${file}": ${(e as Error).message}`,
    );
  }
}

/** The manifest sources behind the `-f` arguments, in kubectl's order (a directory's files sorted by name). */
export function readManifestSources(
  files: readonly string[],
  readStdin: () => string = () => readFileSync(0, 'utf8'),
): ManifestSource[] {
  const sources: ManifestSource[] = [];
  for (const file of files) {
    if (file === '-') {
      // kubectl names standard input "STDIN" in its messages.
      sources.push({ source: 'STDIN', text: readStdin() });
      continue;
    }
    let isDirectory = false;
    try {
      isDirectory = statSync(file).isDirectory();
    } catch {
      // readManifest reports the missing or unreadable path in kubectl's words.
    }
    if (!isDirectory) {
      sources.push({ source: file, text: readManifest(file) });
      continue;
    }
    let entries: string[];
    try {
      entries = readdirSync(file).sort();
    } catch (e) {
      throw new ManifestFileError(`error: cannot read "${file}": ${(e as Error).message}`);
    }
    for (const name of entries) {
      const path = join(file, name);
      if (!MANIFEST_EXTENSIONS.includes(extname(name)) || !statSync(path).isFile()) continue;
      sources.push({ source: path, text: readManifest(path) });
    }
  }
  return sources;
}

/**
 * Reads the manifests and loads them; unreadable files throw ManifestFileError (kubectl's
 * wording), and so do files that hold no object at all (`error: no objects passed to apply`).
 */
export function loadClusterFromFiles(req: ClusterLoadRequest = {}): LoadResult {
  const files = req.files ?? [];
  const sources = readManifestSources(files, req.readStdin);
  if (files.length === 0) sources.push({ source: 'origin.yaml', text: originScenarioYaml });
  const { files: _files, readStdin: _readStdin, ...options } = req;
  const result = loadManifests(sources, options);
  if (files.length > 0 && result.outcomes.length === 0)
    throw new ManifestFileError('error: no objects passed to apply');
  return result;
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
  if (flags.dualStack === true) out.dualStack = true;
  const seed = flags.seed;
  if (typeof seed === 'number' && Number.isFinite(seed)) out.seed = seed;
  else if (typeof seed === 'string' && /^\d+$/.test(seed)) out.seed = Number(seed);
  return out;
}
