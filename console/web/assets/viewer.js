// Viewer of a study's results: the interactive 3D view with its MPR panes
// (interactive3d.js), the spin as an animation (play/pause, drag to turn,
// frame slider), the key views, the surface model in 3D (three.js from the node
// itself, STLLoader + OrbitControls) and download links. Without results yet it
// shows the render's progress and switches to the results once they exist. Images,
// the model and downloads are read with the console token (or the session of a launch
// link), like the API.
import { interactiveView } from './interactive3d.js';
import { el, replace, api, authFetch, fileUrl, image, downloadLink, nav, badge, fmtDate, fmtBytes, personName, pathParam, progressBar, ApiError } from './common.js';

nav('');
const uid = pathParam();
const page = document.getElementById('page');
const title = el('h1', { text: 'Viewer' });
const status = el('section', { class: 'card', id: 'progress' });
const content = el('div', { id: 'results' });
replace(page, title, status, content);
let shownKey = '';
const VIEW_ORDER = ['anterior', 'posterior', 'left', 'right', 'superior', 'inferior'];
let stopModel = null;

function spinPlayer(frames) {
  const img = el('img', { id: 'spin-image', alt: 'rotating 3D rendering', draggable: 'false', dataset: { frame: '0' } });
  const slider = el('input', { id: 'spin-slider', type: 'range', min: 0, max: frames.length - 1, value: 0, 'aria-label': 'frame' });
  const button = el('button', { id: 'spin-play', type: 'button', text: 'Pause' });
  const label = el('span', { class: 'muted', text: '' });
  let frame = 0;
  let timer = null;
  const urls = frames.map(() => '');  // object URLs as the frames arrive (all are loaded at once)
  frames.forEach((src, i) => fileUrl(src).then((url) => { urls[i] = url; if (i === frame) img.src = url; }).catch(() => {}));
  const show = (n) => {
    frame = ((n % frames.length) + frames.length) % frames.length;
    if (urls[frame]) img.src = urls[frame];
    img.dataset.frame = String(frame);
    slider.value = String(frame);
    label.textContent = `${frame + 1}/${frames.length}`;
  };
  const play = () => { if (!timer) timer = setInterval(() => (img.isConnected || frame === 0 ? show(frame + 1) : pause()), 100); button.textContent = 'Pause'; };
  const pause = () => { clearInterval(timer); timer = null; button.textContent = 'Play'; };
  button.addEventListener('click', () => (timer ? pause() : play()));
  slider.addEventListener('input', () => { pause(); show(Number(slider.value)); });
  let dragX = null;
  let dragFrame = 0;
  img.addEventListener('pointerdown', (e) => { pause(); dragX = e.clientX; dragFrame = frame; img.setPointerCapture(e.pointerId); });
  img.addEventListener('pointermove', (e) => {
    if (dragX === null) return;
    const perFrame = Math.max(4, img.clientWidth / frames.length);
    show(dragFrame - Math.round((e.clientX - dragX) / perFrame));
  });
  const endDrag = () => { dragX = null; };
  img.addEventListener('pointerup', endDrag);
  img.addEventListener('pointercancel', endDrag);
  show(0);
  play();
  return el('div', { class: 'spin' }, img, el('div', { class: 'controls' }, button, slider, label));
}

