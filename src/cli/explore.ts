/**
 * `dpsim explore [-f …] [--mode M] [--out DIR]`: writes a static site that draws the
 * cluster and shows, for every Service port and NodePort, the first packet's path and its
 * reply hop by hop with the rules matched, the NAT, the conntrack entry and the capture's
 * frame numbers, plus each Service's backend probabilities against a load run.
 */
import type { Command } from 'commander';
import { explore } from '../explore/index.js';
import { PROXY_MODES, type ProxyMode } from '../proxy/common/datapath.js';
import {
  addSimulationOptions,
  CliError,
  loadSimulation,
  parseInteger,
  type SimulationFlags,
} from './common.js';

interface ExploreFlags extends SimulationFlags {
  out: string;
  flows: number;
}

export function registerExplore(program: Command): Command {
  return addSimulationOptions(
    program
      .command('explore')
      .description(
        'write a static site (open index.html, works offline from file://) showing every Service path hop by hop, every mode unless --mode',
      )
      .option('--out <dir>', 'directory to write the site into', 'dpsim-explore')
      .option(
        '--flows <n>',
        'new connections in the load run behind the backend distribution',
        parseInteger('--flows', 1, 1_000_000),
        600,
      ),
  ).action(async (flags: ExploreFlags) => {
    const chosen = flags.mode ?? flags.proxyMode;
    const modes = (chosen === undefined ? PROXY_MODES : [chosen]) as ProxyMode[];
    let warned = false;
    let rejected = false;
    const files = flags.filename ?? [];
    const { index, data } = await explore({
      modes,
      outDir: flags.out,
      seed: flags.seed,
      loadFlows: flags.flows,
      title: files.length === 0 ? 'origin scenario' : files.join(', '),
      generatedBy: `dpsim explore${process.argv
        .slice(3)
        .map((a) => ` ${a}`)
        .join('')}`,
      simulate: async (mode, capture) => {
        // Each mode loads the manifests afresh; their warnings are printed once.
        const loaded = await loadSimulation({ ...flags, mode, proxyMode: undefined }, { capture }, (s) => {
          if (!warned) process.stderr.write(s);
        });
        warned = true;
        rejected ||= loaded.rejected;
        return loaded.sim;
      },
    }).catch((e: unknown) => {
      if (e instanceof Error && e.name === 'ExploreSiteError') throw new CliError(`error: ${e.message}`);
      throw e;
    });
    const paths = data.modes.reduce((n, m) => n + m.paths.length, 0);
    process.stdout.write(
      `wrote ${index} (${data.modes.map((m) => m.mode).join(', ')}: ${paths} paths, captures ${data.modes.map((m) => m.captureFile).join(', ')})\n`,
    );
    if (rejected) process.exitCode = 1;
  });
}
