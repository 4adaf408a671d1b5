// Draw `/assistants/{id}/graph` as SVG, laid out by the vendored dagre; highlight nodes by run progress.
/* global dagre */

const SVG = 'http://www.w3.org/2000/svg';

function el(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

export function drawGraph(container, drawing) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 42, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of drawing.nodes) {
    const label = n.id;
    g.setNode(n.id, { label, width: Math.max(84, label.length * 8 + 28), height: 34 });
  }
  drawing.edges.forEach((e, i) => {
    if (g.hasNode(e.source) && g.hasNode(e.target)) g.setEdge(e.source, e.target, { conditional: !!e.conditional }, `e${i}`);
  });
  dagre.layout(g);
  const { width, height } = g.graph();
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': 'graph' });
  const defs = el('defs');
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8b95a7' }));
  defs.append(marker);
  svg.append(defs);
  for (const e of g.edges()) {
    const edge = g.edge(e);
    const d = edge.points.map((p, i) => `${i ? 'L' : 'M'} ${p.x} ${p.y}`).join(' ');
    svg.append(el('path', { d, class: `edge${edge.conditional ? ' conditional' : ''}`, 'marker-end': 'url(#arrow)',
      'data-source': e.v, 'data-target': e.w }));
  }
  const nodes = new Map();
  for (const id of g.nodes()) {
    const n = g.node(id);
    const terminal = id === '__start__' || id === '__end__';
    const group = el('g', { class: `node${terminal ? ' terminal' : ''}`, 'data-node': id,
      transform: `translate(${n.x - n.width / 2}, ${n.y - n.height / 2})` });
    group.append(el('rect', { width: n.width, height: n.height, rx: terminal ? 17 : 6 }));
    const text = el('text', { x: n.width / 2, y: n.height / 2 });
    text.textContent = n.label;
    group.append(text);
    svg.append(group);
    nodes.set(id, group);
  }
  container.replaceChildren(svg);
  return {
    // progress: {current: Set, next: Set, done: Set} of node names (a subgraph's own nodes as `parent:child`)
    highlight({ current, next, done }) {
      for (const [id, group] of nodes) {
        const top = id.split(':')[0];
        const has = (set) => set.has(id) || set.has(top);
        group.classList.toggle('current', has(current));
        group.classList.toggle('next', !has(current) && has(next));
        group.classList.toggle('done', !has(current) && !has(next) && has(done));
      }
    },
  };
}
