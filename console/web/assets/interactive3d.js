// The interactive 3D view of one series: frames rendered on the node on request
// (GET /api/series/{uid}/view3d) while the user turns, zooms, pans and cuts (a clip
// box, or the oblique slice plane), beside the linked slice panes (mpr_panes.js).
// Only one frame request is in flight at a time: while it runs, the newest wanted
// view replaces any older one, so the picture never lags behind the hand. Drafts
// (half size) while dragging, a full frame when the hand stops.
//   left-drag / one finger: turn (drag left: the patient's left comes to the front)
//   right-drag / shift-drag / two fingers: pan; wheel / pinch: zoom
//   keys on the 3D image: arrows turn by 10 degrees, + and - zoom, r resets to anterior, p next preset
import { el, replace, authFetch } from './common.js';
import { mprPanes } from './mpr_panes.js';

const PRESETS = { CT: ['ct-bone', 'ct-soft-tissue', 'ct-angio', 'ct-angio-vessels', 'ct-angio-mip', 'ct-lung', 'ct-mip'], MR: ['mr-head', 'mr-mip'] };

export function interactiveView(series, renderedPresets) {
  const uid = series.SeriesInstanceUID;
  const modality = series.Modality === 'MR' ? 'MR' : 'CT';
  const presets = [...new Set([...(renderedPresets || []), ...PRESETS[modality]])];
  const initial = () => ({ azimuth: 0, elevation: 0, zoom: 1, panX: 0, panY: 0 });
  let camera = initial();
  let preset = presets[0];
  let clip = null;  // [xmin, xmax, ymin, ymax, zmin, zmax] mm, null: none
  let extent = null;  // the volume's [min, max] per LPS axis, from the slices
  let shift = 0;       // HU the preset's transfer function moves by
  let cutOblique = 0;  // 0: no; 1: keep the side the oblique plane's normal points to; -1: the other side
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
    if (shift) q.set('shift', String(shift));
    const plane = cutOblique ? mpr.obliquePlane() : null;
    if (plane) q.set('clip_plane', [...plane.point, ...plane.normal.map((v) => v * cutOblique)].map((v) => v.toFixed(4)).join(','));
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
        clipPlane: params.get('clip_plane') || '', shift: params.get('shift') || '0',
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

  // --- window shift of the preset, and the cut at the oblique slice plane ------
  const shiftRange = el('input', { id: 'view3d-shift', type: 'range', min: -500, max: 500, step: 10, value: 0,
    'aria-label': 'shift of the preset in HU' });
  const shiftValue = el('span', { class: 'muted', text: '0 HU' });
  shiftRange.addEventListener('input', () => {
    shift = Number(shiftRange.value);
    shiftValue.textContent = `${shift > 0 ? '+' : ''}${shift} HU`;
    dragging = true;
    request(true);
  });
  shiftRange.addEventListener('change', settle);
  const cutSelect = el('select', { id: 'view3d-cut', 'aria-label': 'cut at the oblique plane' },
    el('option', { value: '0', text: 'no cut' }), el('option', { value: '1', text: 'cut at oblique plane' }),
    el('option', { value: '-1', text: 'cut at oblique plane (other side)' }));
  cutSelect.addEventListener('change', () => { cutOblique = Number(cutSelect.value); request(false); });

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

  // The slice panes: they learn the volume's extent (for the clip sliders) and,
  // when the 3D view is cut at the oblique plane, move the cut with them.
  const mpr = mprPanes(uid, modality, {
    onExtent: (box) => { extent = box; buildClip(); },
    onPlaneChange: () => { if (cutOblique) request(false); },
  });

  const section = el('section', { class: 'card', id: 'interactive' },
    el('h2', { text: 'Interactive 3D' }),
    el('div', { class: 'interactive' },
      el('div', { class: 'view3d' }, img,
        el('div', { class: 'controls' }, presetSelect, reset, letters, timing),
        el('div', { class: 'controls' }, el('label', {}, 'Shift ', shiftRange), shiftValue, cutSelect),
        el('p', { class: 'muted', text: 'Drag to turn, wheel or pinch to zoom, right-drag or two fingers to pan; arrows, + − , r (reset), p (next preset).' }),
        el('details', {}, el('summary', { text: 'Clip box' }), clipBox)),
      mpr.element));
  request(false);
  return section;
}
