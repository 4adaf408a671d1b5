// A thread: its state (values as a tree, messages as a chat), pending interrupts with a form to answer each,
// its runs, and its checkpoint history: pick a checkpoint to see its state, edit it there (update_state)
// and fork a run from it.
import { get, post, query, sse } from './api.js';
import { navigate } from './main.js';
import { badge, chat, clear, duration, errorBox, h, isMessages, jsonTree, kv, short, time } from './view.js';

function stateView(values) {
  const messages = values && typeof values === 'object' && !Array.isArray(values)
    ? Object.entries(values).filter(([, v]) => isMessages(v)) : [];
  return h('div', {},
    messages.map(([k, v]) => h('div', { class: 'messages' }, h('h2', { text: k }), chat(v))),
    h('h2', { text: 'Values' }), jsonTree(values, { open: 1 }));
}

function interruptsOf(state) {
  const seen = new Map();
  for (const i of state.interrupts || []) seen.set(i.id, i);
  for (const t of state.tasks || []) for (const i of t.interrupts || []) if (!seen.has(i.id)) seen.set(i.id, i);
  return [...seen.values()];
}

function interruptForm(tid, assistantId, intr, many) {
  const answer = h('textarea', { class: 'answer', rows: 3, placeholder: 'your answer' });
  const kind = h('select', { class: 'answer-kind' },
    h('option', { value: 'text', text: 'text (sent as a string)' }), h('option', { value: 'json', text: 'JSON' }));
  const out = h('div');
  const submit = async (ev) => {
    ev.preventDefault();
    let value = answer.value;
    if (kind.value === 'json') {
      try { value = JSON.parse(answer.value); } catch (err) { clear(out, errorBox(`Not JSON: ${err.message}`)); return; }
    }
    try {
      const resume = many ? { [intr.id]: value } : value;
      const run = await post(`/threads/${tid}/runs`, { assistant_id: assistantId, command: { resume } });
      navigate(`/runs/${run.thread_id}/${run.run_id}`);
    } catch (err) { clear(out, errorBox(err)); }
  };
  return h('div', { class: 'interrupt', dataset: { interruptId: intr.id || '' } },
    jsonTree(intr.value, { open: 2, label: 'interrupt' }),
    h('form', { class: 'answer-form', onsubmit: submit }, answer,
      h('div', { class: 'toolbar' }, kind, h('button', { class: 'primary', text: 'Answer and resume' })), out));
}

function changedKeys(before, after) {
  const out = {};
  for (const [k, v] of Object.entries(after)) if (JSON.stringify(v) !== JSON.stringify((before || {})[k])) out[k] = v;
  return out;
}

function checkpointPanel(tid, assistantId, cp, onSaved) {
  const cid = cp.checkpoint.checkpoint_id;
  const editor = h('textarea', { id: 'state-editor', rows: 10, text: JSON.stringify(cp.values, null, 2) });
  const asNode = h('input', { id: 'as-node', placeholder: 'as node (optional)', size: 18 });
  const out = h('div', { id: 'checkpoint-result' });
  let forkFrom = cid;
  const fork = h('button', { class: 'primary', id: 'fork-run', text: 'Fork a run from this checkpoint' });
  const save = async () => {
    let values;
    try { values = JSON.parse(editor.value); } catch (err) { clear(out, errorBox(`Not JSON: ${err.message}`)); return; }
    if (!values || typeof values !== 'object' || Array.isArray(values)) { clear(out, errorBox('State must be a JSON object')); return; }
    const changes = changedKeys(cp.values, values);
    if (!Object.keys(changes).length) { clear(out, errorBox('Nothing changed')); return; }
    try {
      const body = { values: changes, checkpoint_id: cid };
      if (asNode.value) body.as_node = asNode.value;
      const res = await post(`/threads/${tid}/state`, body);
      forkFrom = res.checkpoint.checkpoint_id;
      fork.textContent = 'Fork a run from the edited state';
      clear(out, h('div', { class: 'note', id: 'saved-checkpoint' }, 'Saved as checkpoint ',
        h('span', { class: 'mono', text: forkFrom }), ` (changed: ${Object.keys(changes).join(', ')}).`));
      await onSaved(forkFrom);
    } catch (err) { clear(out, errorBox(err)); }
  };
  fork.addEventListener('click', async () => {
    try {
      const run = await post(`/threads/${tid}/runs`, { assistant_id: assistantId, input: null, checkpoint_id: forkFrom });
      navigate(`/runs/${run.thread_id}/${run.run_id}`);
    } catch (err) { clear(out, errorBox(err)); }
  });
  return h('div', { id: 'checkpoint-panel' },
    h('h2', {}, 'Checkpoint ', h('span', { class: 'mono', text: short(cid) })),
    kv([['step', cp.metadata ? cp.metadata.step : ''], ['source', cp.metadata ? cp.metadata.source : ''],
      ['next', (cp.next || []).join(', ') || '—'], ['created', time(cp.created_at)]]),
    stateView(cp.values),
    h('h2', { text: 'Edit state here' }),
    h('p', { class: 'muted', text: 'Only the keys you change are sent (update_state); keys with a reducer are merged by it.' }),
    editor, h('div', { class: 'toolbar' }, asNode, h('button', { id: 'save-state', text: 'Save (update_state)', onclick: save }), fork), out);
}

