// Assistants: their configs and versions, and a run started with JSON input (streamed on its run page).
import { post } from './api.js';
import { navigate } from './main.js';
import { clear, errorBox, h, jsonTree, kv, short, time } from './view.js';

function versionsBox(aid) {
  const box = h('div', { class: 'versions' });
  const button = h('button', { text: 'Show versions', onclick: async () => {
    button.disabled = true;
    try {
      const versions = await post(`/assistants/${aid}/versions`, { limit: 20 });
      clear(box, h('table', {}, h('thead', {}, h('tr', {}, ['version', 'created', 'config', 'metadata'].map((c) => h('th', { text: c })))),
        h('tbody', {}, versions.map((v) => h('tr', {}, h('td', { text: v.version }), h('td', {}, time(v.created_at)),
          h('td', {}, jsonTree(v.config, { open: 0 })), h('td', {}, jsonTree(v.metadata, { open: 0 })))))));
    } catch (err) { clear(box, errorBox(err)); }
  } });
  box.append(button);
  return box;
}

function runForm(a) {
  const input = h('textarea', { class: 'run-input', rows: 5, text: '{}' });
  const out = h('div');
  const start = async (ev) => {
    ev.preventDefault();
    let value;
    try { value = JSON.parse(input.value || 'null'); } catch (err) { clear(out, errorBox(`Input is not JSON: ${err.message}`)); return; }
    try {
      const thread = await post('/threads', { metadata: { started_from: 'dashboard' } });
      const run = await post(`/threads/${thread.thread_id}/runs`, { assistant_id: a.assistant_id, input: value });
      navigate(`/runs/${run.thread_id}/${run.run_id}`);
    } catch (err) { clear(out, errorBox(err)); }
  };
  return h('form', { class: 'start-run', onsubmit: start },
    h('label', {}, 'Input (JSON)', input), h('button', { class: 'primary', text: 'Start run' }), out);
}

export async function render(page, { signal }) {
  const assistants = await post('/assistants/search', { limit: 100, sort_by: 'created_at', sort_order: 'asc' }, { signal });
  clear(page, h('h1', { text: 'Assistants' }),
    assistants.map((a) => h('section', { class: 'card assistant', dataset: { graphId: a.graph_id, assistantId: a.assistant_id } },
      h('h2', {}, a.name, ' ', h('span', { class: 'muted', text: `graph ${a.graph_id} · v${a.version}` })),
      h('div', { class: 'cols' },
        h('div', {},
          kv([['id', h('span', { class: 'mono', text: short(a.assistant_id) })], ['updated', time(a.updated_at)],
            ['graph', h('a', { href: `#/graph/${a.assistant_id}`, text: 'draw the graph →' })],
            ['config', jsonTree(a.config, { open: 0 })], ['context', jsonTree(a.context, { open: 0 })],
            ['metadata', jsonTree(a.metadata, { open: 0 })]]),
          versionsBox(a.assistant_id)),
        runForm(a)))));
}
