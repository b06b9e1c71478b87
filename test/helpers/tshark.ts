/**
 * tshark (Wireshark 4.0) as an outside validator of the captures dpsim writes.
 *
 * Same checks, options and severities as the team's pcap oracle: checksum validation on,
 * TCP sequence analysis on, a private empty WIRESHARK_CONFIG_DIR so no personal profile
 * can switch a check off, and these checks:
 *   readable   tshark reads the file with exit 0 and nothing on stderr but the root notice
 *   empty      at least one frame
 *   malformed  _ws.malformed          short  _ws.short (unless allowed)
 *   ip/tcp/udp/icmp/sctp-checksum   <proto>.checksum.status == "Bad" (SCTP: CRC32c, which
 *              tshark verifies only when told the checksum type; it is told)
 *   expert     from PDML of frames with _ws.expert.severity >= "Note": every item of
 *              severity >= Warning and every tcp.analysis.* item >= Note, unless its
 *              field name is allowed. PDML keeps each item's field name beside its
 *              severity, so one frame with several items is judged item by item.
 *
 * Two tshark passes per file, run side by side: `-T fields` over every frame (readability,
 * frame counts per interface, and the per-frame checks, attributed from the very fields
 * the oracle's filters test) and `-T pdml` of the frames with expert items >= Note.
 *
 * Per-interface mode: tshark keys TCP analysis on addresses and ports, not on the capture
 * interface, and neither `-Y frame.interface_id==N` nor `-2 -R frame.interface_id==N`
 * isolates it (verified on tshark 4.0.17: the other interface's packets still make
 * retransmissions and duplicate ACKs). So each interface is written to its own temporary
 * pcapng with dpsim's reader and writer and checked alone; frame numbers in problems are
 * mapped back to the original file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { PcapngWriter, readCapture } from '../../src/capture/index.js';

export type TsharkCheckName =
  | 'readable'
  | 'empty'
  | 'split'
  | 'malformed'
  | 'short'
  | 'ip-checksum'
  | 'tcp-checksum'
  | 'udp-checksum'
  | 'icmp-checksum'
  | 'sctp-checksum'
  | 'expert'
  | 'tshark-error';

export interface TsharkProblem {
  check: TsharkCheckName;
  /** Frame numbers (1-based, as tshark numbers them in the original file). */
  frames: number[];
  detail: string;
  /** The expert item's field name, e.g. 'tcp.analysis.retransmission' (check 'expert'). */
  field?: string;
  /** Set in per-interface mode: the interface whose own capture showed the problem. */
  interfaceId?: number;
}

export interface TsharkInterfaceSummary {
  id: number;
  name: string;
  frames: number;
}

export interface TsharkCheckResult {
  ok: boolean;
  problems: TsharkProblem[];
  frames: number;
  interfaces: TsharkInterfaceSummary[];
}

export interface TsharkCheckOptions {
  /**
   * Tolerated items: expert field names (e.g. 'tcp.analysis.retransmission',
   * 'tcp.connection.rst'), '_ws.short' (skip the short check) or 'tcp.checksum.ffff'
   * (a TCP checksum of 0xffff for 0x0000 is not counted as bad).
   */
  allow?: string[];
  /** Passed to tshark -d, e.g. 'tcp.port==30532,http'. */
  decodeAs?: string[];
  /** Check every pcapng interface as a capture of its own (see the file comment). */
  perInterface?: boolean;
  /** At most this many frames described per problem's detail (default 20). */
  maxList?: number;
  /** tshark binary (default {@link TSHARK}). */
  tshark?: string;
}

const SEVERITY_NOTE = 0x00400000;
const SEVERITY_WARNING = 0x00600000;
const SEVERITY_ERROR = 0x00800000;

/** Expert items whose frames the checksum/malformed checks already report. */
const COUNTED_ELSEWHERE = new Set([
  '_ws.malformed.expert',
  'ip.checksum_bad.expert',
  'tcp.checksum_bad.expert',
  'udp.checksum.bad',
  'icmp.checksum_bad',
  'sctp.checksum_bad.expert',
]);

