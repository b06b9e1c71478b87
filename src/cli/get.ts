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
import { type LabelSelectorText, parseLabelSelector, SelectorParseError } from '../k8s/selector-text.js';
import { type CliIo, processIo } from './io.js';
import { reportOutcomes } from './manifest-report.js';

/** Builds the cluster for a command; may return a bare Cluster or a LoadResult with outcomes. */
export type LoadClusterFn = (req: ClusterLoadRequest) => Cluster | LoadResult | Promise<Cluster | LoadResult>;

export type GetIo = CliIo;

const FORMATS = ['wide', 'yaml', 'json', 'name'];

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerGet(
  program: Command,
  loadCluster: LoadClusterFn = loadClusterFromFiles,
  io: GetIo = processIo,
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
      'manifest file, directory (its .json/.yaml/.yml files) or - for stdin (repeatable); default: the embedded origin scenario',
      collect,
    )
    .option('-o, --output <format>', 'output format: wide, yaml, json or name')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-l, --selector <selector>', 'label selector, e.g. app=myweb or "tier in (web,api),!canary"')
    .option('--show-labels', 'add a LABELS column')
    .option('--seed <n>', 'seed for every random choice (ClusterIPs, NodePorts, names)')
    .option(
      '--service-cluster-ip-range <cidr>',
      'Service CIDR, or a v4,v6 pair for dual-stack (kube-apiserver flag)',
    )
    .option('--cluster-cidr <cidr>', 'pod CIDR, or a v4,v6 pair (kube-controller-manager flag)')
    .option('--dual-stack', "dual-stack cluster: kubespray's IPv6 ranges and IPv6 node addresses")
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
      let selector: LabelSelectorText | undefined;
      if (typeof flags.selector === 'string') {
        try {
          selector = parseLabelSelector(flags.selector);
        } catch (e) {
          if (!(e instanceof SelectorParseError)) throw e;
          io.stderr(`error: ${e.message}\n`);
          io.setExitCode(1);
          return;
        }
      }
      let loaded: Cluster | LoadResult;
      try {
        loaded = await loadCluster({
          ...clusterOptionsFromFlags(flags),
          files: (flags.filename as string[] | undefined) ?? [],
          ...(io.readStdin !== undefined ? { readStdin: io.readStdin } : {}),
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
        reportOutcomes(loaded.outcomes, io.stderr);
        if (loaded.rejected) exitCode = 1;
      }
      const result = runGet(cluster, {
        args: [types, ...names],
        output: (output ?? 'table') as OutputFormat,
        namespace: flags.namespace as string | undefined,
        allNamespaces: flags.allNamespaces === true,
        ...(selector !== undefined ? { selector } : {}),
        showLabels: flags.showLabels === true,
      });
      io.stdout(result.stdout);
      io.stderr(result.stderr);
      io.setExitCode(Math.max(exitCode, result.exitCode));
    });
}
