#!/usr/bin/env node
/**
 * dpsim's command line. Each command lives in its own file and only parses flags and
 * prints; the work is in the library (src/sim, src/k8s, src/proxy …).
 */
import { EXIT_INTERNAL_ERROR, internalErrorText } from './errors.js';
import { processIo } from './io.js';
import { runCli } from './program.js';

// An error escaping every handler (a stream's 'error' event, say) is still a bug report, not a crash dump.
process.on('uncaughtException', (e) => {
  process.stderr.write(internalErrorText(e));
  process.exit(EXIT_INTERNAL_ERROR);
});

process.exitCode = await runCli(process.argv, processIo);
