/**
 * `nft -f` of one transaction, on dpsim's NftTable: the commands kube-proxy's nftables proxier
 * emits (add/flush/delete of its table, chains, rules, sets and maps, add/delete of elements)
 * applied in order to the table as it stands, so a sequence of incremental transactions can be
 * checked against a full compile without a kernel.
 *
 * Like the kernel (checked with nft 1.0.6 on Linux 6.18 in a netns), a transaction is atomic —
 * the first failing command fails it and the table stays as it was — and it refuses:
 * - a command on a chain, set, map or element that does not exist (ENOENT), a rule or map
 *   element whose jump/goto names a missing chain, a rule naming a missing set or map;
 * - `delete chain` of a chain a rule or a map element still jumps to (EBUSY); a chain's own
 *   rules go with it, so a non-empty chain nobody references is deleted;
 * - `delete set/map` of one a rule still names (EBUSY);
 * - `add element` of a key the map holds with another verdict (EEXIST; the same verdict is a
 *   no-op, which is why kube-proxy deletes and re-adds an element it changes);
 * - `add set/map` over an existing one of another type (EEXIST).
 * `add table/chain/set/map` of an existing object changes nothing. Only `table ip kube-proxy`
 * is read (the IPv4 proxier's; rules are read with the `nft list` reader, which is IPv4-only).
 */
import { parseDuration, parseMapElement, parseNftRule } from './parse.js';
import type {
  NftChain,
  NftHookName,
  NftMap,
  NftMapElement,
  NftMapKeyType,
  NftRule,
  NftSet,
  NftTable,
  NftVerdict,
} from './table.js';
import { mapElementKey } from './transaction.js';

export class NftTransactionError extends Error {
  override name = 'NftTransactionError';
}

type Container =
  | { readonly def: Omit<NftSet, 'elements'>; readonly elements: Map<string, string> }
  | { readonly def: Omit<NftMap, 'elements'>; readonly elements: Map<string, NftMapElement> };

interface WorkChain {
  readonly name: string;
  readonly base?: NftChain['base'];
  readonly comment?: string;
  rules: NftRule[];
}

const PRIORITIES: Readonly<Record<string, number>> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
};

/** Chains a verdict names. */
function verdictChains(v: NftVerdict, out: string[]): void {
  if (v.kind === 'jump' || v.kind === 'goto') out.push(v.chain);
}

function ruleChainRefs(r: NftRule): string[] {
  const out: string[] = [];
  for (const s of r.statements) {
    if (s.kind === 'verdict') verdictChains(s.verdict, out);
    else if (s.kind === 'numgenVmap') for (const t of s.targets) verdictChains(t, out);
  }
  return out;
}

function ruleSetRefs(r: NftRule): string[] {
  const out: string[] = [];
  for (const m of r.matches) if (m.kind === 'addrInSet') out.push(m.set);
  for (const s of r.statements)
    if (s.kind === 'vmap' || s.kind === 'setUpdate') out.push(s.kind === 'vmap' ? s.map : s.set);
  return out;
}

/** `{ a ; b ; }` → ['a', 'b'] (semicolons inside quotes stay). */
function properties(spec: string, fail: (why: string) => never): string[] {
  const t = spec.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) fail(`expected { … }, got "${t}"`);
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of t.slice(1, -1)) {
    if (ch === '"') quoted = !quoted;
    if (ch === ';' && !quoted) {
      if (cur.trim() !== '') out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

function commentOf(prop: string, fail: (why: string) => never): string {
  const m = /^comment "([^"]*)"$/.exec(prop);
  if (m === null) fail(`bad comment "${prop}"`);
  return m[1];
}

/**
 * Applies `text` (one `nft -f` transaction) to `before` (null: no table yet) and returns the
 * new table; `before` is not changed. `node` is the node the table runs on.
 */
