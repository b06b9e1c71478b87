/**
 * `dpsim rules --mode M [--node NAME] [-v]`: the mode's tables on a node in the real
 * tool's format — iptables-save, nft list table ip kube-proxy, ipvsadm -Ln, bpftool map dump.
 */
import type { Command } from 'commander';
import { addSimulationOptions, CliError, loadSimulation, type SimulationFlags } from './common.js';
import { type CliIo, processIo } from './io.js';

interface RulesFlags extends SimulationFlags {
  node: string;
  verbose: boolean;
}

export function registerRules(program: Command, io: CliIo = processIo): Command {
  return addSimulationOptions(
    program
      .command('rules')
      .description("print a node's compiled rules as the mode's own tool shows them")
      .option('--node <name>', 'node', 'node1')
      .option(
        '-v, --verbose',
        "with per-rule packet/byte counters (iptables-save -c), after the main job's curls",
        false,
      ),
  ).action(async (flags: RulesFlags) => {
    const sim = await loadSimulation(flags, {}, io);
    if (!sim.proxies.has(flags.node)) throw new CliError(`error: unknown node "${flags.node}"`);
    if (flags.verbose) {
      const { defaultTargets } = await import('./run.js');
      for (const url of defaultTargets(sim)) for (let i = 0; i < 3; i++) sim.curl({ from: 'client', url });
    }
    io.stdout(sim.rules(flags.node, { counters: flags.verbose }));
  });
}