/** The tshark binary: $DPSIM_TSHARK if set (e.g. to try the missing-tshark path), else PATH's. */
export const TSHARK = process.env.DPSIM_TSHARK ?? 'tshark';

const availability = new Map<string, boolean>();

/** Whether a working tshark can be run (cached per binary). */
export function tsharkAvailable(tshark = TSHARK): boolean {
  let known = availability.get(tshark);
  if (known === undefined) {
    const run = spawnSync(tshark, ['--version'], { stdio: 'ignore', timeout: 20_000 });
    known = run.status === 0;
    availability.set(tshark, known);
  }
  return known;
}

/**
 * `describe` for tests that need tshark. Missing tshark: under CI (process.env.CI set) a
 * failing test is registered; otherwise the suite is skipped visibly (reason in its name
 * and a console warning).
 */
export function describeWithTshark(name: string, body: () => void): void {
  const available = tsharkAvailable();
  if (!available && process.env.CI) {
    describe(name, () => {
      it('needs tshark, which is required when CI is set', () => {
        throw new Error(`tshark (${TSHARK}) cannot be run: install it (apt-get install tshark)`);
      });
    });
    return;
  }
  if (!available) console.warn(`skipping "${name}": tshark is not installed`);
  describe.skipIf(!available)(available ? name : `${name} (skipped: tshark not installed)`, body);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Context {
  tshark: string;
  env: NodeJS.ProcessEnv;
  common: string[];
  allow: Set<string>;
  maxList: number;
}

/** Validates a capture file (path or bytes) with tshark; see the file comment for the checks. */
export async function checkCaptureWithTshark(
  file: string | Uint8Array,
  options: TsharkCheckOptions = {},
): Promise<TsharkCheckResult> {
  const scratch = await mkdtemp(join(tmpdir(), 'dpsim-tshark-'));
  try {
    const configDir = join(scratch, 'config');
    await mkdir(configDir, { mode: 0o700 });
    let path: string;
    if (typeof file === 'string') {
      path = file;
    } else {
      path = join(scratch, 'capture');
      await writeFile(path, file);
    }
    const ctx: Context = {
      tshark: options.tshark ?? TSHARK,
      env: { ...process.env, WIRESHARK_CONFIG_DIR: configDir },
      common: [
        '-n',
        '-o',
        'ip.check_checksum:TRUE',
        '-o',
        'tcp.check_checksum:TRUE',
        '-o',
        'udp.check_checksum:TRUE',
        '-o',
        'tcp.analyze_sequence_numbers:TRUE',
        '-o',
        'sctp.checksum:CRC 32c',
        ...(options.decodeAs ?? []).flatMap((rule) => ['-d', rule]),
      ],
      allow: new Set(options.allow ?? []),
      maxList: options.maxList ?? 20,
    };
    const split = options.perInterface === true;
    // Per-interface mode needs only the inventory of the whole file; otherwise the expert
    // pass runs beside the frame pass.
    const [scan, expert] = await Promise.all([
      scanFrames(ctx, path),
      split ? Promise.resolve(undefined) : expertCheck(ctx, path),
    ]);
    if (scan.unreadable !== undefined) {
      return {
        ok: false,
        frames: 0,
        interfaces: [],
        problems: [{ check: 'readable', frames: [], detail: scan.unreadable }],
      };
    }
    if (scan.frames === 0) {
      return {
        ok: false,
        frames: 0,
        interfaces: scan.interfaces,
        problems: [{ check: 'empty', frames: [], detail: 'the capture holds no frames' }],
      };
    }
    const problems: TsharkProblem[] = [];
    if (split && scan.interfaces.length > 1) {
      const parts = await splitByInterface(path, scratch);
      if (typeof parts === 'string') {
        problems.push({ check: 'split', frames: [], detail: parts });
      } else {
        for (const part of parts) {
          const [partScan, partExpert] = await Promise.all([
            scanFrames(ctx, part.path),
            expertCheck(ctx, part.path),
          ]);
          const partProblems = [...(partScan.unreadable ? [] : partScan.problems), ...partExpert];
          if (partScan.unreadable) {
            partProblems.unshift({ check: 'tshark-error', frames: [], detail: partScan.unreadable });
          }
          for (const problem of partProblems) {
            problem.frames = problem.frames.map((n) => part.originalFrames[n - 1]);
            problem.interfaceId = part.interfaceId;
            problem.detail = `interface ${part.interfaceId} (${part.name}): ${problem.detail}`;
            problems.push(problem);
          }
        }
      }
    } else {
      problems.push(...scan.problems);
      problems.push(...(expert ?? (await expertCheck(ctx, path))));
    }
    return { ok: problems.length === 0, problems, frames: scan.frames, interfaces: scan.interfaces };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The per-frame checks: name, the oracle's display filter, and the field that filter tests. */
interface FrameCheck {
  check: TsharkCheckName;
  filter: string;
  field: string;
  /** Whether the field, as `-T fields -E occurrence=a` prints it, means the check fails. */
  fails: (value: string) => boolean;
}

const present = (value: string): boolean => value !== '';
/** `*.checksum.status` prints 0 for Bad (1 Good, 2 Unverified); every occurrence is listed. */
const checksumBad = (value: string): boolean => value.split(',').includes('0');

function frameChecks(allow: Set<string>): FrameCheck[] {
  const checks: FrameCheck[] = [
    { check: 'malformed', filter: '_ws.malformed', field: '_ws.malformed', fails: present },
  ];
  if (!allow.has('_ws.short')) {
    checks.push({ check: 'short', filter: '_ws.short', field: '_ws.short', fails: present });
  }
  for (const proto of ['ip', 'tcp', 'udp', 'icmp', 'sctp']) {
    checks.push({
      check: `${proto}-checksum` as TsharkCheckName,
      filter: `${proto}.checksum.status == "Bad"`,
      field: `${proto}.checksum.status`,
      fails: checksumBad,
    });
  }
  // RFC 1624: 0xffff and 0x0000 are both one's-complement zero; tshark 4.0 flags 0xffff.
  if (allow.has('tcp.checksum.ffff')) {
    checks.find((c) => c.check === 'tcp-checksum')!.filter =
      'tcp.checksum.status == "Bad" && !tcp.checksum.ffff';
  }
  return checks;
}

interface FrameScan {
  /** Why tshark could not read the file (exit status and stderr), if it could not. */
  unreadable?: string;
  frames: number;
  interfaces: TsharkInterfaceSummary[];
  problems: TsharkProblem[];
}

/**
 * One tshark pass over every frame: it is the readability check (exit status and stderr),
 * the per-interface frame count, and the per-frame checks. Each frame is attributed to a
 * check from the field that check's display filter tests (`_ws.malformed` / `_ws.short`
 * are printed when present; a checksum status of 0 is Bad), which gives the same frames as
 * running each filter with -Y (verified on the oracle's samples) in one pass instead of six.
 */
async function scanFrames(ctx: Context, path: string): Promise<FrameScan> {
  const checks = frameChecks(ctx.allow);
  const out = await run(ctx, [
    '-r',
    path,
    ...ctx.common,
    '-T',
    'fields',
    '-E',
    'occurrence=a',
    '-e',
    'frame.number',
    '-e',
    'frame.interface_id',
    '-e',
    'frame.interface_name',
    ...checks.flatMap((c) => ['-e', c.field]),
    '-e',
    '_ws.col.Protocol',
    '-e',
    '_ws.col.Info',
  ]);
  const errors = cleanStderr(out.stderr);
  if (out.code !== 0 || errors !== '') {
    return { unreadable: `tshark exit ${out.code}: ${errors}`, frames: 0, interfaces: [], problems: [] };
  }
  const interfaces = new Map<number, TsharkInterfaceSummary>();
  const hits = checks.map(() => [] as string[][]);
  let frames = 0;
  for (const line of lines(out.stdout)) {
    frames++;
    const columns = line.split('\t');
    const id = columns[1] ? Number(columns[1]) : 0;
    const entry = interfaces.get(id) ?? { id, name: columns[2] ?? '', frames: 0 };
    entry.frames++;
    interfaces.set(id, entry);
    checks.forEach((c, i) => {
      if (c.fails(columns[3 + i] ?? '')) hits[i].push(columns);
    });
  }
  const problems: TsharkProblem[] = [];
  for (const [i, c] of checks.entries()) {
    const rows = hits[i];
    if (rows.length === 0) continue;
    if (c.check === 'tcp-checksum' && ctx.allow.has('tcp.checksum.ffff')) {
      // The status field cannot tell a tolerated 0xffff from a real error; the filter can.
      problems.push(...(await filterCheck(ctx, path, c.check, c.filter)));
      continue;
    }
    const info = (row: string[]): string => `frame ${row[0]} ${row[row.length - 2]} ${row[row.length - 1]}`;
    problems.push({
      check: c.check,
      frames: rows.map((row) => Number(row[0])),
      detail:
        `${rows.length} frame(s) match [${c.filter}]: ` +
        rows.slice(0, ctx.maxList).map(info).join('; ') +
        (rows.length > ctx.maxList ? '; …' : ''),
    });
  }
  return { frames, interfaces: [...interfaces.values()].sort((a, b) => a.id - b.id), problems };
}

async function filterCheck(
  ctx: Context,
  path: string,
  check: TsharkCheckName,
  filter: string,
): Promise<TsharkProblem[]> {
  const out = await run(ctx, [
    '-r',
    path,
    ...ctx.common,
    '-Y',
    filter,
    '-T',
    'fields',
    '-e',
    'frame.number',
    '-e',
    '_ws.col.Protocol',
    '-e',
    '_ws.col.Info',
  ]);
  const failure = tsharkFailure(out, filter);
  if (failure) return [failure];
  const rows = lines(out.stdout).map((line) => line.split('\t'));
  if (rows.length === 0) return [];
  const listed = rows.slice(0, ctx.maxList).map(([n, proto, info]) => `frame ${n} ${proto} ${info}`);
  return [
    {
      check,
      frames: rows.map(([n]) => Number(n)),
      detail: `${rows.length} frame(s) match [${filter}]: ${listed.join('; ')}${rows.length > ctx.maxList ? '; …' : ''}`,
    },
  ];
}

async function expertCheck(ctx: Context, path: string): Promise<TsharkProblem[]> {
  const filter = '_ws.expert.severity >= "Note"';
  const out = await run(ctx, ['-r', path, ...ctx.common, '-Y', filter, '-T', 'pdml']);
  const failure = tsharkFailure(out, filter);
  if (failure) return [{ ...failure, check: 'expert' }];
  const byField = new Map<string, { severity: number; message: string; frames: number[] }>();
  for (const item of expertItems(out.stdout)) {
    if (COUNTED_ELSEWHERE.has(item.field)) continue;
    const bad =
      item.severity >= SEVERITY_WARNING ||
      (item.field.startsWith('tcp.analysis.') && item.severity >= SEVERITY_NOTE);
    if (!bad || ctx.allow.has(item.field)) continue;
    const entry = byField.get(item.field) ?? { severity: item.severity, message: item.message, frames: [] };
    if (entry.frames[entry.frames.length - 1] !== item.frame) entry.frames.push(item.frame);
    byField.set(item.field, entry);
  }
  return [...byField].map(([field, entry]) => ({
    check: 'expert' as const,
    field,
    frames: entry.frames,
    detail:
      `${severityName(entry.severity)} ${field} "${entry.message}" in ${entry.frames.length} frame(s): ` +
      entry.frames.slice(0, ctx.maxList).join(', ') +
      (entry.frames.length > ctx.maxList ? ', …' : ''),
  }));
}

interface ExpertItem {
  frame: number;
  field: string;
  severity: number;
  message: string;
}

/**
 * Pulls expert items out of tshark's PDML. tshark writes one element per line; an item is
 * a `_ws.expert` field whose children are the item's own field (its name identifies the
 * item) plus `_ws.expert.message`, `.severity` and `.group`.
 */
function expertItems(pdml: string): ExpertItem[] {
  const items: ExpertItem[] = [];
  let frame = 0;
  let current: ExpertItem | undefined;
  for (const line of pdml.split('\n')) {
    const name = attribute(line, 'name');
    if (current) {
      if (line.trim() === '</field>') {
        items.push(current);
        current = undefined;
      } else if (name === '_ws.expert.message') {
        current.message = unescapeXml(attribute(line, 'show') ?? '');
      } else if (name === '_ws.expert.severity') {
        current.severity = Number(attribute(line, 'show'));
      } else if (name !== undefined && !name.startsWith('_ws.expert.')) {
        current.field = name;
      }
      continue;
    }
    if (name === 'num' && line.includes('<field name="num"')) {
      frame = Number(attribute(line, 'show'));
    } else if (name === '_ws.expert') {
      current = { frame, field: '', severity: 0, message: '' };
    }
  }
  return items;
}

function attribute(line: string, key: string): string | undefined {
  const start = line.indexOf(` ${key}="`);
  if (start < 0) return undefined;
  const from = start + key.length + 3;
  const end = line.indexOf('"', from);
  return end < 0 ? undefined : line.slice(from, end);
}

function unescapeXml(text: string): string {
  return text
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function severityName(severity: number): string {
  if (severity >= SEVERITY_ERROR) return 'Error';
  if (severity >= SEVERITY_WARNING) return 'Warning';
  return 'Note';
}

interface InterfacePart {
  interfaceId: number;
  name: string;
  path: string;
  /** originalFrames[i] = frame number in the original file of the part's frame i + 1. */
  originalFrames: number[];
}

/** Writes each interface's packets to a pcapng of its own; a string says why it could not. */
async function splitByInterface(path: string, scratch: string): Promise<InterfacePart[] | string> {
  let capture: ReturnType<typeof readCapture>;
  try {
    capture = readCapture(await readFile(path));
  } catch (err) {
    return `cannot split by interface: ${(err as Error).message}`;
  }
  const parts: InterfacePart[] = [];
  for (const iface of capture.interfaces) {
    const writer = new PcapngWriter();
    writer.addInterface({
      name: iface.name ?? `if${iface.id}`,
      description: iface.description,
      snaplen: iface.snaplen,
      linktype: iface.linktype,
    });
    const originalFrames: number[] = [];
    capture.packets.forEach((packet, index) => {
      if (packet.interfaceId !== iface.id) return;
      writer.writePacket(0, packet.timestampNs, packet.data, packet.comment, packet.origlen);
      originalFrames.push(index + 1);
    });
    if (originalFrames.length === 0) continue;
    const partPath = join(scratch, `interface-${iface.id}.pcapng`);
    await writeFile(partPath, writer.toBuffer());
    parts.push({ interfaceId: iface.id, name: iface.name ?? '', path: partPath, originalFrames });
  }
  return parts;
}

function tsharkFailure(out: Run, filter: string): TsharkProblem | undefined {
  const errors = cleanStderr(out.stderr);
  if (out.code === 0 && errors === '') return undefined;
  return { check: 'tshark-error', frames: [], detail: `tshark exit ${out.code} on [${filter}]: ${errors}` };
}

/** tshark prints a notice on stderr whenever it runs as root; it is not an error. */
function cleanStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('Running as user "root"'))
    .join('\n');
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

function run(ctx: Context, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(ctx.tshark, args, { env: ctx.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err) =>
      resolve({ code: -1, stdout: '', stderr: `cannot run ${ctx.tshark}: ${err.message}` }),
    );
    child.on('close', (code) =>
      resolve({
        code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      }),
    );
  });
}
