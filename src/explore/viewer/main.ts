/**
 * The explorer page: reads the JSON `dpsim explore` embedded, draws the cluster, lists the
 * Services' ways in, and on a choice shows that connection's path — hops, rules matched
 * (highlighted inside the node's dump), NAT, conntrack entries, capture frames — and the
 * per-Service backend distribution. A viewer only: nothing here is simulated.
 */
import type { DistributionView, ExploreData, HopView, ModeView, PathView } from '../model.js';
import { drawDistribution } from './distribution.js';
import { drawTopology } from './topology.js';
import './style.css';

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string | null)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null) e.append(c);
  return e;
}

const data = JSON.parse(document.getElementById('dpsim-data')!.textContent!) as ExploreData;
const app = document.getElementById('app')!;

interface State {
  mode: number;
  path: number | null;
  dumpNode: string;
  /** Dump lines to highlight per node, with the hop order that hit them. */
  focusLine: number | null;
}

const state: State = { mode: 0, path: null, dumpNode: '', focusLine: null };

function readHash(): void {
  const params = new URLSearchParams(location.hash.slice(1));
  const m = data.modes.findIndex((v) => v.mode === params.get('mode'));
  if (m >= 0) state.mode = m;
  const p = Number(params.get('path'));
  if (params.has('path') && Number.isInteger(p) && p >= 0 && p < data.modes[state.mode].paths.length)
    state.path = p;
}

function writeHash(): void {
  const v = data.modes[state.mode];
  const hash = `mode=${v.mode}${state.path === null ? '' : `&path=${state.path}`}`;
  history.replaceState(null, '', `#${hash}`);
}

const nodeOf = (v: ModeView) => v.topology.nodes[0]?.name ?? '';

function ruleCountsByNode(path: PathView): Map<string, number> {
  const counts = new Map<string, number>();
  for (const hop of path.request)
    if (hop.rules.length > 0) counts.set(hop.host, (counts.get(hop.host) ?? 0) + hop.rules.length);
  return counts;
}

function render(): void {
  const view = data.modes[state.mode];
  if (state.dumpNode === '' || !(state.dumpNode in view.dumps)) state.dumpNode = nodeOf(view);
  const path = state.path === null ? null : view.paths[state.path];

  const header = h(
    'header',
    {},
    h('h1', {}, 'dpsim explore'),
    h('p', { class: 'meta' }, `${data.title} · seed ${data.seed}`),
    h(
      'nav',
      { 'aria-label': 'proxy mode' },
      ...data.modes.map((m, i) => {
        const b = h(
          'button',
          { type: 'button', 'data-mode': m.mode, 'aria-pressed': String(i === state.mode) },
          m.mode,
        );
        b.addEventListener('click', () => {
          state.mode = i;
          const old = path;
          state.path = null;
          if (old !== null) {
            const same = data.modes[i].paths.findIndex(
              (p) => p.service === old.service && p.entry === old.entry,
            );
            if (same >= 0) state.path = same;
          }
          state.focusLine = null;
          rerender(`[data-mode="${m.mode}"]`);
        });
        return b;
      }),
    ),
  );

  const topo = drawTopology(view);
  topo.showPath(path?.request ?? null, path?.reply ?? []);

  const services = h(
    'section',
    { class: 'services', 'aria-label': 'Services' },
    h('h2', {}, 'Services — choose a way in'),
    ...view.services.map((s) =>
      h(
        'div',
        { class: 'service', 'data-service': s.id },
        h(
          'div',
          { class: 'svc-name' },
          `${s.id} `,
          h('span', { class: 'svc-type' }, `${s.type} ${s.port}/${s.protocol}`),
        ),
        h(
          'div',
          { class: 'entries' },
          ...s.entries.map((e) => {
            const label = e.kind === 'ClusterIP' ? `ClusterIP ${e.target}` : `${e.entry} ${e.target}`;
            const b = h(
              'button',
              {
                type: 'button',
                class: `entry ${e.kind === 'ClusterIP' ? 'cluster-ip' : 'node-port'}`,
                'data-service-port': s.id,
                'data-entry': e.entry,
                'data-target': e.target,
                'aria-pressed': String(state.path === e.path),
                title: `curl http://${e.target}/ from the client`,
              },
              label,
            );
            b.addEventListener('click', () => {
              state.path = e.path;
              state.focusLine = null;
              const first = view.paths[e.path].request.find((hop) => hop.rules.length > 0);
              if (first !== undefined) state.dumpNode = first.host;
              rerender(`[data-service-port="${CSS.escape(s.id)}"][data-entry="${CSS.escape(e.entry)}"]`);
            });
            return b;
          }),
        ),
      ),
    ),
  );

  const left = h(
    'div',
    { class: 'left' },
    h('section', { class: 'drawing', 'aria-label': 'cluster' }, topo.svg),
    services,
  );
  const right = h('div', { class: 'right' }, path === null ? hint() : pathPanel(view, path));
  const bottom = h('div', { class: 'bottom' }, dumpPanel(view, path), distributionPanel(view));
  app.replaceChildren(header, h('main', {}, left, right), bottom);
  for (const d of view.distributions) {
    const target = app.querySelector<HTMLElement>(`[data-distribution="${CSS.escape(d.service)}"] .chart`);
    if (target !== null) void drawDistribution(target, d);
  }
}

