/**
 * DNS messages over bytes (RFC 1035, EDNS0 of RFC 6891, SRV of RFC 2782, AAAA of RFC 3596).
 *
 * Names travel as presentation text without the final dot ("web-0.nginx.default.svc.cluster.local",
 * the root is ""); a label holding a dot or a byte outside printable ASCII is written with dig's
 * escapes (`\.`, `\DDD`). Encoding compresses names (a suffix already written is a pointer);
 * decoding follows pointers with loop protection. Malformed bytes raise {@link DnsFormatError}
 * with the reason and offset, never anything else.
 *
 * Control-plane code, not per-packet hot path: messages are plain objects.
 */

export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

export const DNS_CLASS_IN = 1;

/** Response codes (the header's 4 bits; EDNS extends them, not modelled). */
export const DnsRcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

const TYPE_NAMES = new Map<number, string>(Object.entries(DnsType).map(([k, v]) => [v, k]));
const RCODE_NAMES = new Map<number, string>(Object.entries(DnsRcode).map(([k, v]) => [v, k]));

/** `A`, `AAAA` … or RFC 3597's `TYPE99` for a type without a name. */
export function dnsTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `TYPE${type}`;
}

/** The type number of `A`, `aaaa`, `TYPE33` …; undefined when unknown. */
export function parseDnsType(text: string): number | undefined {
  const upper = text.toUpperCase();
  const known = (DnsType as Record<string, number>)[upper];
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m !== null && Number(m[1]) <= 0xffff) return Number(m[1]);
  return undefined;
}

export function dnsRcodeName(rcode: number): string {
  return RCODE_NAMES.get(rcode) ?? `RESERVED${rcode}`;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export type DnsRData =
  | { readonly kind: 'A'; readonly address: string }
  | { readonly kind: 'AAAA'; readonly address: string }
  /** CNAME, PTR, NS. */
  | { readonly kind: 'name'; readonly target: string }
  | {
      readonly kind: 'SRV';
      readonly priority: number;
      readonly weight: number;
      readonly port: number;
      readonly target: string;
    }
  | {
      readonly kind: 'SOA';
      readonly mname: string;
      readonly rname: string;
      readonly serial: number;
      readonly refresh: number;
      readonly retry: number;
      readonly expire: number;
      readonly minimum: number;
    }
  /** OPT's options, each code and its bytes. */
  | { readonly kind: 'OPT'; readonly options: readonly { code: number; data: Uint8Array }[] }
  /** Any other type: the RDATA bytes as they are. */
  | { readonly kind: 'raw'; readonly bytes: Uint8Array };

export interface DnsRecord {
  name: string;
  type: number;
  /** For OPT: the requestor's UDP payload size. */
  class: number;
  /** For OPT: extended RCODE, version and the DO flag (RFC 6891 §6.1.3). */
  ttl: number;
  data: DnsRData;
}

export interface DnsFlags {
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
}

export interface DnsMessage {
  id: number;
  flags: DnsFlags;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

/** Bytes that are not a DNS message: the reason and where it was found. */
export class DnsFormatError extends Error {
  override readonly name = 'DnsFormatError';
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super(`malformed DNS message: ${reason} at offset ${offset}`);
  }
}

/** A name or record that cannot be put on the wire (a label over 63 bytes …). */
export class DnsEncodeError extends Error {
  override readonly name = 'DnsEncodeError';
}

export const DNS_HEADER_LENGTH = 12;
const MAX_NAME_WIRE = 255;
const MAX_LABEL = 63;
/** More pointers than a 255-byte name could need: a loop. */
const MAX_POINTERS = 127;

export function emptyFlags(): DnsFlags {
  return { qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: 0 };
}

// ---------------------------------------------------------------- names

/** Splits presentation text into raw labels (escapes resolved). */
export function nameToLabels(name: string): Uint8Array[] {
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  if (text === '') return [];
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) {
      const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      if (digits !== null) {
        const v = Number(digits[0]);
        if (v > 255) throw new DnsEncodeError(`bad escape \\${digits[0]} in "${name}"`);
        cur.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        cur.push(text.charCodeAt(++i) & 0xff);
      } else throw new DnsEncodeError(`trailing backslash in "${name}"`);
    } else if (c === 0x2e /* . */) {
      if (cur.length === 0) throw new DnsEncodeError(`empty label in "${name}"`);
      labels.push(Uint8Array.from(cur));
      cur = [];
    } else {
      if (c > 0xff) throw new DnsEncodeError(`non-ASCII character in "${name}"`);
      cur.push(c);
    }
  }
  if (cur.length === 0) throw new DnsEncodeError(`empty label in "${name}"`);
  labels.push(Uint8Array.from(cur));
  let wire = 1;
  for (const l of labels) {
    if (l.length > MAX_LABEL) throw new DnsEncodeError(`label longer than 63 bytes in "${name}"`);
    wire += l.length + 1;
  }
  if (wire > MAX_NAME_WIRE) throw new DnsEncodeError(`name longer than 255 bytes: "${name}"`);
  return labels;
}

