// Dashboard: node health, live counters, the cluster, last errors and refusals, throughput of the last hour, recent studies.
import { el, replace, api, poll, nav, badge, fmtTime, fmtBytes, fmtDate, personName } from './common.js';

nav('Dashboard');
const page = document.getElementById('page');
const health = el('section', { class: 'card', id: 'health' });
const counters = el('section', { class: 'card', id: 'counters' });
const destinations = el('section', { class: 'card', id: 'destinations' });
const cluster = el('section', { class: 'card', id: 'cluster' });
const chart = el('section', { class: 'card', id: 'throughput' });
const errors = el('section', { class: 'card', id: 'errors' });
const refusals = el('section', { class: 'card', id: 'refusals' });
const studies = el('section', { class: 'card', id: 'recent-studies' });
replace(page, el('h1', { text: 'Dashboard' }), el('div', { class: 'grid' }, health, counters, destinations), cluster, chart,
  el('div', { class: 'grid' }, studies, errors, refusals));

function yesNo(ok, good, bad) { return el('span', {}, badge(ok ? 'ok' : 'failed'), ' ', ok ? good : bad); }

function renderHealth(h) {
  const r = h.render || {};
  const workers = r.workers < 0 ? 'not reported' : `${r.workers} (${r.busy} busy${r.backend ? `, ${r.backend}` : ''})`;
  // Worker processes that died (crash, OOM killer, time-out) cost a job attempt each; say so.
  const deaths = r.worker_deaths ? ` · ${r.worker_deaths} worker death(s) since start` +
    (r.jobs_failed_by_crashes ? `, ${r.jobs_failed_by_crashes} job(s) failed by them` : '') : '';
  const display = r.display_state ? `${r.display_state}${r.display ? ` (${r.display})` : ''}` : 'not reported';
  const disk = h.storage;
  replace(health, el('h2', {}, 'Node ', badge(h.status)),
    el('dl', { class: 'kv' },
      el('dt', { text: 'Version' }), el('dd', { text: `${h.version} · up ${Math.round(h.uptime_s)} s` }),
      el('dt', { text: 'DICOM listener' }),
      el('dd', {}, yesNo(h.dicom.listening,
        `AE ${h.dicom.aet} on port ${h.dicom.port}${h.dicom.bind && h.dicom.bind !== '0.0.0.0' ? ` (${h.dicom.bind} only)` : ''}${h.dicom.tls ? ' · TLS' : ''}`,
        h.dicom.error || 'not listening')),
      el('dt', { text: 'Render workers' }), el('dd', { text: workers + deaths }),
      el('dt', { text: 'X display' }), el('dd', { text: display }),
      el('dt', { text: 'Disk free' }),
      el('dd', {}, yesNo(disk.accepting_instances, `${disk.disk_free_mb} MB (watermark ${disk.min_free_mb} MB)`,
        `${disk.disk_free_mb} MB: ${disk.reason || 'below watermark'}`))));
}

function renderCounters(h, jobs) {
  const item = (label, value) => el('div', {}, el('div', { class: 'big', text: value }), el('div', { class: 'muted', text: label }));
  replace(counters, el('h2', { text: 'Counters' }),
    el('div', { class: 'counters' },
      item('associations open', h.dicom.active_associations),
      item('associations (since start)', h.dicom.associations_total),
      item('refused', h.dicom.associations_refused),
      item('instances today', h.index.instances_today),
      item('studies held', h.index.studies),
      item('stored', fmtBytes(h.index.bytes))),
    el('h2', { text: 'Jobs' }),
    el('div', { class: 'counters', id: 'job-counters' },
      Object.entries(jobs).map(([state, n]) => el('div', {}, el('div', { class: 'big', text: n }), badge(state)))));
}

function renderDestinations(list) {
  replace(destinations, el('h2', { text: 'Destinations (C-ECHO)' }),
    list.length === 0 ? el('p', { class: 'muted', text: 'No destinations configured or reported.' }) :
      el('table', {}, el('tr', {}, ['Name', 'AE', 'Address', 'Reachable', 'Checked'].map((t) => el('th', { text: t }))),
        list.map((d) => el('tr', {}, el('td', { text: d.name }), el('td', { text: d.aet }),
          el('td', { text: `${d.host}:${d.port}${d.tls ? ' · TLS' : ''}` }),
          el('td', {}, badge(d.reachable ? 'ok' : 'failed'), d.error ? el('div', { class: 'muted', text: d.error }) : null),
          el('td', { text: fmtTime(d.checked_at) })))));
}

// Every serve node and worker process sharing the index; a stale one stopped heartbeating (its host or process died).
function renderCluster(c) {
  const members = c.members || [];
  const jobLinks = (ids) => ids.length === 0 ? el('span', { class: 'muted', text: 'idle' }) :
    ids.map((id, i) => el('span', {}, i ? ', ' : '', el('a', { href: `/jobs?job=${id}`, text: `job ${id}` })));
  replace(cluster, el('h2', { text: 'Cluster' }),
    el('p', { class: 'muted', text: `${c.serve_nodes_alive} serve node(s), ${c.worker_processes_alive} render worker process(es) alive` +
      (c.stale ? `, ${c.stale} stale member(s)` : '') }),
    members.length === 0 ? el('p', { class: 'muted', text: 'No members recorded.' }) :
      el('table', { id: 'cluster-table' },
        el('tr', {}, ['Role', 'Host', 'PID', 'Workers', 'Current jobs', 'Last heartbeat', 'Started', 'Offers'].map((t) => el('th', { text: t }))),
        members.map((m) => el('tr', { class: 'member-row', dataset: { member: m.id, state: m.state } },
          el('td', { text: m.role + (m.id === c.self ? ' (this node)' : '') }), el('td', { text: m.host }),
          el('td', { text: m.pid }), el('td', { text: m.workers }), el('td', {}, jobLinks(m.current_jobs || [])),
          el('td', {}, badge(m.state === 'alive' ? 'ok' : 'failed'), ` ${m.state}, ${m.heartbeat_age_s.toFixed(1)} s ago`),
          el('td', { text: fmtTime(m.started_at) }), el('td', { class: 'muted', text: m.detail })))));
}

