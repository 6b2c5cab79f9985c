// Browser test of the service console: a real `volnode serve`, a study sent with
// storescu, and the pages in a real headless Chromium (playwright-core driving the
// system's browser). The node runs with console.read_requires_token = true, so every
// page reads the API with the console token. Requirements checked:
//   - the dashboard asks once for the token, then lists a received study;
//   - the interactive 3D view opens anterior; dragging to the left turns the patient's
//     left to the viewer; the preset menu, the clip sliders, the MPR crosshair, the
//     window preset and right-drag window, the MIP slab, the oblique pane and the cut
//     of the 3D view at it, and "reset to anterior" work; the launched viewer shows it too;
//   - the viewer of a rendered study plays the spin (the frame changes), the 3D model
//     canvas has drawn non-background pixels, and a DICOM download arrives;
//   - a SeriesDescription of <script>alert(1)</script> shows as text (no dialog, no element);
//   - a page reached under a foreign host name (DNS rebinding) is refused (421);
//   - a signed launch link clicked in a PACS page (another site) opens that study's
//     viewer in a browser without the token, through an HttpOnly SameSite=Strict
//     session cookie that reads nothing else; the console token in a link is refused;
//   - "End all launch sessions" in Settings ends that session at once;
//   - a screenshot of every page is saved under the output folder.
// Everything is bounded in time; the node and the PACS page server are stopped.
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, value, i, all) => {
  if (value.startsWith('--')) pairs.push([value.slice(2), all[i + 1]]);
  return pairs;
}, []));
const VOLNODE = args.volnode && path.resolve(args.volnode);
const DATA = args.data;
const OUT = args.out;
const CHROMIUM = args.chromium || '/usr/bin/chromium';
const TOKEN = 'browser-test-token';
const LAUNCH_SECRET = 'browser-test-launch-secret';
const XSS = '<script>alert(1)</script>';
// rebind.test resolves to this machine, as a DNS rebinding attacker's name would.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--host-resolver-rules=MAP rebind.test 127.0.0.1'];

const started = Date.now();
const log = (...m) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...m);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failures = 0;
function check(ok, what) {
  log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
}

async function until(what, fn, timeoutMs, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'volnode-browser-'));
fs.rmSync(OUT, { recursive: true, force: true });
fs.mkdirSync(OUT, { recursive: true });
let node = null;
let browser = null;
let pacs = null;

async function stopNode() {
  if (!node || node.exitCode !== null) return;
  node.kill('SIGTERM');
  const exited = await Promise.race([new Promise((r) => node.once('exit', () => r(true))), sleep(20000).then(() => false)]);
  if (!exited) node.kill('SIGKILL');
}

// Hard bound: whatever hangs, the node and the browser are stopped.
const watchdog = setTimeout(async () => {
  log('FAIL: the browser test ran out of time (360 s)');
  try { if (browser) await browser.close(); } catch (_) { /* closing anyway */ }
  if (pacs) pacs.close();
  await stopNode();
  process.exit(1);
}, 360000);

