/**
 * Options every simulation command shares (manifests, seed, proxy mode, the control
 * plane's range flags) and the one way they turn into a Simulation.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { clusterOptionsFromFlags, loadClusterFromFiles, ManifestFileError } from '../k8s/load-files.js';
import { PROXY_MODES, type ProxyMode } from '../proxy/common/datapath.js';
import { Simulation, type SimulationOptions } from '../sim/simulation.js';
import type { OverlayKind } from '../topology/tunnel.js';
import { CliError, describeSystemError, isSystemError } from './errors.js';
import { type CliIo, processIo } from './io.js';
import { reportOutcomes } from './manifest-report.js';

export { CliError } from './errors.js';

export interface SimulationFlags {
  filename?: string[];
  seed: number;
  mode?: string;
  proxyMode?: string;
  serviceNodePortRange?: string;
  serviceClusterIpRange?: string;
  clusterCidr?: string;
  conntrackMax?: number;
  iptablesSave?: string;
  maglev?: boolean;
  overlay?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseInteger(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be an integer, got "${value}"`);
    const n = Number(value);
    if (n < min || n > max)
      throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

export function addSimulationOptions(cmd: Command): Command {
  return cmd
    .option(
      '-f, --filename <file>',
      'manifest file, directory (its .json/.yaml/.yml files) or - for stdin (repeatable); default: the embedded origin scenario',
      collect,
    )
    .option(
      '--seed <n>',
      'seed for every random choice (allocations, names, load balancing, ports)',
      parseInteger('--seed', 0, 2 ** 32 - 1),
      1,
    )
    .addOption(new Option('--mode <mode>', 'proxy mode').choices(PROXY_MODES as string[]))
    .addOption(
      new Option('--proxy-mode <mode>', "kube-proxy's flag: same as --mode")
        .choices(PROXY_MODES as string[])
        .hideHelp(),
    )
    .option('--service-node-port-range <range>', 'NodePort range (kube-apiserver flag)')
    .option('--service-cluster-ip-range <cidr>', 'Service CIDR (kube-apiserver flag)')
    .option('--cluster-cidr <cidr>', 'pod CIDR (kube-proxy / kube-controller-manager flag)')
    .option('--conntrack-max <n>', 'nf_conntrack_max per node', parseInteger('--conntrack-max', 1))
    .option(
      '--iptables-save <file>',
      "run a real node's iptables-save dump instead of the compiled rules (iptables mode)",
    )
    .option('--maglev', 'eBPF mode: Maglev backend selection instead of random')
    .addOption(
      new Option('--overlay <kind>', "pod traffic between nodes: routed, or Calico's IPIP/VXLAN overlay")
        .choices(['none', 'ipip', 'vxlan'])
        .default('none'),
    );
}

export async function loadSimulation(
  flags: SimulationFlags,
  extra: Partial<SimulationOptions> = {},
  io: CliIo = processIo,
): Promise<Simulation> {
  const modeFlag = flags.mode ?? flags.proxyMode;
  let loaded: ReturnType<typeof loadClusterFromFiles>;
  try {
    loaded = loadClusterFromFiles({
      ...clusterOptionsFromFlags({ ...flags, proxyMode: modeFlag }),
      seed: flags.seed,
      files: flags.filename ?? [],
      ...(io.readStdin !== undefined ? { readStdin: io.readStdin } : {}),
    });
  } catch (e) {
    if (e instanceof ManifestFileError || (e instanceof Error && e.name === 'ClusterConfigError'))
      throw new CliError(e.message);
    throw e;
  }
  reportOutcomes(loaded.outcomes, io.stderr);
  // As after a failed `kubectl apply`, nothing runs on a half-applied cluster (and no capture is written).
  if (loaded.rejected) throw new CliError('', 1);
  let iptablesSave: string | undefined;
  if (flags.iptablesSave !== undefined) {
    const { readFileSync } = await import('node:fs');
    try {
      iptablesSave = readFileSync(flags.iptablesSave, 'utf8');
    } catch (e) {
      if (isSystemError(e)) throw new CliError(`error: --iptables-save: ${describeSystemError(e)}`);
      throw e;
    }
  }
  try {
    return new Simulation({
      cluster: loaded.cluster,
      seed: flags.seed,
      ...(modeFlag !== undefined ? { mode: modeFlag as ProxyMode } : {}),
      ...(flags.conntrackMax !== undefined ? { conntrackMax: flags.conntrackMax } : {}),
      ...(iptablesSave !== undefined ? { iptablesSave } : {}),
      ...(flags.maglev ? { ebpfAlgorithm: 'maglev' as const } : {}),
      ...(flags.overlay !== undefined ? { overlay: flags.overlay as OverlayKind } : {}),
      ...extra,
    });
  } catch (e) {
    if (extra.captureFile !== undefined && isSystemError(e) && e.path === extra.captureFile)
      throw new CliError(`error: --pcap: ${describeSystemError(e)}`);
    throw e;
  }
}

/**
 * Runs the part of a command during which the capture file is written: when a write fails
 * (a full disk, /dev/full), the command ends with one line naming the file and the reason,
 * not with whatever the writer complains about afterwards.
 */
export async function writingCapture<T>(
  sim: Simulation,
  path: string | undefined,
  work: () => T | Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (e) {
    const failure = sim.capture?.writeError;
    if (path === undefined || failure === undefined) throw e;
    throw new CliError(
      `error: --pcap: ${isSystemError(failure) ? describeSystemError(failure, path) : `cannot write "${path}": ${failure.message}`}`,
    );
  }
}
