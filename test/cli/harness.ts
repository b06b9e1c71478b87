/** Runs the dpsim CLI in-process and captures what a terminal would show. */
import { runCli } from '../../src/cli/program.js';

export interface CliRun {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export async function dpsim(
  args: readonly string[],
  options: { stdin?: string; stdoutIsTTY?: boolean } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const exitCode = await runCli(['node', 'dpsim', ...args], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    setExitCode: () => {},
    readStdin: () => options.stdin ?? '',
    stdoutIsTTY: options.stdoutIsTTY ?? true,
  });
  return { stdout, stderr, exitCode };
}
