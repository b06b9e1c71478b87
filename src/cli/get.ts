/**
 * `dpsim get TYPE[,TYPE…] [NAME…] [-f FILE…] [-o wide|yaml|json|name] [-n NS | -A] [--seed N]`:
 * kubectl-style listings of the simulated cluster. Thin: loading and printing live in src/k8s.
 */
import type { Command } from 'commander';
import type { Cluster } from '../k8s/cluster.js';
import type { ClusterLoadRequest } from '../k8s/load-files.js';
import { clusterOptionsFromFlags, loadClusterFromFiles, ManifestFileError } from '../k8s/load-files.js';
import type { LoadResult } from '../k8s/manifests.js';
import { type OutputFormat, runGet } from '../k8s/printers.js';

/** Builds the cluster for a command; may return a bare Cluster or a LoadResult with outcomes. */
export type LoadClusterFn = (req: ClusterLoadRequest) => Cluster | LoadResult | Promise<Cluster | LoadResult>;

export interface GetIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  setExitCode: (code: number) => void;
}

const defaultIo: GetIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  setExitCode: (c) => {
    process.exitCode = c;
  },
};

const FORMATS = ['wide', 'yaml', 'json', 'name'];

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerGet(
  program: Command,
  loadCluster: LoadClusterFn = loadClusterFromFiles,
  io: GetIo = defaultIo,
): Command {
  return program
    .command('get')
    .description('list simulated cluster objects as kubectl does (e.g. `dpsim get rs,po,svc`)')
    .argument(
      '<types>',
      'resource types, comma separated (pods|po, replicasets|rs, services|svc, endpoints, endpointslices, nodes, deployments, namespaces, all), or TYPE/NAME',
    )
    .argument('[names...]', 'object names (with a single type)')
    .option(
      '-f, --filename <file>',
      'manifest file (repeatable); default: the embedded origin scenario',
      collect,
    )
    .option('-o, --output <format>', 'output format: wide, yaml, json or name')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('--seed <n>', 'seed for every random choice (ClusterIPs, NodePorts, names)')
    .action(async (types: string, names: string[], _opts: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals() as Record<string, unknown>;
      const output = flags.output as string | undefined;
      if (output !== undefined && !FORMATS.includes(output)) {
        io.stderr(
          `error: unable to match a printer suitable for the output format "${output}", allowed formats are: ${FORMATS.join(',')}\n`,
        );
        io.setExitCode(1);
        return;
      }
      let loaded: Cluster | LoadResult;
      try {
        loaded = await loadCluster({
          ...clusterOptionsFromFlags(flags),
          files: (flags.filename as string[] | undefined) ?? [],
        });
      } catch (e) {
        if (e instanceof ManifestFileError || (e instanceof Error && e.name === 'ClusterConfigError')) {
          io.stderr(`${e.message}\n`);
          io.setExitCode(1);
          return;
        }
        throw e;
      }
      const cluster = 'cluster' in loaded ? loaded.cluster : loaded;
      let exitCode = 0;
      if ('outcomes' in loaded) {
        for (const o of loaded.outcomes) if (o.status === 'rejected') io.stderr(`${o.message}\n`);
        if (loaded.rejected) exitCode = 1;
      }
      const result = runGet(cluster, {
        args: [types, ...names],
        output: (output ?? 'table') as OutputFormat,
        namespace: flags.namespace as string | undefined,
        allNamespaces: flags.allNamespaces === true,
      });
      io.stdout(result.stdout);
      io.stderr(result.stderr);
      io.setExitCode(Math.max(exitCode, result.exitCode));
    });
}
