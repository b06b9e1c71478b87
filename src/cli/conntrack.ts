/**
 * `dpsim conntrack -L [--node NAME]`: a node's connection table as conntrack-tools prints
 * it, after the main job's traffic (the curls `dpsim run` makes) has gone through it.
 */
import type { Command } from 'commander';
import {
  addSimulationOptions,
  CliError,
  loadSimulation,
  parseInteger,
  type SimulationFlags,
} from './common.js';
import { type CliIo, processIo } from './io.js';
import { defaultTargets } from './run.js';

interface ConntrackFlags extends SimulationFlags {
  list: boolean;
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
      .description("list a node's conntrack table (conntrack -L) after curling the scenario's Services")
      .option('-L, --list', 'list the table (the only operation)', true)
      .option('--node <name>', 'node whose table to list', 'node1')
      .option('-n, --count <n>', 'curls per target before listing', parseInteger('--count', 0, 10000), 3)
      .option(
        '--url <url>',
        'curl this URL from the client instead of the default targets (repeatable)',
        (v: string, p: string[] = []) => [...p, v],
      ),
  ).action(async (flags: ConntrackFlags) => {
    const sim = await loadSimulation(flags, {}, io);
    if (!sim.proxies.has(flags.node)) throw new CliError(`error: unknown node "${flags.node}"`);
    for (const url of flags.url ?? defaultTargets(sim)) {
      for (let i = 0; i < flags.count; i++) sim.curl({ from: 'client', url });
    }
    if (sim.mode === 'ebpf') io.stderr(`${EBPF_CONNTRACK_NOTE}\n`);
    const text = sim.conntrackList(flags.node);
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