export function applyNftTransaction(
  before: NftTable | null,
  text: string,
  node: { readonly name: string; readonly ip: string },
): NftTable {
  let exists = before !== null;
  let comment = before?.comment ?? '';
  const chains: WorkChain[] = [];
  const chainByName = new Map<string, WorkChain>();
  const containers: Container[] = [];
  const containerByName = new Map<string, Container>();
  for (const c of before?.chains ?? []) {
    const w: WorkChain = { ...c, rules: [...c.rules] };
    chains.push(w);
    chainByName.set(c.name, w);
  }
  for (const s of before?.sets ?? []) {
    const { elements, ...def } = s;
    const c: Container =
      s.kind === 'set'
        ? { def: def as Omit<NftSet, 'elements'>, elements: new Map(s.elements.map((e) => [e, e])) }
        : {
            def: def as Omit<NftMap, 'elements'>,
            elements: new Map(s.elements.map((e) => [mapElementKey(e), e])),
          };
    containers.push(c);
    containerByName.set(s.name, c);
  }
  const deletedChains = new Set<WorkChain>();
  const deletedContainers = new Set<Container>();

  // Who references a chain or a set, counted once when first needed and kept up to date.
  let refs: { chains: Map<string, number>; sets: Map<string, number> } | null = null;
  const bump = (m: Map<string, number>, k: string, d: number) => m.set(k, (m.get(k) ?? 0) + d);
  const referenceCounts = () => {
    if (refs !== null) return refs;
    const r = { chains: new Map<string, number>(), sets: new Map<string, number>() };
    for (const c of chains)
      for (const rule of c.rules) {
        for (const t of ruleChainRefs(rule)) bump(r.chains, t, 1);
        for (const s of ruleSetRefs(rule)) bump(r.sets, s, 1);
      }
    for (const c of containers)
      if (c.def.kind === 'map')
        for (const el of (c.elements as Map<string, NftMapElement>).values()) {
          const out: string[] = [];
          verdictChains(el.verdict, out);
          for (const t of out) bump(r.chains, t, 1);
        }
    refs = r;
    return r;
  };
  const countRule = (rule: NftRule, d: number) => {
    if (refs === null) return;
    for (const t of ruleChainRefs(rule)) bump(refs.chains, t, d);
    for (const s of ruleSetRefs(rule)) bump(refs.sets, s, d);
  };
  const countElement = (el: NftMapElement, d: number) => {
    if (refs === null) return;
    const out: string[] = [];
    verdictChains(el.verdict, out);
    for (const t of out) bump(refs.chains, t, d);
  };

  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '' || line.startsWith('#')) continue;
    const fail = (why: string): never => {
      throw new NftTransactionError(`line ${n + 1}: ${line}: ${why}`);
    };
    const m = /^(add|flush|delete) (table|chain|rule|set|map|element) (\S+) (\S+)(?: (.*))?$/.exec(line);
    if (m === null)
      fail('not a command kube-proxy writes (add/flush/delete of table, chain, rule, set, map, element)');
    const [, verb, object, family, tableName, rest = ''] = m as unknown as string[];
    if (family !== 'ip' || tableName !== 'kube-proxy')
      fail(`only table ip kube-proxy is read, not ${family} ${tableName}`);
    if (object === 'table') {
      if (verb === 'add') {
        if (!exists) {
          exists = true;
          const props = rest === '' ? [] : properties(rest, fail);
          for (const p of props) comment = commentOf(p, fail);
        }
        continue;
      }
      fail(`${verb} table is not a command kube-proxy's syncs write`);
    }
    if (!exists) fail('No such file or directory (the table does not exist)');
    const sp = rest.indexOf(' ');
    const name = sp < 0 ? rest : rest.slice(0, sp);
    const spec = sp < 0 ? '' : rest.slice(sp + 1).trim();
    if (name === '') fail('the command names no object');

    const chainNamed = (chainName: string): WorkChain => {
      const c = chainByName.get(chainName);
      if (c === undefined) fail(`No such file or directory (no chain ${chainName})`);
      return c as WorkChain;
    };
    const containerNamed = (kind: 'set' | 'map' | null): Container => {
      const c = containerByName.get(name);
      if (c === undefined || (kind !== null && c.def.kind !== kind))
        fail(`No such file or directory (no ${kind ?? 'set or map'} ${name})`);
      return c as Container;
    };

    switch (object) {
      case 'chain': {
        if (verb === 'add') {
          if (chainByName.has(name)) continue;
          let base: NftChain['base'];
          let chainComment: string | undefined;
          for (const p of spec === '' ? [] : properties(spec, fail)) {
            const b =
              /^type (filter|nat) hook (prerouting|input|forward|output|postrouting) priority (.+)$/.exec(p);
            if (b !== null) {
              base = {
                type: b[1] as 'filter' | 'nat',
                hook: b[2] as NftHookName,
                priority: priorityValue(b[3], fail),
                policy: 'accept',
              };
            } else chainComment = commentOf(p, fail);
          }
          const w: WorkChain = {
            name,
            ...(base !== undefined ? { base } : {}),
            ...(chainComment !== undefined ? { comment: chainComment } : {}),
            rules: [],
          };
          chains.push(w);
          chainByName.set(name, w);
        } else if (verb === 'flush') {
          const c = chainNamed(name);
          for (const r of c.rules) countRule(r, -1);
          c.rules = [];
        } else {
          const c = chainNamed(name);
          const users = referenceCounts().chains.get(name) ?? 0;
          if (users > 0)
            fail(`Device or resource busy (${users} rule(s) or map element(s) still jump to it)`);
          for (const r of c.rules) countRule(r, -1);
          chainByName.delete(name);
          deletedChains.add(c);
        }
        continue;
      }
      case 'rule': {
        if (verb !== 'add') fail(`${verb} rule is not a command kube-proxy's syncs write`);
        const c = chainNamed(name);
        const rule = parseNftRule(spec, fail);
        for (const t of ruleChainRefs(rule)) chainNamed(t);
        for (const s of ruleSetRefs(rule))
          if (!containerByName.has(s)) fail(`No such file or directory (no set or map ${s})`);
        c.rules.push(rule);
        countRule(rule, 1);
        continue;
      }
      case 'set':
      case 'map': {
        const kind = object;
        if (verb === 'add') {
          const def = setOrMapDef(kind, name, spec, fail);
          const existing = containerByName.get(name);
          if (existing !== undefined) {
            if (existing.def.kind !== kind || typeOf(existing.def) !== typeOf(def))
              fail(`File exists (${existing.def.kind} ${name} has type ${typeOf(existing.def)})`);
            continue;
          }
          const c: Container =
            def.kind === 'set' ? { def, elements: new Map<string, string>() } : { def, elements: new Map() };
          containers.push(c);
          containerByName.set(name, c);
        } else if (verb === 'flush') {
          const c = containerNamed(kind);
          if (c.def.kind === 'map')
            for (const el of (c.elements as Map<string, NftMapElement>).values()) countElement(el, -1);
          c.elements.clear();
        } else {
          const c = containerNamed(kind);
          const users = referenceCounts().sets.get(name) ?? 0;
          if (users > 0) fail(`Device or resource busy (${users} rule(s) still use it)`);
          if (c.def.kind === 'map')
            for (const el of (c.elements as Map<string, NftMapElement>).values()) countElement(el, -1);
          containerByName.delete(name);
          deletedContainers.add(c);
        }
        continue;
      }
      case 'element': {
        const c = containerNamed(null);
        const items = elementItems(spec, fail);
        for (const item of items) {
          if (c.def.kind === 'set') {
            const set = c.elements as Map<string, string>;
            if (!/^\d+\.\d+\.\d+\.\d+$/.test(item)) fail(`"${item}" is not an IPv4 address`);
            if (verb === 'add') set.set(item, item);
            else if (verb === 'delete') {
              if (!set.delete(item)) fail(`No such file or directory (no element ${item})`);
            } else fail(`${verb} element is not a command`);
            continue;
          }
          const map = c.elements as Map<string, NftMapElement>;
          const keyType: NftMapKeyType = c.def.keyType;
          if (verb === 'add') {
            const el = parseMapElement(item, keyType, fail);
            const key = mapElementKey(el);
            const held = map.get(key);
            if (held !== undefined) {
              if (verdictText(held.verdict) !== verdictText(el.verdict))
                fail(`File exists (${key} maps to ${verdictText(held.verdict)})`);
              continue;
            }
            const targets: string[] = [];
            verdictChains(el.verdict, targets);
            for (const t of targets) chainNamed(t);
            map.set(key, el);
            countElement(el, 1);
          } else if (verb === 'delete') {
            const key = item.replace(/\s+/g, ' ').trim();
            const held = map.get(key);
            if (held === undefined) fail(`No such file or directory (no element ${key})`);
            map.delete(key);
            countElement(held as NftMapElement, -1);
          } else fail(`${verb} element is not a command`);
        }
        continue;
      }
    }
  }
  if (!exists) throw new NftTransactionError('the transaction leaves no table ip kube-proxy');
  return {
    family: 'ip',
    name: 'kube-proxy',
    comment,
    sets: containers
      .filter((c) => !deletedContainers.has(c))
      .map((c) =>
        c.def.kind === 'set'
          ? ({ ...c.def, elements: [...(c.elements as Map<string, string>).keys()] } as NftSet)
          : ({ ...c.def, elements: [...(c.elements as Map<string, NftMapElement>).values()] } as NftMap),
      ),
    chains: chains
      .filter((c) => !deletedChains.has(c))
      .map((c) => ({
        name: c.name,
        ...(c.base !== undefined ? { base: c.base } : {}),
        ...(c.comment !== undefined ? { comment: c.comment } : {}),
        rules: c.rules,
      })),
    node: { name: node.name, ip: node.ip },
  };
}

