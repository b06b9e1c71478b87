/**
 * `dpsim curl [flags] URL…`: curl through the simulated cluster, with the flags people use to
 * look at a Service (-v, -i, -I, -s, -S, -o, -H, -X, --connect-timeout, -m) and curl 7.88's
 * output and exit status. dpsim's own: `-n N` (each URL N times, each a new connection, with a
 * per-backend summary) and `--from` (where curl runs). Unlike curl, `-n` is not --netrc.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { formatCurlVerbose } from '../apps/curl.js';

import {
  addSimulationOptions,
  CliError,
  loadSimulation,
  parseInteger,
  type SimulationFlags,
} from './common.js';
import { isSystemError, strerror } from './errors.js';
import { type CliIo, processIo } from './io.js';
import { distributionLine, formatDrops } from './run.js';

interface CurlFlags extends SimulationFlags {
  count: number;
  from: string;
  connectTimeout?: number;
  maxTime?: number;
  verbose?: boolean;
  include?: boolean;
  head?: boolean;
  silent?: boolean;
  showError?: boolean;
  output?: string;
  header?: string[];
  request?: string;
  ipv4?: boolean;
  ipv6?: boolean;
}

/** curl's CURLE_WRITE_ERROR. */
const WRITE_ERROR = 23;

/** Seconds as curl takes them (`0.5`, `3`), to milliseconds. */
function parseSeconds(flag: string) {
  return (value: string): number => {
    if (!/^\d+(\.\d+)?$|^\.\d+$/.test(value))
      throw new InvalidArgumentError(
        `${flag} expects a number of seconds (fractions allowed), got "${value}"`,
      );
    return Math.round(Number(value) * 1000);
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerCurl(program: Command, io: CliIo = processIo): Command {
  return addSimulationOptions(
    program
      .command('curl')
      .description('curl a Service address from the client, a node or a pod, as many times as asked')
      .argument('<url...>', '[http://]IP[:PORT][/path], as curl takes it (e.g. 192.168.100.100:31244)')
      .option(
        '-n, --count <n>',
        'requests per URL, each on a new connection',
        parseInteger('--count', 1, 100000),
        1,
      )
      .option('--from <host>', 'where curl runs: client, a node name, or pod/NAME', 'client')
      .option('-v, --verbose', "curl's -v: the connection and the request and response headers on stderr")
      .option('-i, --include', 'include the response headers in the output')
      .option('-I, --head', 'send HEAD and print the response headers only')
      .option('-s, --silent', 'no error messages')
      .option('-S, --show-error', 'with -s, still print the error message')
      .option('-o, --output <file>', 'write the response to FILE instead of stdout')
      .option('-H, --header <header>', 'extra request header "Name: value" (repeatable)', collect)
      .option('-X, --request <method>', 'request method')
      .option('-4, --ipv4', 'resolve names to IPv4 addresses only')
      .option('-6, --ipv6', 'resolve names to IPv6 addresses only (a dual-stack cluster; see the README)')
      .option(
        '--connect-timeout <seconds>',
        'connect timeout (fractions allowed)',
        parseSeconds('--connect-timeout'),
      )
      .option(
        '-m, --max-time <seconds>',
        'whole-transfer timeout (fractions allowed)',
        parseSeconds('--max-time'),
      ),
  ).action(async (urls: string[], flags: CurlFlags) => {
    if (flags.request?.toUpperCase() === 'HEAD' && !flags.head) {
      // curl's own warning (src/tool_getparam.c), split across two lines as it prints it.
      io.stderr(
        'Warning: Setting custom HTTP method to HEAD with -X/--request may not work the \n' +
          'Warning: way you want. Consider using -I/--head instead.\n',
      );
    }
    if (flags.ipv4 === true && flags.ipv6 === true)
      throw new CliError('error: -4 and -6 exclude each other (run with --help for usage)');
    const ipFamily = flags.ipv6 === true ? 6 : flags.ipv4 === true ? 4 : undefined;
    const sim = await loadSimulation(flags, {}, io);
    const counts = new Map<string, number>();
    let failures = 0;
    let exitCode = 0;
    let outputStarted = false;
    // As on a terminal: `{ [N bytes data]` only when the body does not go to the terminal.
    const dataLines = flags.output !== undefined || io.stdoutIsTTY !== true;
    const showErrors = !flags.silent || flags.showError === true;
    for (const url of urls) {
      for (let i = 0; i < flags.count; i++) {
        const o = sim.curl({
          from: flags.from,
          url,
          ...(flags.connectTimeout !== undefined ? { connectTimeoutMs: flags.connectTimeout } : {}),
          ...(flags.maxTime !== undefined ? { maxTimeMs: flags.maxTime } : {}),
          ...(flags.request !== undefined ? { method: flags.request } : {}),
          ...(flags.head ? { head: true } : {}),
          ...(flags.header !== undefined ? { headers: flags.header } : {}),
          ...(ipFamily !== undefined ? { ipFamily } : {}),
        });
        const verbose = flags.verbose ? o.verbose : [];
        // The last -v line ("left intact" / "Closing connection") comes after the body, as on a terminal.
        const tail = o.exitCode === 0 ? verbose.slice(-1) : [];
        io.stderr(formatCurlVerbose(verbose.slice(0, verbose.length - tail.length), !dataLines));
        if (o.exitCode === 0) {
          const who = o.servedBy?.pod ?? '(unknown)';
          counts.set(who, (counts.get(who) ?? 0) + 1);
          const text = flags.head ? o.rawHead : flags.include ? o.rawHead + o.stdout : o.stdout;
          exitCode = 0;
          if (flags.output === undefined) io.stdout(text);
          else {
            const failed = writeOutput(flags.output, text, outputStarted);
            outputStarted = true;
            if (failed !== null) {
              io.stderr(`Warning: Failed to open the file ${flags.output}: ${failed}\n`);
              if (showErrors) io.stderr(`curl: (${WRITE_ERROR}) Failure writing output to destination\n`);
              exitCode = WRITE_ERROR;
            }
          }
          io.stderr(formatCurlVerbose(tail, !dataLines));
        } else {
          failures++;
          exitCode = o.exitCode;
          if (showErrors) io.stderr(`${o.stderr}\n`);
        }
      }
    }
    if (flags.count > 1) {
      io.stderr(`${distributionLine(counts, failures)} (${sim.mode} mode, seed ${flags.seed})\n`);
      io.stderr(`drops: ${formatDrops(sim)}\n`);
    }
    // curl with several URLs exits with the last transfer's status (checked against curl 7.88.1).
    io.setExitCode(exitCode);
  });
}

/** Writes (the first time) or appends the response; returns strerror text on failure. */
function writeOutput(path: string, text: string, append: boolean): string | null {
  try {
    if (append) appendFileSync(path, text);
    else writeFileSync(path, text);
    return null;
  } catch (e) {
    if (isSystemError(e)) return strerror(e.code);
    throw e;
  }
}
