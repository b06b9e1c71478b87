/**
 * Plots of benchmark measurements as SVG, with Vega-Lite compiled to Vega and rendered
 * headless (`renderer: 'none'` → `toSVG()`): no browser, no canvas, no network.
 *
 * Which plots exist is fixed (new-connection cost, established throughput, hot-path
 * throughput, compile time, memory, capture throughput); what goes in them is whatever
 * measurements are present, matched by the `<metric>` part of their case names. Metrics no
 * plot claims get a generic plot of their own, so nothing measured is left out.
 */
import * as vega from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import { compile } from 'vega-lite';
import type { Measurement } from './results.js';

export interface PlotPoint {
  readonly series: string;
  /** Number (line plots) or category (bar plots). */
  readonly x: number | string;
  readonly y: number;
  /** Bar plots: the group inside a category. */
  readonly group?: string;
}

export interface PlotDefinition {
  readonly id: string;
  readonly title: string;
  /** What the plot shows and which case names feed it (printed when it is empty). */
  readonly expects: string;
  readonly kind: 'line' | 'bar';
  readonly xTitle: string;
  readonly yTitle: string;
  readonly logX: boolean;
  readonly logY: boolean;
  /** Whether a measurement belongs on this plot. */
  readonly selects: (m: Measurement) => boolean;
  /** Measurement → point, or null when its unit cannot be shown on this plot. */
  readonly toPoint: (m: Measurement, seriesWithMetric: boolean) => PlotPoint | null;
}

export interface RenderedPlot {
  readonly id: string;
  readonly title: string;
  readonly points: readonly PlotPoint[];
  /** Null when empty. */
  readonly svg: string | null;
  /** Why the plot is empty (null when it has points). */
  readonly emptyReason: string | null;
  readonly series: readonly string[];
}

const TIME_TO_US: Record<string, number> = { s: 1e6, ms: 1e3, us: 1, µs: 1, ns: 1e-3 };
const RATE: Record<string, number> = {
  'ops/s': 1,
  'op/s': 1,
  pps: 1,
  'packets/s': 1,
  '/s': 1,
  Mpps: 1e6,
  'connections/s': 1,
  'bytes/s': 1,
  'B/s': 1,
  'MB/s': 1e6,
  'MiB/s': 1048576,
};
const BYTES: Record<string, number> = { B: 1, bytes: 1, byte: 1, KiB: 1024, kB: 1e3, MiB: 1048576, MB: 1e6 };

/** Microseconds per operation: benny's ops/s inverted, or a time unit converted. */
export function microsecondsPerOp(m: Measurement): number | null {
  if (m.unit === 'ops/s') return m.value > 0 ? 1e6 / m.value : null;
  const f = TIME_TO_US[m.unit];
  return f === undefined ? null : m.value * f;
}

/** Operations (or packets, or bytes) per second. */
export function ratePerSecond(m: Measurement): number | null {
  const f = RATE[m.unit];
  return f === undefined ? null : m.value * f;
}

export function bytesOf(m: Measurement): number | null {
  // Units may carry a note after the unit itself: 'B (native dump text)'.
  const f = BYTES[m.unit.split(' ')[0]];
  return f === undefined ? null : m.value * f;
}

/** The first numeric parameter, preferring the listed names. */
function numericParam(m: Measurement, prefer: readonly string[]): readonly [string, number] | null {
  const params = m.parsed?.params ?? [];
  for (const name of prefer) {
    const p = params.find(([k, v]) => k === name && typeof v === 'number');
    if (p !== undefined) return [p[0], p[1] as number];
  }
  const p = params.find(([, v]) => typeof v === 'number');
  return p === undefined ? null : [p[0], p[1] as number];
}

function seriesName(m: Measurement, withMetric: boolean): string {
  const p = m.parsed!;
  return withMetric ? `${p.mode} ${p.metric}` : p.mode;
}

function linePoint(
  m: Measurement,
  withMetric: boolean,
  y: number | null,
  prefer: readonly string[],
): PlotPoint | null {
  const x = numericParam(m, prefer);
  if (x === null || y === null || !Number.isFinite(y)) return null;
  return { series: seriesName(m, withMetric), x: x[1], y };
}

