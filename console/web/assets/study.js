// One study: its series (state, last reason, geometry, thumbnail), the timeline and its jobs.
import { el, replace, api, image, poll, nav, badge, fmtTime, fmtDate, personName, pathParam, progressBar, jobButtons, mutate, showError } from './common.js';

nav('Studies');
const uid = pathParam();
const page = document.getElementById('page');
const head = el('section', { class: 'card', id: 'study' });
const series = el('section', { class: 'card', id: 'series' });
const jobs = el('section', { class: 'card', id: 'jobs' });
const timeline = el('section', { class: 'card', id: 'timeline' });
const renderButton = el('button', { text: 'Render again', onclick: async () => {
  renderButton.disabled = true;
  try { const r = await mutate(`/api/studies/${encodeURIComponent(uid)}/render`, {}); alert(r.message || 'render queued'); }
  catch (e) { alert(`render: ${e.message}`); }
  renderButton.disabled = false;
  refresh();
} });
replace(page, el('h1', { text: 'Study' }), head, series, el('div', { class: 'grid' }, jobs, timeline));

function geometryText(g) {
  const parts = [];
  if (g && g.volume) parts.push(`volume ${g.volume.dimensions.join('×')} at ${g.volume.spacing_mm.map((v) => v.toFixed(2)).join('×')} mm`);
  if (g && g.acquisition) parts.push(`${g.acquisition.Columns}×${g.acquisition.Rows} px, spacing ${g.acquisition.PixelSpacing || '?'}, thickness ${g.acquisition.SliceThickness || '?'}`);
  return parts.join('; ');
}

async function refresh() {
  let s;
  try { s = await api(`/api/studies/${encodeURIComponent(uid)}`); } catch (e) { showError(head, e); return; }
  replace(head, el('h2', { text: `${s.PatientID} ${personName(s.PatientName)}` }),
    el('dl', { class: 'kv' },
      el('dt', { text: 'Study date' }), el('dd', { text: fmtDate(s.StudyDate) }),
      el('dt', { text: 'Description' }), el('dd', { text: s.StudyDescription }),
      el('dt', { text: 'Accession' }), el('dd', { text: s.AccessionNumber }),
      el('dt', { text: 'StudyInstanceUID' }), el('dd', { text: s.StudyInstanceUID }),
      el('dt', { text: 'Received' }), el('dd', { text: `${fmtTime(s.first_received)} – ${fmtTime(s.last_received)}` })),
    el('p', {}, el('a', { href: `/view/${encodeURIComponent(uid)}`, text: 'Open viewer' }), ' ', renderButton));
  replace(series, el('h2', { text: 'Series' }),
    el('table', { id: 'series-table' },
      el('tr', {}, ['', 'No.', 'Modality', 'Description', 'Instances', 'State', 'Reason', 'Geometry', ''].map((t) => el('th', { text: t }))),
      s.series.map((x) => el('tr', { class: 'series-row', dataset: { uid: x.SeriesInstanceUID } },
        el('td', {}, x.thumbnail ? el('a', { href: `/view/${encodeURIComponent(uid)}` }, image(x.thumbnail, { class: 'thumb', alt: 'anterior view' })) : null),
        el('td', { text: x.SeriesNumber }), el('td', { text: x.Modality }),
        el('td', { class: 'series-description', text: x.SeriesDescription }), el('td', { text: x.instances }),
        el('td', {}, badge(x.state)), el('td', { text: x.state_reason }), el('td', { class: 'muted', text: geometryText(x.geometry) }),
        // Every series that can be a volume opens in the interactive 3D view, rendered or not.
        el('td', {}, ['CT', 'MR', 'PT', 'NM'].includes(x.Modality) && x.instances > 1
          ? el('a', { class: 'open3d', href: `/view/${encodeURIComponent(uid)}?series=${encodeURIComponent(x.SeriesInstanceUID)}`, text: '3D' }) : null)))));

  const [j, t] = await Promise.all([api(`/api/jobs?study=${encodeURIComponent(uid)}&limit=50`), api(`/api/studies/${encodeURIComponent(uid)}/timeline`)]);
  replace(jobs, el('h2', { text: 'Jobs' }), j.jobs.length === 0 ? el('p', { class: 'muted', text: 'No jobs.' }) :
    el('table', {}, el('tr', {}, ['Job', 'State', 'Progress', 'Attempts', 'Last error', ''].map((x) => el('th', { text: x }))),
      j.jobs.map((job) => el('tr', {},
        el('td', {}, el('a', { href: `/jobs?job=${job.id}`, text: `${job.id} ${job.kind}${job.destination ? ` → ${job.destination}` : ''}` })),
        el('td', {}, badge(job.state)),
        el('td', {}, progressBar(job.progress.percent), ' ', job.progress.stage),
        el('td', { text: `${job.attempts}/${job.max_attempts}` }), el('td', { class: 'error', text: job.last_error }),
        el('td', {}, jobButtons(job, refresh))))));
  replace(timeline, el('h2', { text: 'Timeline' }),
    el('ul', { class: 'timeline' }, t.events.map((e) => el('li', { class: e.milestone ? 'milestone' : null },
      el('span', { class: 'at', text: fmtTime(e.at) }),
      e.milestone ? `${e.milestone.replaceAll('_', ' ')}: ` : '',
      `${e.source === 'job' ? `job ${e.job_id} ` : ''}${e.state} — ${e.message}`))));
}

poll(refresh, 2000);
