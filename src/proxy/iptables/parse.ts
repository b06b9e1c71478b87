/**
 * Reads `iptables-save` output (with or without `-c` counters) and `iptables-restore`
 * input into the structured Ruleset, tokenizing and routing options the way
 * iptables-restore 1.8.9 does: double quotes group, `\` escapes only inside quotes,
 * `--dport` after `-p tcp` loads the tcp match implicitly at that point, an option goes
 * to the target or the loaded match that defines it.
 *
 * Matches and targets dpsim does not model are kept verbatim (kind 'unknown') and
 * reported as warnings naming the line; malformed input (bad address, probability out of
 * range, rule in an undeclared chain, jump to an undeclared chain, missing COMMIT) is an
 * IptablesParseError naming the line, as iptables-restore would refuse it.
 */
import { parseIPv4 } from '../../util/ipv4.js';
import { formatIPv6, parseIPv6, prefixMask6 } from '../../util/ipv6.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import { probabilityToKernel } from './format.js';
import {
  ADDRTYPE_NAMES,
  type AddrMatch,
  type AddrTypeSpec,
  BUILTIN_CHAINS,
  type Chain,
  CT_STATE_BITS,
  emptyRule,
  type IfaceMatch,
  isTableName,
  type Match,
  type NatRange,
  newTable,
  type PortRange,
  PROTO_NAMES,
  REJECT_WITH_NAMES,
  type RejectWith,
  type Rule,
  type Ruleset,
  type Table,
  type TableName,
  type Target,
} from './types.js';

export class IptablesParseError extends Error {
  override name = 'IptablesParseError';
  constructor(
    readonly line: number,
    readonly detail: string,
  ) {
    super(`iptables input line ${line}: ${detail}`);
  }
}

export interface ParseWarning {
  readonly line: number;
  readonly message: string;
}

export interface ParseResult {
  readonly ruleset: Ruleset;
  /** Rules kept with parts dpsim cannot evaluate (unknown matches, targets or options). */
  readonly warnings: readonly ParseWarning[];
}

/** iptables-restore's tokenizer (xshared.c add_param_to_argv). */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  const n = line.length;
  let i = 0;
  while (i < n) {
    let c = line.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      i++;
      continue;
    }
    // One token: plain characters, then possibly a quoted part that ends the token at its
    // closing quote (an opening quote does not split: a"b c" is the single token "ab c").
    const start = i;
    for (; i < n; i++) {
      c = line.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 34) break;
    }
    let token = line.slice(start, i);
    if (i < n && c === 34) {
      i++;
      let part = '';
      let from = i;
      for (; i < n; i++) {
        const q = line.charCodeAt(i);
        if (q === 92 && i + 1 < n) {
          // Backslash escapes the next character, inside quotes only.
          part += line.slice(from, i);
          from = i + 1;
          i++;
        } else if (q === 34) break;
      }
      part += line.slice(from, i);
      token += part;
      i++; // past the closing quote (or the end)
    }
    out.push(token);
  }
  return out;
}

/** Option name → number of values, per match module dpsim knows. */
const MATCH_OPTIONS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  comment: { '--comment': 1 },
  tcp: {
    '--sport': 1,
    '--source-port': 1,
    '--dport': 1,
    '--destination-port': 1,
    '--tcp-flags': 2,
    '--syn': 0,
    '--tcp-option': 1,
  },
  udp: { '--sport': 1, '--source-port': 1, '--dport': 1, '--destination-port': 1 },
  sctp: { '--sport': 1, '--source-port': 1, '--dport': 1, '--destination-port': 1, '--chunk-types': 2 },
  addrtype: { '--src-type': 1, '--dst-type': 1, '--limit-iface-in': 0, '--limit-iface-out': 0 },
  statistic: { '--mode': 1, '--probability': 1, '--every': 1, '--packet': 1 },
  mark: { '--mark': 1 },
  conntrack: {
    '--ctstate': 1,
    '--ctproto': 1,
    '--ctorigsrc': 1,
    '--ctorigdst': 1,
    '--ctreplsrc': 1,
    '--ctrepldst': 1,
    '--ctorigsrcport': 1,
    '--ctorigdstport': 1,
    '--ctreplsrcport': 1,
    '--ctrepldstport': 1,
    '--ctstatus': 1,
    '--ctexpire': 1,
    '--ctdir': 1,
  },
  recent: {
    '--set': 0,
    '--rcheck': 0,
    '--update': 0,
    '--remove': 0,
    '--seconds': 1,
    '--reap': 0,
    '--hitcount': 1,
    '--rttl': 0,
    '--name': 1,
    '--mask': 1,
    '--rsource': 0,
    '--rdest': 0,
  },
  nfacct: { '--nfacct-name': 1 },
  set: {
    '--match-set': 2,
    '--return-nomatch': 0,
    '--update-counters': 0,
    '--update-subcounters': 0,
    '--packets-eq': 1,
    '--packets-lt': 1,
    '--packets-gt': 1,
    '--bytes-eq': 1,
    '--bytes-lt': 1,
    '--bytes-gt': 1,
  },
  ipvs: {
    '--ipvs': 0,
    '--vproto': 1,
    '--vaddr': 1,
    '--vport': 1,
    '--vdir': 1,
    '--vmethod': 1,
    '--vportctl': 1,
  },
  physdev: {
    '--physdev-in': 1,
    '--physdev-out': 1,
    '--physdev-is-in': 0,
    '--physdev-is-out': 0,
    '--physdev-is-bridged': 0,
  },
};

/** IPSET_MAXNAMELEN - 1 and IPSET_DIM_MAX (libxt_set). */
const IPSET_NAME_MAX = 31;
const IPSET_DIM_MAX = 6;

const TARGET_OPTIONS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  ACCEPT: {},
  DROP: {},
  RETURN: {},
  REJECT: { '--reject-with': 1 },
  DNAT: { '--to-destination': 1, '--random': 0, '--persistent': 0 },
  SNAT: { '--to-source': 1, '--random': 0, '--random-fully': 0, '--persistent': 0 },
  MASQUERADE: { '--to-ports': 1, '--random': 0, '--random-fully': 0 },
  MARK: { '--set-xmark': 1, '--set-mark': 1, '--and-mark': 1, '--or-mark': 1, '--xor-mark': 1 },
};

