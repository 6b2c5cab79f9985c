// The slice panes of the interactive view (GET /api/series/{uid}/slice): axial,
// coronal, sagittal and one oblique plane, all through one patient point (the
// crosshair). Click a point in one pane: the others go there; the wheel moves the
// point along the pane's normal. Window: a preset menu or right-drag (ctrl-drag)
// on any pane (left-right: width, up-down: centre). A slab (thickness, average or
// maximum) applies to every pane. The oblique plane is tilted from axial by two
// angles and can cut the 3D view (the page asks obliquePlane()).
import { el, authFetch } from './common.js';

const PLANES = ['axial', 'coronal', 'sagittal', 'oblique'];
const ORTHOGONAL = ['axial', 'coronal', 'sagittal'];
// Centre, width. `auto`: the server's default for the modality (CT 40,400; MR the slice's range).
const WINDOWS = {
  CT: [['auto', null], ['soft tissue', [40, 400]], ['lung', [-600, 1500]], ['bone', [400, 1800]],
    ['brain', [40, 80]], ['angio', [300, 600]], ['liver', [60, 160]]],
  MR: [['auto', null]],
};

const triple = (text) => (text || '').split(',').map(Number);
const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const minus = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const fixed = (v) => v.map((x) => x.toFixed(2)).join(',');

// The oblique normal (LPS): axial tilted by `ap` degrees toward posterior, then by `lr` toward the left.
function obliqueNormal(ap, lr) {
  const a = (ap * Math.PI) / 180, b = (lr * Math.PI) / 180;
  return [Math.sin(b), Math.sin(a) * Math.cos(b), Math.cos(a) * Math.cos(b)];
}