export const PLOTS: readonly PlotDefinition[] = [
  {
    id: 'newconn-vs-services',
    title: 'New-connection cost vs number of Services',
    expects: 'cases named newconn/<mode>/services=<n> (time per new connection)',
    kind: 'line',
    xTitle: 'Services',
    yTitle: 'µs per new connection',
    logX: true,
    logY: true,
    selects: (m) => metricOf(m) === 'newconn',
    toPoint: (m, w) => linePoint(m, w, microsecondsPerOp(m), ['services']),
  },
  {
    id: 'established-throughput',
    title: 'Established-flow throughput vs number of Services',
    expects: 'cases named established/<mode>/services=<n> (operations per second)',
    kind: 'line',
    xTitle: 'Services',
    yTitle: 'operations/s',
    logX: true,
    logY: true,
    selects: (m) => metricOf(m) === 'established',
    toPoint: (m, w) => linePoint(m, w, ratePerSecond(m), ['services']),
  },
  {
    id: 'hotpath-throughput',
    title: 'Hot-path throughput per mode (one core)',
    expects: 'cases named hotpath/<mode>/flows=<n> with a rate unit (pps), e.g. from hotpath.extra.json',
    kind: 'bar',
    xTitle: 'mode',
    yTitle: 'million packets/s',
    logX: false,
    logY: false,
    selects: (m) => metricOf(m) === 'hotpath',
    toPoint: (m) => {
      const rate = ratePerSecond(m);
      if (rate === null) return null;
      const p = numericParam(m, ['flows']);
      return {
        series: p === null ? 'all' : `${p[0]}=${p[1]}`,
        x: m.parsed!.mode,
        y: rate / 1e6,
        group: p === null ? 'all' : `${p[0]}=${p[1]}`,
      };
    },
  },
  {
    id: 'compile-time',
    title: 'Rule compile time vs number of Services',
    expects: 'cases named compile-full/<mode>/services=<n> and compile-incremental/<mode>/services=<n>',
    kind: 'line',
    xTitle: 'Services',
    yTitle: 'ms per compile',
    logX: true,
    logY: true,
    selects: (m) => metricOf(m).startsWith('compile'),
    toPoint: (m, w) => {
      const us = microsecondsPerOp(m);
      return linePoint(m, w, us === null ? null : us / 1e3, ['services']);
    },
  },
  {
    id: 'memory',
    title: 'Memory per Service (rules or maps) vs number of Services',
    expects: 'cases named memory-per-service/<mode>/services=<n> with a byte unit (already per Service)',
    kind: 'line',
    xTitle: 'Services',
    yTitle: 'bytes per Service',
    logX: true,
    logY: true,
    selects: (m) => metricOf(m) === 'memory-per-service',
    toPoint: (m, w) => linePoint(m, w, bytesOf(m), ['services']),
  },
  {
    id: 'memory-per-flow',
    title: 'Table memory per tracked flow',
    expects: 'cases named memory/<mode>/per=flow with a byte unit',
    kind: 'bar',
    xTitle: 'mode',
    yTitle: 'bytes per flow',
    logX: false,
    logY: false,
    selects: (m) => metricOf(m) === 'memory',
    toPoint: (m) => {
      const bytes = bytesOf(m);
      return bytes === null ? null : { series: 'per flow', x: m.parsed!.mode, y: bytes, group: 'per flow' };
    },
  },
  {
    id: 'topology-throughput',
    title: 'Full-topology interface traversals per second, capture off, in memory and to a file',
    expects: 'cases named topology/<mode>/capture=off|on|file in traversals/s (topology.extra.json)',
    kind: 'bar',
    xTitle: 'mode',
    yTitle: 'million interface traversals/s',
    logX: false,
    logY: false,
    // topology-pps and topology-burst carry the same runs in other units: claimed here, not plotted twice.
    selects: (m) => metricOf(m).startsWith('topology'),
    toPoint: (m) => {
      const capture = m.parsed!.params.find(([k]) => k === 'capture')?.[1];
      if (m.unit !== 'traversals/s' || capture === undefined) return null;
      return {
        series: `capture ${capture}`,
        x: m.parsed!.mode,
        y: m.value / 1e6,
        group: `capture ${capture}`,
      };
    },
  },
  {
    id: 'capture-throughput',
    title: 'Capture throughput',
    expects:
      'cases named capture/<format>/<param>=<n> (a rate), or any case of the capture suite (bench/results/capture.json)',
    kind: 'bar',
    xTitle: 'case',
    yTitle: 'operations/s (an operation is what the case names, e.g. a batch)',
    logX: false,
    logY: false,
    selects: (m) => metricOf(m).startsWith('capture') || (m.parsed === null && m.suite === 'capture'),
    toPoint: (m) => {
      const rate = ratePerSecond(m);
      if (rate === null) return null;
      const label =
        m.parsed === null
          ? m.name
          : [m.parsed.mode, ...m.parsed.params.map(([k, v]) => `${k}=${v}`)].join(' ');
      return { series: m.parsed?.mode ?? m.suite, x: label, y: rate, group: m.parsed?.mode ?? m.suite };
    },
  },
];

