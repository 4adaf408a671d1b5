// The dashboard shell: hash routes, navigation, and the credential dialog.
import { credential, get, setCredential } from './api.js';
import { clear, errorBox, h } from './view.js';

const routes = [
  [/^\/?$/, 'overview', () => import('./overview.js')],
  [/^\/threads\/([^/]+)$/, 'threads', () => import('./thread.js')],
  [/^\/threads$/, 'threads', () => import('./threads.js')],
  [/^\/runs\/([^/]+)\/([^/]+)$/, 'runs', () => import('./run.js')],
  [/^\/runs$/, 'runs', () => import('./runs.js')],
  [/^\/assistants$/, 'assistants', () => import('./assistants.js')],
  [/^\/graph\/([^/]+)$/, 'assistants', () => import('./graph_page.js')],
];

let authMode = 'open';
let current = null; // AbortController of the page on screen

export function navigate(path) { location.hash = `#${path}`; }

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return { path, params: new URLSearchParams(qs || '') };
}

async function render() {
  if (current) current.abort();
  const ctl = new AbortController();
  current = ctl;
  const page = document.getElementById('page');
  if (authMode !== 'open' && !credential()) {
    clear(page, h('p', { class: 'muted', text: 'Enter an API key or a bearer token to continue.' }));
    askCredential('This server requires authentication.');
    return;
  }
  const { path, params } = parseHash();
  for (const [re, nav, load] of routes) {
    const m = path.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === nav);
    clear(page, h('p', { class: 'muted', text: 'Loading…' }));
    try {
      const mod = await load();
      if (ctl.signal.aborted) return;
      await mod.render(page, { args: m.slice(1).map(decodeURIComponent), params, signal: ctl.signal });
    } catch (err) {
      if (ctl.signal.aborted || (err && err.name === 'AbortError')) return;
      clear(page, errorBox(err));
    }
    return;
  }
  clear(page, h('p', { text: 'No such page.' }));
}

function askCredential(reason) {
  const dialog = document.getElementById('login');
  document.getElementById('login-reason').textContent = reason || '';
  const form = document.getElementById('login-form');
  const cred = credential();
  form.kind.value = cred ? cred.kind : (authMode === 'custom' ? 'bearer' : 'api_key');
  if (!dialog.open) dialog.showModal();
}

document.getElementById('login-form').addEventListener('submit', (ev) => {
  const form = ev.target;
  if (!form.value.value) return;
  setCredential({ kind: form.kind.value, value: form.value.value });
  form.value.value = '';
  render();
});

document.getElementById('credentials').addEventListener('click', () => askCredential('Change the credential sent with every call.'));

window.addEventListener('auth-required', (ev) => askCredential(`The server refused the credential: ${ev.detail}`));
window.addEventListener('hashchange', render);

async function start() {
  try {
    authMode = (await get('/ui/api/config')).auth;
  } catch (err) {
    clear(document.getElementById('page'), errorBox(err));
    return;
  }
  document.getElementById('credentials').hidden = authMode === 'open';
  await render();
}

start();
