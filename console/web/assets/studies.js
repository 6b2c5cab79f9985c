// Studies: search by patient ID / name / accession, date range and modality.
import { el, replace, api, poll, nav, fmtTime, fmtDate, personName, showError } from './common.js';

nav('Studies');
const page = document.getElementById('page');
const params = new URLSearchParams(location.search);
const field = (name, label, attrs = {}) => el('label', {}, label, el('input', { name, value: params.get(name) || '', ...attrs }));
const form = el('form', { class: 'filters', method: 'get', action: '/studies' },
  field('q', 'Patient ID, name or accession', { placeholder: 'search', size: 28 }),
  field('modality', 'Modality', { size: 5 }),
  field('from', 'From (YYYYMMDD)', { size: 9, pattern: '\\d{8}' }),
  field('to', 'To (YYYYMMDD)', { size: 9, pattern: '\\d{8}' }),
  el('button', { type: 'submit', text: 'Search' }));
const results = el('section', { class: 'card', id: 'studies' });
replace(page, el('h1', { text: 'Studies' }), form, results);

function query() {
  const q = new URLSearchParams();
  for (const key of ['q', 'modality', 'from', 'to']) if (params.get(key)) q.set(key, params.get(key));
  q.set('limit', '200');
  return q.toString();
}

poll(async () => {
  let body;
  try { body = await api(`/api/studies?${query()}`); } catch (e) { showError(results, e); return; }
  replace(results, body.studies.length === 0 ? el('p', { class: 'muted', text: 'No study matches.' }) :
    el('table', {},
      el('tr', {}, ['Patient ID', 'Name', 'Accession', 'Date', 'Description', 'Modality', 'Series', 'Instances', 'Received', '']
        .map((t) => el('th', { text: t }))),
      body.studies.map((s) => {
        const href = `/studies/${encodeURIComponent(s.StudyInstanceUID)}`;
        return el('tr', { class: 'clickable study-row', dataset: { uid: s.StudyInstanceUID }, onclick: () => { location.href = href; } },
          el('td', {}, el('a', { href, text: s.PatientID || '(none)' })), el('td', { text: personName(s.PatientName) }),
          el('td', { text: s.AccessionNumber }), el('td', { text: fmtDate(s.StudyDate) }), el('td', { text: s.StudyDescription }),
          el('td', { text: (s.ModalitiesInStudy || '').replaceAll('\\', ', ') }), el('td', { text: s.series }),
          el('td', { text: s.instances }), el('td', { text: fmtTime(s.last_received) }),
          el('td', {}, el('a', { href: `/view/${encodeURIComponent(s.StudyInstanceUID)}`, text: 'View', onclick: (e) => e.stopPropagation() })));
      })));
}, 5000);
