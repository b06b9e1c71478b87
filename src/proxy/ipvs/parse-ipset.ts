/**
 * Reads `ipset list` from a real node back into kube-proxy's sets, so IPVS mode can answer
 * its iptables rules' `-m set --match-set` from the node's members instead of the compiled
 * ones. The format is ipset's plain listing (what `renderIpsetList` prints): per set the
 * Name / Type / Revision / Header / Size in memory / References / Number of entries lines,
 * then `Members:` and one element per line; sets separated by a blank line.
 *
 * Only kube-proxy's sets are kept (a node's listing also holds e.g. Calico's, which
 * kube-proxy's rules never name); those are reported, not silently dropped.
 */
import { AddressError } from '../../util/ipv4.js';
import { IpsetError, type IpsetMembers, IpsetTable, KUBE_IPSETS } from './ipsets.js';

export class IpsetParseError extends Error {
  override name = 'IpsetParseError';
}

export interface ParsedIpsetList {
  /** kube-proxy's sets with the listing's members; sets the listing lacks are empty. */
  readonly table: IpsetTable;
  /** Names of kube-proxy's sets the listing holds. */
  readonly listed: ReadonlySet<string>;
  readonly warnings: readonly string[];
}

/**
 * Per-entry extensions ipset may print after the element (`timeout 300`, `packets 0 bytes 0`,
 * `comment "…"`, `skbmark 0x1`…): they do not change what `-m set` matches, so they are read
 * past; the number of words each takes (the comment's quoted text is removed beforehand).
 */
const ENTRY_EXTENSIONS: Readonly<Record<string, number>> = {
  timeout: 1,
  packets: 1,
  bytes: 1,
  skbmark: 1,
  skbprio: 1,
  skbqueue: 1,
  nomatch: 0,
};

interface SetBlock {
  name: string;
  nameLine: number;
  type?: string;
  typeLine?: number;
  header?: string;
  headerLine?: number;
  declaredEntries?: number;
  inMembers: boolean;
  members: { text: string; line: number }[];
}

/** Parses `ipset list` (plain output, with or without `-sorted`). */
export function parseIpsetList(text: string): ParsedIpsetList {
  const blocks: SetBlock[] = [];
  const lines = text.split('\n');
  let cur: SetBlock | undefined;
  lines.forEach((raw, i) => {
    const n = i + 1;
    const fail = (why: string): never => {
      throw new IpsetParseError(`ipset line ${n}: ${why}`);
    };
    const line = raw.trimEnd();
    if (line.trim() === '') return;
    const field = /^([A-Z][A-Za-z ]*): ?(.*)$/.exec(line);
    if (field !== null && field[1] === 'Name') {
      if (cur !== undefined && !cur.inMembers) throw noMembers(cur);
      const name = field[2].trim();
      if (!/^\S+$/.test(name)) fail(`cannot read set name "${name}"`);
      if (blocks.some((b) => b.name === name)) fail(`set ${name} is listed twice`);
      cur = { name, nameLine: n, inMembers: false, members: [] };
      blocks.push(cur);
      return;
    }
    if (cur === undefined) fail(`expected "Name: SET", got "${line.trim()}"`);
    const set = cur!;
    if (set.inMembers) {
      set.members.push({ text: line.trim(), line: n });
      return;
    }
    if (field === null) fail(`cannot read "${line.trim()}" in the header of set ${set.name}`);
    const [, key, value] = field!;
    switch (key) {
      case 'Type':
        set.type = value.trim();
        set.typeLine = n;
        return;
      case 'Header':
        set.header = value.trim();
        set.headerLine = n;
        return;
      case 'Revision':
      case 'Size in memory':
      case 'References':
        if (!/^\d+$/.test(value.trim())) fail(`${key}: expected a number, got "${value.trim()}"`);
        return;
      case 'Number of entries':
        if (!/^\d+$/.test(value.trim())) fail(`${key}: expected a number, got "${value.trim()}"`);
        set.declaredEntries = Number(value.trim());
        return;
      case 'Members':
        if (value.trim() !== '') fail(`cannot read "${value.trim()}" after "Members:"`);
        set.inMembers = true;
        return;
      default:
        fail(`unknown field "${key}:" in the header of set ${set.name}`);
    }
  });
  if (cur !== undefined && !cur.inMembers) throw noMembers(cur);

  const table = new IpsetTable();
  const listed = new Set<string>();
  const foreign: string[] = [];
  const warnings: string[] = [];
  for (const b of blocks) {
    const spec = KUBE_IPSETS.find((s) => s.name === b.name);
    if (spec === undefined) {
      foreign.push(b.name);
      continue;
    }
    const at = (line: number | undefined, why: string): IpsetParseError =>
      new IpsetParseError(`ipset line ${line ?? b.nameLine}: ${why}`);
    if (b.type === undefined) throw at(b.nameLine, `set ${b.name} has no "Type:" line`);
    if (b.type !== spec.type)
      throw at(b.typeLine, `set ${b.name} is of type ${b.type}; kube-proxy creates it as ${spec.type}`);
    const range = checkHeader(b, spec.type, at);
    const members: IpsetMembers = table.get(b.name);
    for (const m of b.members) {
      const element = entryElement(m.text, (why) => at(m.line, why));
      if (range !== null && /^\d+$/.test(element) && (+element < range[0] || +element > range[1]))
        throw at(m.line, `port ${element} is outside set ${b.name}'s range ${range[0]}-${range[1]}`);
      try {
        members.add(element);
      } catch (e) {
        if (e instanceof IpsetError || e instanceof AddressError)
          throw at(m.line, `invalid member "${element}" for ${b.name} (${spec.type})`);
        throw e;
      }
    }
    if (b.declaredEntries !== undefined && b.declaredEntries !== b.members.length)
      warnings.push(
        `set ${b.name} says "Number of entries: ${b.declaredEntries}" but lists ${b.members.length} member${b.members.length === 1 ? '' : 's'}; using the members listed`,
      );
    listed.add(b.name);
  }
  if (foreign.length > 0)
    warnings.push(
      `${foreign.length} set${foreign.length === 1 ? '' : 's'} kube-proxy does not keep, not used: ${foreign.join(', ')}`,
    );
  return { table, listed, warnings };
}