/** Target extensions that exist in iptables but that dpsim does not model: kept, with a warning. */
const UNMODELED_TARGETS = new Set([
  'AUDIT',
  'CHECKSUM',
  'CLASSIFY',
  'CONNMARK',
  'CONNSECMARK',
  'CT',
  'DSCP',
  'ECN',
  'HMARK',
  'IDLETIMER',
  'LED',
  'LOG',
  'NETMAP',
  'NFLOG',
  'NFQUEUE',
  'NOTRACK',
  'RATEEST',
  'REDIRECT',
  'SECMARK',
  'SET',
  'SYNPROXY',
  'TCPMSS',
  'TCPOPTSTRIP',
  'TEE',
  'TOS',
  'TPROXY',
  'TRACE',
  'TTL',
  'ULOG',
]);

const REJECT_ALIASES: Readonly<Record<string, RejectWith>> = {
  'net-unreach': 'icmp-net-unreachable',
  'host-unreach': 'icmp-host-unreachable',
  'proto-unreach': 'icmp-proto-unreachable',
  'port-unreach': 'icmp-port-unreachable',
  'net-prohib': 'icmp-net-prohibited',
  'host-prohib': 'icmp-host-prohibited',
  'tcp-rst': 'tcp-reset',
  'admin-prohib': 'icmp-admin-prohibited',
};

const PROTO_NUMBERS: ReadonlyMap<string, number> = new Map([
  ...[...PROTO_NAMES].map(([n, name]) => [name, n] as [string, number]),
  ['icmpv6', 58],
]);

/** Raised by a match/target converter for an option dpsim does not model (→ kept as unknown). */
class Unmodeled extends Error {}

interface ModuleArgs {
  name: string;
  args: string[];
}

interface TargetArgs extends ModuleArgs {
  goto: boolean;
}

/** Context a rule is parsed in: its table and the chains declared there. */
export interface RuleContext {
  /** ip6tables input: addresses are IPv6 and REJECT defaults to icmp6-port-unreachable. */
  readonly ipv6?: boolean;
  readonly table: TableName;
  readonly chains: { has(name: string): boolean };
  readonly line: number;
  readonly warnings: ParseWarning[];
}

function fail(ctx: RuleContext, detail: string): never {
  throw new IptablesParseError(ctx.line, detail);
}

/** strtoul(text, 0): decimal, 0x hex or 0 octal. */
function parseUint(ctx: RuleContext, text: string, what: string, max = 0xffffffff): number {
  let v: number;
  if (/^0x[0-9a-f]+$/i.test(text)) v = Number.parseInt(text.slice(2), 16);
  else if (/^0[0-7]+$/.test(text)) v = Number.parseInt(text.slice(1), 8);
  else if (/^\d+$/.test(text)) v = Number.parseInt(text, 10);
  else fail(ctx, `bad value "${text}" for ${what}`);
  if (v > max) fail(ctx, `value "${text}" for ${what} is out of range`);
  return v;
}

function parseAddrMask(ctx: RuleContext, text: string, invert: boolean): AddrMatch {
  if (text.includes(','))
    fail(ctx, `address lists ("${text}") are not supported; write one rule per address`);
  if (ctx.ipv6 === true) return parseAddrMask6(ctx, text, invert);
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  let mask = 0xffffffff;
  let addr: number;
  try {
    addr = parseIPv4(addrText);
    if (slash >= 0) {
      const m = text.slice(slash + 1);
      if (/^\d+$/.test(m)) {
        const len = Number(m);
        if (len > 32) fail(ctx, `invalid mask "${m}"`);
        mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      } else mask = parseIPv4(m);
    }
  } catch (e) {
    if (e instanceof IptablesParseError) throw e;
    fail(ctx, `host/network "${text}" not found`);
  }
  return { addr: (addr & mask) >>> 0, mask, invert };
}

function parsePortRange(ctx: RuleContext, text: string, invert: boolean): PortRange {
  const m = /^(\d*)(?::(\d*))?$/.exec(text);
  if (!m || (m[1] === '' && m[2] === undefined)) fail(ctx, `invalid port/service "${text}" specified`);
  const min = m[1] === '' ? 0 : Number(m[1]);
  const max = m[2] === undefined ? min : m[2] === '' ? 65535 : Number(m[2]);
  if (min > 65535 || max > 65535 || min > max) fail(ctx, `invalid port range "${text}"`);
  return { min, max, invert };
}

/** Splits module args into (option, values, inverted) triples using the option table. */
function* options(
  ctx: RuleContext,
  mod: ModuleArgs,
  table: Readonly<Record<string, number>>,
): Generator<{ opt: string; values: string[]; invert: boolean }> {
  const a = mod.args;
  for (let i = 0; i < a.length; ) {
    let invert = false;
    if (a[i] === '!') {
      invert = true;
      i++;
    }
    const opt = a[i];
    const arity = table[opt];
    if (arity === undefined) fail(ctx, `${mod.name}: unexpected argument "${opt}"`);
    const values = a.slice(i + 1, i + 1 + arity);
    if (values.length < arity) fail(ctx, `${mod.name}: option "${opt}" requires an argument`);
    i += 1 + arity;
    yield { opt, values, invert };
  }
}

