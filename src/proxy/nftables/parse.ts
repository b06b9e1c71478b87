/**
 * Reads `nft list ruleset` (or `nft list table ip kube-proxy`) from a real node back into an
 * NftTable, so nftables mode can run what the node has instead of what dpsim compiles.
 *
 * It reads the constructs kube-proxy's nftables proxier writes, as nft 1.0.x lists them
 * (render.ts prints the same syntax): sets, verdict maps, base and regular chains, and the
 * rule vocabulary of that table. Other tables of the ruleset are skipped with a warning
 * (dpsim runs kube-proxy's table only); anything inside kube-proxy's table that dpsim cannot
 * read is an error naming the line, never silently dropped.
 */
import { isIPv4, parseCidr } from '../../util/ipv4.js';
import type {
  NftBaseChainSpec,
  NftChain,
  NftHookName,
  NftL4Proto,
  NftMap,
  NftMapElement,
  NftMapKeyType,
  NftMatch,
  NftRule,
  NftSet,
  NftStatement,
  NftTable,
  NftVerdict,
} from './table.js';

export class NftParseError extends Error {
  override name = 'NftParseError';
}

export interface ParsedNftRuleset {
  readonly table: NftTable;
  /** Lines about what was skipped or cannot work (other tables, unreachable chains). */
  readonly warnings: readonly string[];
}

const HOOKS: readonly NftHookName[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];
const PRIORITY_VALUES: Readonly<Record<string, number>> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
};
const PROTOS: readonly NftL4Proto[] = ['tcp', 'udp', 'sctp'];

/** Splits a rule into tokens: quoted strings and `{ … }` groups stay one token each. */
function tokenize(text: string, fail: (why: string) => never): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) fail('unterminated string');
      out.push(text.slice(i, end + 1));
      i = end + 1;
    } else if (c === '{') {
      const end = text.indexOf('}', i);
      if (end < 0) fail('unbalanced {');
      out.push(text.slice(i, end + 1));
      i = end + 1;
    } else {
      let j = i;
      while (j < text.length && text[j] !== ' ' && text[j] !== '\t') j++;
      out.push(text.slice(i, j));
      i = j;
    }
  }
  return out;
}

function unquote(s: string, fail: (why: string) => never): string {
  if (!s.startsWith('"') || !s.endsWith('"') || s.length < 2) fail(`expected a quoted string, got ${s}`);
  return s.slice(1, -1);
}

/** The items of a `{ a, b }` group (splitting on commas outside quotes). */
function groupItems(group: string): string[] {
  const inner = group.trim().replace(/^\{/, '').replace(/\}$/, '');
  const items: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of inner) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      items.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') items.push(cur.trim());
  return items;
}

function parseVerdict(words: readonly string[], fail: (why: string) => never): NftVerdict {
  const [kind, chain] = words;
  if ((kind === 'jump' || kind === 'goto') && chain !== undefined) return { kind, chain };
  if ((kind === 'accept' || kind === 'drop' || kind === 'return') && chain === undefined) return { kind };
  return fail(`expected a verdict, got "${words.join(' ')}"`);
}

function parsePrefixes(token: string, fail: (why: string) => never): string[] {
  const items = token.startsWith('{') ? groupItems(token) : [token];
  for (const p of items) {
    try {
      parseCidr(p);
    } catch {
      fail(`bad address or prefix "${p}"`);
    }
  }
  return items;
}

function hexOrInt(token: string, fail: (why: string) => never): number {
  const v = /^0x[0-9a-f]+$/i.test(token)
    ? Number.parseInt(token, 16)
    : /^\d+$/.test(token)
      ? Number(token)
      : NaN;
  if (!Number.isFinite(v)) fail(`expected a number, got "${token}"`);
  return v >>> 0;
}