export async function render(page, { args, signal }) {
  const [tid] = args;
  let selected = null;
  const draw = async (resetSelection) => {
    const [thread, state, history, runs] = await Promise.all([
      get(`/threads/${tid}`, { signal }),
      get(`/threads/${tid}/state`, { signal }),
      post(`/threads/${tid}/history`, { limit: 100 }, { signal }),
      get(`/ui/api/runs${query({ thread_id: tid, limit: 20 })}`, { signal }),
    ]);
    if (signal.aborted) return;  // the user has moved on
    const assistantId = runs.items.length ? runs.items[0].assistant_id : (thread.metadata.graph_id || thread.metadata.assistant_id);
    const interrupts = interruptsOf(state);
    if (resetSelection) selected = null;
    const panel = h('div', { id: 'checkpoint-box' }, h('p', { class: 'muted', text: 'Pick a checkpoint to see its state, edit it or fork from it.' }));
    const timeline = h('ol', { class: 'timeline', id: 'timeline' });
    const timelineTitle = h('h2', {});
    const fillTimeline = (list, mark) => {
      timelineTitle.textContent = `Checkpoints (${list.length})`;
      clear(timeline, list.map((cp) => {
        const id = cp.checkpoint.checkpoint_id;
        const li = h('li', { class: id === mark ? 'saved' : '', dataset: { checkpointId: id, step: cp.metadata ? cp.metadata.step : '' } },
          h('b', { text: `step ${cp.metadata ? cp.metadata.step : '?'}` }), ' ', h('span', { class: 'muted', text: cp.metadata ? cp.metadata.source : '' }),
          ' → ', (cp.next || []).join(', ') || 'end', h('div', { class: 'muted mono' }, short(id), ' · ', time(cp.created_at)));
        li.addEventListener('click', () => {
          for (const x of timeline.children) x.classList.remove('selected');
          li.classList.add('selected');
          selected = id;
          clear(panel, checkpointPanel(tid, assistantId, cp, async (saved) => {
            fillTimeline(await post(`/threads/${tid}/history`, { limit: 100 }, { signal }), saved);
          }));
        });
        return li;
      }));
    };
    fillTimeline(history, null);
    clear(page,
      h('section', { class: 'card' },
        h('h1', {}, 'Thread ', h('span', { class: 'mono', text: tid }), ' ', h('span', { id: 'thread-status' }, badge(thread.status))),
        kv([['graph', assistantId ? h('a', { href: `#/graph/${assistantId}`, text: thread.metadata.graph_id || short(assistantId) }) : '—'],
          ['created', time(thread.created_at)], ['updated', time(thread.updated_at)],
          ['metadata', jsonTree(thread.metadata, { open: 0 })]]),
        thread.error ? h('div', {}, h('h2', { text: 'Error' }), errorBox(thread.error.message || JSON.stringify(thread.error))) : null),
      interrupts.length ? h('section', { class: 'card', id: 'interrupts' },
        h('h2', { text: `Waiting for a human (${interrupts.length})` }),
        interrupts.map((i) => interruptForm(tid, assistantId, i, interrupts.length > 1))) : null,
      h('div', { class: 'cols' },
        h('section', { class: 'card', id: 'state' }, h('h2', {}, 'Current state ', h('span', { class: 'muted', text: `next: ${(state.next || []).join(', ') || '—'}` })),
          stateView(state.values)),
        h('section', { class: 'card', id: 'runs' }, h('h2', { text: `Runs (${runs.total})` }),
          h('table', {}, h('tbody', {}, runs.items.map((r) => h('tr', {},
            h('td', {}, h('a', { class: 'mono', href: `#/runs/${tid}/${r.run_id}`, text: short(r.run_id) })),
            h('td', {}, badge(r.status)), h('td', {}, time(r.created_at)), h('td', { text: duration(r.duration) }))))))),
      h('div', { class: 'cols' },
        h('section', { class: 'card' }, timelineTitle, timeline),
        h('section', { class: 'card' }, panel)));
    if (selected) {
      const li = [...timeline.children].find((x) => x.dataset.checkpointId === selected);
      if (li) li.click();
    }
  };
  await draw(true);
  // live: redraw when a run of this thread starts or ends (the thread stream's lifecycle frames)
  (async () => {
    try {
      for await (const frame of sse(`/threads/${tid}/stream?stream_mode=lifecycle`, { signal })) {
        if (frame.event === 'metadata') await draw(false);
      }
    } catch (err) {
      if (err.name !== 'AbortError') page.append(errorBox(err));
    }
  })();
}