function convertMatch(ctx: RuleContext, mod: ModuleArgs): Match {
  const table = MATCH_OPTIONS[mod.name];
  switch (mod.name) {
    case 'comment': {
      let comment: string | null = null;
      for (const { values } of options(ctx, mod, table)) comment = values[0];
      if (comment === null) fail(ctx, 'comment: --comment is required');
      if (comment.length > 255) fail(ctx, 'comment: COMMENT must be shorter than 256 characters');
      return { kind: 'comment', comment };
    }
    case 'tcp':
    case 'udp':
    case 'sctp': {
      let sport: PortRange | null = null;
      let dport: PortRange | null = null;
      for (const { opt, values, invert } of options(ctx, mod, table)) {
        if (opt === '--sport' || opt === '--source-port') sport = parsePortRange(ctx, values[0], invert);
        else if (opt === '--dport' || opt === '--destination-port')
          dport = parsePortRange(ctx, values[0], invert);
        else throw new Unmodeled(`${mod.name} option ${opt}`);
      }
      return { kind: mod.name, sport, dport };
    }
    case 'addrtype': {
      let src: AddrTypeSpec | null = null;
      let dst: AddrTypeSpec | null = null;
      let limitIfaceIn = false;
      let limitIfaceOut = false;
      for (const { opt, values, invert } of options(ctx, mod, table)) {
        if (opt === '--limit-iface-in') limitIfaceIn = true;
        else if (opt === '--limit-iface-out') limitIfaceOut = true;
        else {
          let types = 0;
          for (const name of values[0].split(',')) {
            const i = ADDRTYPE_NAMES.indexOf(name.toUpperCase() as (typeof ADDRTYPE_NAMES)[number]);
            if (i < 0) fail(ctx, `addrtype: bad type "${name}"`);
            types |= 1 << i;
          }
          if (opt === '--src-type') src = { types, invert };
          else dst = { types, invert };
        }
      }
      if (limitIfaceIn && limitIfaceOut)
        fail(ctx, 'addrtype: --limit-iface-in and --limit-iface-out are exclusive');
      return { kind: 'addrtype', src, dst, limitIfaceIn, limitIfaceOut };
    }
    case 'statistic': {
      let mode: string | null = null;
      let probability = -1;
      let every = 0;
      let packet = 0;
      let invert = false;
      for (const { opt, values, invert: inv } of options(ctx, mod, table)) {
        if (opt === '--mode') mode = values[0];
        else if (opt === '--probability') {
          const p = Number(values[0]);
          if (!/^[\d.eE+-]+$/.test(values[0]) || !(p >= 0 && p <= 1)) {
            fail(ctx, 'statistic: bad value for option "--probability", or out of range (0-1).');
          }
          probability = probabilityToKernel(p);
          invert ||= inv;
        } else if (opt === '--every') {
          every = parseUint(ctx, values[0], '--every');
          if (every === 0) fail(ctx, 'statistic: --every must be at least 1');
          invert ||= inv;
        } else packet = parseUint(ctx, values[0], '--packet');
      }
      if (mode === 'random') {
        if (probability < 0) fail(ctx, 'statistic: --probability is required with --mode random');
        return { kind: 'statistic', mode: 'random', probability, invert };
      }
      if (mode === 'nth') {
        if (every === 0) fail(ctx, 'statistic: --every is required with --mode nth');
        if (packet >= every) fail(ctx, 'statistic: --packet must be less than --every');
        return { kind: 'statistic', mode: 'nth', every, packet, invert };
      }
      return fail(ctx, `statistic: bad mode "${mode ?? ''}"`);
    }
    case 'mark': {
      let spec: { value: number; mask: number; invert: boolean } | null = null;
      for (const { values, invert } of options(ctx, mod, table)) {
        const [v, m] = values[0].split('/');
        spec = {
          value: parseUint(ctx, v, '--mark'),
          mask: m === undefined ? 0xffffffff : parseUint(ctx, m, '--mark'),
          invert,
        };
      }
      if (spec === null) fail(ctx, 'mark: --mark is required');
      return { kind: 'mark', ...spec };
    }
    case 'conntrack': {
      let ctstate = -1;
      let invert = false;
      for (const { opt, values, invert: inv } of options(ctx, mod, table)) {
        if (opt !== '--ctstate') throw new Unmodeled(`conntrack option ${opt}`);
        ctstate = 0;
        for (const name of values[0].split(',')) {
          const bit = CT_STATE_BITS[name.toUpperCase() as keyof typeof CT_STATE_BITS];
          if (bit === undefined) fail(ctx, `conntrack: bad ctstate "${name}"`);
          ctstate |= bit;
        }
        invert = inv;
      }
      if (ctstate < 0) throw new Unmodeled('conntrack without --ctstate');
      return { kind: 'conntrack', ctstate, invert };
    }
    case 'recent': {
      let action: 'set' | 'rcheck' | 'update' | 'remove' | null = null;
      let invert = false;
      let seconds = 0;
      let reap = false;
      let hitcount = 0;
      let rttl = false;
      let name = 'DEFAULT';
      let mask = 0xffffffff;
      let mask6 = ctx.ipv6 === true ? ALL_ONES_IPV6 : undefined;
      let side: 'source' | 'dest' = 'source';
      for (const { opt, values, invert: inv } of options(ctx, mod, table)) {
        switch (opt) {
          case '--set':
          case '--rcheck':
          case '--update':
          case '--remove':
            if (action !== null)
              fail(ctx, 'recent: only one of --set, --rcheck, --update, --remove is allowed');
            action = opt.slice(2) as 'set' | 'rcheck' | 'update' | 'remove';
            invert = inv;
            break;
          case '--seconds':
            seconds = parseUint(ctx, values[0], '--seconds');
            break;
          case '--reap':
            reap = true;
            break;
          case '--hitcount':
            hitcount = parseUint(ctx, values[0], '--hitcount');
            break;
          case '--rttl':
            rttl = true;
            break;
          case '--name':
            name = values[0];
            break;
          case '--mask':
            if (ctx.ipv6 === true) {
              mask6 = canonicalMask6(ctx, values[0]);
              break;
            }
            try {
              mask = parseIPv4(values[0]);
            } catch {
              fail(ctx, `recent: bad --mask "${values[0]}"`);
            }
            break;
          case '--rsource':
            side = 'source';
            break;
          default:
            side = 'dest';
        }
      }
      if (action === null) fail(ctx, 'recent: you must specify one of --set, --rcheck, --update or --remove');
      if (reap && seconds === 0) fail(ctx, 'recent: --reap is only valid with --seconds');
      if (name.length === 0 || name.length > 199) fail(ctx, 'recent: --name must be 1 to 199 characters');
      return {
        kind: 'recent',
        action,
        invert,
        seconds,
        reap,
        hitcount,
        rttl,
        name,
        mask,
        side,
        ...(mask6 !== undefined ? { mask6 } : {}),
      };
    }
    case 'nfacct': {
      let name: string | null = null;
      for (const { values } of options(ctx, mod, table)) name = values[0];
      if (name === null) fail(ctx, 'nfacct: --nfacct-name is required');
      return { kind: 'nfacct', name };
    }
    case 'set':
      return convertSet(ctx, mod, table);
    case 'ipvs':
      return convertIpvs(ctx, mod, table);
    case 'physdev':
      return convertPhysdev(ctx, mod, table);
    default:
      throw new Unmodeled(`match "${mod.name}"`);
  }
}

