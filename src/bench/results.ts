/**
 * The benchmark results schema and its loader.
 *
 * `bench/results/<suite>.json` is what benny's `save({format: 'json'})` writes:
 *   `{ name, date, version, results: [{ name, ops, margin, percentSlower, …details }] }`
 * (`ops` = operations per second of the case's function, `margin` = ± % at 95 %).
 * `bench/results/<suite>.extra.json` carries measurements benny cannot express:
 *   `{ cases: [{ name, value, unit }] }` (e.g. memory in bytes, hot-path packets/s).
 *
 * Case names that follow `<metric>/<mode>/<param>=<value>[/<param>=<value>…]` (e.g.
 * `newconn/iptables/services=1000`) become measurements the report can plot; other names are
 * kept and listed as they are.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface BennyCase {
  readonly name: string;
  readonly ops: number;
  readonly margin: number;
  readonly percentSlower: number;
  readonly [detail: string]: unknown;
}

export interface BennySuiteFile {
  readonly name: string;
  readonly date: string;
  readonly version: string | null;
  readonly results: readonly BennyCase[];
}

export interface ExtraCase {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
}

export interface ExtraFile {
  readonly cases: readonly ExtraCase[];
}

export interface ParsedCaseName {
  readonly metric: string;
  readonly mode: string;
  /** Parameters in name order; numeric values as numbers. */
  readonly params: ReadonlyArray<readonly [string, number | string]>;
}

/** One value of one case, from either kind of file. */
export interface Measurement {
  /** Suite file stem (`hotpath` for hotpath.json and hotpath.extra.json). */
  readonly suite: string;
  readonly name: string;
  /** Null when the name does not follow `<metric>/<mode>/<param>=<value>`. */
  readonly parsed: ParsedCaseName | null;
  readonly value: number;
  /** `ops/s` for benny cases, else the unit the extra file gives. */
  readonly unit: string;
  /** ± % (benny only). */
  readonly margin: number | null;
  readonly source: 'benny' | 'extra';
}

export interface LoadedResults {
  readonly dir: string;
  readonly dirExists: boolean;
  /** Files read successfully, relative names. */
  readonly files: readonly string[];
  readonly measurements: readonly Measurement[];
  /** Files that could not be used, with the reason. */
  readonly problems: readonly string[];
  /** Date of the newest benny suite (ISO) or null. */
  readonly newestDate: string | null;
}

const PARAM = /^([A-Za-z][\w.-]*)=(.+)$/;

/** Splits `<metric>/<mode>/<param>=<value>…`; null when the name does not have that form. */
export function parseCaseName(name: string): ParsedCaseName | null {
  const parts = name.split('/');
  if (parts.length < 3) return null;
  const [metric, mode, ...rest] = parts;
  if (metric === '' || mode === '' || metric.includes('=') || mode.includes('=')) return null;
  const params: [string, number | string][] = [];
  for (const p of rest) {
    const m = PARAM.exec(p);
    if (m === null) return null;
    const n = Number(m[2]);
    params.push([m[1], m[2].trim() !== '' && Number.isFinite(n) ? n : m[2]]);
  }
  return { metric, mode, params };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Validates a parsed benny file; returns the reason when it is not one. */
export function checkBennyFile(x: unknown): string | null {
  if (!isRecord(x)) return 'not a JSON object';
  if (typeof x.name !== 'string') return 'missing "name"';
  if (!Array.isArray(x.results)) return 'missing "results" array';
  for (const [i, r] of x.results.entries()) {
    if (!isRecord(r) || typeof r.name !== 'string' || typeof r.ops !== 'number') {
      return `results[${i}] lacks a string "name" and a numeric "ops"`;
    }
  }
  return null;
}

/** Validates a parsed extra file; returns the reason when it is not one. */
export function checkExtraFile(x: unknown): string | null {
  if (!isRecord(x) || !Array.isArray(x.cases)) return 'missing "cases" array';
  for (const [i, c] of x.cases.entries()) {
    if (
      !isRecord(c) ||
      typeof c.name !== 'string' ||
      typeof c.value !== 'number' ||
      typeof c.unit !== 'string'
    ) {
      return `cases[${i}] needs {name: string, value: number, unit: string}`;
    }
  }
  return null;
}

/** Reads every `*.json` of `dir`; never throws on a bad file (it is listed in `problems`). */
export function loadResults(dir: string): LoadedResults {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    return { dir, dirExists: false, files: [], measurements: [], problems: [], newestDate: null };
  }
  const files: string[] = [];
  const problems: string[] = [];
  const measurements: Measurement[] = [];
  let newestDate: string | null = null;
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (err) {
      problems.push(`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
      continue;
    }
    if (file.endsWith('.extra.json')) {
      const why = checkExtraFile(json);
      if (why !== null) {
        problems.push(`${file}: ${why}`);
        continue;
      }
      const suite = file.slice(0, -'.extra.json'.length);
      for (const c of (json as ExtraFile).cases) {
        measurements.push({
          suite,
          name: c.name,
          parsed: parseCaseName(c.name),
          value: c.value,
          unit: c.unit,
          margin: null,
          source: 'extra',
        });
      }
    } else {
      const why = checkBennyFile(json);
      if (why !== null) {
        problems.push(`${file}: ${why}`);
        continue;
      }
      const suite = file.slice(0, -'.json'.length);
      const b = json as BennySuiteFile;
      if (typeof b.date === 'string' && (newestDate === null || b.date > newestDate)) newestDate = b.date;
      for (const r of b.results) {
        measurements.push({
          suite,
          name: r.name,
          parsed: parseCaseName(r.name),
          value: r.ops,
          unit: 'ops/s',
          margin: typeof r.margin === 'number' ? r.margin : null,
          source: 'benny',
        });
      }
    }
    files.push(file);
  }
  return { dir, dirExists: true, files, measurements, problems, newestDate };
}
