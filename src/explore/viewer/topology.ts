/**
 * The cluster drawing: client, the LAN, each node with its interfaces and the pods behind
 * its veths, laid out by dagre (compound graph: pods and interfaces inside their node) and
 * drawn as SVG. A selected path is overlaid as numbered arrows between the interfaces
 * the packet crossed, request and reply in two colours.
 */
import dagre from '@dagrejs/dagre';
import type { HopView, ModeView } from '../model.js';

const SVG = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DrawnTopology {
  readonly svg: SVGSVGElement;
  /** Graph node id of the box standing for an interface id (`host/ifname`), if drawn. */
  boxOf(ifaceId: string): string | undefined;
  /** Overlay a path (request then reply); null clears it. */
  showPath(request: readonly HopView[] | null, reply: readonly HopView[]): void;
}

export function drawTopology(view: ModeView): DrawnTopology {
  const t = view.topology;
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 16, ranksep: 34, marginx: 8, marginy: 8 });
  // Room below each node's pods for its name and pod CIDR (dagre has no cluster label).
  const CLUSTER_HEADER = 30;
  g.setDefaultEdgeLabel(() => ({}));
  const labels = new Map<
    string,
    { title: string; sub: string; kind: string; data: Record<string, string> }
  >();
  const box = (id: string, title: string, sub: string, kind: string, data: Record<string, string>) => {
    const width = Math.max(title.length, sub.length) * 7.2 + 20;
    g.setNode(id, { width, height: sub === '' ? 26 : 40 });
    labels.set(id, { title, sub, kind, data });
  };
  const boxOfIface = new Map<string, string>();
  box('client', 'client', t.client.ip, 'client', { 'data-host': 'client' });
  boxOfIface.set(`${t.client.name}/${t.client.interfaces[0]?.name ?? 'eth0'}`, 'client');
  box('lan', 'LAN', `${t.client.ip.split('.').slice(0, 3).join('.')}.0/24`, 'lan', {});
  g.setEdge('client', 'lan');
  const lanAttached = new Set<string>(['client']);
  // dagre orders a rank's nodes last-inserted first; insert in reverse to draw node1 leftmost.
  for (const n of [...t.nodes].reverse()) {
    const cluster = `node:${n.name}`;
    g.setNode(cluster, {});
    labels.set(cluster, {
      title: n.name,
      sub: `pods ${n.podCIDR}`,
      kind: 'node',
      data: { 'data-node': n.name },
    });
    const eth = n.interfaces[0];
    const ethId = `if:${eth.id}`;
    box(ethId, eth.name, eth.addr, 'iface', { 'data-iface': eth.id });
    g.setParent(ethId, cluster);
    boxOfIface.set(eth.id, ethId);
    lanAttached.add(ethId);
    g.setEdge('lan', ethId, { minlen: 2 });
    for (const veth of n.interfaces.slice(1)) {
      if (veth.podKey === undefined) continue;
      const pod = t.pods.find((p) => p.key === veth.podKey);
      if (pod === undefined) continue;
      const vethId = `if:${veth.id}`;
      box(vethId, veth.name, '', 'iface', { 'data-iface': veth.id });
      g.setParent(vethId, cluster);
      boxOfIface.set(veth.id, vethId);
      g.setEdge(ethId, vethId);
      const podId = `pod:${pod.key}`;
      box(podId, pod.name, pod.ip, 'pod', { 'data-pod': pod.key });
      g.setParent(podId, cluster);
      for (const i of pod.interfaces) boxOfIface.set(i.id, podId);
      g.setEdge(vethId, podId);
    }
  }
  dagre.layout(g);
  const graph = g.graph();
  const width = (graph.width ?? 600) + 4;
  const height = (graph.height ?? 400) + 4 + CLUSTER_HEADER;
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    width: '100%',
    role: 'img',
    'aria-label': `cluster drawing: client, ${t.nodes.length} nodes, ${t.pods.length} pods`,
    class: 'topology',
  });
  const defs = el('defs', {});
  for (const [id, colour] of [
    ['arrow-request', 'var(--request)'],
    ['arrow-reply', 'var(--reply)'],
  ]) {
    const m = el('marker', {
      id,
      viewBox: '0 0 10 10',
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: 'auto-start-reverse',
    });
    m.append(el('path', { d: 'M0,0 L10,5 L0,10 z', style: `fill:${colour}` }));
    defs.append(m);
  }
  svg.append(defs);
  const boxes = new Map<string, Box>();
  const clusters = el('g', { class: 'clusters' });
  const edges = el('g', { class: 'edges' });
  const leaves = el('g', { class: 'leaves' });
  svg.append(clusters, edges, leaves);
  for (const id of g.nodes()) {
    const n = g.node(id) as unknown as Box;
    const b: Box = { x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height };
    if (id.startsWith('node:')) b.height += CLUSTER_HEADER;
    boxes.set(id, b);
    const label = labels.get(id);
    if (label === undefined) continue;
    const group = el('g', { class: `box ${label.kind}`, 'data-box': id, ...label.data });
    group.append(el('rect', { x: b.x, y: b.y, width: b.width, height: b.height, rx: 5 }));
    if (label.kind === 'node') {
      // Name and pod CIDR at the foot of the node: the path's arrows come in at the top.
      group.append(el('text', { x: b.x + 8, y: b.y + b.height - 19, class: 'title' }, label.title));
      group.append(el('text', { x: b.x + 8, y: b.y + b.height - 6, class: 'sub' }, label.sub));
      group.append(el('title', {}, `${label.title}: ${label.sub}`));
      clusters.append(group);
    } else {
      const cx = b.x + b.width / 2;
      group.append(
        el(
          'text',
          { x: cx, y: b.y + (label.sub === '' ? 17 : 16), class: 'title', 'text-anchor': 'middle' },
          label.title,
        ),
      );
      if (label.sub !== '')
        group.append(el('text', { x: cx, y: b.y + 31, class: 'sub', 'text-anchor': 'middle' }, label.sub));
      leaves.append(group);
    }
  }
  for (const e of g.edges()) {
    const pts = (g.edge(e) as { points: { x: number; y: number }[] }).points;
    edges.append(el('polyline', { points: pts.map((p) => `${p.x},${p.y}`).join(' '), class: 'link' }));
  }
  const overlay = el('g', { class: 'overlay' });
  svg.append(overlay);
  svg.setAttribute('style', `max-height:${Math.max(260, Math.min(height, 520))}px`);

  const centre = (id: string) => {
    const b = boxes.get(id)!;
    return { x: b.x + b.width / 2, y: b.y + b.height / 2, b };
  };
  const arrow = (from: string, to: string, leg: string, offset: number, badge: number | null) => {
    const a = centre(from);
    const b = centre(to);
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    // Start and end at the boxes' edges so the arrowheads stay visible.
    const edge = (box: Box) => Math.min(box.height / 2 / Math.max(Math.abs(dy / len), 0.2), len / 3);
    const ox = (-dy / len) * offset;
    const oy = (dx / len) * offset;
    const x1 = a.x + (dx / len) * edge(a.b) + ox;
    const y1 = a.y + (dy / len) * edge(a.b) + oy;
    const x2 = b.x - (dx / len) * edge(b.b) + ox;
    const y2 = b.y - (dy / len) * edge(b.b) + oy;
    overlay.append(
      el('line', { x1, y1, x2, y2, class: `hop-arrow ${leg}`, 'marker-end': `url(#arrow-${leg})` }),
    );
    if (badge === null) return;
    const mx = x1 + (x2 - x1) * 0.55 + ox * 1.8;
    const my = y1 + (y2 - y1) * 0.55 + oy * 1.8;
    const g2 = el('g', { class: `hop-badge ${leg}`, 'data-hop-marker': String(badge) });
    g2.append(el('circle', { cx: mx, cy: my, r: 8.5 }));
    g2.append(el('text', { x: mx, y: my + 3.5, 'text-anchor': 'middle' }, String(badge)));
    g2.append(el('title', {}, `hop ${badge}`));
    overlay.append(g2);
  };
  const showPath = (request: readonly HopView[] | null, reply: readonly HopView[]) => {
    overlay.replaceChildren();
    for (const b of svg.querySelectorAll('.on-path')) b.classList.remove('on-path');
    if (request === null) return;
    // Hops are numbered across request and reply as the page's hop list numbers them; each
    // arrow carries the number of the hop where the packet arrives (its rx).
    const legs: [readonly HopView[], string, number, number][] = [
      [request, 'request', -4, 1],
      [reply, 'reply', 4, request.length + 1],
    ];
    for (const [hops, leg, offset, base] of legs) {
      let prev: string | undefined;
      hops.forEach((h, i) => {
        if (h.iface === undefined) return;
        const id = boxOfIface.get(h.iface);
        if (id === undefined) return;
        svg.querySelector(`[data-box="${CSS.escape(id)}"]`)?.classList.add('on-path');
        if (prev !== undefined && prev !== id) {
          if (lanAttached.has(prev) && lanAttached.has(id)) {
            arrow(prev, 'lan', leg, offset, null);
            arrow('lan', id, leg, offset, base + i);
          } else arrow(prev, id, leg, offset, base + i);
        }
        prev = id;
      });
    }
  };
  return { svg, boxOf: (id) => boxOfIface.get(id), showPath };
}