/** One label as presentation text, with dig's escapes. */
function labelText(bytes: Uint8Array, start: number, len: number): string {
  let s = '';
  for (let i = start; i < start + len; i++) {
    const b = bytes[i];
    if (
      b === 0x2e ||
      b === 0x5c ||
      b === 0x22 ||
      b === 0x28 ||
      b === 0x29 ||
      b === 0x3b ||
      b === 0x40 ||
      b === 0x24
    )
      s += `\\${String.fromCharCode(b)}`;
    else if (b <= 0x20 || b >= 0x7f) s += `\\${String(b).padStart(3, '0')}`;
    else s += String.fromCharCode(b);
  }
  return s;
}

/** Case-insensitive name equality (ASCII case folding, as DNS compares names). */
export function sameDnsName(a: string, b: string): boolean {
  return canonicalName(a) === canonicalName(b);
}

/** Lower case, no final dot: the key names are compared by. */
export function canonicalName(name: string): string {
  const t = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  return t.toLowerCase();
}

// ---------------------------------------------------------------- encoding

class Writer {
  buf = new Uint8Array(512);
  len = 0;
  /** Canonical suffix text → offset of its first label, for compression. */
  private readonly suffixes = new Map<string, number>();

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
  }

  u32(v: number): void {
    this.u16(Math.floor(v / 65536) & 0xffff);
    this.u16(v & 0xffff);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  name(name: string, compress: boolean): void {
    const labels = nameToLabels(name);
    for (let i = 0; i < labels.length; i++) {
      const key = labels
        .slice(i)
        .map((l) => labelText(l, 0, l.length).toLowerCase())
        .join('.');
      const at = compress ? this.suffixes.get(key) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.len < 0x4000 && !this.suffixes.has(key)) this.suffixes.set(key, this.len);
      this.u8(labels[i].length);
      this.bytes(labels[i]);
    }
    this.u8(0);
  }

  patch16(at: number, v: number): void {
    this.buf[at] = (v >>> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }
}

function flagsWord(f: DnsFlags): number {
  return (
    ((f.qr ? 1 : 0) << 15) |
    ((f.opcode & 0xf) << 11) |
    ((f.aa ? 1 : 0) << 10) |
    ((f.tc ? 1 : 0) << 9) |
    ((f.rd ? 1 : 0) << 8) |
    ((f.ra ? 1 : 0) << 7) |
    ((f.ad ? 1 : 0) << 5) |
    ((f.cd ? 1 : 0) << 4) |
    (f.rcode & 0xf)
  );
}

function parseAddress4(text: string): number[] {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255))
    throw new DnsEncodeError(`invalid A address "${text}"`);
  return parts.map(Number);
}

function parseAddress6(text: string): number[] {
  const halves = text.split('::');
  if (halves.length > 2) throw new DnsEncodeError(`invalid AAAA address "${text}"`);
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0 || (halves.length === 2 && missing < 1))
    throw new DnsEncodeError(`invalid AAAA address "${text}"`);
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const out: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new DnsEncodeError(`invalid AAAA address "${text}"`);
    const v = Number.parseInt(g, 16);
    out.push(v >>> 8, v & 0xff);
  }
  return out;
}

/** RFC 5952 text of 16 address bytes (the longest run of zero groups as `::`). */
export function formatIPv6Bytes(b: Uint8Array, at = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[at + 2 * i] << 8) | b[at + 2 * i + 1]);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

