// Calls to the DuraGraph API with the credential entered once (an API key or a bearer token), and run
// streams read with fetch (EventSource cannot send headers) so they carry it and `Last-Event-ID` too.

const KEY = 'duragraph.credential';

export function credential() {
  try { return JSON.parse(localStorage.getItem(KEY) || 'null'); } catch { return null; }
}

export function setCredential(value) {
  if (value) localStorage.setItem(KEY, JSON.stringify(value)); else localStorage.removeItem(KEY);
}

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  const cred = credential();
  if (cred && cred.value) {
    if (cred.kind === 'bearer') headers.Authorization = `Bearer ${cred.value}`;
    else headers['x-api-key'] = cred.value;
  }
  return headers;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(`${status}: ${(body && body.detail) || 'request failed'}`);
    this.status = status;
    this.body = body;
  }
}

function needAuth(status, body) {
  if (status === 401 || status === 403) {
    window.dispatchEvent(new CustomEvent('auth-required', { detail: (body && body.detail) || String(status) }));
  }
}

export async function call(method, path, body, { signal } = {}) {
  const init = { method, headers: authHeaders(body === undefined ? {} : { 'content-type': 'application/json' }), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch { data = { detail: text }; } }
  if (!response.ok) {
    needAuth(response.status, data);
    throw new ApiError(response.status, data);
  }
  return data;
}

export const get = (path, opts) => call('GET', path, undefined, opts);
export const post = (path, body, opts) => call('POST', path, body === undefined ? {} : body, opts);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Server-sent events over fetch: yields {event, data, id} until the server closes the stream.
export async function* sse(path, { lastEventId, signal } = {}) {
  const headers = authHeaders({ Accept: 'text/event-stream' });
  if (lastEventId !== undefined && lastEventId !== null) headers['Last-Event-ID'] = String(lastEventId);
  const response = await fetch(path, { headers, signal });
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    needAuth(response.status, body);
    throw new ApiError(response.status, body);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, '\n');
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const frame = { event: 'message', data: '', id: null };
      const data = [];
      for (const line of block.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') frame.event = val;
        else if (field === 'data') data.push(val);
        else if (field === 'id') frame.id = val;
      }
      if (!data.length && frame.id === null) continue;
      frame.data = data.length ? JSON.parse(data.join('\n')) : null;
      yield frame;
    }
  }
}