/** A set whose header runs into the next set or the end: `ipset list -terse` prints no members. */
function noMembers(b: SetBlock): IpsetParseError {
  return new IpsetParseError(
    `ipset line ${b.nameLine}: set ${b.name} has no "Members:" line (is this \`ipset list -terse\`? give the full listing)`,
  );
}

/** Header checks that change what the set can hold: the address family, a bitmap's port range. */
function checkHeader(
  b: SetBlock,
  type: string,
  at: (line: number | undefined, why: string) => IpsetParseError,
): [number, number] | null {
  if (b.header === undefined) throw at(b.nameLine, `set ${b.name} has no "Header:" line`);
  const words = b.header.split(/\s+/);
  if (type === 'bitmap:port') {
    const r = /^(\d+)-(\d+)$/.exec(words[words.indexOf('range') + 1] ?? '');
    if (!words.includes('range') || r === null || +r[1] > +r[2] || +r[2] > 65535)
      throw at(b.headerLine, `set ${b.name}: expected "range FROM-TO" in the header, got "${b.header}"`);
    return [+r[1], +r[2]];
  }
  const family = words[words.indexOf('family') + 1];
  if (!words.includes('family') || (family !== 'inet' && family !== 'inet6'))
    throw at(b.headerLine, `set ${b.name}: expected "family inet" in the header, got "${b.header}"`);
  if (family === 'inet6')
    throw at(b.headerLine, `set ${b.name} is an IPv6 set (family inet6); dpsim's IPVS mode is IPv4`);
  return null;
}

/** The element of a member line, its extensions (timeout, counters, comment…) read past. */
function entryElement(line: string, fail: (why: string) => IpsetParseError): string {
  const noComment = line.replace(/\s+comment\s+"(?:[^"\\]|\\.)*"/, '');
  const words = noComment.split(/\s+/);
  for (let w = 1; w < words.length; w++) {
    const takes = ENTRY_EXTENSIONS[words[w]];
    if (takes === undefined) throw fail(`cannot read "${words[w]}" after member ${words[0]}`);
    if (words[w] === 'nomatch') throw fail(`member ${words[0]} is a nomatch entry; kube-proxy writes none`);
    if (takes === 1 && !/^(0x[0-9a-f]+|[\d:/]+)$/i.test(words[w + 1] ?? ''))
      throw fail(`"${words[w]}" needs a value after member ${words[0]}`);
    w += takes;
  }
  return words[0];
}
