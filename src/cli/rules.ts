/**
 * `dpsim rules --mode M [--node NAME] [--view V] [-v]`: the mode's tables on a node in the real
 * tool's format — iptables-save, nft list table ip kube-proxy, ipvsadm -Ln, bpftool map dump —
 * and the other views each mode's state is read with: in IPVS mode `ipvsadm -Lnc`, `ipset list`
 * and the remaining `iptables-save`; in eBPF mode Cilium's `cilium-dbg bpf lb list`,
 * `cilium-dbg service list` and `cilium-dbg bpf ct list global`.
 */
import type { Command } from 'commander';
import { formatShares } from '../shares/format.js';
import { Ipv6RulesError, type Ipv6View } from '../sim/ipv6-rules.js';
import type { DumpPart } from '../sim/modes.js';
import { addSimulationOptions, CliError, loadSimulation, type SimulationFlags } from './common.js';
import { type CliIo, processIo } from './io.js';
import { parseTimedChanges, syncLogText } from './sync-log.js';

interface RulesFlags extends SimulationFlags {
  node?: string;
  shares?: boolean;
  verbose: boolean;
  view?: string;
  syncLog: boolean;
  changes?: string;
  family?: string;
}

type Views = Readonly<Record<string, { part: DumpPart; tool: string }>>;

/** IPVS mode's views, each named after the command whose output it imitates. */
const IPVS_VIEWS: Views = {
  ipvsadm: { part: 'ipvsadm', tool: 'ipvsadm -Ln (-v: --stats)' },
  conn: { part: 'connections', tool: 'ipvsadm -Lnc, after the scenario’s curls' },
  ipset: { part: 'ipset', tool: 'ipset list' },
  iptables: { part: 'iptables', tool: 'iptables-save (-v: -c)' },
};

/** eBPF mode's views: the raw maps, and the Cilium agent's readings of them. */
const EBPF_VIEWS: Views = {
  bpf: { part: 'bpftool', tool: 'bpftool map dump' },
  lb: { part: 'cilium-lb', tool: 'cilium-dbg bpf lb list' },
  service: { part: 'cilium-service', tool: 'cilium-dbg service list' },
  ct: { part: 'cilium-ct', tool: 'cilium-dbg bpf ct list global, after the scenario’s curls' },
};

const VIEWS: Readonly<Record<string, Views>> = { ipvs: IPVS_VIEWS, ebpf: EBPF_VIEWS };
/** Views `--family ipv6` prints: the compiled state, not what traffic left in it (conntrack --family ipv6 shows that). */
const IPV6_VIEWS: ReadonlySet<DumpPart> = new Set([
  'ipvsadm',
  'ipset',
  'iptables',
  'bpftool',
  'cilium-lb',
  'cilium-service',
]);
const describeViews = (mode: string, views: Views): string =>
  `${mode} mode: ${Object.entries(views)
    .map(([name, v]) => `${name} (${v.tool})`)
    .join(', ')}`;

/** Why nftables mode's -v adds nothing: nft prints counters only where a rule has a counter. */
export const NFT_COUNTERS_NOTE =
  'note: nft lists packet/byte counters only for rules with a `counter` statement, and kube-proxy ' +
  'puts none in its table, so -v shows what `nft list table ip kube-proxy` shows (use `dpsim trace` to see the rules a packet matches)';

