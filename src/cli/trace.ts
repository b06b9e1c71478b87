/**
 * `dpsim trace http://IP:PORT [--from …]`: one curl with the tracer on, printing the
 * packets' path hop by hop — interface, hook, every rule matched, NAT, conntrack state,
 * route and verdict (in the spirit of `iptables -j TRACE`, `nft monitor trace` and pwru).
 */
import type { Command } from 'commander';
import { formatTraceSteps } from '../trace/packet-trace.js';
import { addSimulationOptions, loadSimulation, type SimulationFlags } from './common.js';
import { type CliIo, processIo } from './io.js';

interface TraceFlags extends SimulationFlags {
  from: string;
  all: boolean;
}

export function registerTrace(program: Command, io: CliIo = processIo): Command {
  return addSimulationOptions(
    program
      .command('trace')
      .description("print the first packet's path hop by hop (every packet with --all)")
      .argument('<url>', 'http://IP[:PORT][/path]')
      .option('--from <host>', 'where curl runs: client, a node name, or pod/NAME', 'client')
      .option('--all', 'trace every packet of the exchange, not only the first', false),
  ).action(async (url: string, flags: TraceFlags) => {
    const sim = await loadSimulation(flags, {}, io);
    const { outcome, tracer } = sim.trace({ from: flags.from, url });
    const steps = flags.all ? tracer.steps : firstPacketSteps(tracer.steps);
    io.stdout(`${formatTraceSteps(steps)}\n`);
    io.stdout(outcome.exitCode === 0 ? `\n${outcome.stdout}` : `\n${outcome.stderr}\n`);
    io.setExitCode(outcome.exitCode);
  });
}

/** The steps up to the first delivery or drop: the SYN's journey. */
function firstPacketSteps<T extends { stage: string }>(steps: readonly T[]): T[] {
  const out: T[] = [];
  for (const s of steps) {
    out.push(s);
    if (s.stage === 'deliver' || s.stage === 'drop') break;
  }
  return out;
}
