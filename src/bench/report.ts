/**
 * `dpsim bench report`: bench/results/*.json → an offline HTML page (plots inlined as SVG,
 * no script, no external resource) plus one standalone SVG file per non-empty plot. Empty
 * plots stay on the page with the reason (missing directory, missing cases, unusable units).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { genericPlot, PLOTS, type PlotDefinition, type RenderedPlot, renderPlot } from './plots.js';
import { type LoadedResults, loadResults, type Measurement } from './results.js';

export interface ReportOptions {
  readonly resultsDir: string;
  readonly outDir: string;
}

export interface ReportSummary {
  readonly htmlPath: string;
  readonly svgPaths: readonly string[];
  readonly plots: readonly RenderedPlot[];
  readonly results: LoadedResults;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function formatValue(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-2) return v.toExponential(3);
  return v.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** The fixed plots, then one generic plot per (metric, unit) none of them claims. */
export function plotDefinitions(measurements: readonly Measurement[]): PlotDefinition[] {
  const defs: PlotDefinition[] = [...PLOTS];
  const seen = new Set<string>();
  for (const m of measurements) {
    if (m.parsed === null) continue;
    const metric = m.parsed.metric;
    if (PLOTS.some((d) => d.selects(m))) continue;
    const key = `${metric}\u0000${m.unit}`;
    if (seen.has(key)) continue;
    seen.add(key);
    defs.push(genericPlot(metric, m.unit));
  }
  return defs;
}

/** Where the report looked, for the reason an empty plot gives. */
function whereLooked(r: LoadedResults): string {
  if (!r.dirExists) return `— results directory ${r.dir} does not exist (run \`npm run bench\` first)`;
  if (r.files.length === 0) return `— ${r.dir} holds no readable results file`;
  return `in ${r.dir} (files read: ${r.files.join(', ')})`;
}

export async function buildReport(options: ReportOptions): Promise<ReportSummary> {
  const results = loadResults(resolve(options.resultsDir));
  const reason = whereLooked(results);
  const plots: RenderedPlot[] = [];
  for (const def of plotDefinitions(results.measurements)) {
    plots.push(await renderPlot(def, results.measurements, reason));
  }
  const outDir = resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });
  const svgPaths: string[] = [];
  for (const p of plots) {
    if (p.svg === null) continue;
    const path = join(outDir, `${p.id}.svg`);
    writeFileSync(path, p.svg);
    svgPaths.push(path);
  }
  const htmlPath = join(outDir, 'index.html');
  writeFileSync(htmlPath, renderHtml(results, plots));
  return { htmlPath, svgPaths, plots, results };
}

function renderHtml(results: LoadedResults, plots: readonly RenderedPlot[]): string {
  const out: string[] = [];
  out.push(
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<title>dpsim benchmark report</title>',
    '<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}',
    'section{margin:2em 0}table{border-collapse:collapse;font-size:90%}',
    'td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}td.n{text-align:right}',
    '.empty{color:#a33}</style></head><body>',
    '<h1>dpsim benchmark report</h1>',
    `<p>Results from <code>${escapeHtml(results.dir)}</code>` +
      (results.newestDate === null ? '' : `, newest suite run ${escapeHtml(results.newestDate)}`) +
      `. Files: ${results.files.length === 0 ? 'none' : results.files.map((f) => `<code>${escapeHtml(f)}</code>`).join(', ')}.</p>`,
  );
  if (results.problems.length > 0) {
    out.push('<h2>Files not used</h2><ul>');
    for (const p of results.problems) out.push(`<li class="empty">${escapeHtml(p)}</li>`);
    out.push('</ul>');
  }
  const empty = plots.filter((p) => p.svg === null);
  if (empty.length > 0) {
    out.push('<h2>Empty plots</h2><ul>');
    for (const p of empty) {
      out.push(`<li class="empty"><b>${escapeHtml(p.title)}</b>: ${escapeHtml(p.emptyReason ?? '')}</li>`);
    }
    out.push('</ul>');
  }
  for (const p of plots) {
    if (p.svg === null) continue;
    out.push(
      `<section id="${escapeHtml(p.id)}"><h2>${escapeHtml(p.title)}</h2>`,
      `<p>Series: ${p.series.map(escapeHtml).join(', ')}. Standalone: <a href="${escapeHtml(p.id)}.svg">${escapeHtml(p.id)}.svg</a></p>`,
      p.svg,
      '</section>',
    );
  }
  out.push(
    '<section><h2>All measurements</h2><table><tr><th>suite</th><th>case</th><th>value</th><th>unit</th><th>±%</th></tr>',
  );
  for (const m of results.measurements) {
    out.push(
      `<tr><td>${escapeHtml(m.suite)}</td><td>${escapeHtml(m.name)}</td><td class="n">${formatValue(m.value)}</td>` +
        `<td>${escapeHtml(m.unit)}</td><td class="n">${m.margin === null ? '' : m.margin.toFixed(2)}</td></tr>`,
    );
  }
  out.push('</table>');
  const unparsed = results.measurements.filter((m) => m.parsed === null).length;
  if (unparsed > 0) {
    out.push(
      `<p>${unparsed} case name(s) do not follow <code>&lt;metric&gt;/&lt;mode&gt;/&lt;param&gt;=&lt;value&gt;</code>; they are listed above but not plotted.</p>`,
    );
  }
  out.push('</section></body></html>', '');
  return out.join('\n');
}
