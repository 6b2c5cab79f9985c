// Jobs: the queue with state, progress, attempts and last error; retry / cancel; details of one job.
import { el, replace, api, downloadLink, poll, nav, badge, fmtTime, fmtBytes, progressBar, jobButtons, showError } from './common.js';

nav('Jobs');
const page = document.getElementById('page');
const params = new URLSearchParams(location.search);
const select = (name, label, options) => el('label', {}, label,
  el('select', { name }, options.map((o) => { const opt = el('option', { value: o, text: o || 'any' }); if (params.get(name) === o) opt.selected = true; return opt; })));
const form = el('form', { class: 'filters', method: 'get', action: '/jobs' },
  select('state', 'State', ['', 'queued', 'running', 'retry', 'succeeded', 'failed', 'canceled']),
  select('kind', 'Kind', ['', 'route', 'render', 'send', 'retrieve']),
  el('button', { type: 'submit', text: 'Filter' }));
const list = el('section', { class: 'card', id: 'jobs' });
const detail = el('section', { class: 'card', id: 'job-detail', hidden: true });
replace(page, el('h1', { text: 'Jobs' }), form, detail, list);
let selected = Number(params.get('job')) || 0;

async function refreshDetail() {
  if (!selected) { detail.hidden = true; return; }
  let j;
  try { j = await api(`/api/jobs/${selected}`); } catch (e) { detail.hidden = false; showError(detail, e); return; }
  detail.hidden = false;
  replace(detail, el('h2', {}, `Job ${j.id} (${j.kind}) `, badge(j.state), ' ', jobButtons(j, refresh)),
    el('dl', { class: 'kv' },
      el('dt', { text: 'Study' }), el('dd', {}, el('a', { href: `/studies/${encodeURIComponent(j.StudyInstanceUID)}`, text: j.StudyInstanceUID })),
      el('dt', { text: 'Series' }), el('dd', { text: j.SeriesInstanceUID }),
      el('dt', { text: 'Rule / destination' }), el('dd', { text: `${j.rule} ${j.destination ? `→ ${j.destination}` : ''}` }),
      el('dt', { text: 'Progress' }), el('dd', {}, progressBar(j.progress.percent), ` ${j.progress.stage} ${Math.round(j.progress.percent)} %`),
      el('dt', { text: 'Attempts' }), el('dd', { text: `${j.attempts} of ${j.max_attempts}` }),
      el('dt', { text: 'Last error' }), el('dd', { class: 'error', text: j.last_error }),
      el('dt', { text: 'Warning' }), el('dd', { text: j.warning })),
    el('h2', { text: 'Events' }),
    el('ul', { class: 'timeline' }, j.events.map((e) => el('li', {}, el('span', { class: 'at', text: fmtTime(e.at) }), `${e.state} ${e.message}`))),
    j.outputs.length ? el('h2', { text: 'Outputs' }) : null,
    j.outputs.length ? el('table', {}, el('tr', {}, ['Output', 'Description', 'Frames', 'Size', ''].map((t) => el('th', { text: t }))),
      j.outputs.map((o) => el('tr', {}, el('td', { text: o.output_key }), el('td', { text: o.SeriesDescription }),
        el('td', { text: o.frames }), el('td', { text: fmtBytes(o.file_size) }),
        el('td', {}, o.url ? downloadLink(o.url, 'DICOM') : 'not written')))) : null);
}

async function refresh() {
  const q = new URLSearchParams();
  for (const key of ['state', 'kind', 'study']) if (params.get(key)) q.set(key, params.get(key));
  q.set('limit', '200');
  const body = await api(`/api/jobs?${q}`);
  replace(list, el('h2', { text: `Queue (${Object.entries(body.counts).map(([s, n]) => `${s} ${n}`).join(', ')})` }),
    body.jobs.length === 0 ? el('p', { class: 'muted', text: 'No jobs.' }) :
      el('table', { id: 'jobs-table' },
        el('tr', {}, ['Id', 'Kind', 'State', 'Progress', 'Attempts', 'Study / series', 'Rule / destination', 'Last error', 'Updated', '']
          .map((t) => el('th', { text: t }))),
        body.jobs.map((j) => el('tr', { class: 'clickable job-row', dataset: { id: j.id }, onclick: () => { selected = j.id; history.replaceState(null, '', `/jobs?job=${j.id}`); refreshDetail(); } },
          el('td', { text: j.id }), el('td', { text: j.kind }), el('td', {}, badge(j.state)),
          el('td', {}, progressBar(j.progress.percent), ' ', j.progress.stage),
          el('td', { text: `${j.attempts}/${j.max_attempts}` }),
          el('td', {}, el('a', { href: `/studies/${encodeURIComponent(j.StudyInstanceUID)}`, text: j.StudyInstanceUID, onclick: (e) => e.stopPropagation() })),
          el('td', { text: `${j.rule}${j.destination ? ` → ${j.destination}` : ''}` }),
          el('td', { class: 'error', text: j.last_error }), el('td', { text: fmtTime(j.updated_at) }),
          el('td', {}, jobButtons(j, refresh))))));
  await refreshDetail();
}

poll(refresh, 2000);
