/**
 * A sweep spec (YAML) and its expansion into cells and shards.
 *
 *     name: newconn-fairness
 *     modes: [iptables, nftables, ipvs, ebpf]
 *     services: [100, 1000]
 *     seeds: [1, 2, 3]
 *     settings:                 # optional; each entry is one more axis value
 *       - { name: ten, endpoints: 10 }
 *       - { name: three, endpoints: 3 }
 *     connections: 2000         # new connections per cell (default 2000)
 *     shards: 8                 # optional; default: one shard per cell
 *     parallelism: 4            # optional; Job parallelism (default min(shards, 4))
 *
 * Cells are the cross product modes × services × seeds × settings, numbered in that order
 * (mode outermost); cell k belongs to shard k mod shards, so every shard gets a similar mix
 * of cheap and expensive cells. The expansion is a pure function of the spec: every process
 * that reads the same spec agrees on which cells shard I holds.
 */
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import { PROXY_MODES, type ProxyMode } from '../proxy/common/datapath.js';

export class SweepSpecError extends Error {
  override name = 'SweepSpecError';
}

export interface SweepSetting {
  readonly name: string;
  /** Endpoints per Service (default 10). */
  readonly endpoints: number;
}

export interface SweepSpec {
  readonly name: string;
  readonly modes: readonly ProxyMode[];
  readonly services: readonly number[];
  readonly seeds: readonly number[];
  readonly settings: readonly SweepSetting[];
  readonly connections: number;
  readonly shards: number;
  readonly parallelism: number;
  /** sha256 of the normalised spec: shard results of different specs are never merged. */
  readonly hash: string;
}

export interface SweepCell {
  readonly index: number;
  readonly mode: ProxyMode;
  readonly services: number;
  readonly seed: number;
  readonly setting: SweepSetting;
}

const MAX_CELLS = 100_000;
const MAX_SERVICES = 100_000;
const KEYS = new Set([
  'name',
  'modes',
  'services',
  'seeds',
  'settings',
  'connections',
  'shards',
  'parallelism',
]);

export function parseSweepSpec(text: string, source = 'spec'): SweepSpec {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new SweepSpecError(`${source}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new SweepSpecError(`${source}: expected a mapping with modes, services, seeds`);
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!KEYS.has(k))
      throw new SweepSpecError(`${source}: unknown key "${k}" (known: ${[...KEYS].join(', ')})`);
  const name = o.name === undefined ? 'sweep' : String(o.name);
  if (!/^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/.test(name))
    throw new SweepSpecError(
      `${source}: name must be a lowercase DNS label of at most 52 characters (it names the Job), got "${name}"`,
    );
  const modes = list(o.modes, 'modes', source).map((m) => {
    const mode = PROXY_MODES.find((p) => p === m);
    if (mode === undefined)
      throw new SweepSpecError(
        `${source}: modes: unknown mode "${String(m)}" (known: ${PROXY_MODES.join(', ')})`,
      );
    return mode;
  });
  const services = list(o.services, 'services', source).map((n) =>
    wholeNumber(n, `services`, 1, MAX_SERVICES, source),
  );
  const seeds = list(o.seeds ?? [1], 'seeds', source).map((n) =>
    wholeNumber(n, 'seeds', 0, 2 ** 31 - 1, source),
  );
  const settings = list(o.settings ?? [{ name: 'default' }], 'settings', source).map((s, i) =>
    settingOf(s, i, source),
  );
  const names = new Set<string>();
  for (const s of settings) {
    if (names.has(s.name)) throw new SweepSpecError(`${source}: settings: name "${s.name}" appears twice`);
    names.add(s.name);
  }
  const connections = wholeNumber(o.connections ?? 2000, 'connections', 1, 10_000_000, source);
  const cells = modes.length * services.length * seeds.length * settings.length;
  if (cells > MAX_CELLS)
    throw new SweepSpecError(`${source}: ${cells} cells exceed the limit of ${MAX_CELLS}`);
  const shards = wholeNumber(o.shards ?? cells, 'shards', 1, cells, source);
  const parallelism = wholeNumber(o.parallelism ?? Math.min(shards, 4), 'parallelism', 1, shards, source);
  const normalised = { name, modes, services, seeds, settings, connections, shards };
  const hash = createHash('sha256').update(JSON.stringify(normalised)).digest('hex');
  return { ...normalised, parallelism, hash };
}

function list(value: unknown, key: string, source: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new SweepSpecError(`${source}: ${key} must be a non-empty list`);
  return value;
}

function wholeNumber(value: unknown, key: string, min: number, max: number, source: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new SweepSpecError(
      `${source}: ${key} must be whole numbers in ${min}..${max}, got ${JSON.stringify(value)}`,
    );
  return value;
}

function settingOf(value: unknown, i: number, source: string): SweepSetting {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new SweepSpecError(`${source}: settings[${i}] must be a mapping like { name: ten, endpoints: 10 }`);
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'name' && k !== 'endpoints')
      throw new SweepSpecError(`${source}: settings[${i}]: unknown key "${k}" (known: name, endpoints)`);
  if (typeof o.name !== 'string' || o.name === '')
    throw new SweepSpecError(`${source}: settings[${i}] needs a name`);
  return {
    name: o.name,
    endpoints: wholeNumber(o.endpoints ?? 10, `settings[${i}].endpoints`, 1, 100, source),
  };
}

/** Every cell of the matrix, numbered mode-major. */
export function expandCells(spec: SweepSpec): SweepCell[] {
  const cells: SweepCell[] = [];
  for (const mode of spec.modes)
    for (const services of spec.services)
      for (const seed of spec.seeds)
        for (const setting of spec.settings)
          cells.push({ index: cells.length, mode, services, seed, setting });
  return cells;
}

/** The cells shard `shard` (0-based) runs. */
export function cellsOfShard(spec: SweepSpec, shard: number): SweepCell[] {
  if (!Number.isInteger(shard) || shard < 0 || shard >= spec.shards)
    throw new SweepSpecError(`shard index must be a whole number in 0..${spec.shards - 1}, got ${shard}`);
  return expandCells(spec).filter((c) => c.index % spec.shards === shard);
}
