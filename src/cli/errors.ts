/**
 * How the CLI tells a user's mistake from a bug. A user's mistake (a bad flag value, a file
 * that cannot be read or written, a manifest the API server would reject) gets one line,
 * `error: <message>`, and a non-zero exit; anything else is a bug in dpsim and says so.
 */
import { getSystemErrorMap } from 'node:util';

/** An error whose message is meant for the user as is; `exitCode` is the process's. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** sysexits.h EX_SOFTWARE: an internal software error. */
export const EXIT_INTERNAL_ERROR = 70;

/** A Node system error (fs, net): has an errno code and the syscall that failed. */
export interface SystemError extends Error {
  code: string;
  syscall: string;
  path?: string;
}

export function isSystemError(e: unknown): e is SystemError {
  return (
    e instanceof Error &&
    typeof (e as Partial<SystemError>).code === 'string' &&
    typeof (e as Partial<SystemError>).syscall === 'string'
  );
}

/** glibc's strerror text for the errors a path can give (what mkdir, tcpdump, curl print). */
const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EROFS: 'Read-only file system',
  ENOSPC: 'No space left on device',
  EEXIST: 'File exists',
  EMFILE: 'Too many open files',
  ENAMETOOLONG: 'File name too long',
  ELOOP: 'Too many levels of symbolic links',
  EINVAL: 'Invalid argument',
  EIO: 'Input/output error',
};

/** strerror(code): glibc's wording, else libuv's with a capital letter. */
export function strerror(code: string): string {
  const known = STRERROR[code];
  if (known !== undefined) return known;
  for (const [name, message] of getSystemErrorMap().values()) {
    if (name === code) return message.charAt(0).toUpperCase() + message.slice(1);
  }
  return code;
}

const ACTION: Record<string, string> = {
  open: 'cannot open',
  mkdir: 'cannot create directory',
  write: 'cannot write',
  read: 'cannot read',
  scandir: 'cannot read directory',
  stat: 'cannot access',
};

/** `cannot open "/x/y.pcapng": No such file or directory`, from a Node system error. */
export function describeSystemError(e: SystemError, path = e.path): string {
  const action = ACTION[e.syscall] ?? `${e.syscall} failed on`;
  return path !== undefined ? `${action} "${path}": ${strerror(e.code)}` : `${action}: ${strerror(e.code)}`;
}

const BUILTIN_ERRORS = new Set([
  'Error',
  'TypeError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'EvalError',
  'URIError',
  'AggregateError',
]);

/**
 * The user-facing line for an error, or null when it is not a user's mistake (a bug).
 * The library's own error classes (ManifestError, SimulationError, ChurnSpecError …) carry
 * messages written for the user; built-in errors mean something went wrong inside dpsim.
 */
export function userErrorLine(e: unknown): { line: string; exitCode: number } | null {
  if (e instanceof CliError) return { line: withPrefix(e.message), exitCode: e.exitCode };
  if (isSystemError(e)) return { line: `error: ${describeSystemError(e)}`, exitCode: 1 };
  if (e instanceof Error && /Error$/.test(e.name) && !BUILTIN_ERRORS.has(e.name)) {
    const cause = (e as { cause?: unknown }).cause;
    if (isSystemError(cause)) return { line: `error: ${describeSystemError(cause)}`, exitCode: 1 };
    return { line: withPrefix(e.message), exitCode: 1 };
  }
  return null;
}

/** Messages that already name their tool (`error: …`, `curl: (7) …`) are printed as they are. */
function withPrefix(message: string): string {
  if (message === '') return '';
  return /^(error|curl|dpsim|warning): /.test(message) || /^curl: \(\d+\)/.test(message)
    ? message
    : `error: ${message}`;
}

/** What the CLI prints for a bug: enough to report it, and the word "bug". */
export function internalErrorText(e: unknown): string {
  const detail = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
  return `dpsim: internal error (this is a bug in dpsim; please report it with the command line):\n${detail}\n`;
}