async function main() {
  if (!VOLNODE || !fs.existsSync(VOLNODE)) throw new Error(`volnode binary not found: ${VOLNODE}`);
  const source = path.join(DATA, 'ct-chest-transfer-syntaxes', 'implicit_le');
  if (!fs.existsSync(source)) throw new Error(`test data missing: ${source}`);
  const presets = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'presets');

  // A copy of three instances as their own study and series, described with markup.
  const xssDir = path.join(work, 'xss');
  fs.mkdirSync(xssDir);
  const files = fs.readdirSync(source).filter((f) => f.endsWith('.dcm')).sort();
  const stamp = `${Date.now()}`;
  for (const f of files.slice(0, 3)) fs.copyFileSync(path.join(source, f), path.join(xssDir, f));
  execFileSync('dcmodify', ['-nb', '-gin',
    '-m', `(0008,103e)=${XSS}`,
    '-m', `(0020,000d)=1.2.826.0.1.3680043.8.498.1.${stamp}`,
    '-m', `(0020,000e)=1.2.826.0.1.3680043.8.498.2.${stamp}`,
    '-m', '(0010,0020)=XSS-TEST',
    ...files.slice(0, 3).map((f) => path.join(xssDir, f))], { stdio: 'pipe', timeout: 30000 });
  const xssStudy = `1.2.826.0.1.3680043.8.498.1.${stamp}`;

  const dicomPort = await freePort();
  let consolePort = await freePort();
  while (consolePort === dicomPort) consolePort = await freePort();
  const base = `http://127.0.0.1:${consolePort}`;
  const nodeLog = fs.openSync(path.join(OUT, 'node.log'), 'w');
  node = spawn(VOLNODE, ['serve',
    '--set', `dicom.port=${dicomPort}`, '--set', `console.port=${consolePort}`,
    '--set', `storage.dir=${path.join(work, 'var')}`, '--set', 'storage.min_free_mb=1',
    '--set', `log.file=${path.join(OUT, 'volnode.log')}`, '--set', `pipeline.presets_dir=${presets}`,
    '--set', 'completion.quiet_s=2', '--set', `console.token=${TOKEN}`, '--set', `console.launch_secret=${LAUNCH_SECRET}`,
    '--set', 'console.read_requires_token=true'], { cwd: work, stdio: ['ignore', nodeLog, nodeLog] });
  node.on('error', (e) => log(`cannot start volnode: ${e.message}`));
  log(`volnode pid ${node.pid}: DICOM ${dicomPort}, console ${base}`);
  await until('the console', async () => (await fetch(`${base}/api/health`)).ok, 30000, 200);

  const storescu = (dir) => execFileSync('storescu', ['-aec', 'VOLNODE', '+sd', '127.0.0.1', String(dicomPort), dir],
    { stdio: 'pipe', timeout: 120000 });
  storescu(source);
  storescu(xssDir);
  log('studies sent');
  const api = async (p) => {
    const r = await fetch(`${base}${p}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    if (!r.ok) throw new Error(`${p}: ${r.status}`);
    return r.json();
  };
  check((await fetch(`${base}/api/studies`)).status === 401, 'the API refuses reads without the token');
  const studies = await until('both studies in the index', async () => {
    const body = await api('/api/studies');
    return body.studies.length >= 2 ? body.studies : null;
  }, 30000);
  const study = studies.find((s) => s.StudyInstanceUID !== xssStudy).StudyInstanceUID;

  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true, timeout: 60000 });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(30000);
  const dialogs = [];
  let tokenPrompts = 0;
  page.on('dialog', async (d) => {
    if (d.type() === 'prompt' && d.message().includes('Console token')) {
      tokenPrompts += 1;
      await d.accept(TOKEN);
    } else {
      dialogs.push(d.message());
      await d.dismiss();
    }
  });
  page.on('pageerror', (e) => log(`page error: ${e.message}`));
  const shot = (name) => page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });

  // Dashboard: the received study is listed.
  await page.goto(`${base}/`);
  await page.waitForSelector(`#recent-studies-table tr.study-row[data-uid="${study}"]`);
  check(true, 'dashboard lists the received study');
  check(tokenPrompts === 1, `the dashboard asked for the console token once (${tokenPrompts})`);
  await page.waitForSelector('#health h2 .badge');
  await shot('dashboard');

  await page.goto(`${base}/studies?q=XSS-TEST`);
  await page.waitForSelector(`tr.study-row[data-uid="${xssStudy}"]`);
  await shot('studies');

  // Markup in DICOM text stays text.
  await page.goto(`${base}/studies/${encodeURIComponent(xssStudy)}`);
  const cell = await page.waitForSelector('#series-table .series-description');
  check((await cell.textContent()) === XSS, 'SeriesDescription with <script> shows as literal text');
  check((await page.$$('#series-table script')).length === 0, 'no <script> element was created from DICOM text');
  await sleep(500);
  check(dialogs.length === 0, `no alert dialog opened (${dialogs.length})`);
  await shot('study-xss');

  // The rendered study: wait for the results.
  await until('the render of the study', async () => (await api(`/api/studies/${study}/results`)).series.length > 0, 180000, 1000);
  log('study rendered');

  await page.goto(`${base}/view/${encodeURIComponent(study)}`);
  const spin = await page.waitForSelector('#spin-image');
  const frameA = await spin.getAttribute('data-frame');
  await sleep(800);
  const frameB = await spin.getAttribute('data-frame');
  check(frameA !== frameB, `the spin plays (frame ${frameA} -> ${frameB})`);
  await page.click('#spin-play');  // pause
  const paused = await spin.getAttribute('data-frame');
  await sleep(500);
  check(paused === (await spin.getAttribute('data-frame')), 'pause stops the spin');
  await page.fill('#spin-slider', '18');
  check((await spin.getAttribute('data-frame')) === '18', 'the slider selects a frame');

  await page.waitForSelector('#model[data-state="drawn"]', { timeout: 90000 });
  const pixels = await page.evaluate(() => {
    const canvas = document.getElementById('model');
    const copy = document.createElement('canvas');
    copy.width = canvas.width;
    copy.height = canvas.height;
    const ctx = copy.getContext('2d');
    ctx.drawImage(canvas, 0, 0);
    const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
    let drawn = 0;
    for (let i = 0; i < data.length; i += 4) {
      // background 0x101418
      if (Math.abs(data[i] - 0x10) + Math.abs(data[i + 1] - 0x14) + Math.abs(data[i + 2] - 0x18) > 30) drawn += 1;
    }
    return { drawn, total: data.length / 4 };
  });
  check(pixels.drawn > pixels.total * 0.01, `3D model canvas drew ${pixels.drawn} of ${pixels.total} pixels`);
  // Rotate the model with the mouse: the picture changes.
  const box = await (await page.$('#model')).boundingBox();
  const before = await page.evaluate(() => document.getElementById('model').toDataURL());
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 20, { steps: 8 });
  await page.mouse.up();
  await sleep(300);
  check(before !== (await page.evaluate(() => document.getElementById('model').toDataURL())), 'dragging rotates the 3D model');
  const links = await page.$$eval('ul.downloads a', (as) => as.map((a) => a.getAttribute('href')));
  check(links.some((h) => h.includes('/files/dicom/')) && links.some((h) => h.includes('/files/mesh/model.stl')),
    `download links for DICOM objects and the mesh (${links.length})`);
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }),
    page.click('ul.downloads a[href*="/files/dicom/"]')]);
  const downloaded = fs.readFileSync(await download.path());
  check(download.suggestedFilename().endsWith('.dcm') && downloaded.subarray(128, 132).toString() === 'DICM',
    `a DICOM download arrives with the token (${download.suggestedFilename()}, ${downloaded.length} bytes)`);
  await shot('viewer');

  // The interactive 3D view: frames rendered on the node while the hand moves.
  await page.waitForSelector('#view3d[data-state="drawn"]', { timeout: 120000 });
  const view3d = () => page.$eval('#view3d', (i) => ({ ...i.dataset }));
  check((await view3d()).letters === 'R,L,H,F', `the interactive view opens anterior (${(await view3d()).letters})`);
  await (await page.$('#view3d')).scrollIntoViewIfNeeded();
  const area = await (await page.$('#view3d')).boundingBox();
  await page.mouse.move(area.x + area.width * 0.75, area.y + area.height / 2);
  await page.mouse.down();
  await page.mouse.move(area.x + area.width * 0.75 - area.height / 2, area.y + area.height / 2, { steps: 12 });
  await page.mouse.up();
  await page.waitForFunction(() => { const d = document.getElementById('view3d').dataset;
    return d.state === 'drawn' && d.quality === 'full' && Math.abs(Number(d.azimuth) - 90) < 3; }, null, { timeout: 60000 });
  check((await view3d()).letters.startsWith('A,P'),
    `dragging to the left turns the patient's left to the viewer (letters ${(await view3d()).letters})`);
  await shot('viewer3d-left');
  await page.selectOption('#view3d-preset', 'ct-mip');
  await page.waitForFunction(() => { const d = document.getElementById('view3d').dataset;
    return d.state === 'drawn' && d.preset === 'ct-mip'; }, null, { timeout: 60000 });
  check(true, 'the preset menu switches the rendering to ct-mip');
  for (const plane of ['axial', 'coronal', 'sagittal']) await page.waitForSelector(`#mpr-${plane}[data-state="drawn"]`, { timeout: 60000 });
  await page.click('#interactive details summary');  // open the clip box
  const sagittalBefore = await page.getAttribute('#mpr-sagittal', 'data-position');
  await page.$eval('#clip-0-1', (r) => { r.value = String(Number(r.min) + (Number(r.max) - Number(r.min)) * 0.5);
    r.dispatchEvent(new Event('input')); r.dispatchEvent(new Event('change')); });
  await page.waitForFunction(() => { const d = document.getElementById('view3d').dataset;
    return d.state === 'drawn' && d.clip !== '' && d.quality === 'full'; }, null, { timeout: 60000 });
  check(true, `the clip sliders cut the volume (clip ${(await view3d()).clip})`);
  await shot('viewer3d-clipped');
  // MPR: a click in the axial pane moves the sagittal plane there and the crosshair follows.
  await (await page.$('#mpr-axial')).scrollIntoViewIfNeeded();
  const axial = await (await page.$('#mpr-axial')).boundingBox();
  await page.mouse.click(axial.x + axial.width * 0.8, axial.y + axial.height * 0.5);
  await page.waitForFunction((before) => { const d = document.getElementById('mpr-sagittal').dataset;
    return d.state === 'drawn' && d.position !== before; }, sagittalBefore, { timeout: 60000 });
  const sagittalAfter = Number(await page.getAttribute('#mpr-sagittal', 'data-position'));
  check(sagittalAfter > Number(sagittalBefore) + 20,
    `a click on the patient's left in the axial pane moves the sagittal plane to the left (${sagittalBefore} -> ${sagittalAfter} mm)`);
  // Window: a preset for every pane, then right-drag to widen it.
  await page.selectOption('#mpr-window', '-600,1500');
  await page.waitForFunction(() => ['axial', 'coronal', 'sagittal'].every((p) =>
    document.getElementById(`mpr-${p}`).dataset.window === '-600.0,1500.0'), null, { timeout: 60000 });
  check(true, 'the lung window preset applies to every slice pane');
  const coronal = await (await page.$('#mpr-coronal')).boundingBox();
  await page.mouse.move(coronal.x + coronal.width * 0.3, coronal.y + coronal.height * 0.5);
  await page.mouse.down({ button: 'right' });
  await page.mouse.move(coronal.x + coronal.width * 0.7, coronal.y + coronal.height * 0.5, { steps: 6 });
  await page.mouse.up({ button: 'right' });
  await page.waitForFunction(() => { const d = document.getElementById('mpr-axial').dataset;
    return d.state === 'drawn' && Number(d.window.split(',')[1]) > 1500; }, null, { timeout: 60000 });
  check(true, `right-drag to the right widens the window (${await page.getAttribute('#mpr-axial', 'data-window')})`);
  // A 10 mm MIP slab, and the oblique plane tilted further.
  await page.fill('#mpr-thickness', '10');
  await page.$eval('#mpr-thickness', (i) => i.dispatchEvent(new Event('change')));
  await page.selectOption('#mpr-mode', 'mip');
  await page.waitForFunction(() => ['axial', 'coronal', 'sagittal', 'oblique'].every((p) => {
    const d = document.getElementById(`mpr-${p}`).dataset; return d.state === 'drawn' && d.slab === '10,mip'; }),
  null, { timeout: 60000 });
  check(true, 'a 10 mm MIP slab applies to every pane');
  const normalBefore = await page.getAttribute('#mpr-oblique', 'data-normal');
  await page.$eval('#mpr-oblique-ap', (r) => { r.value = '60'; r.dispatchEvent(new Event('input')); });
  await page.waitForFunction((before) => { const d = document.getElementById('mpr-oblique').dataset;
    return d.state === 'drawn' && d.normal !== before; }, normalBefore, { timeout: 60000 });
  const obliqueNormal = (await page.getAttribute('#mpr-oblique', 'data-normal')).split(',').map(Number);
  check(Math.abs(obliqueNormal[1] - Math.sin(Math.PI / 3)) < 0.01,
    `the oblique pane follows its tilt (normal ${obliqueNormal.join(', ')})`);
  await page.selectOption('#view3d-cut', '1');
  await page.waitForFunction(() => { const d = document.getElementById('view3d').dataset;
    return d.state === 'drawn' && d.clipPlane !== '' && d.quality === 'full'; }, null, { timeout: 60000 });
  check(true, `the 3D view is cut at the oblique plane (${(await view3d()).clipPlane})`);
  await shot('viewer3d-oblique-cut');
  await page.click('#view3d-reset');
  await page.waitForFunction(() => { const d = document.getElementById('view3d').dataset;
    return d.state === 'drawn' && d.azimuth === '0.0' && d.quality === 'full'; }, null, { timeout: 60000 });
  check((await view3d()).letters === 'R,L,H,F', 'reset to anterior');
  await shot('viewer3d');

  await page.goto(`${base}/studies/${encodeURIComponent(study)}`);
  await page.waitForFunction(() => (document.querySelector('#series-table img.thumb') || {}).src?.startsWith('blob:'));
  check(true, 'the study page shows the thumbnail read with the token');

  await page.goto(`${base}/jobs`);
  await page.waitForSelector('#jobs-table tr.job-row');
  await shot('jobs');
  await page.goto(`${base}/settings`);
  await page.waitForSelector('#config');
  check((await page.textContent('#reads')).includes('needs the console token'), 'settings say that reads need the token');
  await shot('settings');
  check(tokenPrompts === 1, `the token was asked for once in this tab (${tokenPrompts})`);

  // DNS rebinding: a page under another name that resolves to this machine is refused.
  const rebound = await page.goto(`http://rebind.test:${consolePort}/api/studies`);
  check(rebound.status() === 421, `a foreign Host is refused (${rebound.status()})`);

  // A PACS page on another site links to the viewer with a signed launch token; the
  // browser that follows it has no console token.
  const expires = Math.floor(Date.now() / 1000) + 300;
  const signed = `v1.${expires}.${crypto.createHmac('sha256', LAUNCH_SECRET).update(`v1|${study}|${expires}`).digest('hex')}`;
  const launchUrl = `${base}/launch?studyUID=${encodeURIComponent(study)}&token=${signed}`;
  pacs = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>PACS</title><a id="open3d" href="${launchUrl}">3D</a>`);
  });
  const pacsPort = await new Promise((resolve) => pacs.listen(0, '127.0.0.1', () => resolve(pacs.address().port)));
  const reader = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const launched = await reader.newPage();
  launched.setDefaultTimeout(30000);
  const readerDialogs = [];
  launched.on('dialog', async (d) => { readerDialogs.push(d.message()); await d.dismiss(); });
  launched.on('pageerror', (e) => log(`page error: ${e.message}`));
  await launched.goto(`http://localhost:${pacsPort}/`);
  await Promise.all([launched.waitForURL(`${base}/view/${study}`), launched.click('#open3d')]);
  check(new URL(launched.url()).pathname === `/view/${study}`, 'the signed launch link lands on the viewer');
  await launched.waitForFunction(() => (document.getElementById('spin-image') || {}).src?.startsWith('blob:'));
  const spinning = await launched.$('#spin-image');
  const launchFrame = await spinning.getAttribute('data-frame');
  await sleep(800);
  check(launchFrame !== (await spinning.getAttribute('data-frame')), 'the launched viewer plays the spin');
  await launched.waitForSelector('#view3d[data-state="drawn"]', { timeout: 120000 });
  check(true, 'the launched viewer shows the interactive 3D view through its launch session');
  await launched.waitForSelector('#model[data-state="drawn"]', { timeout: 90000 });
  check(true, 'the launched viewer draws the 3D model');
  const cookies = await reader.cookies(base);
  const session = cookies.find((c) => c.name === 'volnode_launch');
  check(session && session.httpOnly && session.sameSite === 'Strict',
    `the launch session cookie is HttpOnly and SameSite=Strict (${JSON.stringify(session && { httpOnly: session.httpOnly, sameSite: session.sameSite })})`);
  const statuses = await launched.evaluate(async (other) => Promise.all(
    ['/api/studies', `/api/studies/${encodeURIComponent(other)}/results`, '/api/dashboard']
      .map((p) => fetch(p).then((r) => r.status))), xssStudy);
  check(statuses.every((s) => s === 403), `the session reads nothing but its study (${statuses.join(', ')})`);
  check(readerDialogs.length === 0, `the launched viewer asked for nothing (${readerDialogs.length})`);
  await launched.screenshot({ path: path.join(OUT, 'launch.png'), fullPage: true });

  // The operator ends every launch session from Settings: the launched browser reads nothing more.
  await page.goto(`${base}/settings`);
  await page.waitForSelector('#config');
  await page.click('text=End all launch sessions');
  await page.waitForFunction(() => /session\(s\) ended/.test(document.body.textContent));
  const afterRevoke = await launched.evaluate(
    async (s) => (await fetch(`/api/studies/${encodeURIComponent(s)}/results`)).status, study);
  check(afterRevoke === 401, `after "End all launch sessions" the launched browser reads nothing (${afterRevoke})`);

  const refused = await launched.goto(`${base}/launch?studyUID=${encodeURIComponent(study)}&token=${TOKEN}`);
  check(refused.status() === 401, `the console token in a launch link is refused (${refused.status()})`);
  await reader.close();
  check(dialogs.length === 0, 'no other dialog opened on any page');
}

let code = 0;
try {
  await main();
} catch (e) {
  log(`FAIL: ${e.message}`);
  code = 1;
} finally {
  try { if (browser) await browser.close(); } catch (_) { /* already gone */ }
  if (pacs) pacs.close();
  await stopNode();
  clearTimeout(watchdog);
  fs.rmSync(work, { recursive: true, force: true });
}
if (failures) code = 1;
log(code === 0 ? `PASS (screenshots in ${OUT})` : `FAILED (${failures} check(s); output in ${OUT})`);
process.exit(code);