/** libxt_set (revisions 1-4): `[!] --match-set NAME dir[,dir…]`; counter/nomatch options are not modelled. */
function convertSet(ctx: RuleContext, mod: ModuleArgs, table: Readonly<Record<string, number>>): Match {
  let spec: Match | null = null;
  for (const { opt, values, invert } of options(ctx, mod, table)) {
    if (opt !== '--match-set') throw new Unmodeled(`set option ${opt}`);
    if (spec !== null) fail(ctx, 'set: --match-set can be specified only once');
    const [name, dirText] = values;
    if (name.length === 0 || name.length > IPSET_NAME_MAX)
      fail(ctx, `set: setname "${name}" too long, max ${IPSET_NAME_MAX} characters`);
    const dirs = dirText.split(',');
    if (dirs.length > IPSET_DIM_MAX) fail(ctx, `set: can't be more src/dst options than ${IPSET_DIM_MAX}`);
    let dstFlags = 0;
    dirs.forEach((d, i) => {
      if (d === 'dst') dstFlags |= 1 << i;
      else if (d !== 'src')
        fail(ctx, `set: you must specify (the comma separated list of) 'src' or 'dst', not "${dirText}"`);
    });
    spec = { kind: 'set', name, invert, dirs: dirs.length, dstFlags };
  }
  if (spec === null) fail(ctx, 'set: you must specify --match-set with proper arguments');
  return spec;
}

/** An address and mask as XTTYPE_HOSTMASK keeps them: host bits are not cleared. */
function parseHostMask(ctx: RuleContext, text: string, invert: boolean): AddrMatch {
  const slash = text.indexOf('/');
  try {
    const addr = parseIPv4(slash < 0 ? text : text.slice(0, slash));
    let mask = 0xffffffff;
    if (slash >= 0) {
      const m = text.slice(slash + 1);
      if (/^\d+$/.test(m) && Number(m) <= 32)
        mask = Number(m) === 0 ? 0 : (0xffffffff << (32 - Number(m))) >>> 0;
      else mask = parseIPv4(m);
    }
    return { addr, mask, invert };
  } catch {
    return fail(ctx, `host/network "${text}" not found`);
  }
}

/** libxt_ipvs; `--vmethod` and `--vportctl` are not modelled (kube-proxy uses neither). */
function convertIpvs(ctx: RuleContext, mod: ModuleArgs, table: Readonly<Record<string, number>>): Match {
  const m: Extract<Match, { kind: 'ipvs' }> = {
    kind: 'ipvs',
    invert: false,
    vproto: null,
    vaddr: null,
    vport: null,
    vdir: null,
  };
  const seen = new Set<string>();
  let propertyInverted = false;
  for (const { opt, values, invert } of options(ctx, mod, table)) {
    if (seen.has(opt)) fail(ctx, `ipvs: ${opt} may only be specified once`);
    seen.add(opt);
    switch (opt) {
      case '--ipvs':
        propertyInverted = invert;
        break;
      case '--vproto': {
        const text = values[0].toLowerCase();
        const proto = /^\d+$/.test(text) ? Number(text) : PROTO_NUMBERS.get(text);
        if (proto === undefined || proto > 255)
          fail(ctx, `ipvs: unknown protocol "${values[0]}" for --vproto`);
        m.vproto = { proto, invert };
        break;
      }
      case '--vaddr':
        m.vaddr = parseHostMask(ctx, values[0], invert);
        break;
      case '--vport':
        m.vport = { port: parseUint(ctx, values[0], '--vport', 65535), invert };
        break;
      case '--vdir': {
        if (invert) fail(ctx, 'ipvs: unexpected "!" before --vdir');
        const dir = values[0].toUpperCase();
        if (dir !== 'ORIGINAL' && dir !== 'REPLY') fail(ctx, `ipvs: bad value "${values[0]}" for --vdir`);
        m.vdir = dir;
        break;
      }
      default:
        throw new Unmodeled(`ipvs option ${opt}`);
    }
  }
  if (seen.size === 0) fail(ctx, 'ipvs: at least one option is required');
  const narrowed = m.vproto !== null || m.vaddr !== null || m.vport !== null || m.vdir !== null;
  if (narrowed && propertyInverted) fail(ctx, 'ipvs: ! --ipvs cannot be together with other options');
  m.invert = propertyInverted;
  return m;
}

function convertPhysdev(ctx: RuleContext, mod: ModuleArgs, table: Readonly<Record<string, number>>): Match {
  const m: Extract<Match, { kind: 'physdev' }> = {
    kind: 'physdev',
    physdevIn: null,
    physdevOut: null,
    isIn: null,
    isOut: null,
    isBridged: null,
  };
  for (const { opt, values, invert } of options(ctx, mod, table)) {
    if (values.length > 0 && (values[0].length === 0 || values[0].length > 15))
      fail(ctx, `physdev: invalid interface name "${values[0]}"`);
    if (opt === '--physdev-in') m.physdevIn = { name: values[0], invert };
    else if (opt === '--physdev-out') m.physdevOut = { name: values[0], invert };
    else if (opt === '--physdev-is-in') m.isIn = { invert };
    else if (opt === '--physdev-is-out') m.isOut = { invert };
    else m.isBridged = { invert };
  }
  if (!m.physdevIn && !m.physdevOut && !m.isIn && !m.isOut && !m.isBridged)
    fail(ctx, 'physdev: no physdev option specified');
  return m;
}

function parseNatRange(ctx: RuleContext, text: string, proto: number | null, what: string): NatRange {
  if (ctx.ipv6 === true) return parseNatRange6(ctx, text, proto, what);
  const m = /^([\d.]*)(?:-([\d.]+))?(?::(\d+)(?:-(\d+))?)?$/.exec(text);
  if (!m) fail(ctx, `${what}: bad IP address "${text}"`);
  const range: NatRange = { addrMin: 0, addrMax: 0, hasAddr: false, portMin: 0, portMax: 0 };
  try {
    if (m[1] !== '') {
      range.hasAddr = true;
      range.addrMin = parseIPv4(m[1]);
      range.addrMax = m[2] === undefined ? range.addrMin : parseIPv4(m[2]);
    }
  } catch {
    fail(ctx, `${what}: bad IP address "${text}"`);
  }
  if (range.addrMax < range.addrMin) fail(ctx, `${what}: bad address range "${text}"`);
  if (m[3] !== undefined) {
    if (proto !== IpProtocol.TCP && proto !== IpProtocol.UDP && proto !== IpProtocol.SCTP) {
      fail(ctx, `${what}: Need TCP, UDP, SCTP or DCCP with port specification`);
    }
    range.portMin = parsePortRange(ctx, m[3], false).min;
    range.portMax = m[4] === undefined ? range.portMin : parsePortRange(ctx, m[4], false).min;
    if (range.portMin === 0 || range.portMax < range.portMin) fail(ctx, `${what}: bad port range "${text}"`);
  }
  return range;
}

