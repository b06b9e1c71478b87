/**
 * The kernel side of the differential test: dpsim's per-node rules loaded into real
 * netfilter in a throw-away namespace topology, the plan's probes sent as real TCP
 * connections, and what happened collected (answers, peers, conntrack, DNAT counters).
 * The topology is always torn down, whatever fails.
 */

import type { ProxyModel } from '../proxy/common/model.js';
import type { PodAppInfo } from '../sim/pod-apps.js';
import { natShapesFor } from './conntrack-text.js';
import { PrerequisiteError, RuleLoadError } from './errors.js';
import type { VerifyFamily } from './family.js';
import { cleanupStaleNamespaces } from './lifecycle.js';
import { NetnsTopology, type TopologyPod } from './netns.js';
import { ObservationBuilder, OUTCOME_CLASSES, type OutcomeClass, type SideResult } from './observation.js';
import type { ProbePlan } from './plan.js';
import { type KernelMode, missingKernelPrerequisites } from './prerequisites.js';
import { PROBER_SCRIPT, type ProberConfig, type ProberOutput } from './prober-script.js';
import { parseResponderBody } from './responder-script.js';
import { type RuleTransform, renderNodeRules } from './rules.js';

export interface KernelSideOptions {
  readonly model: ProxyModel;
  readonly pods: readonly PodAppInfo[];
  readonly plan: ProbePlan;
  readonly mode: KernelMode;
  /** The family of the model, pods and plan (default ipv4): which tables, tools and sockets. */
  readonly family?: VerifyFamily;
  /** Connections per probe. */
  readonly n: number;
  readonly transformRules?: RuleTransform;
  /** Connections in flight per probe after the first (default 32). */
  readonly concurrency?: number;
  /** Default 1000 ms, like `curl --connect-timeout 1`. */
  readonly connectTimeoutMs?: number;
  /** Called with progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
}

/** The TCP and UDP ports each pod answers on: exactly where its simulated apps listen (sim/pod-apps.ts). */
function topologyPods(model: ProxyModel, pods: readonly PodAppInfo[]): TopologyPod[] {
  const nodeNames = new Set(model.nodes.map((n) => n.name));
  return pods
    .filter((p) => nodeNames.has(p.nodeName))
    .map((p) => ({
      name: p.name,
      nodeName: p.nodeName,
      ip: p.ip,
      tcpPorts: [...p.tcpPorts],
      udpPorts: [...p.udpEchoPorts],
      udpSinkPorts: [...p.udpSinkPorts],
    }));
}

async function loadRules(
  topo: NetnsTopology,
  node: string,
  mode: KernelMode,
  family: VerifyFamily,
  text: string,
): Promise<void> {
  const restore = family === 'ipv6' ? 'ip6tables-restore' : 'iptables-restore';
  const steps: [string, string[]][] =
    mode === 'iptables'
      ? [
          // --test alone is not enough: with the nf_tables backend it accepts jumps to undeclared chains.
          [`${restore} --test`, [restore, '-w', '5', '--test']],
          [restore, [restore, '-w', '5']],
        ]
      : [
          ['nft -c -f', ['nft', '-c', '-f', '-']],
          ['nft -f', ['nft', '-f', '-']],
        ];
  for (const [step, argv] of steps) {
    const r = await topo.exec(node, argv, text);
    if (r.code !== 0) throw new RuleLoadError(node, step, r.stderr || r.stdout || `exit ${r.code}`);
  }
}

/** `iptables-save -c -t nat` (or ip6tables-save's): packets per DNAT destination. */
function dnatCounters(saved: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of saved.split('\n')) {
    const m = /^\[(\d+):\d+\] -A \S+ .*-j DNAT --to-destination (\S+)/.exec(line.trim());
    if (m) out[m[2]] = (out[m[2]] ?? 0) + Number(m[1]);
  }
  return out;
}

function asClass(cls: string): OutcomeClass {
  return (OUTCOME_CLASSES as readonly string[]).includes(cls) ? (cls as OutcomeClass) : 'other';
}