function renderChart(t) {
  const minutes = t.minutes || [];
  const max = Math.max(1, ...minutes.map((m) => m.instances));
  const w = 600; const hgt = 90;
  const svg = el('svg:svg', { class: 'chart', viewBox: `0 0 ${w} ${hgt + 16}`, width: '100%', height: 120, role: 'img' });
  minutes.forEach((m, i) => {
    const bh = Math.round((m.instances / max) * hgt);
    const bar = el('svg:rect', { x: i * (w / 60) + 1, y: hgt - bh, width: w / 60 - 2, height: Math.max(bh, m.instances ? 1 : 0) });
    bar.append(el('svg:title', { text: `${m.minute} UTC: ${m.instances} instances, ${m.renders} renders, ${m.sends} sends` }));
    svg.append(bar);
  });
  svg.append(el('svg:text', { x: 0, y: hgt + 12, text: '-60 min' }), el('svg:text', { x: w - 30, y: hgt + 12, text: 'now' }),
    el('svg:text', { x: 0, y: 10, text: `max ${max}/min` }));
  const renders = minutes.reduce((a, m) => a + m.renders, 0);
  const sends = minutes.reduce((a, m) => a + m.sends, 0);
  replace(chart, el('h2', { text: 'Throughput, last hour (instances per minute)' }), svg,
    el('p', { class: 'muted', text: `${t.instances_last_hour} instances received, ${renders} renders and ${sends} sends finished in the last hour` }));
}

// What went wrong: failed jobs and series, refused associations (in red).
function renderErrors(list) {
  replace(errors, el('h2', { text: 'Last errors' }),
    list.length === 0 ? el('p', { class: 'muted', text: 'None.' }) :
      el('table', {}, el('tr', {}, ['When', 'What', 'Reason'].map((t) => el('th', { text: t }))),
        list.map((e) => el('tr', {}, el('td', { text: fmtTime(e.at) }), el('td', {}, errorSubject(e)),
          el('td', { class: 'error', text: e.reason })))));
}

// Series a rule or check declined to render (localizers, perfusion maps...): expected, not errors.
function renderRefusals(list) {
  replace(refusals, el('h2', { text: 'Not rendered, by rule' }),
    list.length === 0 ? el('p', { class: 'muted', text: 'None.' }) :
      el('table', {}, el('tr', {}, ['When', 'What', 'Why'].map((t) => el('th', { text: t }))),
        list.map((e) => el('tr', {}, el('td', { text: fmtTime(e.at) }), el('td', {}, errorSubject(e)),
          el('td', { class: 'muted', text: e.reason.replace(/^refused: /, '') })))));
}

function errorSubject(e) {
  if (e.what === 'job') return el('a', { href: `/jobs?job=${e.job_id}`, text: `${e.job_kind} job ${e.job_id}${e.destination ? ` → ${e.destination}` : ''}` });
  if (e.what === 'series') return el('a', { href: `/studies/${encodeURIComponent(e.StudyInstanceUID)}`, text: 'series' });
  return `association ${e.peer}`;
}

function renderStudies(list) {
  replace(studies, el('h2', {}, 'Recent studies ', el('a', { href: '/studies', text: '(all)' })),
    list.length === 0 ? el('p', { class: 'muted', text: 'No studies received yet.' }) :
      el('table', { id: 'recent-studies-table' },
        el('tr', {}, ['Patient', 'Date', 'Modality', 'Series', 'Received', ''].map((t) => el('th', { text: t }))),
        list.map((s) => el('tr', { class: 'study-row', dataset: { uid: s.StudyInstanceUID } },
          el('td', {}, el('a', { href: `/studies/${encodeURIComponent(s.StudyInstanceUID)}`, text: `${s.PatientID} ${personName(s.PatientName)}` })),
          el('td', { text: fmtDate(s.StudyDate) }), el('td', { text: (s.ModalitiesInStudy || '').replaceAll('\\', ', ') }),
          el('td', { text: s.series }), el('td', { text: fmtTime(s.last_received) }),
          el('td', {}, el('a', { href: `/view/${encodeURIComponent(s.StudyInstanceUID)}`, text: 'View' }))))));
}

poll(async () => {
  const [d, s, c] = await Promise.all([api('/api/dashboard'), api('/api/studies?limit=10'), api('/api/cluster')]);
  renderHealth(d.health);
  renderCounters(d.health, d.jobs);
  renderDestinations(d.health.destinations || []);
  renderCluster(c);
  renderChart(d.throughput);
  renderErrors(d.errors);
  renderRefusals(d.refusals || []);
  renderStudies(s.studies);
});
