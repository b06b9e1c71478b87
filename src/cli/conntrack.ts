/**
 * `dpsim conntrack -L [--node NAME]`: a node's connection table as conntrack-tools prints
 * it, after the main job's traffic (the curls `dpsim run` makes, and one SCTP association
 * per curl to every SCTP NodePort) has gone through it.
 */
import type { Command } from 'commander';
import { toProxyModel } from '../k8s/proxy-model.js';
import type { Simulation } from '../sim/simulation.js';
import { parseIPv4 } from '../util/ipv4.js';
import {
  addSimulationOptions,
  CliError,
  loadSimulation,
  parseInteger,
  type SimulationFlags,
} from './common.js';
import { type CliIo, processIo } from './io.js';
import { defaultTargets } from './run.js';

/** Every SCTP NodePort on every node, as `[address, port]` (eBPF mode, which refuses SCTP, has none). */
function sctpTargets(sim: Simulation): [number, number][] {
  if (sim.mode === 'ebpf') return [];
  const model = sim.model;
  return model.servicePorts
    .filter((sp) => sp.nodePort !== 0 && sp.protocol === 'SCTP')
    .flatMap((sp) => model.nodes.map((n): [number, number] => [parseIPv4(n.ip), sp.nodePort]));
}

/** conntrack-tools' `-f`: the layer-3 family of the table listed. */
function parseFamily(value: string): 'ipv4' | 'ipv6' {
  if (value === 'ipv4' || value === 'ipv6') return value;
  throw new CliError(`error: --family: unknown family "${value}" (ipv4 or ipv6) (run with --help for usage)`);
}

/** Every TCP NodePort of the dual-stack Services on every node's IPv6 address (`-f ipv6`'s default traffic). */
function defaultTargets6(sim: Simulation): string[] {
  if (sim.cluster.config.ipv6 === undefined) return [];
  const model = toProxyModel(sim.cluster, 'IPv6');
  return model.servicePorts
    .filter((sp) => sp.nodePort !== 0 && sp.protocol === 'TCP')
    .flatMap((sp) => model.nodes.filter((n) => n.ip !== '').map((n) => `http://[${n.ip}]:${sp.nodePort}/`));
}

const SCTP_MESSAGE = new TextEncoder().encode('dpsim conntrack\n');

interface ConntrackFlags extends SimulationFlags {
  list: boolean;
  family: 'ipv4' | 'ipv6';
  node: string;
  count: number;
  url?: string[];
}

/** Why eBPF mode's `conntrack -L` shows Cilium's CT map instead. */
export const EBPF_CONNTRACK_NOTE =
  'note: ebpf mode tracks connections in its BPF CT maps, not nf_conntrack (conntrack -L would list 0 flow entries); ' +
  'this is `cilium-dbg bpf ct list global`';

export function registerConntrack(program: Command, io: CliIo = processIo): Command {
  return addSimulationOptions(
    program
      .command('conntrack')
      .description(
        "list a node's conntrack table (conntrack -L) after curling the scenario's Services (and associating with its SCTP NodePorts)",
      )
      .option('-L, --list', 'list the table (the only operation)', true)
      .option('--node <name>', 'node whose table to list', 'node1')
      .option(
        '--family <family>',
        "conntrack's -f: ipv4 or ipv6, which table (-f itself is the manifest flag here)",
        parseFamily,
        'ipv4',
      )
      .option('-n, --count <n>', 'curls per target before listing', parseInteger('--count', 0, 10000), 3)
      .option(
        '--url <url>',
        'curl this URL from the client instead of the default targets (repeatable)',
        (v: string, p: string[] = []) => [...p, v],
      ),
  ).action(async (flags: ConntrackFlags) => {
    const sim = await loadSimulation(flags, {}, io);
    if (!sim.proxies.has(flags.node)) throw new CliError(`error: unknown node "${flags.node}"`);
    const ipv6 = flags.family === 'ipv6';
    for (const url of flags.url ?? (ipv6 ? defaultTargets6(sim) : defaultTargets(sim))) {
      for (let i = 0; i < flags.count; i++) sim.curl({ from: 'client', url });
    }
    if (flags.url === undefined && !ipv6) {
      for (const [addr, port] of sctpTargets(sim)) {
        for (let i = 0; i < flags.count; i++) sim.sctpRequest('client', addr, port, SCTP_MESSAGE);
      }
    }
    if (sim.mode === 'ebpf') io.stderr(`${EBPF_CONNTRACK_NOTE}\n`);
    const text = sim.conntrackList(flags.node, flags.family);
    // conntrack prints entries on stdout and its summary on stderr.
    const lines = text.split('\n');
    const summary = lines.filter((l) => l.startsWith('conntrack v'));
    io.stdout(
      lines
        .filter((l) => !l.startsWith('conntrack v') && l !== '')
        .map((l) => `${l}\n`)
        .join(''),
    );
    for (const s of summary) io.stderr(`${s}\n`);
  });
}
