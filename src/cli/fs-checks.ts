/**
 * Checks on paths the user names for output, done before any work so a typo costs one line,
 * not a stack trace or a hang.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CliError, describeSystemError, isSystemError, strerror } from './errors.js';

/**
 * `mkdir -p` that always ends: creates each missing directory of `path` from the top, one
 * non-recursive mkdir at a time. (Node's `mkdirSync(p, { recursive: true })` loops forever on
 * paths such as /proc/x, where mkdir keeps answering ENOENT for an existing parent.)
 */
export function ensureDirectory(path: string, flag: string): void {
  const target = resolve(path);
  const refuse = (why: string): CliError =>
    new CliError(`error: ${flag}: cannot create directory "${path}": ${why}`);
  const missing: string[] = [];
  for (let dir = target; ; ) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(dir).isDirectory();
    } catch (e) {
      if (!isSystemError(e)) throw e;
      if (e.code === 'ENOTDIR') throw refuse(strerror('ENOTDIR'));
      if (e.code !== 'ENOENT') throw new CliError(`error: ${flag}: ${describeSystemError(e, path)}`);
      missing.push(dir);
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
      continue;
    }
    // As mkdir -p words it: the path itself is a file, or a file stands where a parent should be.
    if (!isDirectory) throw refuse(strerror(dir === target ? 'EEXIST' : 'ENOTDIR'));
    break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if (isSystemError(e) && e.code === 'EEXIST') continue;
      if (isSystemError(e)) throw refuse(strerror(e.code));
      throw e;
    }
  }
}
