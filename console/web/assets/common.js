// Shared helpers of the console pages. Every value from the API (which carries
// DICOM text) reaches the page through textContent or attributes set by el(),
// never through innerHTML.

export function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'class') node.setAttribute('class', value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'style') Object.assign(node.style, value);  // CSSOM: allowed by the CSP, unlike style=
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function replace(node, ...children) {
  clear(node);
  for (const c of children.flat()) if (c) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
}

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function api(path, options = {}) {
  const response = await fetch(path, { headers: { Accept: 'application/json' }, ...options });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) throw new ApiError(response.status, (body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

const TOKEN_KEY = 'volnode.console.token';
export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
}

// POST with the console token (asked for once per browser session).
export async function mutate(path, body) {
  let t = token();
  if (!t) {
    t = window.prompt('Console token (console.token of the node):') || '';
    if (!t) throw new ApiError(401, 'no token given');
    setToken(t);
  }
  try {
    return await api(path, {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', Authorization: `Bearer ${t}` },
      body: body === undefined ? '' : JSON.stringify(body),
    });
  } catch (e) {
    if (e.status === 401) setToken('');
    throw e;
  }
}

// Calls fn now and every `ms` while the page is visible; shows the last update time.
export function poll(fn, ms = 2000) {
  let timer = null;
  const live = document.getElementById('live');
  const tick = async () => {
    timer = null;
    try {
      await fn();
      if (live) live.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      if (live) live.textContent = `update failed: ${e.message}`;
    }
    if (!document.hidden) timer = setTimeout(tick, ms);
  };
  document.addEventListener('visibilitychange', () => { if (!document.hidden && !timer) tick(); });
  tick();
}

export function nav(active) {
  const links = [['/', 'Dashboard'], ['/studies', 'Studies'], ['/jobs', 'Jobs'], ['/settings', 'Settings']];
  const header = el('header', { class: 'top' },
    el('span', { class: 'brand', text: 'volnode' }),
    links.map(([href, label]) => el('a', { href, class: label === active ? 'active' : null, text: label })),
    el('span', { id: 'live', class: 'live', text: '' }));
  document.body.prepend(header);
}

export function badge(state) { return el('span', { class: `badge ${state || ''}`, text: state || '-' }); }

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function fmtDate(dicomDate) {
  return /^\d{8}$/.test(dicomDate || '') ? `${dicomDate.slice(0, 4)}-${dicomDate.slice(4, 6)}-${dicomDate.slice(6)}` : (dicomDate || '');
}

export function fmtBytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function personName(pn) { return (pn || '').replaceAll('^', ' ').trim(); }

export function progressBar(percent) {
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  return el('span', { class: 'progress', title: `${p.toFixed(0)} %` }, el('span', { style: { width: `${p}%` } }));
}

// The last path segment, decoded (e.g. the UID of /view/<uid>).
export function pathParam() {
  const parts = location.pathname.split('/').filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] || '');
}

export function showError(where, e) {
  replace(where, el('p', { class: 'error', text: e.message || String(e) }));
}

// Retry / cancel buttons of a job; after a change `done` runs (refresh).
export function jobButtons(job, done) {
  const act = (action) => async (event) => {
    event.stopPropagation();
    event.target.disabled = true;
    try { await mutate(`/api/jobs/${job.id}/${action}`); } catch (e) { alert(`${action} job ${job.id}: ${e.message}`); }
    done && done();
  };
  return el('span', { class: 'actions' },
    el('button', { class: 'secondary', disabled: !job.can_retry, onclick: act('retry'), text: 'Retry' }),
    el('button', { class: 'secondary', disabled: !job.can_cancel, onclick: act('cancel'), text: 'Cancel' }));
}
