// Runs: every run, newest first, by status; paginated on the server.
import { get, query } from './api.js';
import { navigate } from './main.js';
import { badge, clear, duration, h, pager, short, time } from './view.js';

const STATUSES = ['', 'pending', 'running', 'success', 'error', 'timeout', 'interrupted'];
const LIMIT = 50;

export async function render(page, { params, signal }) {
  const status = params.get('status') || '';
  const offset = Number(params.get('offset') || 0);
  const go = (over) => {
    const next = { status, offset: 0, ...over };
    navigate(`/runs${query({ status: next.status, offset: next.offset || undefined })}`);
  };
  const data = await get(`/ui/api/runs${query({ status, limit: LIMIT, offset })}`, { signal });
  const sel = h('select', { id: 'run-status', onchange: () => go({ status: sel.value }) },
    STATUSES.map((s) => h('option', { value: s, text: s || 'any status', selected: s === status })));
  clear(page,
    h('h1', { text: 'Runs' }),
    h('div', { class: 'toolbar' }, sel),
    h('section', { class: 'card' },
      h('table', { id: 'runs-table' },
        h('thead', {}, h('tr', {}, ['run', 'thread', 'graph', 'status', 'created', 'duration', 'error'].map((c) => h('th', { text: c })))),
        h('tbody', {}, data.items.map((r) => h('tr', {},
          h('td', {}, h('a', { class: 'mono', href: `#/runs/${r.thread_id}/${r.run_id}`, text: short(r.run_id) })),
          h('td', {}, h('a', { class: 'mono', href: `#/threads/${r.thread_id}`, text: short(r.thread_id) })),
          h('td', { text: r.graph_id }),
          h('td', {}, badge(r.status)),
          h('td', {}, time(r.created_at)),
          h('td', { text: duration(r.duration) }),
          h('td', { class: 'muted', text: r.error ? (r.error.message || r.error.error || '') : '' }))))),
      pager(data.total, LIMIT, offset, (o) => go({ offset: o }))));
}
