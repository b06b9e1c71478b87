/**
 * `dpsim rules --mode M [--node NAME] [--view V] [-v]`: the mode's tables on a node in the real
 * tool's format — iptables-save, nft list table ip kube-proxy, ipvsadm -Ln, bpftool map dump —
 * and, in IPVS mode, the other views kube-proxy's IPVS state is read with: `ipvsadm -Lnc`,
 * `ipset list` and the remaining `iptables-save`.
 */
import type { Command } from 'commander';
import type { DumpPart } from '../sim/modes.js';
import { addSimulationOptions, CliError, loadSimulation, type SimulationFlags } from './common.js';
import { type CliIo, processIo } from './io.js';

interface RulesFlags extends SimulationFlags {
  node: string;
  verbose: boolean;
  view?: string;
}

/** IPVS mode's views, each named after the command whose output it imitates. */
const IPVS_VIEWS: Readonly<Record<string, { part: DumpPart; tool: string }>> = {
  ipvsadm: { part: 'ipvsadm', tool: 'ipvsadm -Ln (-v: --stats)' },
  conn: { part: 'connections', tool: 'ipvsadm -Lnc, after the scenario’s curls' },
  ipset: { part: 'ipset', tool: 'ipset list' },
  iptables: { part: 'iptables', tool: 'iptables-save (-v: -c)' },
};

/** Why nftables mode's -v adds nothing: nft prints counters only where a rule has a counter. */
export const NFT_COUNTERS_NOTE =
  'note: nft lists packet/byte counters only for rules with a `counter` statement, and kube-proxy ' +
  'puts none in its table, so -v shows what `nft list table ip kube-proxy` shows (use `dpsim trace` to see the rules a packet matches)';

export function registerRules(program: Command, io: CliIo = processIo): Command {
  return addSimulationOptions(
    program
      .command('rules')
      .description("print a node's compiled rules as the mode's own tool shows them")
      .option('--node <name>', 'node', 'node1')
      .option(
        '--view <view>',
        `IPVS mode: ${Object.entries(IPVS_VIEWS)
          .map(([name, v]) => `${name} (${v.tool})`)
          .join(', ')}`,
      )
      .option(
        '-v, --verbose',
        "with per-rule packet/byte counters (iptables-save -c), after the main job's curls",
        false,
      ),
  ).action(async (flags: RulesFlags) => {
    const sim = await loadSimulation(flags, {}, io);
    if (!sim.proxies.has(flags.node)) throw new CliError(`error: unknown node "${flags.node}"`);
    const view = flags.view ?? (sim.mode === 'ipvs' ? 'ipvsadm' : undefined);
    let part: DumpPart | undefined;
    if (view !== undefined) {
      const known = sim.mode === 'ipvs' ? IPVS_VIEWS[view] : undefined;
      if (known === undefined)
        throw new CliError(
          sim.mode === 'ipvs'
            ? `error: unknown view "${view}" for ipvs mode: use ${Object.keys(IPVS_VIEWS).join(', ')}`
            : `error: ${sim.mode} mode has one view (--view is for ipvs mode)`,
        );
      part = known.part;
    }
    // Counters and IPVS connections show what traffic did: run the main job's curls first.
    if (flags.verbose || part === 'connections') {
      const { defaultTargets } = await import('./run.js');
      for (const url of defaultTargets(sim)) for (let i = 0; i < 3; i++) sim.curl({ from: 'client', url });
    }
    if (flags.verbose && sim.mode === 'nftables') io.stderr(`${NFT_COUNTERS_NOTE}\n`);
    io.stdout(sim.rules(flags.node, { counters: flags.verbose, ...(part ? { part } : {}) }));
  });
}
