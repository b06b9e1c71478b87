/**
 * `dpsim explore [-f …] [--mode M] [--out DIR]`: writes a static site that draws the
 * cluster and shows, for every Service port and NodePort, the first packet's path and its
 * reply hop by hop with the rules matched, the NAT, the conntrack entry and the capture's
 * frame numbers, plus each Service's backend probabilities against a load run.
 */
import type { Command } from 'commander';
import { explore } from '../explore/index.js';
import { PROXY_MODES, type ProxyMode } from '../proxy/common/datapath.js';
import { addSimulationOptions, loadSimulation, parseInteger, type SimulationFlags } from './common.js';
import { ensureDirectory } from './fs-checks.js';
import { type CliIo, processIo } from './io.js';

interface ExploreFlags extends SimulationFlags {
  out: string;
  flows: number;
}

export function registerExplore(program: Command, io: CliIo = processIo): Command {
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
    // A bad --out costs one line before any simulation runs.
    ensureDirectory(flags.out, '--out');
    const chosen = flags.mode ?? flags.proxyMode;
    const modes = (chosen === undefined ? PROXY_MODES : [chosen]) as ProxyMode[];
    const files = flags.filename ?? [];
    let warned = false;
    // Each mode loads the manifests afresh; their warnings are printed once.
    const quietAfterFirst: CliIo = { ...io, stderr: (t) => (warned ? undefined : io.stderr(t)) };
    const { index, data } = await explore({
      modes,
      outDir: flags.out,
      seed: flags.seed,
      loadFlows: flags.flows,
      title: files.length === 0 ? 'origin scenario' : files.join(', '),
      generatedBy: 'dpsim explore',
      simulate: async (mode, capture) => {
        const sim = await loadSimulation(
          { ...flags, mode, proxyMode: undefined },
          { capture },
          quietAfterFirst,
        );
        warned = true;
        return sim;
      },
    });
    const paths = data.modes.reduce((n, m) => n + m.paths.length, 0);
    io.stdout(
      `wrote ${index} (${data.modes.map((m) => m.mode).join(', ')}: ${paths} paths; captures ${data.modes.map((m) => m.captureFile).join(', ')})\n`,
    );
  });
}