function rerender(focusSelector: string): void {
  writeHash();
  render();
  app.querySelector<HTMLElement>(focusSelector)?.focus();
}

function hint(): HTMLElement {
  return h(
    'section',
    { class: 'path hint' },
    h('h2', {}, 'Packet path'),
    h(
      'p',
      {},
      'Choose a ClusterIP or a node’s NodePort on the left (Tab, then Enter). The first SYN’s hops and the SYN-ACK’s way back appear here, with every rule matched, the NAT, the conntrack entry and the capture’s frame numbers.',
    ),
  );
}

function natText(path: PathView, leg: 'request' | 'reply'): HTMLElement {
  const rows = path.nat.filter((n) => n.leg === leg);
  if (rows.length === 0) return h('p', {}, 'no address rewritten');
  return h(
    'ul',
    { class: 'nat' },
    ...rows.map((n) =>
      h(
        'li',
        { 'data-nat': n.kind, 'data-nat-host': n.host },
        h(
          'strong',
          {},
          `${n.host} ${n.kind}${n.kind === 'SNAT' && leg === 'request' ? ' (masquerade)' : ''}`,
        ),
        ` ${n.from} → ${n.to}`,
      ),
    ),
  );
}

function pathPanel(view: ModeView, path: PathView): HTMLElement {
  const counts = ruleCountsByNode(path);
  const ok = path.exitCode === 0;
  const summary = h(
    'dl',
    { class: 'answers' },
    h('dt', {}, 'Request'),
    h('dd', {}, `curl ${path.url} from ${path.from}`),
    h('dt', {}, 'Answered by'),
    h('dd', { 'data-served-by': path.servedBy }, ok ? `pod ${path.servedBy}` : `no answer: ${path.answer}`),
    h('dt', {}, 'First SYN matched'),
    h(
      'dd',
      {},
      counts.size === 0
        ? 'no rule'
        : h(
            'span',
            {},
            ...[...counts].flatMap(([node, n], i) => {
              const b = h(
                'button',
                { type: 'button', class: 'link', 'data-dump-link': node },
                `${n} rule${n === 1 ? '' : 's'} on ${node}`,
              );
              b.addEventListener('click', () => {
                state.dumpNode = node;
                state.focusLine = null;
                rerender(`[data-dump-node="${CSS.escape(node)}"]`);
              });
              return i === 0 ? [b] : [', ', b];
            }),
          ),
    ),
    h('dt', {}, 'NAT (request)'),
    h('dd', {}, natText(path, 'request')),
    h('dt', {}, 'NAT (reply, by conntrack)'),
    h('dd', {}, natText(path, 'reply')),
    h('dt', {}, 'Conntrack'),
    h(
      'dd',
      { class: 'conntrack' },
      path.conntrack.length === 0
        ? 'no entry'
        : h(
            'div',
            {},
            ...path.conntrack.map((c) =>
              h('div', {}, h('strong', {}, c.node), h('pre', {}, c.lines.join('\n'))),
            ),
          ),
    ),
    h('dt', {}, 'Capture frames'),
    h(
      'dd',
      { 'data-frames': `${path.frames.first}-${path.frames.last}` },
      `frames ${path.frames.first}–${path.frames.last} of `,
      h('a', { href: view.captureFile }, view.captureFile),
      ' ',
      h('code', {}, `frame.number >= ${path.frames.first} && frame.number <= ${path.frames.last}`),
    ),
  );
  return h(
    'section',
    { class: 'path', 'aria-label': 'packet path', 'data-path': `${path.service}@${path.entry}` },
    h(
      'h2',
      {},
      `${path.service} via ${path.entry === 'clusterIP' ? 'ClusterIP' : `${path.entry} NodePort`} — ${view.mode} mode`,
    ),
    summary,
    hopList(view, path.request, 'request', 'Request: the first SYN', 1),
    hopList(view, path.reply, 'reply', 'Reply: the SYN-ACK back', path.request.length + 1),
  );
}

