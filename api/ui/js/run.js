// A run: status, timings, error and cancel; its tasks (input / output / error / attempts / duration); the
// graph with the current and next nodes lit; a live event log from the run's SSE stream. The frames seen
// are kept in sessionStorage, so a reload shows them again and resumes the stream after the last id.
import { ApiError, get, post, sse } from './api.js';
import { drawGraph } from './graph.js';
import { badge, clear, duration, errorBox, errorText, h, jsonTree, kv, runError, short, time } from './view.js';

const FINAL = new Set(['success', 'error', 'timeout', 'interrupted']);
const MODES = ['debug', 'custom'];
const KEEP = 3000;

function loadLog(rid) {
  try { return JSON.parse(sessionStorage.getItem(`duragraph.run.${rid}`)) || { lastId: null, frames: [] }; }
  catch { return { lastId: null, frames: [] }; }
}

function saveLog(rid, log) {
  try { sessionStorage.setItem(`duragraph.run.${rid}`, JSON.stringify({ lastId: log.lastId, frames: log.frames.slice(-KEEP) })); }
  catch { /* storage full: the stream still resumes from the server on the next reload */ }
}

function summary(frame) {
  const d = frame.data || {};
  if (frame.event === 'debug') {
    const p = d.payload || {};
    if (d.type === 'checkpoint') return `checkpoint step ${d.step} → next [${(p.next || []).join(', ')}]`;
    if (d.type === 'task') return `task ${p.name} started (step ${d.step})`;
    if (d.type === 'task_result') return `task ${p.name} ${p.error ? 'failed: ' + p.error : (p.interrupts || []).length ? 'interrupted' : 'done'}`;
  }
  if (frame.event === 'metadata') return d.run_id ? `run ${short(d.run_id)} attempt ${d.attempt}` : JSON.stringify(d);
  if (frame.event === 'error') return `${d.error || 'error'}: ${d.message || ''}`;
  return JSON.stringify(d).slice(0, 160);
}

function progress(frames, finished) {
  const state = { current: new Set(), next: new Set(), done: new Set() };
  for (const f of frames) {
    if (f.event !== 'debug' || !f.data) continue;
    const p = f.data.payload || {};
    if (f.data.type === 'checkpoint') { state.next = new Set(p.next || []); state.current.clear(); }
    else if (f.data.type === 'task') { state.current.add(p.name); state.next.delete(p.name); }
    else if (f.data.type === 'task_result') { state.current.delete(p.name); state.done.add(p.name); }
  }
  if (finished) { state.current.clear(); }
  return state;
}

function tasksTable(tasks) {
  if (!tasks.length) return h('p', { class: 'muted', text: 'No task yet.' });
  return h('table', { id: 'tasks' },
    h('thead', {}, h('tr', {}, ['step', 'task', 'status', 'attempts', 'duration', 'input', 'output', 'error'].map((c) => h('th', { text: c })))),
    h('tbody', {}, tasks.map((t) => h('tr', { dataset: { task: t.name, status: t.status } },
      h('td', { text: t.step }), h('td', {}, t.name, h('div', { class: 'muted mono', text: short(t.task_id) })),
      h('td', {}, badge(t.status)), h('td', { class: 'attempts', text: t.attempts }), h('td', { text: duration(t.duration) }),
      h('td', {}, t.input === null ? '—' : jsonTree(t.input, { open: 0, label: 'input' })),
      h('td', {}, t.output === null ? '—' : jsonTree(t.output, { open: 1, label: 'output' })),
      h('td', {}, t.error ? h('div', { class: 'error-box task-error', text: errorText(t.error) }) : ''),
    ))));
}

