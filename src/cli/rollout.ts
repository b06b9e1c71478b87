/**
 * `dpsim rollout`: steady TCP traffic at `--rps` for `--duration` seconds of simulated time
 * while `--deployment NAME` goes through one transition (`--image`, `--scale`, `--drain`,
 * `--delete-pod`, `--node-not-ready`); prints per second what succeeded and what failed, and why. `--compare`
 * runs variants on the same seed; `--json` and `--svg FILE` give the same data as JSON and
 * as a timeline. The engine is src/rollout; this file reads flags and writes output.
 */
import { writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  clusterOptionsFromFlags,
  loadManifests,
  ManifestFileError,
  originDeploymentYaml,
} from '../k8s/index.js';
import { readManifestSources } from '../k8s/load-files.js';
import { PROXY_MODES, type ProxyMode } from '../proxy/common/datapath.js';
import { DelaySpecError } from '../rollout/delay.js';
import {
  RolloutError,
  type RolloutOptions,
  type RolloutResult,
  runRollout,
  runRolloutCaptured,
} from '../rollout/engine.js';
import { PodSpecError } from '../rollout/kubelet.js';
import { formatComparison, formatRolloutReport, rolloutJson } from '../rollout/report.js';
import { rolloutTimelineSvg } from '../rollout/timeline-svg.js';
import type { Transition } from '../rollout/transitions.js';
import { parseVariant, type RunSettings, VariantError } from '../rollout/variants.js';

import { CliError, parseInteger } from './common.js';
import { describeSystemError, isSystemError } from './errors.js';
import { type CliIo, processIo } from './io.js';

interface RolloutFlags {
  filename?: string[];
  seed: number;
  mode?: string;
  serviceNodePortRange?: string;
  serviceClusterIpRange?: string;
  clusterCidr?: string;
  deployment?: string;
  image?: string;
  scale?: number;
  drain?: string;
  deletePod?: string;
  nodeNotReady?: string;
  nodeMonitorGracePeriod?: string;
  rps: number;
  duration: number;
  at?: number;
  service?: string;
  timeout: number;
  watchDelay?: string;
  minSyncPeriod?: string;
  batchPeriod?: string;
  terminatingFallback: boolean;
  compare?: string[];
  json?: boolean;
  svg?: string;
  pcap?: string;
  proto: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function positiveNumber(name: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max)
      throw new InvalidArgumentError(`${name} must be a number in (0, ${max}], got "${value}"`);
    return n;
  };
}

function transitionOf(flags: RolloutFlags): Transition {
  const given = [
    flags.image !== undefined ? ({ kind: 'image', image: flags.image } as const) : null,
    flags.scale !== undefined ? ({ kind: 'scale', replicas: flags.scale } as const) : null,
    flags.drain !== undefined ? ({ kind: 'drain', node: flags.drain } as const) : null,
    flags.deletePod !== undefined ? ({ kind: 'delete-pod', pod: flags.deletePod } as const) : null,
    flags.nodeNotReady !== undefined ? ({ kind: 'node-not-ready', node: flags.nodeNotReady } as const) : null,
  ].filter((t) => t !== null);
  if (given.length !== 1)
    throw new CliError(
      'error: give exactly one of --image, --scale, --drain, --delete-pod, --node-not-ready (run with --help for usage)',
    );
  return given[0] as Transition;
}

/** The base run's settings from the flags (the same keys --compare takes). */
function settingsOf(flags: RolloutFlags): RunSettings {
  const pieces: string[] = [];
  if (flags.watchDelay !== undefined) pieces.push(`watchDelay=${flags.watchDelay}`);
  if (flags.minSyncPeriod !== undefined) pieces.push(`minSyncPeriod=${flags.minSyncPeriod}`);
  if (flags.batchPeriod !== undefined) pieces.push(`batchPeriod=${flags.batchPeriod}`);
  if (!flags.terminatingFallback) pieces.push('terminatingFallback=off');
  if (flags.nodeMonitorGracePeriod !== undefined)
    pieces.push(`nodeMonitorGracePeriod=${flags.nodeMonitorGracePeriod}`);
  return parseVariant(pieces.join(',')).settings;
}