async function modelViewer(canvas, url) {
  canvas.dataset.state = 'loading';
  let THREE, STLLoader, OrbitControls;
  try {
    THREE = await import('three');
    ({ STLLoader } = await import('three/addons/loaders/STLLoader.js'));
    ({ OrbitControls } = await import('three/addons/controls/OrbitControls.js'));
  } catch (e) {
    canvas.dataset.state = 'error';
    throw new Error(`three.js is not available on this node (${e.message})`);
  }
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(window.devicePixelRatio || 1);
  const size = () => { const w = canvas.clientWidth || 512; renderer.setSize(w, w, false); };
  size();
  renderer.setClearColor(0x101418, 1);
  const scene = new THREE.Scene();
  const camera = new THREE.PerspectiveCamera(35, 1, 0.1, 10000);
  camera.up.set(0, 0, 1);  // LPS: +z is superior, so the head is up
  scene.add(new THREE.HemisphereLight(0xffffff, 0x303040, 1.2));
  const light = new THREE.DirectionalLight(0xffffff, 1.6);
  camera.add(light);
  scene.add(camera);
  const response = await authFetch(url);
  if (!response.ok) throw new Error(`the surface model could not be read (${response.status})`);
  const geometry = new STLLoader().parse(await response.arrayBuffer());
  geometry.computeBoundingSphere();
  const sphere = geometry.boundingSphere;
  const mesh = new THREE.Mesh(geometry, new THREE.MeshStandardMaterial({ color: 0xe8dcc8, roughness: 0.6, metalness: 0.0, side: THREE.DoubleSide }));
  scene.add(mesh);
  const distance = sphere.radius / Math.sin(THREE.MathUtils.degToRad(camera.fov / 2)) * 1.1;
  camera.position.set(sphere.center.x, sphere.center.y - distance, sphere.center.z);  // anterior view (LPS: -y)
  camera.near = distance / 100;
  camera.far = distance * 10;
  camera.updateProjectionMatrix();
  const controls = new OrbitControls(camera, canvas);
  controls.target.copy(sphere.center);
  controls.enablePan = true;
  controls.enableZoom = true;
  const render = () => renderer.render(scene, camera);
  controls.addEventListener('change', render);
  controls.update();
  const onResize = () => { size(); render(); };
  window.addEventListener('resize', onResize);
  render();
  canvas.dataset.state = 'drawn';
  canvas.dataset.triangles = String(geometry.attributes.position.count / 3);
  return () => { window.removeEventListener('resize', onResize); controls.dispose(); renderer.dispose(); geometry.dispose(); };
}

function downloads(series) {
  const rows = [];
  for (const o of series.outputs) {
    if (!o.url) continue;
    rows.push(el('li', {}, downloadLink(o.url, o.SeriesDescription || o.output_key),
      el('span', { class: 'muted', text: ` DICOM, ${o.frames ? `${o.frames} frames, ` : ''}${fmtBytes(o.file_size)}` })));
  }
  if (series.mesh) rows.push(el('li', {}, downloadLink(`${series.mesh.url}?download=1`, 'Surface model (STL)'),
    el('span', { class: 'muted', text: ` ${fmtBytes(series.mesh.file_size)}` })));
  return el('ul', { class: 'downloads' }, rows);
}

function showSeries(series) {
  if (stopModel) { stopModel(); stopModel = null; }
  const blocks = [];
  const withSpin = series.images.find((i) => i.spin.length > 0);
  const withViews = series.images.filter((i) => Object.keys(i.views).length > 0);
  const spins = series.images.filter((i) => i.spin.length > 0);
  const spinHolder = el('div', {}, withSpin ? spinPlayer(withSpin.spin) : el('p', { class: 'muted', text: 'No spin was rendered for this series.' }));
  const presetButtons = spins.length > 1 ? el('span', { class: 'actions' }, spins.map((i) => el('button', {
    class: 'secondary preset', type: 'button', text: i.preset, onclick: () => { replace(spinHolder, spinPlayer(i.spin)); },
  }))) : null;
  const left = el('section', { class: 'card' }, el('h2', {}, 'Spin ', presetButtons), spinHolder);
  const canvas = el('canvas', { id: 'model', width: 512, height: 512 });
  const modelNote = el('p', { class: 'muted', text: series.mesh ? 'Drag to rotate, wheel to zoom, right-drag to pan.' : 'No surface model for this series.' });
  const right = el('section', { class: 'card' }, el('h2', { text: '3D model' }), series.mesh ? canvas : null, modelNote);
  blocks.push(interactiveView(series, series.images.map((i) => i.preset)));
  blocks.push(el('div', { class: 'viewer' }, left, right));
  for (const v of withViews)
    blocks.push(el('section', { class: 'card' }, el('h2', { text: `Key views (${v.preset})` }),
      el('div', { class: 'views' }, VIEW_ORDER.filter((name) => v.views[name]).map((name) => [name, v.views[name]]).map(([name, src]) => el('figure', {}, image(src, { alt: `${name} view` }), el('figcaption', { text: name }))))));
  blocks.push(el('section', { class: 'card' }, el('h2', { text: 'Downloads' }), downloads(series)));
  replace(content, blocks);
  if (series.mesh) modelViewer(canvas, series.mesh.url).then((stop) => { stopModel = stop; })
    .catch((e) => { canvas.dataset.state = 'error'; modelNote.textContent = `3D model: ${e.message}`; modelNote.className = 'error'; });
}

