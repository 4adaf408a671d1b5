// Graph: an assistant's graph (subgraphs expanded).
import { get } from './api.js';
import { drawGraph } from './graph.js';
import { clear, h } from './view.js';

export async function render(page, { args, signal }) {
  const [aid] = args;
  const [assistant, drawing] = await Promise.all([
    get(`/assistants/${encodeURIComponent(aid)}`, { signal }),
    get(`/assistants/${encodeURIComponent(aid)}/graph?xray=true`, { signal }),
  ]);
  const box = h('div', { class: 'graph', id: 'graph' });
  clear(page, h('h1', {}, `Graph · ${assistant.name} `, h('span', { class: 'muted', text: assistant.graph_id })),
    h('section', { class: 'card' }, box,
      h('p', { class: 'muted', text: 'Dashed edges are conditional. Subgraph nodes are shown as parent:child.' })));
  drawGraph(box, drawing);
}