export function mprPanes(uid, modality, { onExtent, onPlaneChange }) {
  let point = null;   // LPS mm, the crosshair
  let extent = null;  // [min, max] per LPS axis, from the first orthogonal slices
  let windowCW = null;  // [centre, width]; null: the server's default
  let thickness = 0;
  let mode = 'avg';
  let tilt = { ap: 30, lr: 0 };

  const windowSelect = el('select', { id: 'mpr-window', 'aria-label': 'window preset' },
    (WINDOWS[modality] || WINDOWS.MR).map(([name, cw]) => el('option', { value: cw ? cw.join(',') : '', text: cw ? `${name} (${cw[0]}/${cw[1]})` : name })),
    el('option', { value: 'custom', text: 'custom (drag)', disabled: true }));
  const windowValue = el('span', { id: 'mpr-window-value', class: 'muted' });
  const thicknessInput = el('input', { id: 'mpr-thickness', type: 'number', min: 0, max: 100, step: 1, value: 0,
    'aria-label': 'slab thickness in mm', style: { width: '4.5em' } });
  const modeSelect = el('select', { id: 'mpr-mode', 'aria-label': 'slab mode' },
    el('option', { value: 'avg', text: 'average' }), el('option', { value: 'mip', text: 'MIP' }));
  const tiltRange = (id, label, value) => el('input', { id, type: 'range', min: -90, max: 90, step: 1, value, 'aria-label': label });
  const tiltAp = tiltRange('mpr-oblique-ap', 'oblique tilt toward posterior', tilt.ap);
  const tiltLr = tiltRange('mpr-oblique-lr', 'oblique tilt toward the left', tilt.lr);

  const panes = PLANES.map((plane) => {
    const image = el('img', { id: `mpr-${plane}`, alt: `${plane} slice`, draggable: 'false', dataset: { state: 'loading' } });
    const cross = el('canvas', { class: 'crosshair', id: `mpr-${plane}-cross` });
    const label = el('figcaption', { class: 'muted', text: plane });
    return { plane, image, cross, label, geometry: null, inFlight: false, again: false, url: '' };
  });

  // --- the point and the planes through it -------------------------------------
  // Panes whose plane no longer holds the point are fetched again; the others only move their crosshair.
  function pointMoved(except) {
    for (const pane of panes) {
      const g = pane.geometry;
      if (pane === except) continue;
      if (g && point && Math.abs(dot(minus(point, g.origin), g.normal)) < g.pixel / 2) drawCross(pane);
      else loadSlice(pane);
    }
    onPlaneChange();
  }
  function allPanes() { for (const pane of panes) loadSlice(pane); }

  for (const pane of panes) {
    const { image } = pane;
    let windowing = null;
    image.addEventListener('contextmenu', (e) => e.preventDefault());
    image.addEventListener('pointerdown', (e) => {
      if (e.button !== 2 && !e.ctrlKey) return;
      image.setPointerCapture(e.pointerId);
      const current = windowCW || triple(pane.image.dataset.window);
      windowing = { x: e.clientX, y: e.clientY, cw: current };
    });
    image.addEventListener('pointermove', (e) => {
      if (!windowing) return;
      const perPixel = Math.max(1, windowing.cw[1] / 200);
      windowCW = [Math.round(windowing.cw[0] - (e.clientY - windowing.y) * perPixel),
        Math.max(1, Math.round(windowing.cw[1] + (e.clientX - windowing.x) * perPixel))];
      windowSelect.value = 'custom';
      allPanes();
    });
    const endWindowing = () => { windowing = null; };
    image.addEventListener('pointerup', endWindowing);
    image.addEventListener('pointercancel', endWindowing);
    image.addEventListener('click', (e) => {
      if (!pane.geometry || e.ctrlKey) return;
      const r = image.getBoundingClientRect();
      const g = pane.geometry;
      const column = ((e.clientX - r.left) / r.width) * g.width - 0.5, row = ((e.clientY - r.top) / r.height) * g.height - 0.5;
      point = [0, 1, 2].map((a) => g.origin[a] + column * g.pixel * g.right[a] + row * g.pixel * g.down[a]);
      drawCross(pane);
      pointMoved(pane);
    });
    image.addEventListener('wheel', (e) => {
      e.preventDefault();
      const g = pane.geometry;
      if (!g || !point) return;
      const step = Math.sign(e.deltaY) * Math.max(g.pixel, thickness > 0 ? thickness / 2 : 0) * 2;
      point = [0, 1, 2].map((a) => point[a] + step * g.normal[a]);
      loadSlice(pane);
      pointMoved(pane);
    }, { passive: false });
  }

  function drawCross(pane) {
    const g = pane.geometry;
    const { cross, image } = pane;
    if (!g || !point) return;
    cross.width = image.clientWidth;
    cross.height = image.clientHeight;
    const d = minus(point, g.origin);
    const column = dot(d, g.right) / g.pixel, row = dot(d, g.down) / g.pixel;
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

  function sliceQuery(pane) {
    const q = new URLSearchParams({ plane: pane.plane });
    if (pane.plane === 'oblique') q.set('normal', obliqueNormal(tilt.ap, tilt.lr).map((v) => v.toFixed(5)).join(','));
    if (point) q.set('through', fixed(point));
    if (windowCW) q.set('window', windowCW.join(','));
    if (thickness > 0) { q.set('thickness_mm', String(thickness)); q.set('mode', mode); }
    return q;
  }

  // One request per pane in flight; a change meanwhile fetches once more afterwards.
  async function loadSlice(pane) {
    if (pane.inFlight) { pane.again = true; return; }
    pane.inFlight = true;
    try {
      const response = await authFetch(`/api/series/${encodeURIComponent(uid)}/slice?${sliceQuery(pane)}`);
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        pane.image.dataset.state = 'error';
        pane.label.textContent = `${pane.plane}: ${body.error || `error ${response.status}`}`;
        return;
      }
      const h = (name) => response.headers.get(name);
      const blob = await response.blob();
      const bitmap = await createImageBitmap(blob);
      pane.geometry = { origin: triple(h('X-Slice-Origin')), right: triple(h('X-Slice-Right')), down: triple(h('X-Slice-Down')),
        normal: triple(h('X-Slice-Normal')), pixel: Number(h('X-Slice-Pixel-Spacing')), width: bitmap.width, height: bitmap.height };
      bitmap.close();
      if (pane.url) URL.revokeObjectURL(pane.url);
      pane.url = URL.createObjectURL(blob);
      pane.image.src = pane.url;
      await pane.image.decode().catch(() => {});
      const slab = thickness > 0 ? ` · ${thickness} mm ${mode}` : '';
      Object.assign(pane.image.dataset, { state: 'drawn', position: h('X-Slice-Position'), window: h('X-Slice-Window'),
        normal: h('X-Slice-Normal'), slab: thickness > 0 ? `${thickness},${mode}` : '' });
      pane.label.textContent = `${pane.plane} ${Number(h('X-Slice-Position')).toFixed(1)} mm${slab} · ${(h('X-Orientation-Letters') || '').replaceAll(',', ' ')}`;
      windowValue.textContent = `C ${triple(h('X-Slice-Window')).map(Math.round).join(' W ')}`;
      drawCross(pane);
      learnExtent();
    } catch (e) {
      pane.image.dataset.state = 'error';
      pane.label.textContent = `${pane.plane}: ${e.message}`;
    } finally {
      pane.inFlight = false;
      if (pane.again) { pane.again = false; loadSlice(pane); }
    }
  }

  // The volume's extent along each patient axis, from the first orthogonal slices' geometry.
  function learnExtent() {
    const orthogonal = panes.filter((p) => ORTHOGONAL.includes(p.plane));
    if (extent || orthogonal.some((p) => !p.geometry)) return;
    const box = [[Infinity, -Infinity], [Infinity, -Infinity], [Infinity, -Infinity]];
    for (const { geometry: g } of orthogonal)
      for (const [c, r] of [[0, 0], [g.width - 1, 0], [0, g.height - 1], [g.width - 1, g.height - 1]])
        for (let a = 0; a < 3; ++a) {
          if (Math.abs(g.normal[a]) > 0.99) continue;  // the slice's own position says nothing of the extent
          const v = g.origin[a] + c * g.pixel * g.right[a] + r * g.pixel * g.down[a];
          box[a] = [Math.min(box[a][0], v), Math.max(box[a][1], v)];
        }
    extent = box;
    if (!point) point = box.map(([a, b]) => (a + b) / 2);
    for (const p of panes) drawCross(p);
    onExtent(extent);
  }

  windowSelect.addEventListener('change', () => {
    windowCW = windowSelect.value ? triple(windowSelect.value) : null;
    allPanes();
  });
  thicknessInput.addEventListener('change', () => {
    thickness = Math.max(0, Math.min(100, Number(thicknessInput.value) || 0));
    allPanes();
  });
  modeSelect.addEventListener('change', () => { mode = modeSelect.value; if (thickness > 0) allPanes(); });
  const tilted = () => {
    tilt = { ap: Number(tiltAp.value), lr: Number(tiltLr.value) };
    loadSlice(panes[3]);
    onPlaneChange();
  };
  tiltAp.addEventListener('input', tilted);
  tiltLr.addEventListener('input', tilted);

  const element = el('div', { class: 'mpr-block' },
    el('div', { class: 'controls' },
      el('label', {}, 'Window ', windowSelect), windowValue,
      el('label', {}, 'Slab ', thicknessInput, ' mm '), modeSelect),
    el('div', { class: 'mpr' }, panes.map((p) => el('figure', {}, el('div', { class: 'pane' }, p.image, p.cross), p.label))),
    el('div', { class: 'controls oblique' }, 'Oblique tilt: ', el('label', {}, 'A→P ', tiltAp), el('label', {}, 'R→L ', tiltLr)),
    el('p', { class: 'muted', text: 'Click a point: the other planes go there. Wheel: next slice. Right-drag or ctrl-drag: window (left-right width, up-down level).' }));
  allPanes();
  return {
    element,
    // The oblique plane through the crosshair point, for cutting the 3D view; null before the first slices.
    obliquePlane: () => (point ? { point: [...point], normal: obliqueNormal(tilt.ap, tilt.lr) } : null),
  };
}
