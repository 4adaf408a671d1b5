// Threads: search by status and metadata (or a thread id), paginated on the server.
import { get, query } from './api.js';
import { navigate } from './main.js';
import { badge, clear, h, pager, short, time } from './view.js';

const STATUSES = ['', 'idle', 'busy', 'interrupted', 'error'];
const LIMIT = 50;

export async function render(page, { params, signal }) {
  const status = params.get('status') || '';
  const q = params.get('q') || '';
  const offset = Number(params.get('offset') || 0);
  const go = (over) => {
    const next = { status, q, offset: 0, ...over };
    navigate(`/threads${query({ status: next.status, q: next.q, offset: next.offset || undefined })}`);
  };
  const data = await get(`/ui/api/threads${query({ status, q, limit: LIMIT, offset })}`, { signal });
  const search = h('input', { id: 'thread-search', type: 'search', size: 50, value: q,
    placeholder: 'thread id, key=value … or {"metadata": "json"}' });
  const statusSel = h('select', { id: 'thread-status', onchange: () => go({ status: statusSel.value, q: search.value }) },
    STATUSES.map((s) => h('option', { value: s, text: s || 'any status', selected: s === status })));
  clear(page,
    h('h1', { text: 'Threads' }),
    h('form', { class: 'toolbar', onsubmit: (ev) => { ev.preventDefault(); go({ status: statusSel.value, q: search.value }); } },
      statusSel, search, h('button', { text: 'Search' })),
    h('section', { class: 'card' },
      h('table', { id: 'threads-table' },
        h('thead', {}, h('tr', {}, ['thread', 'status', 'graph', 'interrupts', 'metadata', 'updated'].map((c) => h('th', { text: c })))),
        h('tbody', {}, data.items.map((t) => h('tr', { dataset: { threadId: t.thread_id } },
          h('td', {}, h('a', { class: 'mono', href: `#/threads/${t.thread_id}`, text: short(t.thread_id) })),
          h('td', {}, badge(t.status)),
          h('td', { text: t.graph_id || '' }),
          h('td', { text: t.interrupt_count || '' }),
          h('td', { class: 'mono', text: JSON.stringify(t.metadata) }),
          h('td', {}, time(t.updated_at)))))),
      pager(data.total, LIMIT, offset, (o) => go({ offset: o }))));
}