function flagSet(ctx: RuleContext, mod: ModuleArgs): Map<string, string> {
  const seen = new Map<string, string>();
  for (const { opt, values, invert } of options(ctx, mod, TARGET_OPTIONS[mod.name])) {
    if (invert) fail(ctx, `${mod.name}: unexpected "!" before ${opt}`);
    if (seen.has(opt)) fail(ctx, `${mod.name}: ${opt} given twice`);
    seen.set(opt, values[0] ?? '');
  }
  return seen;
}

function convertTarget(ctx: RuleContext, t: TargetArgs, proto: number | null): Target {
  if (TARGET_OPTIONS[t.name] !== undefined) {
    if (t.goto) fail(ctx, `-g needs a user chain, not ${t.name}`);
    const opts = flagSet(ctx, t);
    switch (t.name) {
      case 'ACCEPT':
      case 'DROP':
      case 'RETURN':
        return { kind: t.name };
      case 'REJECT': {
        const w =
          opts.get('--reject-with') ??
          (ctx.ipv6 === true ? 'icmp6-port-unreachable' : 'icmp-port-unreachable');
        const rejectWith = (REJECT_WITH_NAMES as readonly string[]).includes(w)
          ? (w as RejectWith)
          : REJECT_ALIASES[w];
        if (rejectWith === undefined) fail(ctx, `REJECT: unknown reject type "${w}"`);
        if (rejectWith === 'tcp-reset' && proto !== IpProtocol.TCP)
          fail(ctx, 'REJECT: tcp-reset is only valid with -p tcp');
        return { kind: 'REJECT', rejectWith };
      }
      case 'DNAT':
      case 'SNAT': {
        if (ctx.table !== 'nat') fail(ctx, `${t.name} target is only valid in the nat table`);
        const key = t.name === 'DNAT' ? '--to-destination' : '--to-source';
        const to = opts.get(key);
        if (to === undefined) fail(ctx, `${t.name}: ${key} is required`);
        const range = parseNatRange(ctx, to, proto, t.name);
        const random = opts.has('--random');
        const persistent = opts.has('--persistent');
        if (t.name === 'DNAT') return { kind: 'DNAT', range, random, persistent };
        return { kind: 'SNAT', range, random, randomFully: opts.has('--random-fully'), persistent };
      }
      case 'MASQUERADE': {
        if (ctx.table !== 'nat') fail(ctx, 'MASQUERADE target is only valid in the nat table');
        let portMin = 0;
        let portMax = 0;
        const to = opts.get('--to-ports');
        if (to !== undefined) {
          if (proto !== IpProtocol.TCP && proto !== IpProtocol.UDP && proto !== IpProtocol.SCTP) {
            fail(ctx, 'MASQUERADE: Need TCP, UDP, SCTP or DCCP with port specification');
          }
          const m = /^(\d+)(?:-(\d+))?$/.exec(to);
          if (!m) fail(ctx, `MASQUERADE: bad --to-ports "${to}"`);
          portMin = Number(m[1]);
          portMax = m[2] === undefined ? portMin : Number(m[2]);
          if (portMin === 0 || portMax > 65535 || portMax < portMin)
            fail(ctx, `MASQUERADE: bad --to-ports "${to}"`);
        }
        return {
          kind: 'MASQUERADE',
          portMin,
          portMax,
          random: opts.has('--random'),
          randomFully: opts.has('--random-fully'),
        };
      }
      default: {
        if (opts.size !== 1)
          fail(ctx, 'MARK: exactly one of --set-xmark, --set-mark, --and-mark, --or-mark, --xor-mark');
        const [[opt, text]] = [...opts];
        const [v, m] = text.split('/');
        const value = parseUint(ctx, v, opt);
        const mask = m === undefined ? 0xffffffff : parseUint(ctx, m, opt);
        if (m !== undefined && opt !== '--set-xmark' && opt !== '--set-mark')
          fail(ctx, `MARK: ${opt} takes no mask`);
        switch (opt) {
          case '--set-xmark':
            return { kind: 'MARK', value, mask };
          case '--set-mark':
            return { kind: 'MARK', value, mask: (mask | value) >>> 0 };
          case '--and-mark':
            return { kind: 'MARK', value: 0, mask: ~value >>> 0 };
          case '--or-mark':
            return { kind: 'MARK', value, mask: value };
          default:
            return { kind: 'MARK', value, mask: 0 };
        }
      }
    }
  }
  if (ctx.chains.has(t.name)) {
    if (BUILTIN_CHAINS[ctx.table].includes(t.name)) fail(ctx, `cannot jump to built-in chain ${t.name}`);
    if (t.args.length > 0) fail(ctx, `unexpected argument "${t.args[0]}" after jump to chain ${t.name}`);
    return { kind: 'jump', chain: t.name, goto: t.goto };
  }
  if (UNMODELED_TARGETS.has(t.name)) throw new Unmodeled(`target "${t.name}"`);
  return fail(ctx, `Couldn't load target \`${t.name}': no such target or chain in table ${ctx.table}`);
}

const BASE_OPTIONS: Readonly<Record<string, string>> = {
  '-s': 's',
  '--source': 's',
  '--src': 's',
  '-d': 'd',
  '--destination': 'd',
  '--dst': 'd',
  '-i': 'i',
  '--in-interface': 'i',
  '-o': 'o',
  '--out-interface': 'o',
  '-p': 'p',
  '--protocol': 'p',
  '-m': 'm',
  '--match': 'm',
  '-j': 'j',
  '--jump': 'j',
  '-g': 'g',
  '--goto': 'g',
};

