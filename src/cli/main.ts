#!/usr/bin/env node
/**
 * dpsim's command line. Each command lives in its own file and only parses flags and
 * prints; the work is in the library (src/sim, src/k8s, src/proxy …).
 */
import { Command, CommanderError } from 'commander';
import { registerBench } from './bench.js';
import { CliError } from './common.js';
import { registerConntrack } from './conntrack.js';
import { registerCurl } from './curl.js';
import { registerGet } from './get.js';
import { registerLoad } from './load.js';
import { registerRules } from './rules.js';
import { registerRun } from './run.js';
import { registerSweep } from './sweep.js';
import { registerTrace } from './trace.js';
import { registerVerify } from './verify.js';

export function buildProgram(): Command {
  const program = new Command('dpsim')
    .description(
      'packet-level simulator of the Kubernetes Service dataplane (iptables, nftables, IPVS, eBPF)',
    )
    .version('0.1.0')
    .showHelpAfterError();
  registerRun(program);
  registerGet(program);
  registerRules(program);
  registerCurl(program);
  registerTrace(program);
  registerConntrack(program);
  registerLoad(program);
  registerBench(program);
  registerSweep(program);
  registerVerify(program);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    if (e instanceof CliError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    if (
      e instanceof Error &&
      /Error$/.test(e.name) &&
      e.name !== 'Error' &&
      e.name !== 'TypeError' &&
      e.name !== 'RangeError'
    ) {
      // A library error with a specific message (bad manifest, unknown host, bad rule dump…).
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

await main();