/** Runs the plan through real netfilter. Throws PrerequisiteError when it cannot run here. */
export async function runKernelSide(options: KernelSideOptions): Promise<SideResult> {
  const family = options.family ?? 'ipv4';
  const missing = missingKernelPrerequisites([options.mode], family);
  if (missing.length > 0) throw new PrerequisiteError(missing);
  const tag = `kernel(${options.mode}${family === 'ipv6' ? ', IPv6' : ''})`;
  const log = options.log ?? (() => {});
  const started = Date.now();
  const { model, plan, mode, n } = options;
  cleanupStaleNamespaces();

  const vips = [...new Set(plan.probes.filter((p) => p.kind === 'loadbalancer').map((p) => p.dstIP))];
  const topo = await NetnsTopology.create({
    clientIP: plan.clientIP,
    nodes: model.nodes,
    pods: topologyPods(model, options.pods),
    clientRoutes: vips.map((ip) => ({ ip, via: plan.lbEntryNode })),
    ...(family === 'ipv6' ? { family: 6 as const } : {}),
  });
  try {
    log(`${tag}: topology ${topo.prefix} up (${Date.now() - started} ms)`);
    await Promise.all(
      model.nodes.map((node) => {
        let text = renderNodeRules(model, node.name, mode, family);
        if (options.transformRules) text = options.transformRules(node.name, text);
        return loadRules(topo, node.name, mode, family, text);
      }),
    );
    log(`${tag}: rules loaded on ${model.nodes.length} node(s)`);

    const connectTimeoutMs = options.connectTimeoutMs ?? 1000;
    const concurrency = options.concurrency ?? 32;
    const bySource = new Map<string, typeof plan.probes>();
    for (const p of plan.probes) bySource.set(p.from, [...(bySource.get(p.from) ?? []), p]);
    const results: Record<string, ProberOutput['results'][string]> = {};
    await Promise.all(
      [...bySource].map(async ([source, probes]) => {
        const config: ProberConfig = {
          targets: probes.map((p) => ({
            id: p.id,
            host: p.dstIP,
            port: p.dstPort,
            n,
            ...(p.protocol === 'UDP' ? { proto: 'udp' as const } : {}),
          })),
          concurrency,
          connectTimeoutMs,
          responseTimeoutMs: 2000,
        };
        const rounds = Math.ceil(Math.max(n - 1, 0) / concurrency) + 1;
        const deadline = 10_000 + rounds * (connectTimeoutMs + 2000);
        const r = await topo.exec(
          source,
          [process.execPath, '-e', PROBER_SCRIPT, JSON.stringify(config)],
          '',
          deadline,
        );
        if (r.code !== 0) throw new Error(`prober in ${source} failed (exit ${r.code}): ${r.stderr.trim()}`);
        Object.assign(results, (JSON.parse(r.stdout) as ProberOutput).results);
      }),
    );
    log(`${tag}: ${plan.probes.length} probe(s) × ${n} connection(s) sent`);

    const conntrack: Record<string, string> = {};
    const counters: Record<string, Record<string, number>> = {};
    await Promise.all(
      model.nodes.map(async (node) => {
        conntrack[node.name] = (await topo.exec(node.name, ['conntrack', '-L', '-f', family])).stdout;
        if (mode === 'iptables') {
          const save = family === 'ipv6' ? 'ip6tables-save' : 'iptables-save';
          counters[node.name] = dnatCounters((await topo.exec(node.name, [save, '-c', '-t', 'nat'])).stdout);
        }
      }),
    );
    const tables = model.nodes.map((nd) => conntrack[nd.name]);
    const probes = plan.probes.map((p) => {
      const b = new ObservationBuilder(p, plan.addressLabels);
      for (const c of results[p.id] ?? []) {
        const served = c.cls === 'ok' ? parseResponderBody(c.body ?? '') : null;
        b.add(asClass(c.cls), served ?? undefined, c.error);
      }
      return b.build(
        natShapesFor(
          tables,
          p.sourceIP,
          p.dstIP,
          p.dstPort,
          plan.addressLabels,
          p.protocol === 'UDP' ? 'udp' : 'tcp',
        ),
      );
    });
    return {
      side: 'kernel',
      mode,
      probes,
      conntrack,
      ...(mode === 'iptables' ? { dnatCounters: counters } : {}),
      elapsedMs: Date.now() - started,
    };
  } finally {
    await topo.destroy();
  }
}