function writeRData(w: Writer, r: DnsRecord): void {
  const lenAt = w.len;
  w.u16(0);
  const start = w.len;
  const d = r.data;
  switch (d.kind) {
    case 'A':
      for (const b of parseAddress4(d.address)) w.u8(b);
      break;
    case 'AAAA':
      for (const b of parseAddress6(d.address)) w.u8(b);
      break;
    case 'name':
      w.name(d.target, true);
      break;
    case 'SRV':
      w.u16(d.priority);
      w.u16(d.weight);
      w.u16(d.port);
      // RFC 2782: the target is not compressed.
      w.name(d.target, false);
      break;
    case 'SOA':
      w.name(d.mname, true);
      w.name(d.rname, true);
      w.u32(d.serial);
      w.u32(d.refresh);
      w.u32(d.retry);
      w.u32(d.expire);
      w.u32(d.minimum);
      break;
    case 'OPT':
      for (const o of d.options) {
        w.u16(o.code);
        w.u16(o.data.length);
        w.bytes(o.data);
      }
      break;
    case 'raw':
      w.bytes(d.bytes);
      break;
  }
  const len = w.len - start;
  if (len > 0xffff) throw new DnsEncodeError('RDATA longer than 65535 bytes');
  w.patch16(lenAt, len);
}

function writeRecord(w: Writer, r: DnsRecord): void {
  w.name(r.name, true);
  w.u16(r.type);
  w.u16(r.class);
  w.u32(r.ttl >>> 0);
  writeRData(w, r);
}

/** The message's wire bytes, names compressed. */
export function encodeDnsMessage(m: DnsMessage): Uint8Array {
  const w = new Writer();
  w.u16(m.id);
  w.u16(flagsWord(m.flags));
  w.u16(m.questions.length);
  w.u16(m.answers.length);
  w.u16(m.authorities.length);
  w.u16(m.additionals.length);
  for (const q of m.questions) {
    w.name(q.name, true);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const r of m.answers) writeRecord(w, r);
  for (const r of m.authorities) writeRecord(w, r);
  for (const r of m.additionals) writeRecord(w, r);
  return w.buf.slice(0, w.len);
}

// ---------------------------------------------------------------- decoding

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}

  need(n: number, what: string): void {
    if (this.pos + n > this.b.length) throw new DnsFormatError(`truncated ${what}`, this.pos);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.b[this.pos++];
  }

  u16(what: string): number {
    this.need(2, what);
    const v = (this.b[this.pos] << 8) | this.b[this.pos + 1];
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    const hi = this.u16(what);
    return hi * 65536 + this.u16(what);
  }

  /** A possibly compressed name at the current position; the position moves past it. */
  name(): string {
    const b = this.b;
    const parts: string[] = [];
    let pos = this.pos;
    let jumped = false;
    let pointers = 0;
    let wire = 1;
    for (;;) {
      if (pos >= b.length) throw new DnsFormatError('truncated name', pos);
      const len = b[pos];
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= b.length) throw new DnsFormatError('truncated compression pointer', pos);
        const target = ((len & 0x3f) << 8) | b[pos + 1];
        if (++pointers > MAX_POINTERS) throw new DnsFormatError('compression pointer loop', pos);
        // A pointer must point backwards: forward or self pointers are how loops start.
        if (target >= pos) throw new DnsFormatError('compression pointer does not point backwards', pos);
        if (!jumped) this.pos = pos + 2;
        jumped = true;
        pos = target;
        continue;
      }
      if ((len & 0xc0) !== 0)
        throw new DnsFormatError(`reserved label type 0x${(len & 0xc0).toString(16)}`, pos);
      if (len === 0) {
        if (!jumped) this.pos = pos + 1;
        break;
      }
      if (pos + 1 + len > b.length) throw new DnsFormatError('truncated label', pos);
      wire += len + 1;
      if (wire > MAX_NAME_WIRE) throw new DnsFormatError('name longer than 255 bytes', pos);
      parts.push(labelText(b, pos + 1, len));
      pos += 1 + len;
    }
    return parts.join('.');
  }
}