/** One rule's text → matches, statements and comment. */
export function parseNftRule(text: string, fail: (why: string) => never): NftRule {
  const t = tokenize(text, fail);
  const matches: NftMatch[] = [];
  const statements: NftStatement[] = [];
  let comment: string | undefined;
  let i = 0;
  const peek = (k = 0) => t[i + k];
  const take = () => {
    const v = t[i++];
    if (v === undefined) fail('rule ends too early');
    return v;
  };
  const expect = (word: string) => {
    const v = take();
    if (v !== word) fail(`expected "${word}", got "${v}"`);
  };
  while (i < t.length) {
    const w = take();
    if (w === 'ip' && (peek() === 'saddr' || peek() === 'daddr')) {
      const field = take() as 'saddr' | 'daddr';
      if (field === 'daddr' && peek() === '.') {
        expect('.');
        expect('meta');
        expect('l4proto');
        expect('.');
        expect('th');
        expect('dport');
        expect('vmap');
        const map = take();
        if (!map.startsWith('@')) fail(`expected @map after vmap, got "${map}"`);
        statements.push({ kind: 'vmap', key: 'daddr.l4proto.dport', map: map.slice(1) });
        continue;
      }
      let negate = false;
      if (peek() === '!=') {
        take();
        negate = true;
      }
      const v = take();
      if (v.startsWith('@') && !negate) matches.push({ kind: 'addrInSet', field, set: v.slice(1) });
      else matches.push({ kind: 'addr', field, negate, prefixes: parsePrefixes(v, fail) });
    } else if (w === 'ct') {
      expect('state');
      const states = take().split(',') as ('new' | 'established' | 'related' | 'invalid' | 'untracked')[];
      for (const s of states)
        if (!['new', 'established', 'related', 'invalid', 'untracked'].includes(s))
          fail(`unknown ct state "${s}"`);
      matches.push({ kind: 'ctState', states });
    } else if (w === 'fib') {
      const field = take();
      if (field !== 'saddr' && field !== 'daddr') fail(`fib ${field} is not read`);
      expect('type');
      expect('local');
      matches.push({ kind: 'fibLocal', field });
    } else if (w === 'meta') {
      const what = take();
      if (what === 'l4proto' && peek() === '.') {
        expect('.');
        expect('th');
        expect('dport');
        expect('vmap');
        const map = take();
        if (!map.startsWith('@')) fail(`expected @map after vmap, got "${map}"`);
        statements.push({ kind: 'vmap', key: 'l4proto.dport', map: map.slice(1) });
      } else if (what === 'l4proto') {
        const proto = take() as NftL4Proto;
        if (!PROTOS.includes(proto)) fail(`meta l4proto ${proto} is not read`);
        matches.push({ kind: 'l4proto', proto });
      } else if (what === 'mark' && peek() === '&') {
        take();
        const mask = hexOrInt(take(), fail);
        const op = take();
        if (op !== '==' && op !== '!=') fail(`expected == or != after the mark mask, got "${op}"`);
        matches.push({ kind: 'markMask', mask, negate: op === '!=', value: hexOrInt(take(), fail) });
      } else if (what === 'mark' && peek() === 'set') {
        take();
        expect('meta');
        expect('mark');
        const op = take();
        if (op !== '|' && op !== '^') fail(`meta mark set meta mark ${op} is not read`);
        statements.push({ kind: 'markSet', op: op === '|' ? 'or' : 'xor', value: hexOrInt(take(), fail) });
      } else fail(`meta ${what} is not read`);
    } else if (w === 'numgen') {
      expect('random');
      expect('mod');
      const n = hexOrInt(take(), fail);
      expect('vmap');
      const group = take();
      if (!group.startsWith('{')) fail('expected { index : verdict, … } after numgen … vmap');
      const targets: NftVerdict[] = [];
      for (const item of groupItems(group)) {
        const m = /^(\d+)\s*:\s*(.+)$/.exec(item);
        if (m === null) fail(`bad numgen map element "${item}"`);
        const index = Number(m[1]);
        if (index >= n || targets[index] !== undefined)
          fail(`numgen index ${index} is repeated or not below mod ${n}`);
        targets[index] = parseVerdict(m[2].trim().split(/\s+/), fail);
      }
      // A missing index makes the vmap match nothing for that draw; dpsim's table has no way
      // to say so yet, so such a map is refused rather than run differently.
      for (let k = 0; k < n; k++)
        if (targets[k] === undefined)
          fail(`numgen random mod ${n} has no element for ${k}: dpsim reads complete maps only`);
      statements.push({ kind: 'numgenVmap', targets });
    } else if (w === 'masquerade') {
      const fullyRandom = peek() === 'fully-random';
      if (fullyRandom) take();
      statements.push({ kind: 'masquerade', fullyRandom });
    } else if (w === 'dnat') {
      expect('to');
      const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(take());
      if (m === null || !isIPv4(m[1])) fail('dnat to needs ADDRESS:PORT');
      statements.push({ kind: 'dnat', addr: m[1], port: Number(m[2]) });
    } else if (w === 'update') {
      const set = take();
      if (!set.startsWith('@')) fail(`expected @set after update, got "${set}"`);
      const key = groupItems(take());
      const m = key.length === 1 ? /^ip (saddr|daddr)$/.exec(key[0]) : null;
      if (m === null) fail(`update @set { ${key.join(', ')} } is not read`);
      statements.push({ kind: 'setUpdate', set: set.slice(1), field: m[1] as 'saddr' | 'daddr' });
    } else if (w === 'reject' && peek() !== 'with') {
      statements.push({ kind: 'reject' });
    } else if (w === 'jump' || w === 'goto') {
      statements.push({ kind: 'verdict', verdict: parseVerdict([w, take()], fail) });
    } else if (w === 'accept' || w === 'drop' || w === 'return') {
      statements.push({ kind: 'verdict', verdict: { kind: w } });
    } else if (w === 'comment') {
      comment = unquote(take(), fail);
    } else if (w === 'counter') {
      // `counter packets N bytes M`: a real node's counters; dpsim counts nothing here.
      if (peek() === 'packets') i += 4;
    } else {
      fail(`cannot read "${w}" (dpsim reads the rules kube-proxy writes)`);
    }
  }
  return { matches, statements, ...(comment !== undefined ? { comment } : {}) };
}