/** The `<metric>` of a measurement's case name ('' when the name has another form). */
function metricOf(m: Measurement): string {
  return m.parsed?.metric ?? '';
}

/** A plot for a metric none of PLOTS claims: value against its first numeric parameter. */
export function genericPlot(metric: string, unit: string): PlotDefinition {
  return {
    id: `metric-${metric.replace(/[^\w.-]+/g, '_')}`,
    title: `${metric} (${unit})`,
    expects: `cases named ${metric}/<mode>/<param>=<n>`,
    kind: 'line',
    xTitle: 'parameter',
    yTitle: unit,
    logX: true,
    logY: false,
    selects: (m) => metricOf(m) === metric && m.unit === unit,
    toPoint: (m, w) => linePoint(m, w, m.value, []),
  };
}

/** Points of one plot from all measurements (those with parsed names and usable units). */
export function collectPoints(def: PlotDefinition, measurements: readonly Measurement[]): PlotPoint[] {
  const mine = measurements.filter((m) => def.selects(m));
  const metrics = new Set(mine.map(metricOf));
  const points: PlotPoint[] = [];
  for (const m of mine) {
    const p = def.toPoint(m, metrics.size > 1);
    if (p === null) continue;
    if (def.logY && !(p.y > 0)) continue;
    if (def.logX && typeof p.x === 'number' && !(p.x > 0)) continue;
    points.push(p);
  }
  return points;
}

function vegaLiteSpec(def: PlotDefinition, points: readonly PlotPoint[]): TopLevelSpec {
  const data = { values: points.map((p) => ({ ...p })) };
  const y = {
    field: 'y',
    type: 'quantitative' as const,
    title: def.yTitle,
    scale: def.logY ? { type: 'log' as const } : { zero: true },
  };
  if (def.kind === 'bar') {
    return {
      title: def.title,
      width: 480,
      height: 300,
      data,
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'x', type: 'nominal', title: def.xTitle, axis: { labelAngle: -30, labelLimit: 240 } },
        xOffset: { field: 'group', type: 'nominal' },
        y,
        color: { field: 'series', type: 'nominal', title: 'series', legend: { labelLimit: 320 } },
      },
      config: { font: 'sans-serif' },
    };
  }
  return {
    title: def.title,
    width: 480,
    height: 300,
    data,
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: def.xTitle,
        scale: def.logX ? { type: 'log' } : { zero: false },
      },
      y,
      color: { field: 'series', type: 'nominal', title: 'series', legend: { labelLimit: 320 } },
    },
    config: { font: 'sans-serif' },
  };
}

/** Renders a Vega-Lite spec to an SVG string, headless. */
export async function renderVegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One plot: its points and SVG, or the reason it is empty. */
export async function renderPlot(
  def: PlotDefinition,
  measurements: readonly Measurement[],
  whereLooked: string,
): Promise<RenderedPlot> {
  const points = collectPoints(def, measurements);
  const series = [...new Set(points.map((p) => p.series))].sort();
  if (points.length === 0) {
    const claimed = measurements.filter((m) => def.selects(m));
    const emptyReason =
      claimed.length > 0
        ? `${claimed.length} matching case(s) had no usable unit or parameter (expected ${def.expects})`
        : `no ${def.expects} ${whereLooked}`;
    return { id: def.id, title: def.title, points, svg: null, emptyReason, series };
  }
  const svg = await renderVegaLiteSvg(vegaLiteSpec(def, points));
  return { id: def.id, title: def.title, points, svg, emptyReason: null, series };
}