export function registerRules(program: Command, io: CliIo = processIo): Command {
  return addSimulationOptions(
    program
      .command('rules')
      .description("print a node's compiled rules as the mode's own tool shows them")
      .option('--node <name>', 'node (default node1; with --shares, every node)')
      .option(
        '--shares',
        "each endpoint's exact share of every Service's new connections, computed from the node's rules, beside kube-proxy's/Cilium's intended share",
      )
      .option(
        '--family <family>',
        'ipv4 (default) or ipv6: which proxier of a dual-stack node (ipv6: its rules and maps in every mode; -v for ip6tables counters; no connection views)',
      )
      .option('--view <view>', `${describeViews('IPVS', IPVS_VIEWS)}; ${describeViews('eBPF', EBPF_VIEWS)}`)
      .option(
        '-v, --verbose',
        "with per-rule packet/byte counters (iptables-save -c), after the main job's curls",
        false,
      )
      .option(
        '--sync-log',
        "iptables and nftables modes: the node's kube-proxy syncs (first full, then partial) with each iptables-restore input or nft -f transaction",
        false,
      )
      .option(
        '--changes <spec>',
        "with --sync-log: control-plane changes at simulated milliseconds, e.g. 'scale=5@0,delete=1@500' (also unready=N@MS, ready=N@MS)",
      ),
  ).action(async (flags: RulesFlags) => {
    if (flags.changes !== undefined && !flags.syncLog)
      throw new CliError('error: --changes needs --sync-log', 2);
    const changes = flags.changes !== undefined ? parseTimedChanges(flags.changes) : [];
    const family = flags.family ?? 'ipv4';
    if (family !== 'ipv4' && family !== 'ipv6')
      throw new CliError(`error: --family must be ipv4 or ipv6, got "${family}"`);
    const sim = await loadSimulation(flags, {}, io);
    if (flags.node !== undefined && !sim.proxies.has(flags.node))
      throw new CliError(`error: unknown node "${flags.node}"`);
    if (flags.shares) {
      if (flags.view !== undefined || flags.verbose)
        throw new CliError('error: --shares prints the share table; it takes no --view or -v');
      const rows = sim.shares(flags.node);
      io.stdout(formatShares(sim.mode, rows));
      // Like a failed check: a user's dump (or a compiler) that balances wrongly is not success.
      if (rows.some((r) => !r.agree)) throw new CliError('', 1);
      return;
    }
    const node = flags.node ?? 'node1';
    if (flags.syncLog) {
      io.stdout(syncLogText(sim, node, changes, flags.seed));
      return;
    }
    if (family === 'ipv6') {
      const ip6tablesView =
        sim.mode === 'iptables' ||
        (sim.mode === 'ipvs' && flags.view !== undefined && VIEWS.ipvs?.[flags.view]?.part === 'iptables');
      if (flags.verbose && !ip6tablesView && sim.mode !== 'nftables')
        throw new CliError(
          `error: --family ipv6 -v prints ip6tables counters (iptables mode, ipvs --view iptables); ${sim.mode} mode's IPv6 ${
            sim.mode === 'ipvs' ? 'ipvsadm listing has no --stats here' : 'maps have no counters'
          } (IPv6 traffic shows in conntrack --family ipv6)`,
        );
      let view: Ipv6View | undefined;
      if (flags.view !== undefined) {
        const known = VIEWS[sim.mode]?.[flags.view]?.part;
        if (known === undefined || !IPV6_VIEWS.has(known))
          throw new CliError(
            `error: --family ipv6 in ${sim.mode} mode: no view "${flags.view}" (IPv6 views: ${
              Object.entries(VIEWS[sim.mode] ?? {})
                .filter(([, v]) => IPV6_VIEWS.has(v.part))
                .map(([n]) => n)
                .join(', ') || 'none'
            }; IPv6 connections: conntrack --family ipv6)`,
          );
        view = known as Ipv6View;
      }
      if (flags.verbose) {
        // Counters show what traffic did: the main job's curls over IPv6 first.
        const { defaultTargets6 } = await import('./run.js');
        for (const url of defaultTargets6(sim)) for (let i = 0; i < 3; i++) sim.curl({ from: 'client', url });
        if (sim.mode === 'nftables')
          io.stderr(`${NFT_COUNTERS_NOTE.replace('table ip kube-proxy', 'table ip6 kube-proxy')}\n`);
      }
      try {
        io.stdout(sim.ipv6Rules(node, view, { counters: flags.verbose }));
      } catch (e) {
        if (e instanceof Ipv6RulesError) throw new CliError(e.message);
        throw e;
      }
      return;
    }
    const views = VIEWS[sim.mode];
    let part: DumpPart | undefined;
    if (flags.view !== undefined) {
      const known = views?.[flags.view];
      if (known === undefined)
        throw new CliError(
          views !== undefined
            ? `error: unknown view "${flags.view}" for ${sim.mode} mode: use ${Object.keys(views).join(', ')}`
            : `error: ${sim.mode} mode has one view (--view is for ipvs and ebpf modes)`,
        );
      part = known.part;
    }
    // Counters and connection tables show what traffic did: run the main job's curls first.
    if (flags.verbose || part === 'connections' || part === 'cilium-ct') {
      const { defaultTargets } = await import('./run.js');
      for (const url of defaultTargets(sim)) for (let i = 0; i < 3; i++) sim.curl({ from: 'client', url });
    }
    if (flags.verbose && sim.mode === 'nftables') io.stderr(`${NFT_COUNTERS_NOTE}\n`);
    io.stdout(sim.rules(node, { counters: flags.verbose, ...(part ? { part } : {}) }));
  });
}