function readRData(r: Reader, type: number, rdlen: number): DnsRData {
  const start = r.pos;
  const end = start + rdlen;
  r.need(rdlen, 'RDATA');
  const b = r.b;
  let data: DnsRData;
  switch (type) {
    case DnsType.A:
      if (rdlen !== 4) throw new DnsFormatError(`A RDATA of ${rdlen} bytes`, start);
      data = { kind: 'A', address: `${b[start]}.${b[start + 1]}.${b[start + 2]}.${b[start + 3]}` };
      r.pos = end;
      break;
    case DnsType.AAAA:
      if (rdlen !== 16) throw new DnsFormatError(`AAAA RDATA of ${rdlen} bytes`, start);
      data = { kind: 'AAAA', address: formatIPv6Bytes(b, start) };
      r.pos = end;
      break;
    case DnsType.CNAME:
    case DnsType.PTR:
    case DnsType.NS:
      data = { kind: 'name', target: r.name() };
      break;
    case DnsType.SRV: {
      const priority = r.u16('SRV');
      const weight = r.u16('SRV');
      const port = r.u16('SRV');
      data = { kind: 'SRV', priority, weight, port, target: r.name() };
      break;
    }
    case DnsType.SOA: {
      const mname = r.name();
      const rname = r.name();
      data = {
        kind: 'SOA',
        mname,
        rname,
        serial: r.u32('SOA'),
        refresh: r.u32('SOA'),
        retry: r.u32('SOA'),
        expire: r.u32('SOA'),
        minimum: r.u32('SOA'),
      };
      break;
    }
    case DnsType.OPT: {
      const options: { code: number; data: Uint8Array }[] = [];
      while (r.pos < end) {
        const code = r.u16('EDNS option');
        const len = r.u16('EDNS option');
        if (r.pos + len > end) throw new DnsFormatError('EDNS option overruns its RDATA', r.pos);
        options.push({ code, data: b.slice(r.pos, r.pos + len) });
        r.pos += len;
      }
      data = { kind: 'OPT', options };
      break;
    }
    default:
      data = { kind: 'raw', bytes: b.slice(start, end) };
      r.pos = end;
  }
  if (r.pos !== end) throw new DnsFormatError(`RDATA length ${rdlen} does not match its contents`, start);
  return data;
}

function readRecord(r: Reader): DnsRecord {
  const name = r.name();
  const type = r.u16('record');
  const klass = r.u16('record');
  const ttl = r.u32('record');
  const rdlen = r.u16('record');
  return { name, type, class: klass, ttl, data: readRData(r, type, rdlen) };
}

/** Parses a whole message; anything left over or missing is a DnsFormatError. */
export function decodeDnsMessage(bytes: Uint8Array): DnsMessage {
  const r = new Reader(bytes);
  if (bytes.length < DNS_HEADER_LENGTH) throw new DnsFormatError('shorter than the 12-byte header', 0);
  const id = r.u16('header');
  const w = r.u16('header');
  const flags: DnsFlags = {
    qr: (w & 0x8000) !== 0,
    opcode: (w >>> 11) & 0xf,
    aa: (w & 0x0400) !== 0,
    tc: (w & 0x0200) !== 0,
    rd: (w & 0x0100) !== 0,
    ra: (w & 0x0080) !== 0,
    ad: (w & 0x0020) !== 0,
    cd: (w & 0x0010) !== 0,
    rcode: w & 0xf,
  };
  const qd = r.u16('header');
  const an = r.u16('header');
  const ns = r.u16('header');
  const ar = r.u16('header');
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) {
    const name = r.name();
    questions.push({ name, type: r.u16('question'), class: r.u16('question') });
  }
  const section = (n: number) => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < n; i++) out.push(readRecord(r));
    return out;
  };
  const answers = section(an);
  const authorities = section(ns);
  const additionals = section(ar);
  if (r.pos !== bytes.length)
    throw new DnsFormatError(`${bytes.length - r.pos} bytes after the last record`, r.pos);
  return { id, flags, questions, answers, authorities, additionals };
}

/** The message's OPT pseudo-record (EDNS0), if it has one. */
export function dnsOptRecord(m: DnsMessage): DnsRecord | undefined {
  return m.additionals.find((r) => r.type === DnsType.OPT);
}

/** An OPT pseudo-record: the UDP payload size the sender can take, version 0, no DO bit. */
export function optRecord(
  udpSize: number,
  options: readonly { code: number; data: Uint8Array }[] = [],
): DnsRecord {
  return { name: '', type: DnsType.OPT, class: udpSize, ttl: 0, data: { kind: 'OPT', options } };
}