/** Parses a rule specification (what follows `-A CHAIN`) into a Rule. */
export function parseRuleSpec(ctx: RuleContext, tokens: readonly string[]): Rule {
  const rule = emptyRule();
  const modules: ModuleArgs[] = [];
  let target: TargetArgs | null = null;
  let invert = false;
  const value = (i: number, opt: string): string => {
    if (i >= tokens.length) fail(ctx, `option "${opt}" requires an argument`);
    return tokens[i];
  };
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (tok === '!') {
      if (invert) fail(ctx, 'multiple "!" flags not allowed');
      invert = true;
      continue;
    }
    const base = BASE_OPTIONS[tok];
    if (base !== undefined) {
      const v = value(++i, tok);
      switch (base) {
        case 's':
        case 'd': {
          if ((base === 's' ? rule.src : rule.dst) !== null) fail(ctx, `multiple ${tok} flags not allowed`);
          const m = parseAddrMask(ctx, v, invert);
          // 0.0.0.0/0 (::/0) matches everything; iptables drops it.
          if (m.mask === 0 && !m.invert && (m.v6 === undefined || m.v6.endsWith('/0'))) break;
          if (base === 's') rule.src = m;
          else rule.dst = m;
          break;
        }
        case 'i':
        case 'o': {
          if (v.length === 0 || v.length > 15) fail(ctx, `invalid interface name "${v}"`);
          const m: IfaceMatch = { name: v, invert };
          if (base === 'i') rule.inIface = m;
          else rule.outIface = m;
          break;
        }
        case 'p': {
          const lower = v.toLowerCase();
          const n = /^\d+$/.test(lower) ? Number(lower) : lower === 'all' ? 0 : PROTO_NUMBERS.get(lower);
          if (n === undefined || n > 255) fail(ctx, `unknown protocol "${v}" specified`);
          if (n === 0) {
            if (invert) fail(ctx, 'rule would never match protocol');
            break;
          }
          rule.proto = { proto: n, invert };
          break;
        }
        case 'm':
          if (invert) fail(ctx, 'unexpected "!" before -m');
          modules.push({ name: v, args: [] });
          break;
        default:
          if (invert) fail(ctx, `unexpected "!" before ${tok}`);
          if (target !== null) fail(ctx, 'multiple -j/-g flags not allowed');
          target = { name: v, args: [], goto: base === 'g' };
      }
      invert = false;
      continue;
    }
    if (!tok.startsWith('-')) fail(ctx, `bad argument "${tok}"`);
    // Route the option to its owner, as getopt does with the merged option tables.
    let owner: ModuleArgs | null = null;
    let arity = -1;
    if (target !== null && TARGET_OPTIONS[target.name]?.[tok] !== undefined) {
      owner = target;
      arity = TARGET_OPTIONS[target.name][tok];
    }
    for (let k = modules.length - 1; owner === null && k >= 0; k--) {
      const a = MATCH_OPTIONS[modules[k].name]?.[tok];
      if (a !== undefined) {
        owner = modules[k];
        arity = a;
      }
    }
    if (owner === null && rule.proto !== null && !rule.proto.invert) {
      const implicit = PROTO_NAMES.get(rule.proto.proto);
      const a =
        implicit === 'tcp' || implicit === 'udp' || implicit === 'sctp'
          ? MATCH_OPTIONS[implicit][tok]
          : undefined;
      if (a !== undefined && implicit !== undefined && !modules.some((m) => m.name === implicit)) {
        owner = { name: implicit, args: [] };
        modules.push(owner);
        arity = a;
      }
    }
    if (owner === null && target !== null && TARGET_OPTIONS[target.name] === undefined) owner = target;
    for (let k = modules.length - 1; owner === null && k >= 0; k--) {
      if (MATCH_OPTIONS[modules[k].name] === undefined) owner = modules[k];
    }
    if (owner === null) fail(ctx, `unknown option "${tok}"`);
    if (invert) owner.args.push('!');
    owner.args.push(tok);
    if (arity >= 0) {
      for (let k = 0; k < arity; k++) owner.args.push(value(++i, tok));
    } else {
      while (i + 1 < tokens.length && tokens[i + 1] !== '!' && !tokens[i + 1].startsWith('-')) {
        owner.args.push(tokens[++i]);
      }
    }
    invert = false;
  }
  if (invert) fail(ctx, 'trailing "!"');

  const proto = rule.proto !== null && !rule.proto.invert ? rule.proto.proto : null;
  for (const mod of modules) {
    if (mod.name === 'tcp' || mod.name === 'udp' || mod.name === 'sctp') {
      if (proto === null || PROTO_NAMES.get(proto) !== mod.name)
        fail(ctx, `-m ${mod.name} needs -p ${mod.name}`);
    }
    try {
      rule.matches.push(convertMatch(ctx, mod));
    } catch (e) {
      if (!(e instanceof Unmodeled)) throw e;
      ctx.warnings.push({ line: ctx.line, message: `${e.message} is not modelled; kept, never matches` });
      rule.matches.push({ kind: 'unknown', name: mod.name, args: mod.args });
    }
  }
  if (target !== null) {
    const t: TargetArgs = target;
    try {
      rule.target = convertTarget(ctx, t, proto);
    } catch (e) {
      if (!(e instanceof Unmodeled)) throw e;
      ctx.warnings.push({ line: ctx.line, message: `${e.message} is not modelled; kept, acts as no target` });
      rule.target = { kind: 'unknown', name: t.name, args: t.args };
    }
  }
  return rule;
}

interface Section {
  table: Table;
  chains: Map<string, Chain>;
  /** Editing the kernel's table (--noflush): -X checks what the kernel checks. */
  noflush?: boolean;
  ipv6: boolean;
}

export interface ParseOptions {
  /** Parse ip6tables-save / ip6tables-restore text (IPv6 addresses, icmp6 rejects). */
  readonly ipv6?: boolean;
}

/**
 * Parses `iptables-save` output or `iptables-restore` input (commands -A, -I, -N, -X, -F).
 * Each `*table` section replaces that table, as a restore without --noflush does.
 * Lines apply in order, so a jump must name a chain declared above it.
 */
export function parseIptables(text: string, parseOptions: ParseOptions = {}): ParseResult {
  return restoreInto(text, null, parseOptions);
}

/**
 * `iptables-restore --noflush`: applies restore input on top of `base` (left untouched) and
 * returns the tables the kernel then holds. A `*table` section edits the existing table
 * instead of replacing it; a chain line (`:CHAIN - [0:0]`) creates the chain or flushes it;
 * `-X` deletes a chain only if it is empty and no rule jumps to it (else the kernel refuses
 * the commit, as it refuses kube-proxy's). Tables the input does not name are kept. Any
 * error rejects the whole input, as one failed commit leaves the tables as they were.
 */
export function applyIptablesRestoreNoflush(
  base: Ruleset,
  text: string,
  parseOptions: ParseOptions = {},
): ParseResult {
  return restoreInto(text, base, parseOptions);
}

function cloneTable(table: Table): Table {
  return { name: table.name, chains: table.chains.map((c) => ({ ...c, rules: c.rules.slice() })) };
}