export function parseDuration(text: string, fail: (why: string) => never): number {
  const re = /(\d+)([dhms])/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * { d: 86400, h: 3600, m: 60, s: 1 }[m[2] as 'd' | 'h' | 'm' | 's'];
    consumed += m[0].length;
  }
  if (consumed !== text.length || consumed === 0) fail(`bad duration "${text}"`);
  return total;
}

export function parseMapElement(
  item: string,
  keyType: NftMapKeyType,
  fail: (why: string) => never,
): NftMapElement {
  const colon = item.lastIndexOf(' : ');
  if (colon < 0) fail(`bad map element "${item}"`);
  let key = item.slice(0, colon).trim();
  const verdict = parseVerdict(
    item
      .slice(colon + 3)
      .trim()
      .split(/\s+/),
    fail,
  );
  let comment: string | undefined;
  const cm = /\s+comment\s+"([^"]*)"$/.exec(key);
  if (cm !== null) {
    comment = cm[1];
    key = key.slice(0, cm.index);
  }
  const parts = key.split(' . ').map((p) => p.trim());
  const withAddr = keyType.startsWith('ipv4_addr');
  if (parts.length !== (withAddr ? 3 : 2)) fail(`map element key "${key}" does not fit type ${keyType}`);
  const [addr, proto, port] = withAddr ? parts : [undefined, parts[0], parts[1]];
  if (addr !== undefined && !isIPv4(addr)) fail(`bad address "${addr}" in a map element`);
  if (!PROTOS.includes(proto as NftL4Proto)) fail(`bad protocol "${proto}" in a map element`);
  if (!/^\d+$/.test(port ?? '') || Number(port) > 65535) fail(`bad port "${port}" in a map element`);
  return {
    ...(addr !== undefined ? { addr } : {}),
    proto: proto as NftL4Proto,
    port: Number(port),
    ...(comment !== undefined ? { comment } : {}),
    verdict,
  };
}

interface Block {
  readonly kind: 'set' | 'map' | 'chain';
  readonly name: string;
  readonly line: number;
  body: { text: string; line: number }[];
}

/**
 * Joins an `elements = { … }` list that nft wraps over several lines into one line, so
 * every statement of a block is one entry.
 */
function joinWrapped(lines: { text: string; line: number }[]): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  for (const l of lines) {
    const prev = out[out.length - 1];
    const open =
      prev !== undefined ? (prev.text.match(/\{/g)?.length ?? 0) - (prev.text.match(/\}/g)?.length ?? 0) : 0;
    if (prev !== undefined && open > 0) prev.text += ` ${l.text}`;
    else out.push({ ...l });
  }
  return out;
}

