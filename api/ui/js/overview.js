// Overview: runs by status over the last hour / day, the human inbox, failed runs, queue and workers;
// refreshed every 5 seconds.
import { get, query } from './api.js';
import { badge, clear, h, short, time } from './view.js';

function stats(counts) {
  return h('div', { class: 'stats' }, Object.entries(counts).map(([k, n]) =>
    h('div', { class: 'stat', dataset: { status: k } }, h('b', { text: n }), badge(k))));
}

async function draw(page, signal) {
  const [ov, inbox, failed] = await Promise.all([
    get('/ui/api/overview', { signal }),
    get(`/ui/api/threads${query({ status: 'interrupted', limit: 10 })}`, { signal }),
    get(`/ui/api/runs${query({ status: 'error', limit: 10 })}`, { signal }),
  ]);
  if (signal.aborted) return;
  clear(page,
    h('h1', { text: 'Overview' }),
    h('div', { class: 'grid' },
      h('section', { class: 'card', id: 'runs-hour' }, h('h2', { text: 'Runs, last hour' }), stats(ov.runs.hour)),
      h('section', { class: 'card', id: 'runs-day' }, h('h2', { text: 'Runs, last 24 hours' }), stats(ov.runs.day)),
      h('section', { class: 'card', id: 'system' }, h('h2', { text: 'Queue and workers' }),
        h('div', { class: 'stats' },
          h('div', { class: 'stat' }, h('b', { text: ov.queue.waiting }), 'steps waiting'),
          h('div', { class: 'stat' }, h('b', { text: ov.queue.running }), 'steps running'),
          h('div', { class: 'stat' }, h('b', { id: 'workers-alive', text: ov.workers_alive }), 'workers alive'))),
      h('section', { class: 'card' }, h('h2', { text: 'Threads' }), stats(ov.threads))),
    h('div', { class: 'cols' },
      h('section', { class: 'card', id: 'inbox' },
        h('h2', {}, 'Waiting for a human ', h('span', { class: 'muted', text: `(${inbox.total})` })),
        inbox.items.length ? h('table', {}, h('tbody', {}, inbox.items.map((t) => h('tr', {},
          h('td', {}, h('a', { href: `#/threads/${t.thread_id}`, class: 'mono', text: short(t.thread_id) })),
          h('td', { text: t.graph_id || '' }),
          h('td', { text: `${t.interrupt_count} interrupt${t.interrupt_count === 1 ? '' : 's'}` }),
          h('td', {}, time(t.updated_at))))))
          : h('p', { class: 'muted', text: 'No thread is waiting.' }),
        inbox.total > inbox.items.length ? h('a', { href: '#/threads?status=interrupted', text: 'all of them →' }) : null),
      h('section', { class: 'card', id: 'failed' },
        h('h2', {}, 'Failed runs ', h('span', { class: 'muted', text: `(${failed.total})` })),
        failed.items.length ? h('table', {}, h('tbody', {}, failed.items.map((r) => h('tr', {},
          h('td', {}, h('a', { href: `#/runs/${r.thread_id}/${r.run_id}`, class: 'mono', text: short(r.run_id) })),
          h('td', { text: r.graph_id }),
          h('td', { class: 'muted', text: r.error ? (r.error.message || r.error.error || '') : '' }),
          h('td', {}, time(r.created_at))))))
          : h('p', { class: 'muted', text: 'No failed run.' }),
        failed.total > failed.items.length ? h('a', { href: '#/runs?status=error', text: 'all of them →' }) : null)));
}

// refreshed every 5 s while on screen
export async function render(page, { signal }) {
  await draw(page, signal);
  const timer = setInterval(() => {
    draw(page, signal).catch((err) => { if (err.name !== 'AbortError') clearInterval(timer); });
  }, 5000);
  signal.addEventListener('abort', () => clearInterval(timer));
}
