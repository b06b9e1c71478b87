/**
 * One Service's backends as a vega-lite grouped bar chart: the probability the rules give
 * each endpoint beside the share a load run observed. Compiled and rendered in the page
 * by the bundled vega/vega-lite (SVG renderer, inline data, nothing loaded).
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { DistributionView } from '../model.js';

export async function drawDistribution(target: HTMLElement, d: DistributionView): Promise<void> {
  const values = d.backends.flatMap((b) => [
    { backend: b.pod.split('/').pop(), source: 'rules', share: b.ruleProbability },
    { backend: b.pod.split('/').pop(), source: 'observed', share: b.observedShare },
  ]);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values },
    width: 'container',
    height: 120,
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'backend', type: 'nominal', title: null },
      yOffset: { field: 'source' },
      x: { field: 'share', type: 'quantitative', axis: { format: '%' }, title: 'share of new connections' },
      color: {
        field: 'source',
        type: 'nominal',
        scale: { domain: ['rules', 'observed'], range: ['#1f5fa8', '#c05a00'] },
        title: null,
      },
    },
    config: { font: 'system-ui, sans-serif', view: { stroke: null } },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'svg', container: target, hover: true });
  await view.runAsync();
}