function hopList(
  view: ModeView,
  hops: readonly HopView[],
  leg: string,
  title: string,
  start: number,
): HTMLElement {
  return h(
    'section',
    { class: `hops ${leg}` },
    h('h3', {}, title),
    h(
      'ol',
      { start: String(start) },
      ...hops.map((hop, i) => {
        const li = h(
          'li',
          { 'data-hop': `${leg}-${i}`, 'data-hop-host': hop.host, 'data-stage': hop.stage },
          h('span', { class: 'host' }, hop.host),
          h('span', { class: 'stage' }, hop.stage),
          hop.detail === '' ? null : h('span', { class: 'detail' }, hop.detail),
        );
        if (hop.packet !== undefined)
          li.append(
            h(
              'div',
              { class: 'packet', 'data-frame': String(hop.packet.frame) },
              `frame ${hop.packet.frame}: ${hop.packet.src} → ${hop.packet.dst} [${hop.packet.flags}]`,
            ),
          );
        if (hop.rules.length > 0) {
          const rules = h('ul', { class: 'rules' });
          for (const r of hop.rules) {
            const where = r.lines.length > 0 && view.dumps[hop.host] !== undefined;
            const label = `${r.table}/${r.chain}: ${r.text}`;
            const item = where
              ? h(
                  'button',
                  { type: 'button', class: 'rule', 'data-rule-line': String(r.lines[0]), title: label },
                  label,
                )
              : h('span', { class: 'rule', title: label }, label);
            if (where)
              item.addEventListener('click', () => {
                state.dumpNode = hop.host;
                state.focusLine = r.lines[0];
                rerender(`[data-dump-node="${CSS.escape(hop.host)}"]`);
              });
            rules.append(h('li', {}, item));
          }
          li.append(rules);
        }
        return li;
      }),
    ),
  );
}

function dumpPanel(view: ModeView, path: PathView | null): HTMLElement {
  const lines = view.dumps[state.dumpNode] ?? [];
  // Every line the connection's packets hit on this node, numbered in hit order.
  const hits = new Map<number, { order: number; leg: string }>();
  let order = 0;
  if (path !== null)
    for (const [leg, hops] of [
      ['request', path.request],
      ['reply', path.reply],
    ] as const)
      for (const hop of hops) {
        if (hop.host !== state.dumpNode) continue;
        for (const r of hop.rules) {
          order++;
          for (const l of r.lines) if (!hits.has(l)) hits.set(l, { order, leg });
        }
      }
  const pre = h('pre', {
    class: 'dump',
    tabindex: '0',
    'aria-label': `${view.dumpTool} on ${state.dumpNode}`,
  });
  lines.forEach((text, i) => {
    const hit = hits.get(i);
    const span = h('span', {
      class: hit === undefined ? 'line' : `line hit ${hit.leg}`,
      'data-line': String(i),
    });
    if (hit !== undefined) span.append(h('b', { class: 'order' }, String(hit.order)));
    span.append(`${text}\n`);
    pre.append(span);
  });
  const tabs = h(
    'nav',
    { 'aria-label': 'node dumps' },
    ...Object.keys(view.dumps).map((node) => {
      const b = h(
        'button',
        { type: 'button', 'data-dump-node': node, 'aria-pressed': String(node === state.dumpNode) },
        node,
      );
      b.addEventListener('click', () => {
        state.dumpNode = node;
        state.focusLine = null;
        rerender(`[data-dump-node="${CSS.escape(node)}"]`);
      });
      return b;
    }),
  );
  const section = h(
    'section',
    { class: 'dump-panel', 'aria-label': 'rule dump' },
    h(
      'h2',
      {},
      `${view.dumpTool} — ${state.dumpNode}`,
      path === null
        ? ''
        : h(
            'span',
            { class: 'legend' },
            ` ${hits.size} line${hits.size === 1 ? '' : 's'} hit by this connection, numbered in order`,
          ),
    ),
    tabs,
    pre,
  );
  // Bring the chosen (or first) hit into view once the panel is in the document.
  requestAnimationFrame(() => {
    const line = state.focusLine ?? [...hits].sort((a, b) => a[1].order - b[1].order)[0]?.[0];
    if (line === undefined) return;
    const target = pre.querySelector<HTMLElement>(`[data-line="${line}"]`);
    if (target !== null) pre.scrollTop = target.offsetTop - pre.offsetTop - 40;
    if (state.focusLine !== null) target?.classList.add('focused');
  });
  return section;
}

function distributionPanel(view: ModeView): HTMLElement {
  return h(
    'section',
    { class: 'distributions', 'aria-label': 'backend distribution' },
    h('h2', {}, 'Backends: the rules’ probabilities vs a load run'),
    ...view.distributions.map((d) => distributionCard(d)),
  );
}

function distributionCard(d: DistributionView): HTMLElement {
  const table = h(
    'table',
    {},
    h('thead', {}, h('tr', {}, h('th', {}, 'backend'), h('th', {}, 'rules'), h('th', {}, 'observed'))),
    h(
      'tbody',
      {},
      ...d.backends.map((b) =>
        h(
          'tr',
          { 'data-backend': b.pod },
          h('td', {}, `${b.pod} (${b.endpoint})`),
          h('td', {}, `${(b.ruleProbability * 100).toFixed(1)}%`),
          h('td', {}, d.flows === 0 ? '—' : `${(b.observedShare * 100).toFixed(1)}% (${b.observedFlows})`),
        ),
      ),
    ),
  );
  return h(
    'div',
    { class: 'distribution', 'data-distribution': d.service },
    h('h3', {}, d.service),
    h(
      'p',
      { class: 'meta' },
      `rules: ${d.ruleSource}; observed: ${d.flows === 0 ? 'the load run sent no flow to this Service' : `${d.flows} new connections of a load run`}`,
    ),
    d.flows === 0 ? null : h('div', { class: 'chart' }),
    table,
  );
}

readHash();
render();