/** Parses the ruleset text; `node` names the node the table runs on (its address for fib local). */
export function parseNftRuleset(text: string, node: { name: string; ip: string }): ParsedNftRuleset {
  const lines = text.split('\n');
  const warnings: string[] = [];
  let n = 0;
  const fail: (why: string, line?: number) => never = (why, line = n) => {
    throw new NftParseError(`nft ruleset line ${line}: ${why}`);
  };
  let table: { comment: string; blocks: Block[] } | null = null;
  let depth = 0;
  let current: Block | null = null;
  let inKubeProxy = false;
  for (const raw of lines) {
    n++;
    const l = raw.trim();
    if (l === '' || l.startsWith('#')) continue;
    if (depth === 0) {
      const m = /^table (\S+) (\S+) \{$/.exec(l);
      if (m === null) fail(`expected "table FAMILY NAME {", got "${l}"`);
      inKubeProxy = m[1] === 'ip' && m[2] === 'kube-proxy';
      if (inKubeProxy) {
        if (table !== null) fail('table ip kube-proxy appears twice');
        table = { comment: '', blocks: [] };
      } else warnings.push(`table ${m[1]} ${m[2]} skipped: dpsim runs kube-proxy's table ip kube-proxy only`);
      depth = 1;
      continue;
    }
    if (!inKubeProxy) {
      // Skip another table's body, counting braces outside strings.
      const unquoted = l.replace(/"[^"]*"/g, '');
      depth += (unquoted.match(/\{/g)?.length ?? 0) - (unquoted.match(/\}/g)?.length ?? 0);
      continue;
    }
    if (depth === 1) {
      if (l === '}') {
        depth = 0;
        continue;
      }
      const c = /^comment "([^"]*)"$/.exec(l);
      if (c !== null) {
        table!.comment = c[1];
        continue;
      }
      const b = /^(set|map|chain) (\S+) \{$/.exec(l);
      if (b === null) fail(`expected a set, map or chain, got "${l}"`);
      current = { kind: b[1] as Block['kind'], name: b[2], line: n, body: [] };
      table!.blocks.push(current);
      depth = 2;
      continue;
    }
    // depth 2: inside a block, until its closing brace (element lists are balanced on their own).
    const pending = current!.body[current!.body.length - 1];
    const pendingOpen =
      pending !== undefined &&
      (pending.text.match(/\{/g)?.length ?? 0) > (pending.text.match(/\}/g)?.length ?? 0);
    if (l === '}' && !pendingOpen) {
      current!.body = joinWrapped(current!.body);
      current = null;
      depth = 1;
      continue;
    }
    current!.body.push({ text: l, line: n });
  }
  if (depth !== 0) fail('unexpected end of input: a { is not closed', n);
  if (table === null)
    throw new NftParseError('the ruleset has no table ip kube-proxy (is this node in nftables mode?)');
  if (current !== null) current.body = joinWrapped(current.body);

  const sets: (NftSet | NftMap)[] = [];
  const chains: NftChain[] = [];
  for (const b of table.blocks) {
    if (b.kind === 'chain') chains.push(parseChain(b, fail));
    else sets.push(parseSetOrMap(b, fail));
  }
  const parsed: NftTable = {
    family: 'ip',
    name: 'kube-proxy',
    comment: table.comment,
    sets,
    chains,
    node: { name: node.name, ip: node.ip },
  };
  warnings.push(...unreachableChainWarnings(parsed));
  return { table: parsed, warnings };
}

function parseChain(b: Block, fail: (why: string, line?: number) => never): NftChain {
  let base: NftBaseChainSpec | undefined;
  let comment: string | undefined;
  const rules: NftRule[] = [];
  for (const { text, line } of b.body) {
    const lineFail: (why: string) => never = (why) => fail(why, line);
    const h = /^type (filter|nat) hook (\S+) priority (.+); policy (\S+);$/.exec(text);
    if (h !== null) {
      if (!HOOKS.includes(h[2] as NftHookName)) lineFail(`hook ${h[2]} is not read`);
      if (h[4] !== 'accept') lineFail(`policy ${h[4]}: dpsim reads kube-proxy's accept policies only`);
      base = {
        type: h[1] as 'filter' | 'nat',
        hook: h[2] as NftHookName,
        priority: parsePriority(h[3], lineFail),
        policy: 'accept',
      };
      continue;
    }
    const c = /^comment "([^"]*)"$/.exec(text);
    if (c !== null && rules.length === 0) {
      comment = c[1];
      continue;
    }
    rules.push(parseNftRule(text, lineFail));
  }
  return {
    name: b.name,
    ...(base !== undefined ? { base } : {}),
    ...(comment !== undefined ? { comment } : {}),
    rules,
  };
}

function parsePriority(text: string, fail: (why: string) => never): number {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return Number(t);
  const m = /^([a-z]+)(?: ([+-]) (\d+))?$/.exec(t);
  if (m === null || PRIORITY_VALUES[m[1]] === undefined) return fail(`bad priority "${t}"`);
  return PRIORITY_VALUES[m[1]] + (m[2] === undefined ? 0 : (m[2] === '+' ? 1 : -1) * Number(m[3]));
}

