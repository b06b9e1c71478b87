/**
 * `dpsim run`: the main job. Loads the scenario (the embedded origin by default), prints
 * `kubectl get rs,po,svc`, curls every NodePort on every node IP a few times (or each
 * ClusterIP from the first node when there are no NodePorts), prints what curl prints,
 * a distribution summary and the drop counters, and writes a pcapng of every interface.
 */

import type { Command } from 'commander';
import { isDnsAddonService } from '../k8s/cluster-dns-addon.js';
import { runGet } from '../k8s/printers.js';
import { ipv6Model } from '../sim/ipv6-rules.js';
import type { Simulation } from '../sim/simulation.js';
import {
  addSimulationOptions,
  loadSimulation,
  parseInteger,
  type SimulationFlags,
  writingCapture,
} from './common.js';
import { type CliIo, processIo } from './io.js';

interface RunFlags extends SimulationFlags {
  count: number;
  from: string;
  pcap: string | false;
  snaplen: number;
}

/** The URLs the main job curls: every NodePort on every node, else every ClusterIP port. */
export function defaultTargets(sim: Simulation): string[] {
  const model = sim.model;
  const nodePorts = model.servicePorts.filter((sp) => sp.nodePort !== 0 && sp.protocol === 'TCP');
  if (nodePorts.length > 0) {
    return nodePorts.flatMap((sp) => model.nodes.map((n) => `http://${n.ip}:${sp.nodePort}/`));
  }
  // No NodePorts: the ClusterIPs of the user's Services (not the apiserver's, not CoreDNS's).
  return model.servicePorts
    .filter(
      (sp) =>
        sp.protocol === 'TCP' &&
        !(sp.namespace === 'default' && sp.name === 'kubernetes') &&
        !isDnsAddonService(sp.namespace, sp.name),
    )
    .map((sp) => `http://${sp.clusterIP}:${sp.port}/`);
}

/**
 * The IPv6 side of `defaultTargets` on a dual-stack cluster: every TCP NodePort of an IPv6
 * Service on every node's IPv6 address, else the IPv6 ClusterIPs of the user's Services.
 */
export function defaultTargets6(sim: Simulation): string[] {
  const v6 = sim.cluster.config.ipv6;
  if (v6 === undefined) return [];
  const model = ipv6Model(sim.cluster);
  const nodePorts = model.servicePorts.filter((sp) => sp.nodePort !== 0 && sp.protocol === 'TCP');
  if (nodePorts.length > 0) {
    const ips = [...v6.nodes.values()].map((n) => n.ip);
    return nodePorts.flatMap((sp) => ips.map((ip) => `http://[${ip}]:${sp.nodePort}/`));
  }
  return model.servicePorts
    .filter(
      (sp) =>
        sp.protocol === 'TCP' &&
        !(sp.namespace === 'default' && sp.name === 'kubernetes') &&
        !isDnsAddonService(sp.namespace, sp.name),
    )
    .map((sp) => `http://[${sp.clusterIP}]:${sp.port}/`);
}

export function registerRun(program: Command, io: CliIo = processIo): Command {
  return addSimulationOptions(
    program
      .command('run')
      .description(
        'reproduce the scenario end to end: get rs,po,svc, curl every NodePort on every node, capture',
      )
      .option('-n, --count <n>', 'curls per node and NodePort', parseInteger('--count', 1, 10000), 3)
      .option('--from <host>', 'where curl runs: client, a node name, or pod/NAME', 'client')
      .option('--pcap <file>', 'pcapng file to write', 'dpsim-run.pcapng')
      .option('--no-pcap', 'do not write a capture')
      .option(
        '--snaplen <bytes>',
        'capture snap length (0 = whole frames)',
        parseInteger('--snaplen', 0, 262144),
        0,
      ),
  ).action(async (flags: RunFlags) => {
    const sim = await loadSimulation(
      flags,
      {
        capture: flags.pcap !== false,
        snaplen: flags.snaplen,
        // Streamed to the file as the run goes: memory stays bounded however many curls.
        ...(flags.pcap !== false ? { captureFile: flags.pcap } : {}),
      },
      io,
    );
    const pcap = flags.pcap !== false ? flags.pcap : undefined;
    const failures = await writingCapture(sim, pcap, () => runMainJob(sim, flags, io));
    if (failures > 0) io.setExitCode(1);
  });
}

/** The main job's output; returns how many curls failed. */
async function runMainJob(sim: Simulation, flags: RunFlags, io: CliIo): Promise<number> {
  const out = io.stdout;
  out('$ kubectl get rs,po,svc\n');
  out(runGet(sim.cluster, { args: ['rs,po,svc'] }).stdout);
  const counts = new Map<string, number>();
  let failures = 0;
  for (const url of defaultTargets(sim)) {
    for (let i = 0; i < flags.count; i++) {
      out(`\n$ curl ${url.replace(/^http:\/\//, '').replace(/\/$/, '')}\n`);
      const o = sim.curl({ from: flags.from, url });
      if (o.exitCode === 0) {
        out(o.stdout);
        const who = o.servedBy?.pod ?? '(unknown)';
        counts.set(who, (counts.get(who) ?? 0) + 1);
      } else {
        failures++;
        out(`${o.stderr}\n`);
      }
    }
  }
  out('\n');
  out(`${distributionLine(counts, failures)} (${sim.mode} mode, seed ${flags.seed})\n`);
  out(`drops: ${formatDrops(sim)}\n`);
  if (flags.pcap !== false && sim.capture !== null) {
    await sim.capture.close();
    out(
      `capture: ${flags.pcap} (${sim.capture.frames} frames on ${sim.capture.writer.interfaceCount} interfaces)\n`,
    );
  }
  return failures;
}

export function distributionLine(counts: Map<string, number>, failures: number): string {
  const total = [...counts.values()].reduce((a, b) => a + b, 0) + failures;
  const parts = [...counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k} ${v}`);
  if (failures > 0) parts.push(`failed ${failures}`);
  return `${total} requests: ${parts.join(', ') || 'none'}`;
}

export function formatDrops(sim: Simulation): string {
  const record = sim.network.drops.toRecord();
  const entries = Object.entries(record);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k}=${v}`).join(' ');
}