export async function render(page, { args, signal }) {
  const [tid, rid] = args;
  let detail = await get(`/ui/api/runs/${rid}`, { signal });
  const log = loadLog(rid);
  const head = h('section', { class: 'card', id: 'run-head' });
  const tasksBox = h('section', { class: 'card' }, h('h2', { text: 'Tasks' }), h('div', { id: 'tasks-box' }));
  const graphBox = h('div', { class: 'graph', id: 'run-graph' });
  const logList = h('ol', { class: 'log', id: 'event-log' });
  const streamState = h('span', { class: 'muted', id: 'stream-state', text: '' });
  let graph = null;
  let streamDone = false;

  const renderHead = () => {
    const r = detail.run;
    const cancellable = !FINAL.has(r.status);
    clear(head,
      h('h1', {}, 'Run ', h('span', { class: 'mono', text: r.run_id }), ' ', h('span', { id: 'run-status' }, badge(r.status))),
      kv([['thread', h('a', { class: 'mono', href: `#/threads/${r.thread_id}`, text: r.thread_id })],
        ['assistant', h('a', { href: `#/graph/${r.assistant_id}`, text: `${r.graph_id} (${short(r.assistant_id)})` })],
        ['created', time(r.created_at)], ['queued for', duration(r.queued_for)],
        ['ended', time(r.ended_at)], ['duration', h('span', { id: 'run-duration', text: duration(r.duration) })],
        r.cancel_requested ? ['cancel', `requested (${r.cancel_requested})`] : null,
        ['input', jsonTree(r.kwargs.input ?? r.kwargs.command ?? null, { open: 1 })]]),
      r.error ? h('div', {}, h('h2', { text: 'Error' }), runError(r.error)) : null,
      cancellable ? h('div', { class: 'toolbar' }, h('button', { class: 'danger', id: 'cancel-run', text: 'Cancel run', onclick: cancel })) : null);
  };

  const refresh = async () => {
    try {
      detail = await get(`/ui/api/runs/${rid}`, { signal });
      renderHead();
      clear(tasksBox.querySelector('#tasks-box'), tasksTable(detail.tasks));
      if (graph) graph.highlight(progress(log.frames, FINAL.has(detail.run.status)));
    } catch (err) { if (err.name !== 'AbortError') clear(tasksBox.querySelector('#tasks-box'), errorBox(err)); }
  };

  async function cancel(ev) {
    ev.target.disabled = true;
    try { await post(`/threads/${tid}/runs/${rid}/cancel?action=interrupt`, {}); } catch (err) { head.append(errorBox(err)); }
    await refresh();
  }

  const addFrame = (frame, store) => {
    if (store) { log.frames.push(frame); log.lastId = frame.id ?? log.lastId; saveLog(rid, log); }
    const item = h('li', { class: frame.event === 'error' ? 'error' : '', dataset: { event: frame.event, type: (frame.data && frame.data.type) || '' } },
      h('span', { class: 'id', text: frame.id ?? '' }), h('span', { class: 'ev', text: frame.event }), ' ', summary(frame));
    item.addEventListener('click', () => {
      const open = item.querySelector('.tree-root');
      if (open) open.remove(); else item.append(jsonTree(frame.data, { open: 2 }));
    });
    logList.append(item);
    logList.scrollTop = logList.scrollHeight;
  };

  renderHead();
  clear(page, head,
    h('div', { class: 'cols' },
      h('section', { class: 'card' }, h('h2', { text: 'Graph' }), graphBox,
        h('p', { class: 'muted', text: 'blue: running · orange dashed: next · green: done' })),
      h('section', { class: 'card' }, h('h2', {}, 'Events ', streamState), logList)),
    tasksBox);
  clear(tasksBox.querySelector('#tasks-box'), tasksTable(detail.tasks));
  for (const f of log.frames) addFrame(f, false);

  get(`/assistants/${detail.run.assistant_id}/graph?xray=true`, { signal }).then((drawing) => {
    graph = drawGraph(graphBox, drawing);
    graph.highlight(progress(log.frames, FINAL.has(detail.run.status)));
  }).catch((err) => { if (err.name !== 'AbortError') clear(graphBox, errorBox(err)); });

  // the live log: resume after the last frame seen (from the start the first time); when the connection
  // drops (an API restart, a network blip) reconnect with backoff and resume after the last id again
  (async () => {
    const url = `/threads/${tid}/runs/${rid}/stream?${MODES.map((m) => `stream_mode=${m}`).join('&')}`;
    let pending = null;
    let failures = 0;
    while (!streamDone && !signal.aborted) {
      streamState.textContent = failures ? '(reconnecting…)' : '(live)';
      try {
        for await (const frame of sse(url, { lastEventId: log.lastId ?? '0', signal })) {
          failures = 0;
          streamState.textContent = '(live)';
          addFrame(frame, true);
          if (graph) graph.highlight(progress(log.frames, false));
          if (frame.event === 'debug' && frame.data && frame.data.type !== 'task') {
            clearTimeout(pending);
            pending = setTimeout(refresh, 150);
          }
        }
        // a stream closes after the run's end; closed before it (a server going away), it resumes
        detail = await get(`/ui/api/runs/${rid}`, { signal });
        streamDone = FINAL.has(detail.run.status);
        if (!streamDone) throw new TypeError('the stream closed before the run ended');
      } catch (err) {
        if (err.name === 'AbortError' || signal.aborted) return;
        if (err instanceof ApiError && err.status < 500) {  // refused (4xx): retrying would not help
          streamState.textContent = '(stream failed)';
          logList.append(h('li', { class: 'error' }, errorBox(err)));
          break;
        }
        failures += 1;
        await new Promise((resolve) => { setTimeout(resolve, Math.min(4000, 250 * 2 ** failures)); });
      }
    }
    clearTimeout(pending);
    if (streamDone) {
      streamState.textContent = '(ended)';
      await refresh();
    }
    page.dataset.streamEnded = streamDone ? 'true' : 'false';
  })();
}