function parseSetOrMap(b: Block, fail: (why: string, line?: number) => never): NftSet | NftMap {
  let type: string | undefined;
  let comment: string | undefined;
  let flags: ('dynamic' | 'timeout')[] | undefined;
  let timeoutSeconds: number | undefined;
  let elementsText: string | undefined;
  for (const { text, line } of b.body) {
    const lineFail: (why: string) => never = (why) => fail(why, line);
    const field = /^(type|comment|flags|timeout|size|elements =) (.+)$/.exec(text);
    const value = field?.[2] ?? '';
    const quoted = /^"([^"]*)"$/.exec(value);
    switch (field?.[1]) {
      case 'type':
        type = value;
        break;
      case 'comment':
        if (quoted === null) lineFail(`comment needs a quoted string in ${b.kind} ${b.name}`);
        comment = quoted[1];
        break;
      case 'flags':
        flags = value.split(',') as ('dynamic' | 'timeout')[];
        for (const f of flags) if (f !== 'dynamic' && f !== 'timeout') lineFail(`set flag ${f} is not read`);
        break;
      case 'timeout':
        timeoutSeconds = parseDuration(value, lineFail);
        break;
      case 'size':
        // nft's default size of a dynamic set: implied by the flags.
        if (!/^\d+$/.test(value)) lineFail(`bad size "${value}"`);
        break;
      case 'elements =':
        if (!/^\{.*\}$/.test(value)) lineFail(`bad element list in ${b.kind} ${b.name}`);
        elementsText = value;
        break;
      default:
        lineFail(`cannot read "${text}" in ${b.kind} ${b.name}`);
    }
  }
  const blockFail: (why: string) => never = (why) => fail(why, b.line);
  if (b.kind === 'set') {
    if (type !== 'ipv4_addr')
      blockFail(`set ${b.name}: type ${type ?? '(none)'} is not read (ipv4_addr only)`);
    const elements = elementsText === undefined ? [] : groupItems(elementsText);
    for (const e of elements)
      if (!isIPv4(e)) blockFail(`set ${b.name}: element "${e}" is not an IPv4 address`);
    return {
      kind: 'set',
      name: b.name,
      type: 'ipv4_addr',
      ...(comment !== undefined ? { comment } : {}),
      ...(flags !== undefined ? { flags } : {}),
      ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
      elements,
    };
  }
  const keyType = type?.replace(/ : verdict$/, '') as NftMapKeyType | undefined;
  if (keyType !== 'ipv4_addr . inet_proto . inet_service' && keyType !== 'inet_proto . inet_service')
    return blockFail(`map ${b.name}: type ${type ?? '(none)'} is not read`);
  const elements =
    elementsText === undefined
      ? []
      : groupItems(elementsText).map((e) => parseMapElement(e, keyType, blockFail));
  return { kind: 'map', name: b.name, keyType, ...(comment !== undefined ? { comment } : {}), elements };
}

/**
 * Dispatching chains no base chain reaches (directly, through jumps/gotos, or through verdict maps):
 * with no base chain at all — a dump of the chains without their hooks — no packet is ever
 * evaluated, which a user should be told instead of seeing everything pass unmatched.
 */
function unreachableChainWarnings(table: NftTable): string[] {
  const byName = new Map(table.chains.map((c) => [c.name, c]));
  const maps = new Map(table.sets.filter((s): s is NftMap => s.kind === 'map').map((m) => [m.name, m]));
  const targets = (c: NftChain): string[] =>
    c.rules.flatMap((r) =>
      r.statements.flatMap((s) => {
        const verdicts =
          s.kind === 'verdict'
            ? [s.verdict]
            : s.kind === 'numgenVmap'
              ? s.targets
              : s.kind === 'vmap'
                ? (maps.get(s.map)?.elements.map((e) => e.verdict) ?? [])
                : [];
        return verdicts.flatMap((v) => (v.kind === 'jump' || v.kind === 'goto' ? [v.chain] : []));
      }),
    );
  const bases = table.chains.filter((c) => c.base !== undefined);
  if (bases.length === 0 && table.chains.length > 0)
    return [
      'table ip kube-proxy has no base chain (no "type … hook … priority …" line): no packet reaches any of its chains',
    ];
  const reached = new Set<string>();
  const stack = bases.map((c) => c.name);
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (reached.has(name)) continue;
    reached.add(name);
    const c = byName.get(name);
    if (c !== undefined) stack.push(...targets(c));
  }
  const jumpedTo = new Set(table.chains.filter((c) => !reached.has(c.name)).flatMap(targets));
  // Only dispatching chains matter: an unreached leaf (kube-proxy's reject-chain while no
  // Service lacks endpoints) changes nothing, but an unreached `services` chain means every
  // packet passes unmatched.
  return table.chains
    .filter((c) => !reached.has(c.name) && !jumpedTo.has(c.name) && targets(c).length > 0)
    .map(
      (c) =>
        `chain ${c.name} (${c.rules.length} rule${c.rules.length === 1 ? '' : 's'}) is not reached from any base chain; no packet will match it`,
    );
}
