/**
 * Where a command's output goes. Commands never touch `process` directly, so the whole CLI
 * can run in-process (tests, the library) with its stdout, stderr and exit code captured.
 */
import { readFileSync } from 'node:fs';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  setExitCode: (code: number) => void;
  /** The whole of standard input (`-f -`). */
  readStdin?: () => string;
  /** Whether stdout is a terminal (curl -v prints `{ [N bytes data]` only when it is not). */
  stdoutIsTTY?: boolean;
}

export const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  setExitCode: (c) => {
    process.exitCode = c;
  },
  readStdin: () => readFileSync(0, 'utf8'),
  get stdoutIsTTY() {
    return process.stdout.isTTY === true;
  },
};
