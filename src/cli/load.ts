/**
 * `dpsim load`: drives synthetic TCP flows (or, with `--proto udp`, UDP datagrams) through the
 * whole simulated cluster (the load generators of src/traffic) and reports throughput, drops,
 * the per-backend distribution with its fairness, and conntrack occupancy per node. `--json`
 * prints the report as is.
 */
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  type ChurnEvent,
  ChurnSpecError,
  type LoadReport,
  POPULARITY_LAWS,
  type PopularityLaw,
  parseChurnSpec,
  runLoad,
  runSctpLoad,
  runUdpLoad,
  type UdpLoadReport,
} from '../traffic/index.js';
import {
  addSimulationOptions,
  CliError,
  loadSimulation,
  parseInteger,
  type SimulationFlags,
  writingCapture,
} from './common.js';
import { type CliIo, processIo } from './io.js';

/** Transport protocols `load` can drive. */
const LOAD_PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;

interface LoadFlags extends SimulationFlags {
  proto: (typeof LOAD_PROTOCOLS)[number];
  flows: number;
  packets: number;
  dist: PopularityLaw;
  zipfExponent: number;
  rate?: number;
  churn?: string;
  json?: boolean;
  pcap?: string;
  snaplen: number;
}

function parsePositiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${name} must be a positive number, got "${value}"`);
    return n;
  };
}

export function registerLoad(program: Command, io: CliIo = processIo): Command {
  return addSimulationOptions(
    program
      .command('load')
      .description(
        'drive synthetic TCP flows (SYN, then data), UDP datagrams or SCTP associations from the client and pods to the Services; report Mpps, drops, per-backend fairness, conntrack occupancy',
      )
      .addOption(
        new Option(
          '--proto <proto>',
          'transport of the flows (udp: datagrams to the UDP Service ports; sctp: to the SCTP ones)',
        )
          .choices(LOAD_PROTOCOLS as unknown as string[])
          .default('tcp'),
      )
      .option('--flows <n>', 'flow population', parseInteger('--flows', 1, 1_000_000), 1000)
      .option(
        '--packets <n>',
        'packets to send (each picks a flow: SYN when not connected, else data)',
        parseInteger('--packets', 0, 1_000_000_000),
        100_000,
      )
      .addOption(
        new Option('--dist <law>', 'flow popularity').choices(POPULARITY_LAWS as string[]).default('uniform'),
      )
      .option(
        '--zipf-exponent <s>',
        "Zipf's exponent s (rank k gets 1/k^s)",
        parsePositiveNumber('--zipf-exponent'),
        1,
      )
      .option(
        '--rate <pps>',
        'packets per simulated second (default: closed loop, one packet in flight)',
        parsePositiveNumber('--rate'),
      )
      .option(
        '--churn <spec>',
        "endpoint churn at packet counts, e.g. 'scale=5@10000,delete=1@20000,unready=1@30000' (also ready=N@P)",
      )
      .option('--json', 'print the report as JSON')
      .option('--pcap <file>', 'write a pcapng of every interface (streamed to the file as the run goes)')
      .option(
        '--snaplen <bytes>',
        'capture snap length (0 = whole frames)',
        parseInteger('--snaplen', 0, 262144),
        0,
      ),
  ).action(async (flags: LoadFlags) => {
    let churn: ChurnEvent[] = [];
    if (flags.churn !== undefined) {
      try {
        churn = parseChurnSpec(flags.churn);
      } catch (e) {
        if (e instanceof ChurnSpecError) throw new CliError(`error: --churn: ${e.message}`, 2);
        throw e;
      }
    }
    const sim = await loadSimulation(
      flags,
      flags.pcap !== undefined ? { capture: true, snaplen: flags.snaplen, captureFile: flags.pcap } : {},
      io,
    );
    const bar =
      process.stderr.isTTY === true
        ? new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: 'load [{bar}] {percentage}% | {value}/{total} packets | {eta_formatted} left',
              hideCursor: true,
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          )
        : null;
    bar?.start(flags.packets, 0);
    let report: LoadReport | UdpLoadReport;
    try {
      const run = flags.proto === 'udp' ? runUdpLoad : flags.proto === 'sctp' ? runSctpLoad : runLoad;
      report = await writingCapture(sim, flags.pcap, () =>
        run(sim, {
          flows: flags.flows,
          packets: flags.packets,
          dist: flags.dist,
          zipfExponent: flags.zipfExponent,
          ...(flags.rate !== undefined ? { rate: flags.rate } : {}),
          churn,
          seed: flags.seed,
          progressEvery: 4096,
          ...(bar !== null ? { onProgress: (sent: number) => bar.update(sent) } : {}),
        }),
      );
    } finally {
      bar?.stop();
    }
    let captureLine = '';
    if (flags.pcap !== undefined && sim.capture !== null) {
      await writingCapture(sim, flags.pcap, () => sim.capture?.close());
      captureLine = `capture: ${flags.pcap} (${sim.capture.frames} frames on ${sim.capture.writer.interfaceCount} interfaces, snaplen ${flags.snaplen || 'whole frames'})\n`;
    }
    if (flags.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    else
      io.stdout(
        (report.proto === 'udp' ? formatUdpLoadReport(report) : formatLoadReport(report)) + captureLine,
      );
  });
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text + ' '.repeat(width - text.length);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
  const line = (cells: string[]) =>
    `  ${cells
      .map((c, i) => pad(c, widths[i]))
      .join('')
      .trimEnd()}\n`;
  return line(header) + rows.map(line).join('');
}

/** The per-Service distribution, drops and conntrack occupancy: the part TCP and UDP share. */
function formatShared(r: LoadReport | UdpLoadReport): string {
  let out = '';
  const drops = Object.entries(r.drops);
  out += `drops: ${drops.length === 0 ? 'none' : drops.map(([k, v]) => `${k}=${v}`).join(' ')}\n`;
  for (const s of r.services) {
    const total = s.fairness.total;
    out += `\n${s.service} (${s.backends.length} backends)\n`;
    out += table(
      ['POD', 'NODE', 'FLOWS', 'SHARE', 'PACKETS'],
      s.backends.map((b) => [
        b.deleted ? `${b.pod} (deleted)` : b.pod,
        b.node,
        String(b.flows),
        total > 0 ? `${((100 * b.flows) / total).toFixed(1)}%` : '-',
        String(b.packets),
      ]),
    );
    const fr = s.fairness;
    out +=
      `  fairness over flows: max/mean ${fr.maxOverMean.toFixed(3)}, Jain ${fr.jainIndex.toFixed(4)}` +
      (fr.chiSquare !== null && fr.pValue !== null
        ? `, chi-square ${fr.chiSquare.toFixed(2)} (df ${fr.backends - 1}) p=${fr.pValue.toPrecision(3)}`
        : '') +
      '\n';
  }
  out += '\nconntrack occupancy:\n';
  out += table(
    ['NODE', 'TABLE', 'ENTRIES', 'MAX'],
    r.conntrack.map((c) => [c.node, c.table, String(c.entries), String(c.max)]),
  );
  if (r.churn.length > 0) {
    out += '\nchurn:\n';
    for (const c of r.churn)
      out += `  @${c.atPacket} ${c.kind}=${c.count}${c.ok ? '' : ' (incomplete)'}: ${c.messages.join('; ')}\n`;
  }
  return out;
}

/** The human-readable report of a UDP run. */
export function formatUdpLoadReport(r: UdpLoadReport): string {
  const p = r.packets;
  const f = r.flows;
  let out =
    `dpsim load: ${r.mode} mode, UDP, seed ${r.seed}, ${f.population} flows (${r.dist}), ${p.requested} datagrams` +
    `${r.rate !== null ? ` at ${r.rate} pps simulated` : ', closed loop'}\n`;
  out +=
    `sent ${p.injected} datagrams in ${r.wallSeconds.toFixed(2)} s wall: ${r.mpps.toFixed(3)} Mpps; ` +
    `${r.interfaceTraversals} interface traversals (${(r.traversalsPerSecond / 1e6).toFixed(3)} M/s); ` +
    `${r.simulatedSeconds.toFixed(3)} s simulated\n`;
  if (p.skippedSourceGone > 0)
    out += `skipped ${p.skippedSourceGone} datagrams whose source pod was deleted\n`;
  out += `flows: ${f.opened} opened, ${f.answered} answered, ${f.delivered} placed on backends, ${f.refused} refused (ICMP)\n`;
  out += `datagrams at backends: ${p.deliveredToBackends}, replies at sources: ${p.replies}\n`;
  return out + formatShared(r);
}

/** The human-readable report. */
export function formatLoadReport(r: LoadReport): string {
  const p = r.packets;
  const f = r.flows;
  const sctp = r.proto === 'sctp';
  let out =
    `dpsim load: ${r.mode} mode, seed ${r.seed}, ${f.population} ${sctp ? 'SCTP associations' : 'flows'} (${r.dist}), ${p.requested} packets` +
    `${r.rate !== null ? ` at ${r.rate} pps simulated` : ', closed loop'}\n`;
  const kinds = sctp
    ? `${p.syn} INIT, ${p.handshakeAcks} COOKIE ECHO, ${p.data} DATA`
    : `${p.syn} SYN, ${p.handshakeAcks} handshake ACK, ${p.data} data`;
  out +=
    `sent ${p.injected} packets (${kinds}) in ` +
    `${r.wallSeconds.toFixed(2)} s wall: ${r.mpps.toFixed(3)} Mpps; ${r.interfaceTraversals} interface traversals ` +
    `(${(r.traversalsPerSecond / 1e6).toFixed(3)} M/s); ${r.simulatedSeconds.toFixed(3)} s simulated\n`;
  if (p.skippedSourceGone > 0) out += `skipped ${p.skippedSourceGone} packets whose source pod was deleted\n`;
  out += `flows: ${f.opened} opened, ${f.established} established, ${f.delivered} placed on backends, ${f.resets} ${sctp ? 'aborted' : 'reset'}\n`;
  out += `${sctp ? 'packets' : 'segments'} at backends: ${p.deliveredToBackends}\n`;
  return out + formatShared(r);
}