function verdictText(v: NftVerdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.chain}` : v.kind;
}

function typeOf(def: Omit<NftSet, 'elements'> | Omit<NftMap, 'elements'>): string {
  return def.kind === 'set' ? def.type : def.keyType;
}

function priorityValue(text: string, fail: (why: string) => never): number {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return Number(t);
  const m = /^([a-z]+)(?:\s*([+-])\s*(\d+))?$/.exec(t);
  if (m === null || PRIORITIES[m[1]] === undefined) return fail(`bad priority "${t}"`);
  return PRIORITIES[m[1]] + (m[2] === undefined ? 0 : (m[2] === '+' ? 1 : -1) * Number(m[3]));
}

function setOrMapDef(
  kind: 'set' | 'map',
  name: string,
  spec: string,
  fail: (why: string) => never,
): Omit<NftSet, 'elements'> | Omit<NftMap, 'elements'> {
  let type: string | undefined;
  let comment: string | undefined;
  let flags: ('dynamic' | 'timeout')[] | undefined;
  let timeoutSeconds: number | undefined;
  for (const p of properties(spec, fail)) {
    const f = /^(type|comment|flags|timeout) (.+)$/.exec(p);
    if (f === null) fail(`cannot read "${p}" in ${kind} ${name}`);
    const [, field, value] = f as unknown as string[];
    if (field === 'type') type = value;
    else if (field === 'comment') comment = commentOf(p, fail);
    else if (field === 'flags') {
      flags = value.split(',') as ('dynamic' | 'timeout')[];
      for (const fl of flags) if (fl !== 'dynamic' && fl !== 'timeout') fail(`set flag ${fl} is not read`);
    } else timeoutSeconds = parseDuration(value, fail);
  }
  if (kind === 'set') {
    if (type !== 'ipv4_addr')
      return fail(`set ${name}: type ${type ?? '(none)'} is not read (ipv4_addr only)`);
    return {
      kind: 'set',
      name,
      type: 'ipv4_addr',
      ...(comment !== undefined ? { comment } : {}),
      ...(flags !== undefined ? { flags } : {}),
      ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    };
  }
  const keyType = type?.replace(/ : verdict$/, '');
  if (keyType !== 'ipv4_addr . inet_proto . inet_service' && keyType !== 'inet_proto . inet_service')
    return fail(`map ${name}: type ${type ?? '(none)'} is not read`);
  return { kind: 'map', name, keyType, ...(comment !== undefined ? { comment } : {}) };
}

/** `{ a, b }` → ['a', 'b'] (commas inside quotes stay). */
function elementItems(spec: string, fail: (why: string) => never): string[] {
  const t = spec.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) fail(`expected { element, … }, got "${t}"`);
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of t.slice(1, -1)) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  if (out.length === 0 || out.some((e) => e === '')) fail('empty element');
  return out;
}
