/** `dpsim curl http://IP:PORT [-n N] [--from client|NODE|pod/NAME]`: curl through the simulated cluster. */
import type { Command } from 'commander';
import { addSimulationOptions, loadSimulation, parseInteger, type SimulationFlags } from './common.js';
import { distributionLine, formatDrops } from './run.js';

interface CurlFlags extends SimulationFlags {
  count: number;
  from: string;
  connectTimeout?: number;
  maxTime?: number;
}

export function registerCurl(program: Command): Command {
  return addSimulationOptions(
    program
      .command('curl')
      .description('curl a Service address from the client, a node or a pod, as many times as asked')
      .argument('<url>', 'http://IP[:PORT][/path]')
      .option('-n, --count <n>', 'how many requests', parseInteger('--count', 1, 100000), 1)
      .option('--from <host>', 'where curl runs: client, a node name, or pod/NAME', 'client')
      .option('--connect-timeout <seconds>', "curl's --connect-timeout", parseInteger('--connect-timeout', 1))
      .option('-m, --max-time <seconds>', "curl's --max-time", parseInteger('--max-time', 1)),
  ).action(async (url: string, flags: CurlFlags) => {
    const { sim, rejected } = await loadSimulation(flags);
    const counts = new Map<string, number>();
    let failures = 0;
    let lastExit = 0;
    for (let i = 0; i < flags.count; i++) {
      const o = sim.curl({
        from: flags.from,
        url,
        ...(flags.connectTimeout !== undefined ? { connectTimeoutMs: flags.connectTimeout * 1000 } : {}),
        ...(flags.maxTime !== undefined ? { maxTimeMs: flags.maxTime * 1000 } : {}),
      });
      if (o.exitCode === 0) {
        process.stdout.write(o.stdout);
        const who = o.servedBy?.pod ?? '(unknown)';
        counts.set(who, (counts.get(who) ?? 0) + 1);
      } else {
        failures++;
        lastExit = o.exitCode;
        process.stderr.write(`${o.stderr}\n`);
      }
    }
    if (flags.count > 1) {
      process.stderr.write(`${distributionLine(counts, failures)} (${sim.mode} mode, seed ${flags.seed})\n`);
      process.stderr.write(`drops: ${formatDrops(sim)}\n`);
    }
    // curl's own exit status: that of the last failure when any request failed.
    process.exitCode = failures > 0 ? lastExit : rejected ? 1 : 0;
  });
}
