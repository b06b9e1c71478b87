/**
 * Options every simulation command shares (manifests, seed, proxy mode, the control
 * plane's range flags) and the one way they turn into a Simulation.
 */

import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { readNodeConfigFile } from '../config/files.js';
import { ConntrackRestoreError, parseConntrackList } from '../conntrack/restore.js';
import { clusterOptionsFromFlags, loadClusterFromFiles, ManifestFileError } from '../k8s/load-files.js';
import { toProxyModel } from '../k8s/proxy-model.js';
import { PROXY_MODES, type ProxyMode } from '../proxy/common/datapath.js';
import { parseIptables } from '../proxy/iptables/parse.js';
import { unreachableRootChains } from '../proxy/iptables/reachability.js';
import { ipsetReferences } from '../proxy/ipvs/iptables-rules.js';
import { IpsetParseError, parseIpsetList } from '../proxy/ipvs/parse-ipset.js';
import { IpvsadmParseError, parseIpvsadmList } from '../proxy/ipvs/parse-ipvsadm.js';
import { NftParseError, parseNftRuleset } from '../proxy/nftables/parse.js';
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
  dualStack?: boolean;
  conntrackMax?: number;
  iptablesSave?: string;
  nftRuleset?: string;
  ipvsadm?: string;
  ipset?: string;
  conntrack?: string[];
  maglev?: boolean;
  overlay?: string;
  config?: string;
  ciliumValues?: string;
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
    .option(
      '--service-cluster-ip-range <cidr>',
      'Service CIDR, or a v4,v6 pair for dual-stack (kube-apiserver flag)',
    )
    .option('--cluster-cidr <cidr>', 'pod CIDR, or a v4,v6 pair (kube-proxy / kube-controller-manager flag)')
    .option(
      '--dual-stack',
      "dual-stack cluster: kubespray's IPv6 Service and pod ranges, IPv6 node addresses (IPv4 stays primary)",
    )
    .option('--conntrack-max <n>', 'nf_conntrack_max per node', parseInteger('--conntrack-max', 1))
    .option(
      '--iptables-save <file>',
      "run a real node's iptables-save dump instead of the compiled rules (iptables mode)",
    )
    .option(
      '--nft-ruleset <file>',
      "run a real node's `nft list ruleset` (its table ip kube-proxy) instead of the compiled rules (nftables mode)",
    )
    .option(
      '--ipvsadm <file>',
      "run a real node's `ipvsadm -Ln` virtual servers instead of the compiled ones (IPVS mode)",
    )
    .option(
      '--ipset <file>',
      "use a real node's `ipset list` members instead of the compiled ipsets (IPVS mode)",
    )
    .option(
      '--conntrack <node=file>',
      "pre-load a node's conntrack table from a real node's `conntrack -L` (repeatable: node1=ct.txt)",
      collect,
    )
    .option('--config <file>', "kube-proxy's --config: a KubeProxyConfiguration for every node")
    .option('--cilium-values <file>', "eBPF mode: Cilium's Helm values (load-balancer keys)")
    .option(
      '--maglev',
      'eBPF mode: Maglev backend selection instead of random (loadBalancer.algorithm=maglev)',
    )
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
  const fileConfig = readNodeConfigFile(flags.config, flags.ciliumValues, (m) => new CliError(m));
  const modeFlag =
    flags.mode ??
    flags.proxyMode ??
    (fileConfig.kubeProxy?.mode === '' ? undefined : fileConfig.kubeProxy?.mode);
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
  if (fileConfig.kubeProxy !== undefined && loaded.kubeProxyConfig !== undefined)
    throw new CliError('error: a KubeProxyConfiguration is given both by --config and among the -f files');
  if (fileConfig.cilium !== undefined && loaded.cilium !== undefined)
    throw new CliError('error: Cilium values are given both by --cilium-values and among the -f files');
  const kubeProxyConfig = fileConfig.kubeProxy ?? loaded.kubeProxyConfig;
  const cilium = fileConfig.cilium ?? loaded.cilium;
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
  if (iptablesSave !== undefined) warnUnreachable(flags.iptablesSave!, iptablesSave, io.stderr);
  const nftRuleset = readDump('--nft-ruleset', flags.nftRuleset);
  if (nftRuleset !== undefined) {
    if ((modeFlag ?? loaded.cluster.proxyMode) !== 'nftables')
      throw new CliError('error: --nft-ruleset is a dump of nftables mode: run it with --mode nftables');
    let parsed: ReturnType<typeof parseNftRuleset>;
    try {
      parsed = parseNftRuleset(nftRuleset, { name: 'node', ip: '0.0.0.0' });
    } catch (e) {
      if (e instanceof NftParseError) throw new CliError(`error: ${flags.nftRuleset}: ${e.message}`);
      throw e;
    }
    for (const w of parsed.warnings) io.stderr(`warning: ${flags.nftRuleset}: ${w}\n`);
  }
  const conntrackDumps = new Map<string, string>();
  for (const spec of flags.conntrack ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1)
      throw new CliError(`error: --conntrack takes NODE=FILE (e.g. node1=ct.txt), got "${spec}"`);
    const node = spec.slice(0, eq);
    const text = readDump('--conntrack', spec.slice(eq + 1))!;
    try {
      parseConntrackList(text);
    } catch (e) {
      if (e instanceof ConntrackRestoreError)
        throw new CliError(`error: ${spec.slice(eq + 1)}: ${e.message}`);
      throw e;
    }
    conntrackDumps.set(node, text);
  }
  const ipvsadm = readDump('--ipvsadm', flags.ipvsadm);
  if (ipvsadm !== undefined) {
    if ((modeFlag ?? loaded.cluster.proxyMode) !== 'ipvs')
      throw new CliError('error: --ipvsadm is a listing of IPVS mode: run it with --mode ipvs');
    try {
      const servers = parseIpvsadmList(ipvsadm, toProxyModel(loaded.cluster));
      if (servers.length === 0)
        io.stderr(`warning: ${flags.ipvsadm}: no virtual server: every Service address is unanswered\n`);
    } catch (e) {
      if (e instanceof IpvsadmParseError) throw new CliError(`error: ${flags.ipvsadm}: ${e.message}`);
      throw e;
    }
  }
  const ipsetText = readDump('--ipset', flags.ipset);
  let ipsetsListed: ReadonlySet<string> | undefined;
  if (ipsetText !== undefined) {
    if ((modeFlag ?? loaded.cluster.proxyMode) !== 'ipvs')
      throw new CliError('error: --ipset is a listing of IPVS mode: run it with --mode ipvs');
    try {
      const parsed = parseIpsetList(ipsetText);
      for (const w of parsed.warnings) io.stderr(`warning: ${flags.ipset}: ${w}\n`);
      ipsetsListed = parsed.listed;
    } catch (e) {
      if (e instanceof IpsetParseError) throw new CliError(`error: ${flags.ipset}: ${e.message}`);
      throw e;
    }
  }
  let sim: Simulation;
  try {
    sim = new Simulation({
      cluster: loaded.cluster,
      seed: flags.seed,
      ...(modeFlag !== undefined ? { mode: modeFlag as ProxyMode } : {}),
      ...(flags.conntrackMax !== undefined ? { conntrackMax: flags.conntrackMax } : {}),
      ...(iptablesSave !== undefined ? { iptablesSave } : {}),
      ...(nftRuleset !== undefined ? { nftRuleset } : {}),
      ...(ipvsadm !== undefined ? { ipvsadm } : {}),
      ...(ipsetText !== undefined ? { ipsetList: ipsetText } : {}),
      ...(conntrackDumps.size > 0 ? { conntrackDumps } : {}),
      ...(flags.maglev ? { ebpfAlgorithm: 'maglev' as const } : {}),
      ...(kubeProxyConfig !== undefined ? { kubeProxyConfig } : {}),
      ...(cilium !== undefined ? { cilium } : {}),
      ...(flags.overlay !== undefined ? { overlay: flags.overlay as OverlayKind } : {}),
      ...extra,
    });
  } catch (e) {
    if (extra.captureFile !== undefined && isSystemError(e) && e.path === extra.captureFile)
      throw new CliError(`error: --pcap: ${describeSystemError(e)}`);
    throw e;
  }
  if (ipsetsListed !== undefined) warnMissingIpsets(sim, flags.ipset!, ipsetsListed, io.stderr);
  return sim;
}