function showProgress(body) {
  if (body.active_jobs.length === 0) {
    replace(status, el('p', { class: 'muted', text: 'No results yet and no render running for this study.' }),
      el('p', {}, el('a', { href: `/studies/${encodeURIComponent(uid)}`, text: 'Study details' })));
    return;
  }
  replace(status, el('h2', { text: 'Rendering…' }),
    el('table', {}, body.active_jobs.map((j) => el('tr', {}, el('td', { text: `job ${j.id}` }), el('td', {}, badge(j.state)),
      el('td', {}, progressBar(j.progress.percent), ` ${j.progress.stage} ${Math.round(j.progress.percent)} %`),
      el('td', { class: 'error', text: j.last_error })))));
}

// The study is not here yet: say whether it is coming (C-MOVE running) or not (it failed).
function showNotHeld(retrieve) {
  if (retrieve && retrieve.state === 'failed') {
    replace(status, el('h2', { text: 'The study could not be retrieved' }),
      el('p', { class: 'error', text: `Retrieving it from ${retrieve.source} failed: ${retrieve.message}` }),
      el('p', { class: 'muted', text: 'Open the link again to retry, or ask the PACS to send the study to this node.' }));
    return;
  }
  const from = retrieve && retrieve.state === 'retrieving' ? ` from ${retrieve.source}` : '';
  replace(status, el('h2', { text: `Waiting for the study${from ? ' to arrive' : ''}…` }),
    el('p', { class: 'muted', text: from ? `Retrieving it${from}; it is rendered when it is complete.`
      : 'The study is not on this node yet (it may be being retrieved).' }));
}

let selector = null;
async function refresh() {
  let body;
  try {
    body = await api(`/api/studies/${encodeURIComponent(uid)}/results`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      showNotHeld(e.body && e.body.retrieve);
      return false;
    }
    throw e;
  }
  replace(title, `${body.PatientID} ${personName(body.PatientName)} · ${fmtDate(body.StudyDate)} ${body.StudyDescription || ''}`);
  if (wantedSeries && !body.series.some((s) => s.SeriesInstanceUID === wantedSeries)) {
    status.hidden = body.active_jobs.length === 0;
    if (!status.hidden) showProgress(body);
    await showInteractiveAlone(wantedSeries);
    return false;
  }
  if (body.series.length === 0) { showProgress(body); return false; }
  status.hidden = body.active_jobs.length === 0;
  if (!status.hidden) showProgress(body);
  const key = body.series.map((s) => `${s.SeriesInstanceUID}:${s.job_id}`).join(',');
  if (key === shownKey) return true;
  shownKey = key;
  const choose = (index) => showSeries(body.series[index]);
  const asked = body.series.findIndex((s) => s.SeriesInstanceUID === wantedSeries);
  if (selector) { selector.parentElement.remove(); selector = null; }
  if (body.series.length > 1) {
    selector = el('select', { id: 'series-select' }, body.series.map((s, i) => el('option', { value: i, text: `${s.Modality} ${s.SeriesDescription} (job ${s.job_id})` })));
    selector.addEventListener('change', () => choose(Number(selector.value)));
    page.insertBefore(el('p', {}, 'Series: ', selector), content);
  }
  if (selector && asked >= 0) selector.value = String(asked);
  choose(Math.max(0, asked));
  return true;
}

// A series opened from the study page (?series=UID) that has no render results yet:
// the interactive view alone (the viewer worker assembles it on first use).
const wantedSeries = new URLSearchParams(window.location.search).get('series');
let shownAlone = '';
async function showInteractiveAlone(seriesUid) {
  if (shownAlone === seriesUid) return;
  shownAlone = seriesUid;
  const s = await api(`/api/series/${encodeURIComponent(seriesUid)}`);
  replace(content, interactiveView({ SeriesInstanceUID: seriesUid, Modality: s.Modality }, []));
}

async function loop() {
  let done = false;
  try { done = await refresh(); } catch (e) { replace(status, el('p', { class: 'error', text: e.message })); }
  setTimeout(loop, done ? 10000 : 2000);
}
loop();
