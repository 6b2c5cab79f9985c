// The interactive 3D view of one series: frames rendered on the node on request
// (GET /api/series/{uid}/view3d) while the user turns, zooms, pans and cuts, and
// three linked MPR panes (GET /api/series/{uid}/slice) with a crosshair.
// Only one frame request is in flight at a time: while it runs, the newest wanted
// view replaces any older one, so the picture never lags behind the hand. Drafts
// (half size) while dragging, a full frame when the hand stops.
//   left-drag / one finger: turn (drag left: the patient's left comes to the front)
//   right-drag / shift-drag / two fingers: pan; wheel / pinch: zoom
//   keys on the 3D image: arrows turn by 10 degrees, + and - zoom, r resets to anterior, p next preset
import { el, replace, authFetch } from './common.js';

const PRESETS = { CT: ['ct-bone', 'ct-soft-tissue', 'ct-angio', 'ct-lung', 'ct-mip'], MR: ['mr-head', 'mr-mip'] };
const PLANES = ['axial', 'coronal', 'sagittal'];
const AXIS_OF_PLANE = { axial: 2, coronal: 1, sagittal: 0 };  // the LPS coordinate that places each plane

const triple = (text) => (text || '').split(',').map(Number);

export function interactiveView(series, renderedPresets) {
  const uid = series.SeriesInstanceUID;
  const modality = series.Modality === 'MR' ? 'MR' : 'CT';
  const presets = [...new Set([...(renderedPresets || []), ...PRESETS[modality]])];
  const initial = () => ({ azimuth: 0, elevation: 0, zoom: 1, panX: 0, panY: 0 });
  let camera = initial();
  let preset = presets[0];
  let clip = null;  // [xmin, xmax, ymin, ymax, zmin, zmax] mm, null: none
  let extent = null;  // the volume's [min, max] per LPS axis, from the slices
  let dragging = false;

  const img = el('img', { id: 'view3d', alt: 'interactive 3D rendering', draggable: 'false', tabindex: '0',
    dataset: { state: 'loading', azimuth: '0', elevation: '0' } });
  const letters = el('span', { id: 'view3d-letters', class: 'muted' });
  const timing = el('span', { id: 'view3d-timing', class: 'muted' });
  const presetSelect = el('select', { id: 'view3d-preset', 'aria-label': 'preset' },
    presets.map((p) => el('option', { value: p, text: p })));
  const reset = el('button', { id: 'view3d-reset', type: 'button', class: 'secondary', text: 'Reset to anterior' });
  const clipBox = el('div', { class: 'clip', id: 'view3d-clip' });

  // --- frames: one request in flight, the newest wish wins --------------------
  let inFlight = false;
  let wanted = null;      // the newest view asked for while a request ran
  let shownSeq = 0;
  let seq = 0;
  let objectUrl = '';
  const query = (draft) => {
    const q = new URLSearchParams({ preset, azimuth: camera.azimuth.toFixed(1), elevation: camera.elevation.toFixed(1),
      zoom: camera.zoom.toFixed(3), pan: `${camera.panX.toFixed(3)},${camera.panY.toFixed(3)}`, quality: draft ? 'draft' : 'full' });
    if (clip) q.set('clip', clip.map((v) => v.toFixed(1)).join(','));
    return q.toString();
  };
  async function fetchFrame(q, mySeq) {
    inFlight = true;
    const started = performance.now();
    try {
      const response = await authFetch(`/api/series/${encodeURIComponent(uid)}/view3d?${q}`);
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        timing.textContent = response.status === 503 ? 'the node is busy; trying again…' : (body.error || `error ${response.status}`);
        img.dataset.state = response.status === 503 ? 'busy' : 'error';
        if (response.status === 503) setTimeout(() => request(dragging), 1000 * Number(response.headers.get('Retry-After') || 1));
        return;
      }
      const blob = await response.blob();
      if (mySeq < shownSeq) return;  // stale: a newer frame is already shown
      shownSeq = mySeq;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = URL.createObjectURL(blob);
      img.src = objectUrl;
      const params = new URLSearchParams(q);
      Object.assign(img.dataset, { state: 'drawn', azimuth: params.get('azimuth'), elevation: params.get('elevation'),
        preset: params.get('preset'), quality: params.get('quality'), clip: params.get('clip') || '',
        letters: response.headers.get('X-Orientation-Letters') || '', seq: String(mySeq) });
      letters.textContent = (response.headers.get('X-Orientation-Letters') || '').replaceAll(',', ' ');
      timing.textContent = `${params.get('quality')} ${Math.round(performance.now() - started)} ms`;
    } catch (e) {
      img.dataset.state = 'error';
      timing.textContent = e.message;
    } finally {
      inFlight = false;
      if (wanted) { const next = wanted; wanted = null; fetchFrame(next.q, next.seq); }
    }
  }
  function request(draft) {
    const next = { q: query(draft), seq: ++seq };
    if (inFlight) { wanted = next; return; }  // replaces an older wish: stale views are never fetched
    fetchFrame(next.q, next.seq);
  }
  const settle = () => { dragging = false; request(false); };

  // --- turning, panning, zooming: mouse, touch and pen alike ------------------
  const pointers = new Map();
  let start = null;
  img.addEventListener('contextmenu', (e) => e.preventDefault());
  img.addEventListener('pointerdown', (e) => {
    img.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    const pan = e.button === 2 || e.shiftKey || pointers.size === 2;
    start = { x: e.clientX, y: e.clientY, camera: { ...camera }, pan, pinch: pinchDistance() };
    dragging = true;
  });
  function pinchDistance() {
    if (pointers.size !== 2) return 0;
    const [a, b] = [...pointers.values()];
    return Math.hypot(a.x - b.x, a.y - b.y);
  }
  img.addEventListener('pointermove', (e) => {
    if (!start || !pointers.has(e.pointerId)) return;
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    const size = img.clientHeight || 512;
    const dx = e.clientX - start.x, dy = e.clientY - start.y;
    if (pointers.size === 2 && start.pinch > 0) {
      camera.zoom = Math.min(16, Math.max(0.25, start.camera.zoom * pinchDistance() / start.pinch));
    } else if (start.pan) {
      camera.panX = Math.max(-4, Math.min(4, start.camera.panX + dx / size));
      camera.panY = Math.max(-4, Math.min(4, start.camera.panY + dy / size));
    } else {
      // Half a turn across the image; dragging left brings the patient's left to the front (as the spin).
      camera.azimuth = (((start.camera.azimuth - (dx / size) * 180) % 360) + 360) % 360;
      camera.elevation = Math.max(-90, Math.min(90, start.camera.elevation + (dy / size) * 180));
    }
    request(true);
  });
  const endPointer = (e) => {
    pointers.delete(e.pointerId);
    if (pointers.size === 0 && start) { start = null; settle(); }
    else if (pointers.size === 1) { const [p] = [...pointers.values()]; start = { x: p.x, y: p.y, camera: { ...camera }, pan: false, pinch: 0 }; }
  };
  img.addEventListener('pointerup', endPointer);
  img.addEventListener('pointercancel', endPointer);
  let wheelTimer = null;
  img.addEventListener('wheel', (e) => {
    e.preventDefault();
    camera.zoom = Math.min(16, Math.max(0.25, camera.zoom * Math.exp(-e.deltaY * 0.0015)));
    dragging = true;
    request(true);
    clearTimeout(wheelTimer);
    wheelTimer = setTimeout(settle, 250);
  }, { passive: false });
  img.addEventListener('keydown', (e) => {
    const turn = { ArrowLeft: [10, 0], ArrowRight: [-10, 0], ArrowUp: [0, -10], ArrowDown: [0, 10] }[e.key];
    if (turn) {
      camera.azimuth = (camera.azimuth + turn[0] + 360) % 360;
      camera.elevation = Math.max(-90, Math.min(90, camera.elevation + turn[1]));
    } else if (e.key === '+' || e.key === '=') camera.zoom = Math.min(16, camera.zoom * 1.25);
    else if (e.key === '-') camera.zoom = Math.max(0.25, camera.zoom / 1.25);
    else if (e.key === 'r') camera = initial();
    else if (e.key === 'p') { presetSelect.selectedIndex = (presetSelect.selectedIndex + 1) % presets.length; preset = presetSelect.value; }
    else return;
    e.preventDefault();
    request(false);
  });
  reset.addEventListener('click', () => { camera = initial(); request(false); });
  presetSelect.addEventListener('change', () => { preset = presetSelect.value; request(false); });

  // --- clip box: two sliders per patient axis, in mm --------------------------
  const AXES = [['R', 'L'], ['A', 'P'], ['F', 'H']];
  function buildClip() {
    const rows = AXES.map(([low, high], axis) => {
      const [min, max] = extent[axis];
      const range = (which, value) => el('input', { type: 'range', min: Math.floor(min), max: Math.ceil(max), step: 1, value,
        id: `clip-${axis}-${which}`, 'aria-label': `clip ${which === 0 ? low : high}` });
      const lo = range(0, Math.floor(min)), hi = range(1, Math.ceil(max));
      const changed = () => {
        clip = clip || extent.flatMap(([a, b]) => [Math.floor(a), Math.ceil(b)]);
        clip[2 * axis] = Math.min(Number(lo.value), Number(hi.value) - 1);
        clip[2 * axis + 1] = Math.max(Number(hi.value), clip[2 * axis] + 1);
        dragging = true;
        request(true);
      };
      lo.addEventListener('input', changed);
      hi.addEventListener('input', changed);
      lo.addEventListener('change', settle);
      hi.addEventListener('change', settle);
      return el('label', {}, `${low}`, lo, hi, `${high}`);
    });
    const none = el('button', { type: 'button', class: 'secondary', id: 'clip-none', text: 'No clip',
      onclick: () => { clip = null; buildClip(); request(false); } });
    replace(clipBox, rows, none);
  }

  // --- MPR panes with a shared crosshair point --------------------------------
  let point = null;  // LPS mm
  const panes = PLANES.map((plane) => {
    const image = el('img', { id: `mpr-${plane}`, alt: `${plane} slice`, draggable: 'false', dataset: { state: 'loading' } });
    const cross = el('canvas', { class: 'crosshair', id: `mpr-${plane}-cross` });
    const label = el('figcaption', { class: 'muted', text: plane });
    const pane = { plane, image, cross, label, geometry: null, inFlight: false, again: false, url: '' };
    image.addEventListener('click', (e) => {
      if (!pane.geometry) return;
      const r = image.getBoundingClientRect();
      const g = pane.geometry;
      const column = ((e.clientX - r.left) / r.width) * g.width - 0.5, row = ((e.clientY - r.top) / r.height) * g.height - 0.5;
      point = [0, 1, 2].map((a) => g.origin[a] + column * g.pixel * g.right[a] + row * g.pixel * g.down[a]);
      for (const other of panes) (other === pane ? drawCross(other) : loadSlice(other));
    });
    image.addEventListener('wheel', (e) => {
      e.preventDefault();
      if (!pane.geometry || !point) return;
      point[AXIS_OF_PLANE[plane]] += Math.sign(e.deltaY) * pane.geometry.pixel * 2;
      loadSlice(pane);
      for (const other of panes) if (other !== pane) drawCross(other);
    }, { passive: false });
    return pane;
  });
  function drawCross(pane) {
    const g = pane.geometry;
    const { cross, image } = pane;
    if (!g || !point) return;
    cross.width = image.clientWidth;
    cross.height = image.clientHeight;
    const d = [0, 1, 2].map((a) => point[a] - g.origin[a]);
    const column = (d[0] * g.right[0] + d[1] * g.right[1] + d[2] * g.right[2]) / g.pixel;
    const row = (d[0] * g.down[0] + d[1] * g.down[1] + d[2] * g.down[2]) / g.pixel;
    const x = ((column + 0.5) / g.width) * cross.width, y = ((row + 0.5) / g.height) * cross.height;
    const ctx = cross.getContext('2d');
    ctx.clearRect(0, 0, cross.width, cross.height);
    ctx.strokeStyle = '#ffcc00';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x, 0); ctx.lineTo(x, cross.height); ctx.moveTo(0, y); ctx.lineTo(cross.width, y);
    ctx.stroke();
    image.dataset.crossX = String(Math.round(column));
    image.dataset.crossY = String(Math.round(row));
  }
  async function loadSlice(pane) {
    if (pane.inFlight) { pane.again = true; return; }
    pane.inFlight = true;
    const q = new URLSearchParams({ plane: pane.plane });
    if (point) q.set('position_mm', point[AXIS_OF_PLANE[pane.plane]].toFixed(2));
    try {
      const response = await authFetch(`/api/series/${encodeURIComponent(uid)}/slice?${q}`);
      if (!response.ok) { pane.image.dataset.state = 'error'; return; }
      const h = (name) => response.headers.get(name);
      const blob = await response.blob();
      const bitmap = await createImageBitmap(blob);
      pane.geometry = { origin: triple(h('X-Slice-Origin')), right: triple(h('X-Slice-Right')), down: triple(h('X-Slice-Down')),
        pixel: Number(h('X-Slice-Pixel-Spacing')), width: bitmap.width, height: bitmap.height };
      bitmap.close();
      if (pane.url) URL.revokeObjectURL(pane.url);
      pane.url = URL.createObjectURL(blob);
      pane.image.src = pane.url;
      await pane.image.decode().catch(() => {});
      pane.image.dataset.state = 'drawn';
      pane.image.dataset.position = h('X-Slice-Position');
      pane.label.textContent = `${pane.plane} ${Number(h('X-Slice-Position')).toFixed(1)} mm · ${(h('X-Orientation-Letters') || '').replaceAll(',', ' ')}`;
      if (!point) point = null;
      drawCross(pane);
      learnExtent(pane);
    } finally {
      pane.inFlight = false;
      if (pane.again) { pane.again = false; loadSlice(pane); }
    }
  }
  // The volume's extent along each patient axis, from the first slices' geometry.
  function learnExtent(pane) {
    if (extent || panes.some((p) => !p.geometry)) return;
    const box = [[Infinity, -Infinity], [Infinity, -Infinity], [Infinity, -Infinity]];
    for (const p of panes) {
      const g = p.geometry;
      for (const [c, r] of [[0, 0], [g.width - 1, 0], [0, g.height - 1], [g.width - 1, g.height - 1]])
        for (let a = 0; a < 3; ++a) {
          if (a === AXIS_OF_PLANE[p.plane]) continue;
          const v = g.origin[a] + c * g.pixel * g.right[a] + r * g.pixel * g.down[a];
          box[a] = [Math.min(box[a][0], v), Math.max(box[a][1], v)];
        }
    }
    extent = box;
    point = point || box.map(([a, b]) => (a + b) / 2);
    buildClip();
    for (const p of panes) drawCross(p);
    void pane;
  }

  const section = el('section', { class: 'card', id: 'interactive' },
    el('h2', { text: 'Interactive 3D' }),
    el('div', { class: 'interactive' },
      el('div', { class: 'view3d' }, img,
        el('div', { class: 'controls' }, presetSelect, reset, letters, timing),
        el('p', { class: 'muted', text: 'Drag to turn, wheel or pinch to zoom, right-drag or two fingers to pan; arrows, + − , r (reset), p (next preset).' }),
        el('details', {}, el('summary', { text: 'Clip box' }), clipBox)),
      el('div', { class: 'mpr' }, panes.map((p) => el('figure', {}, el('div', { class: 'pane' }, p.image, p.cross), p.label)))));
  request(false);
  for (const pane of panes) loadSlice(pane);
  return section;
}