/**
 * Restore input some of whose lines the writer already holds as structures, one column per
 * field (no object per line: a 10k-Service sync has ~400k of them). Line i is:
 * - a prebuilt `-A chain[i] …` when rule[i] is set (appended without tokenizing its text);
 * - a prebuilt `:chain[i] - [0:0]` user-chain declaration when only chain[i] is set;
 * - else the restore text text[i], parsed.
 * Without the chain and rule columns every line is text.
 */
export interface PrebuiltLines {
  readonly text: readonly string[];
  readonly chain?: readonly (string | undefined)[];
  readonly rule?: readonly (Rule | undefined)[];
}

/**
 * Restores a clean node's tables from lines of restore text mixed with prebuilt `-A` rules
 * and chain declarations, in order, exactly as parseIptables would restore their text.
 * The input comes in segments read one after the other (line numbers run on across them), so
 * a writer hands over the line buffers it filled instead of copying ~400k lines into one.
 * kube-proxy's compile writes its ~3 rules per endpoint this way (a test holds both paths equal).
 */
export function restorePrebuilt(
  segments: readonly PrebuiltLines[],
  parseOptions: ParseOptions = {},
): ParseResult {
  const restore = new Restore(null, parseOptions);
  let lineNo = 0;
  for (const { text, chain, rule } of segments) {
    if (chain === undefined || rule === undefined) {
      for (let n = 0; n < text.length; n++) restore.line(text[n], ++lineNo);
      continue;
    }
    for (let n = 0; n < text.length; n++) {
      const r = rule[n];
      const c = chain[n];
      lineNo++;
      if (r !== undefined) restore.appendPrebuilt(c!, r, lineNo);
      else if (c !== undefined) restore.declarePrebuilt(c, lineNo);
      else restore.line(text[n], lineNo);
    }
  }
  return restore.end(lineNo);
}

function restoreInto(text: string, base: Ruleset | null, parseOptions: ParseOptions): ParseResult {
  const restore = new Restore(base, parseOptions);
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) restore.line(lines[n], n + 1);
  return restore.end(lines.length);
}

/** One restore in progress: its lines applied in order, then `end`. */
class Restore {
  private readonly warnings: ParseWarning[] = [];
  private readonly tables = new Map<TableName, Table>();
  private readonly noflush: boolean;
  private section: Section | null = null;

  constructor(
    base: Ruleset | null,
    private readonly parseOptions: ParseOptions,
  ) {
    if (base !== null) for (const t of base.tables) this.tables.set(t.name, t);
    this.noflush = base !== null;
  }

  /**
   * The chain the last prebuilt rule went to, while only prebuilt rules follow: a writer
   * appends a chain's rules one after the other, and a lookup among 100k chains costs a cache
   * miss or two. Any other line may delete or replace chains, so it forgets it.
   */
  private lastChain: Chain | null = null;

  /**
   * The chains declared by prebuilt lines this section, in order, and the one a prebuilt rule
   * for a new chain is expected to go to: a writer such as kube-proxy declares its chains in the
   * order it then fills them, so most chain switches are answered without the map. A guess is
   * taken only when its name matches; a deleted chain (`-X`) or a new section forgets them.
   */
  private declaredInOrder: Chain[] = [];
  private nextDeclared = 0;

  /** A prebuilt `-A chain …`. */
  appendPrebuilt(chainName: string, rule: Rule, lineNo: number): void {
    const section = this.section;
    if (section === null) throw new IptablesParseError(lineNo, `-A ${chainName} outside a *table section`);
    let chain = this.lastChain;
    if (chain === null || chain.name !== chainName) {
      chain = this.declaredInOrder[this.nextDeclared] ?? null;
      if (chain !== null && chain.name === chainName) this.nextDeclared++;
      else {
        chain = section.chains.get(chainName) ?? null;
        if (chain === null) {
          throw new IptablesParseError(
            lineNo,
            `chain "${chainName}" does not exist in table ${section.table.name}`,
          );
        }
        // A declared chain left empty: the writer goes on with the one after it.
        if (this.declaredInOrder[this.nextDeclared + 1] === chain) this.nextDeclared += 2;
      }
      this.lastChain = chain;
    }
    chain.rules.push(rule);
  }

  /** A prebuilt `:chain - [0:0]` of a user chain. */
  declarePrebuilt(chainName: string, lineNo: number): void {
    if (this.section === null) throw new IptablesParseError(lineNo, `:${chainName} outside a *table section`);
    this.lastChain = null;
    this.declaredInOrder.push(declareUserChain(this.section, chainName, lineNo));
  }

  private forgetDeclared(): void {
    this.declaredInOrder = [];
    this.nextDeclared = 0;
  }

  /** One line of restore text. */
  line(entry: string, lineNo: number): void {
    this.lastChain = null;
    const line = entry.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('*')) {
      if (this.section !== null) throw new IptablesParseError(lineNo, 'COMMIT expected');
      const name = line.slice(1);
      if (!isTableName(name)) throw new IptablesParseError(lineNo, `unknown table "${name}"`);
      const existing = this.noflush ? this.tables.get(name) : undefined;
      const table = existing !== undefined ? cloneTable(existing) : newTable(name);
      this.forgetDeclared();
      this.section = {
        table,
        chains: new Map(table.chains.map((c) => [c.name, c])),
        noflush: this.noflush,
        ipv6: this.parseOptions.ipv6 === true,
      };
      return;
    }
    const section = this.section;
    if (section === null) throw new IptablesParseError(lineNo, `"${line}" outside a *table section`);
    if (line === 'COMMIT') {
      this.tables.set(section.table.name, section.table);
      this.section = null;
      return;
    }
    if (line.startsWith(':')) {
      declareChain(section, line, lineNo);
      return;
    }
    let tokens = tokenize(line);
    if (/^\[\d+:\d+\]$/.test(tokens[0])) tokens = tokens.slice(1);
    if (tokens[0] === '-X' || tokens[0] === '--delete-chain') this.forgetDeclared();
    command(section, tokens, lineNo, this.warnings);
  }

  /** The tables after the last line (`lines` lines in all). */
  end(lines: number): ParseResult {
    if (this.section !== null) throw new IptablesParseError(lines, 'COMMIT expected');
    return { ruleset: { tables: [...this.tables.values()] }, warnings: this.warnings };
  }
}