/**
 * A set kube-proxy's rules match on but the listing lacks is run empty (on the node the
 * rule could not even be loaded); say which, so an unmatched packet is not a mystery.
 */
function warnMissingIpsets(
  sim: Simulation,
  file: string,
  listed: ReadonlySet<string>,
  stderr: (s: string) => void,
): void {
  const missing = new Set<string>();
  for (const node of sim.model.nodes) {
    for (const name of ipsetReferences(sim.rules(node.name, { part: 'iptables' })).keys())
      if (!listed.has(name)) missing.add(name);
  }
  for (const name of missing)
    stderr(
      `warning: ${file}: kube-proxy's rules match on set ${name}, which the listing lacks; it is taken as empty\n`,
    );
}

/** A dump file named by a flag, read whole; a read failure names the flag, path and reason. */
function readDump(flag: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (isSystemError(e)) throw new CliError(`error: ${flag}: ${describeSystemError(e)}`);
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

/**
 * A dump whose kube-proxy chains no built-in chain jumps to (kube-proxy's restore input
 * carries no such jumps: it adds them with `iptables -I`) would let every packet through
 * unmatched; say so rather than run it silently.
 */
function warnUnreachable(file: string, text: string, stderr: (s: string) => void): void {
  let roots: ReturnType<typeof unreachableRootChains>;
  try {
    roots = unreachableRootChains(parseIptables(text).ruleset);
  } catch {
    return; // the simulation reports the parse error itself
  }
  for (const r of roots) {
    stderr(
      `warning: ${file}: ${r.table} chain ${r.chain} (${r.rules} rule${r.rules === 1 ? '' : 's'}) is not reached from any built-in chain; no packet will match it (a kube-proxy restore input lacks the -j ${r.chain} jumps kube-proxy adds with iptables -I)\n`,
    );
  }
}
