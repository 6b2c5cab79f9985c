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
  constructor(status, message, body = null) { super(message); this.status = status; this.body = body; }
}

const TOKEN_KEY = 'volnode.console.token';
export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
}

// The console token is asked for at most once per page (a refused prompt is not
// repeated by every poll); Settings keeps it for the tab.
let asked = false;
function askToken() {
  if (asked) return '';
  asked = true;
  const t = window.prompt('Console token (console.token of the node):') || '';
  setToken(t);
  return t;
}

function send(path, options, t) {
  const headers = new Headers(options.headers || {});
  if (t) headers.set('Authorization', `Bearer ${t}`);
  return fetch(path, { ...options, headers });
}

// fetch() with the console token as bearer when this tab has one. Beyond loopback (or
// with console.read_requires_token) reads need it: a 401 asks for it and tries again.
// Without a token the session cookie of a launch link goes along (same origin).
export async function authFetch(path, options = {}) {
  const sent = token();
  const response = await send(path, options, sent);
  if (response.status !== 401) return response;
  if (sent && token() === sent) setToken('');  // refused: forget it
  const next = token() || askToken();
  if (!next || next === sent) return response;
  return send(path, options, next);
}

export async function api(path, options = {}) {
  const response = await authFetch(path, { ...options, headers: { Accept: 'application/json', ...(options.headers || {}) } });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) throw new ApiError(response.status, (body && body.error) || `${response.status} ${response.statusText}`, body);
  return body;
}

// POST with the console token (asked for when the tab has none).
export async function mutate(path, body) {
  if (!token()) {
    const t = window.prompt('Console token (console.token of the node):') || '';
    if (!t) throw new ApiError(401, 'no token given');
    setToken(t);
  }
  return api(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? '' : JSON.stringify(body),
  });
}

// Result files (PNG, STL, DICOM) are read like the API, with the token: an <img src>
// or a plain link could not send it. Each file is fetched once per page and shown
// through an object URL.
const objectUrls = new Map();
export function fileUrl(path) {
  if (!objectUrls.has(path)) {
    const url = authFetch(path).then(async (response) => {
      if (!response.ok) throw new ApiError(response.status, `${path}: ${response.status} ${response.statusText}`);
      return URL.createObjectURL(await response.blob());
    });
    url.catch(() => objectUrls.delete(path));
    objectUrls.set(path, url);
  }
  return objectUrls.get(path);
}

// An <img> showing the result image at `path` (the path stays in data-src).
export function image(path, attrs = {}) {
  const img = el('img', { ...attrs, dataset: { src: path } });
  fileUrl(path).then((url) => { img.src = url; }).catch((e) => { img.alt = `${img.alt || 'image'}: ${e.message}`; });
  return img;
}

// A download link to a result file: fetched with the token, saved under the name the node gives it.
export function downloadLink(href, text) {
  return el('a', {
    href, download: '', text,
    onclick: async (event) => {
      event.preventDefault();
      try {
        const response = await authFetch(href);
        if (!response.ok) throw new ApiError(response.status, `${response.status} ${response.statusText}`);
        const named = /filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') || '');
        const name = named ? named[1] : href.split('?')[0].split('/').pop();
        const url = URL.createObjectURL(await response.blob());
        const a = el('a', { href: url, download: name });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
      } catch (e) {
        alert(`download: ${e.message}`);
      }
    },
  });
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