function declareChain(section: Section, line: string, lineNo: number): void {
  const table = section.table;
  const m = /^:(\S+)\s+(\S+)(?:\s+\[\d+:\d+\])?$/.exec(line);
  if (!m) throw new IptablesParseError(lineNo, `malformed chain line "${line}"`);
  const [, name, policy] = m;
  const builtin = BUILTIN_CHAINS[table.name].includes(name);
  if (builtin) {
    if (policy !== 'ACCEPT' && policy !== 'DROP') {
      throw new IptablesParseError(lineNo, `bad policy "${policy}" for built-in chain ${name}`);
    }
    section.chains.get(name)!.policy = policy;
    return;
  }
  if (policy !== '-') throw new IptablesParseError(lineNo, `user chain ${name} cannot have a policy`);
  declareUserChain(section, name, lineNo);
}

/** A user chain's declaration: creates it, or flushes it when it exists; returns the chain. */
function declareUserChain(section: Section, name: string, lineNo: number): Chain {
  const table = section.table;
  if (BUILTIN_CHAINS[table.name].includes(name))
    throw new IptablesParseError(lineNo, `user chain ${name} cannot have a policy`);
  if (name.length > 28)
    throw new IptablesParseError(lineNo, `chain name "${name}" is longer than 28 characters`);
  const existing = section.chains.get(name);
  if (existing) {
    existing.rules = []; // a chain line flushes an existing chain
    return existing;
  }
  const chain: Chain = { name, policy: null, rules: [] };
  table.chains.push(chain);
  section.chains.set(name, chain);
  return chain;
}

/**
 * One command line, applied in file order: like iptables-restore (nf_tables), a jump
 * may only name a chain declared on an earlier line.
 */
function command(section: Section, tokens: string[], line: number, warnings: ParseWarning[]): void {
  const table = section.table;
  const chains = section.chains;
  const ctx: RuleContext = { table: table.name, chains, line, warnings, ipv6: section.ipv6 };
  const [cmd, chainName] = tokens;
  const chain = (): Chain => {
    if (chainName === undefined) fail(ctx, `${cmd} needs a chain name`);
    const c = chains.get(chainName);
    if (!c) fail(ctx, `chain "${chainName}" does not exist in table ${table.name}`);
    return c;
  };
  switch (cmd) {
    case '-A':
    case '--append':
      chain().rules.push(parseRuleSpec(ctx, tokens.slice(2)));
      break;
    case '-I':
    case '--insert': {
      const c = chain();
      let rest = tokens.slice(2);
      let pos = 1;
      if (rest.length > 0 && /^\d+$/.test(rest[0])) {
        pos = Number(rest[0]);
        rest = rest.slice(1);
      }
      if (pos < 1 || pos > c.rules.length + 1) fail(ctx, `index of insertion ${pos} too big`);
      c.rules.splice(pos - 1, 0, parseRuleSpec(ctx, rest));
      break;
    }
    case '-N':
    case '--new-chain':
      if (chainName === undefined) fail(ctx, '-N needs a chain name');
      if (chains.has(chainName)) fail(ctx, `chain "${chainName}" already exists`);
      chains.set(chainName, { name: chainName, policy: null, rules: [] });
      table.chains.push(chains.get(chainName)!);
      break;
    case '-F':
    case '--flush':
      if (chainName === undefined) for (const c of table.chains) c.rules = [];
      else chain().rules = [];
      break;
    case '-X':
    case '--delete-chain': {
      const c = chain();
      if (c.policy !== null) fail(ctx, `cannot delete built-in chain ${c.name}`);
      if (section.noflush === true && (c.rules.length > 0 || isJumpedTo(table, c.name))) {
        fail(ctx, `CHAIN_USER_DEL failed (Device or resource busy): chain ${c.name}`);
      }
      table.chains.splice(table.chains.indexOf(c), 1);
      chains.delete(c.name);
      break;
    }
    default:
      fail(ctx, `unsupported command "${cmd ?? ''}"`);
  }
}

function isJumpedTo(table: Table, chain: string): boolean {
  for (const c of table.chains) {
    for (const r of c.rules) if (r.target?.kind === 'jump' && r.target.chain === chain) return true;
  }
  return false;
}

// ------------------------------------------------------------------------------ IPv6 (ip6tables)

const ALL_ONES_IPV6 = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';

/** `-s/-d` of ip6tables: an address and prefix, kept as canonical text (IPv6 rules are printed, not evaluated). */
function parseAddrMask6(ctx: RuleContext, text: string, invert: boolean): AddrMatch {
  const slash = text.indexOf('/');
  const len = slash < 0 ? 128 : Number(text.slice(slash + 1));
  if (!Number.isInteger(len) || len < 0 || len > 128) fail(ctx, `invalid mask "${text.slice(slash + 1)}"`);
  let value: bigint;
  try {
    value = parseIPv6(slash < 0 ? text : text.slice(0, slash));
  } catch {
    return fail(ctx, `host/network "${text}" not found`);
  }
  const network = value & prefixMask6(len);
  return { addr: 0, mask: 0, invert, v6: `${formatIPv6(network)}/${len}` };
}

function canonicalMask6(ctx: RuleContext, text: string): string {
  try {
    return formatIPv6(parseIPv6(text));
  } catch {
    return fail(ctx, `recent: bad --mask "${text}"`);
  }
}

/** DNAT/SNAT `--to-destination [addr]:port` (or a bare address) of ip6tables. */
function parseNatRange6(ctx: RuleContext, text: string, proto: number | null, what: string): NatRange {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9a-fA-F:.]+))(?::(\d+)(?:-(\d+))?)?$/.exec(text);
  const bracketed = m?.[1];
  // A bare address cannot carry a port (its colons would be ambiguous).
  if (!m || (bracketed === undefined && m[3] !== undefined)) fail(ctx, `${what}: bad IP address "${text}"`);
  const range: NatRange = { addrMin: 0, addrMax: 0, hasAddr: true, portMin: 0, portMax: 0 };
  try {
    range.addr6 = formatIPv6(parseIPv6(bracketed ?? m[2]));
  } catch {
    fail(ctx, `${what}: bad IP address "${text}"`);
  }
  if (m[3] !== undefined) {
    if (proto !== IpProtocol.TCP && proto !== IpProtocol.UDP && proto !== IpProtocol.SCTP)
      fail(ctx, `${what}: Need TCP, UDP, SCTP or DCCP with port specification`);
    range.portMin = parsePortRange(ctx, m[3], false).min;
    range.portMax = m[4] === undefined ? range.portMin : parsePortRange(ctx, m[4], false).min;
    if (range.portMin === 0 || range.portMax < range.portMin) fail(ctx, `${what}: bad port range "${text}"`);
  }
  return range;
}
