/**
 * The dpsim command line as a value: every command registered on one commander program, and
 * `runCli`, which runs it with the top-level error policy (one `error:` line for a user's
 * mistake, a "this is a bug" report for anything else, never a bare stack trace).
 */
import { Command, CommanderError } from 'commander';
import { registerBench } from './bench.js';
import { registerConntrack } from './conntrack.js';
import { registerCurl } from './curl.js';
import { registerDig } from './dig.js';
import { EXIT_INTERNAL_ERROR, internalErrorText, userErrorLine } from './errors.js';
import { registerExplore } from './explore.js';
import { registerGet } from './get.js';
import { type CliIo, processIo } from './io.js';
import { registerLoad } from './load.js';
import { registerRollout } from './rollout.js';
import { registerRules } from './rules.js';
import { registerRun } from './run.js';
import { registerSweep } from './sweep.js';
import { registerTrace } from './trace.js';
import { defaultVerifyDeps, registerVerify } from './verify.js';

/** Printed after a usage error instead of the whole usage text. */
export const USAGE_HINT = '(run with --help for usage)';

export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command('dpsim')
    .description(
      'packet-level simulator of the Kubernetes Service dataplane (iptables, nftables, IPVS, eBPF)',
    )
    .version('0.1.0')
    // Settings made here are copied to every subcommand created afterwards.
    .exitOverride()
    .showHelpAfterError(USAGE_HINT)
    .configureOutput({
      writeOut: (t) => io.stdout(t),
      writeErr: (t) => io.stderr(t),
    });
  registerRun(program, io);
  registerGet(program, undefined, io);
  registerRules(program, io);
  registerCurl(program, io);
  registerDig(program, io);
  registerTrace(program, io);
  registerConntrack(program, io);
  registerLoad(program, io);
  registerRollout(program, io);
  registerBench(program, io);
  registerSweep(program, io);
  registerVerify(program, { ...defaultVerifyDeps, io });
  registerExplore(program, io);
  return program;
}

/** Runs the CLI on `argv` (process.argv style) and returns the exit code it chose. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode = 0;
  const captured: CliIo = {
    ...io,
    stdoutIsTTY: io.stdoutIsTTY ?? false,
    setExitCode: (c) => {
      exitCode = c;
    },
  };
  try {
    await buildProgram(captured).parseAsync([...argv]);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    const user = userErrorLine(e);
    if (user !== null) {
      // An empty line means the command already said what went wrong.
      if (user.line !== '') io.stderr(`${user.line}\n`);
      return user.exitCode;
    }
    io.stderr(internalErrorText(e));
    return EXIT_INTERNAL_ERROR;
  }
  return exitCode;
}
