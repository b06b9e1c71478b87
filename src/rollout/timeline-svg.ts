/**
 * The rollout timeline as SVG (Vega-Lite, rendered headless like the bench report): per
 * second of simulated time, succeeded requests and failures by kind as stacked bars, with a
 * vertical rule at every node sync that changed rules (coloured by node) and at the
 * transition's start. One panel per variant, stacked, on the same time axis.
 */
import type { TopLevelSpec } from 'vega-lite';
import { renderVegaLiteSvg } from '../bench/plots.js';
import type { RolloutResult } from './engine.js';

function panel(r: RolloutResult): Record<string, unknown> {
  const bars = r.seconds.flatMap((b) => [
    { second: b.second, kind: 'succeeded', n: b.ok },
    { second: b.second, kind: 'refused', n: b.refused },
    { second: b.second, kind: 'reset', n: b.reset },
    { second: b.second, kind: 'timed out', n: b.timeout },
  ]);
  const syncs = r.syncs
    .filter((s) => s.trigger === 'change')
    .map((s) => ({ t: Math.round(s.timeNs / 1e6) / 1e3, node: `sync ${s.node}` }));
  const lb = r.lbEvents.map((e) => ({
    t: Math.round(e.timeNs / 1e6) / 1e3,
    what: `LB ${e.healthy ? '+' : '−'}${e.node}`,
  }));
  const x = {
    field: 'second',
    type: 'quantitative',
    title: 'simulated time (s)',
    scale: { domain: [0, r.seconds.length] },
  };
  return {
    title: `${r.label}: ${r.totals.failed} of ${r.totals.requests} failed`,
    width: 720,
    height: 180,
    layer: [
      {
        data: { values: bars },
        mark: { type: 'bar', width: Math.max(1, Math.floor((0.8 * 720) / Math.max(1, r.seconds.length))) },
        encoding: {
          x,
          y: { field: 'n', type: 'quantitative', stack: 'zero', title: 'requests per second' },
          color: {
            field: 'kind',
            type: 'nominal',
            title: 'outcome',
            scale: {
              domain: ['succeeded', 'refused', 'reset', 'timed out'],
              range: ['#8fbc8f', '#d62728', '#ff7f0e', '#9467bd'],
            },
          },
          order: { field: 'kind' },
        },
      },
      {
        data: { values: syncs },
        mark: { type: 'rule', strokeDash: [3, 2], opacity: 0.8 },
        encoding: {
          x: { field: 't', type: 'quantitative' },
          stroke: { field: 'node', type: 'nominal', title: 'rule sync' },
        },
      },
      {
        data: { values: [{ t: Math.round(r.atNs / 1e6) / 1e3 }] },
        mark: { type: 'rule', color: 'black', strokeWidth: 2 },
        encoding: { x: { field: 't', type: 'quantitative' } },
      },
      {
        data: { values: lb },
        mark: { type: 'text', angle: 270, align: 'left', dy: -4, fontSize: 9, y: 4 },
        encoding: { x: { field: 't', type: 'quantitative' }, text: { field: 'what' } },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  };
}

/** One SVG for the runs (the base run first, then the variants). */
export async function rolloutTimelineSvg(runs: readonly RolloutResult[]): Promise<string> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    vconcat: runs.map(panel),
    config: { font: 'sans-serif' },
  } as unknown as TopLevelSpec;
  return renderVegaLiteSvg(spec);
}
