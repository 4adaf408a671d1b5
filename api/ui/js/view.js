// Small DOM helpers: element builder, JSON tree, badges, times, pager, errors, chat.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) { el.replaceChildren(); append(el, children); return el; }

function leafClass(v) {
  if (v === null) return 'z';
  return { string: 's', number: 'n', boolean: 'b' }[typeof v] || '';
}

// A collapsible tree of a JSON value; levels below `open` start closed.
export function jsonTree(value, { open = 1, label = null } = {}) {
  const root = h('div', { class: 'tree-root mono' });
  root.append(node(label, value, 0, open));
  return root;
}

function node(key, value, depth, open) {
  const keyEl = key === null ? null : h('span', { class: 'k', text: `${key}: ` });
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const shape = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
    const d = h('details', { class: 'tree', open: depth < open });
    d.append(h('summary', {}, keyEl, h('span', { class: 'z', text: shape })));
    for (const [k, v] of entries) d.append(node(k, v, depth + 1, open));
    return d;
  }
  return h('div', { class: 'leaf' }, keyEl, h('span', { class: leafClass(value), text: JSON.stringify(value) }));
}

export const badge = (status) => h('span', { class: `badge ${status || ''}`, text: status || '—' });

export function time(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  return h('span', { title: d.toISOString(), text: d.toLocaleString() });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(2)} s`;
  return `${(seconds / 60).toFixed(1)} min`;
}

export const short = (id) => (id ? String(id).slice(0, 8) + '…' + String(id).slice(-4) : '—');

export function pager(total, limit, offset, go) {
  const last = Math.max(0, total - 1);
  return h('div', { class: 'pager' },
    h('button', { text: '‹ Prev', disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit)) }),
    h('span', { class: 'muted', text: total ? `${offset + 1}–${Math.min(total, offset + limit)} of ${total}` : 'none' }),
    h('button', { text: 'Next ›', disabled: offset + limit > last, onclick: () => go(offset + limit) }));
}

export function errorBox(err) {
  const text = err && err.body && err.body.detail ? `${err.status}: ${err.body.detail}` : String(err && err.message || err);
  return h('div', { class: 'error-box', text });
}

export function errorText(error) {
  if (typeof error === 'string') return error;
  return [error.type || error.error, error.message].filter(Boolean).join(': ') || JSON.stringify(error);
}

export function runError(error) {
  return error ? h('div', { class: 'error-box run-error', text: errorText(error) }) : null;
}

function messageText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === 'string' ? p : p.text || JSON.stringify(p))).join('');
  return JSON.stringify(content);
}

export function isMessages(value) {
  return Array.isArray(value) && value.length > 0 &&
    value.every((m) => m && typeof m === 'object' && ('content' in m) && ('type' in m || 'role' in m));
}

export function chat(messages) {
  return h('div', { class: 'chat' }, messages.map((m) => {
    const who = m.type || m.role;
    const calls = (m.tool_calls || []).map((c) => `→ ${c.name}(${JSON.stringify(c.args)})`).join('\n');
    return h('div', { class: `msg ${who}` }, h('span', { class: 'who', text: m.name ? `${who} · ${m.name}` : who }),
      messageText(m.content), calls ? h('div', { class: 'mono', text: calls }) : null);
  }));
}

export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)]));
}
