/** The verification report as a readable text table (one block per probe, one row per check). */
import type { VerifyReport } from './compare.js';

function pad(s: string, w: number): string {
  return s.length >= w ? s : s + ' '.repeat(w - s.length);
}

function clip(s: string, w: number): string {
  return s.length <= w ? s : `${s.slice(0, w - 1)}…`;
}

/** Renders the report; `width` bounds each text column. */
export function formatReport(report: VerifyReport, width = 34): string {
  const lines: string[] = [];
  const verdict = report.agree ? 'AGREE' : `DISAGREE (${report.disagreements.length} finding(s))`;
  lines.push(
    `dpsim verify --kernel: ${report.scenario || 'scenario'} [${report.mode}, ${report.family === 'ipv6' ? 'IPv6' : 'IPv4'}] — ${report.probes.length} probe(s) × ${report.connectionsPerProbe} connection(s): ${verdict}`,
  );
  if (report.sampling !== undefined) lines.push(`sampling: ${report.sampling}`);
  lines.push(
    `kernel ${(report.kernelElapsedMs / 1000).toFixed(1)} s, dpsim ${(report.dpsimElapsedMs / 1000).toFixed(1)} s, alpha ${report.alpha}`,
  );
  const header = ['check', 'kernel', 'dpsim', 'expected', ''];
  const widths = [12, width, width, width, 4];
  for (const pc of report.probes) {
    lines.push('');
    lines.push(`${pc.agree ? '✓' : '✗'} ${pc.probe.id}`);
    lines.push(`  ${header.map((h, i) => pad(h, widths[i])).join(' ')}`.trimEnd());
    for (const c of pc.checks) {
      const mark = !c.agree
        ? 'DIFF'
        : c.offSpec.length > 0
          ? `OFF:${c.offSpec.map((s) => s[0]).join('')}`
          : 'ok';
      const cells = [
        c.name,
        clip(c.kernel, width),
        clip(c.dpsim, width),
        clip(c.expected ?? '', width),
        mark,
      ];
      lines.push(`  ${cells.map((t, i) => pad(t, widths[i])).join(' ')}`.trimEnd());
      if (c.detail !== undefined && (!c.agree || c.offSpec.length > 0 || c.name === 'distribution')) {
        lines.push(`  ${pad('', widths[0])} ${c.detail}`);
      }
    }
  }
  if (report.skipped.length > 0) {
    lines.push('', 'not probed:');
    for (const s of report.skipped) lines.push(`  ${s.servicePortName}: ${s.reason}`);
  }
  if (report.disagreements.length > 0) {
    lines.push('', 'findings:');
    for (const d of report.disagreements) lines.push(`  - ${d}`);
  }
  lines.push(
    '',
    'legend: DIFF = kernel and dpsim differ; OFF:k/d = kernel/dpsim contradicts kube-proxy semantics',
  );
  return `${lines.join('\n')}\n`;
}