export function registerRollout(program: Command, io: CliIo = processIo): Command {
  return program
    .command('rollout')
    .description(
      'steady traffic through a roll-out, scale, drain or pod deletion: per second what succeeded and what failed, and why',
    )
    .option(
      '-f, --filename <file>',
      'manifest file, directory or - for stdin (repeatable); default: the origin scenario as Deployment "myweb"',
      collect,
    )
    .option('--seed <n>', 'seed for every random choice', parseInteger('--seed', 0, 2 ** 32 - 1), 1)
    .addOption(new Option('--mode <mode>', 'proxy mode').choices(PROXY_MODES as string[]))
    .option('--service-node-port-range <range>', 'NodePort range (kube-apiserver flag)')
    .option('--service-cluster-ip-range <cidr>', 'Service CIDR (kube-apiserver flag)')
    .option('--cluster-cidr <cidr>', 'pod CIDR')
    .option(
      '--deployment <name>',
      'the Deployment (or ReplicaSet) to act on (default with the origin scenario: myweb)',
    )
    .option('--image <image>', 'roll out a new image (IMAGE, or CONTAINER=IMAGE as kubectl set image)')
    .option('--scale <n>', 'scale to N replicas', parseInteger('--scale', 0, 100000))
    .option('--drain <node>', 'kubectl drain the node (cordon, then evict within the PodDisruptionBudgets)')
    .option('--delete-pod <name>', 'delete one pod (its terminationGracePeriodSeconds)')
    .option(
      '--node-not-ready <node>',
      'the node stops (powered off or cut off); the node controller marks it NotReady after its grace period',
    )
    .option('--rps <r>', 'requests per second of simulated time', positiveNumber('--rps', 100000), 1000)
    .option('--duration <s>', 'seconds of simulated traffic', positiveNumber('--duration', 3600), 60)
    .option(
      '--at <s>',
      'when the transition starts (default: 5 s, or a tenth of --duration if shorter)',
      Number,
    )
    .option('--service <name>', 'the Service to send to (default: the one selecting the pods)')
    .option(
      '--timeout <s>',
      'the client gives a request up after S seconds',
      positiveNumber('--timeout', 600),
      2,
    )
    .option(
      '--watch-delay <delay>',
      "each node's watch delay: 150ms, uniform:50ms-500ms (default), exp:200ms",
    )
    .option('--min-sync-period <d>', "override the proxy's minSyncPeriod (Go duration, e.g. 0s)")
    .option('--batch-period <d>', "the EndpointSlice controller's batch period (default 0s)")
    .option(
      '--node-monitor-grace-period <d>',
      "kube-controller-manager's --node-monitor-grace-period (default 50s)",
    )
    .option('--no-terminating-fallback', 'proxies ignore serving-terminating endpoints (before KEP-1669)')
    .option(
      '--compare <variant>',
      "a variant to run on the same seed, e.g. 'preStop=sleep 5' (repeatable)",
      collect,
    )
    .addOption(
      new Option(
        '--proto <proto>',
        'requests as TCP connections, or UDP datagrams to a UDP Service (one socket each, source ports from a pool)',
      )
        .choices(['tcp', 'udp'])
        .default('tcp'),
    )
    .option('--json', 'print the report as JSON')
    .option('--svg <file>', 'write the timeline (successes vs failures per second, syncs marked) as SVG')
    .option('--pcap <file>', 'capture every interface of the (first) run into a pcapng file')
    .action(async (flags: RolloutFlags) => {
      const transition = transitionOf(flags);
      let sources: { source: string; text: string }[];
      try {
        sources = readManifestSources(flags.filename ?? [], io.readStdin);
      } catch (e) {
        if (e instanceof ManifestFileError) throw new CliError(e.message);
        throw e;
      }
      const origin = sources.length === 0;
      if (origin) sources.push({ source: 'origin-deployment.yaml', text: originDeploymentYaml });
      const deployment = flags.deployment ?? (origin ? 'myweb' : undefined);
      if (deployment === undefined)
        throw new CliError('error: --deployment is required with -f (run with --help for usage)');
      const clusterOptions = clusterOptionsFromFlags({ ...flags, proxyMode: flags.mode });
      // As `kubectl apply` would: rejected objects are reported and nothing runs.
      const check = loadManifests(sources, { ...clusterOptions, seed: flags.seed });
      const rejected = check.outcomes.filter((o) => o.status === 'rejected');
      if (rejected.length > 0) {
        for (const o of rejected) io.stderr(`${o.message}\n`);
        throw new CliError('', 1);
      }
      const durationS = flags.duration;
      const atS = flags.at ?? Math.min(5, durationS / 10);
      if (!(atS >= 0) || atS > durationS)
        throw new CliError(`error: --at must be between 0 and --duration (${durationS}), got ${flags.at}`);
      let runs: RolloutResult[];
      try {
        const settings = settingsOf(flags);
        const variants = (flags.compare ?? []).map(parseVariant);
        const base = {
          manifests: sources,
          deployment,
          transition,
          rps: flags.rps,
          durationS,
          atS,
          seed: flags.seed,
          proto: flags.proto as 'tcp' | 'udp',
          settings,
          requestTimeoutNs: flags.timeout * 1e9,
          clusterOptions,
          ...(flags.mode !== undefined ? { mode: flags.mode as ProxyMode } : {}),
          ...(flags.service !== undefined ? { service: flags.service } : {}),
        };
        const first = flags.pcap !== undefined ? await capturedRun(base, flags.pcap, io) : runRollout(base);
        runs = [first, ...variants.map((variant) => runRollout({ ...base, variant }))];
      } catch (e) {
        if (
          e instanceof RolloutError ||
          e instanceof VariantError ||
          e instanceof DelaySpecError ||
          e instanceof PodSpecError
        )
          throw new CliError(`error: ${e.message}`);
        throw e;
      }
      if (flags.svg !== undefined) {
        const svg = await rolloutTimelineSvg(runs);
        try {
          writeFileSync(flags.svg, svg);
        } catch (e) {
          if (isSystemError(e)) throw new CliError(`error: --svg: ${describeSystemError(e)}`);
          throw e;
        }
      }
      if (flags.json) {
        const [first, ...rest] = runs;
        const out = {
          ...rolloutJson(first),
          ...(rest.length > 0 ? { variants: rest.map(rolloutJson) } : {}),
        };
        io.stdout(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      io.stdout(formatRolloutReport(runs[0]));
      if (runs.length > 1) {
        io.stdout('\n');
        io.stdout(formatComparison(runs));
      }
    });
}

/** The base run with its capture; a file that cannot be written is one line naming it. */
async function capturedRun(options: RolloutOptions, path: string, io: CliIo): Promise<RolloutResult> {
  try {
    const { result, frames } = await runRolloutCaptured(options, path);
    io.stderr(`capture: ${path} (${frames} frames)\n`);
    return result;
  } catch (e) {
    if (isSystemError(e)) throw new CliError(`error: --pcap: ${describeSystemError(e, path)}`);
    throw e;
  }
}
