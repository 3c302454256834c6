// Drives the page (web/) in a real headless Chromium through its own controls and compares
// what it produces with the Rust tools' outputs prepared by scripts/test-web.sh.
//   node web/test/browser.mjs URL WORK OUT
// URL: the served page; WORK: the test's folder (served as /exports/; reference .npy and
// eval .json files); OUT: where the screenshot goes. Parameters come from the environment
// (SEED, TEMPERATURE, N, LABEL, ROWS, SPEED_MODEL, SPEED_SEED), set by scripts/test-web.sh. The test
// image is MNIST's first, the one `trainer eval --limit 1` scores.
// Prints one "ok: NAME" or "FAILED: NAME" line per check, "info:" lines for figures, and
// "browser: P passed, F failed"; exits 1 on any failure.
import { readFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, work, out] = process.argv.slice(2);
const env = (k) => {
  if (process.env[k] === undefined) throw new Error(`${k} is not set (run scripts/test-web.sh)`);
  return process.env[k];
};
const SEED = env('SEED');
const TEMPERATURE = env('TEMPERATURE');
const N = Number(env('N'));
const LABEL = Number(env('LABEL'));
const ROWS = Number(env('ROWS'));
const TEST_INDEX = 0;

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok' : 'FAILED'}: ${name} (${detail})`);
}

// .npy (uint8, C order) -> { shape, data }
function readNpy(path) {
  const b = readFileSync(path);
  if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not .npy`);
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + headerLen);
  if (!/'descr':\s*'\|u1'/.test(header) || /'fortran_order':\s*True/.test(header)) throw new Error(`${path}: expected C-order uint8, got ${header}`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  return { shape, data: new Uint8Array(b.subarray(start + headerLen)) };
}

// images [n, C, H, W]: how many are identical, and the first differing sub-pixel
function compareImages(got, want, n) {
  const size = want.length / n;
  let same = 0;
  let firstDiff = null;
  for (let k = 0; k < n; k++) {
    let eq = true;
    for (let p = 0; p < size; p++) {
      if (got[k * size + p] !== want[k * size + p]) {
        eq = false;
        firstDiff ??= `image ${k}, sub-pixel ${p}: ${got[k * size + p]} vs ${want[k * size + p]}`;
        break;
      }
    }
    if (eq) same++;
  }
  return { same, firstDiff, lengthOk: got.length === want.length };
}

const userDataDir = mkdtempSync(join(tmpdir(), 'pixelcnn-chromium-'));
// a fresh profile directory: playwright passes it as --user-data-dir
const browser = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1100, height: 1000 },
});
const page = browser.pages()[0] ?? await browser.newPage();
page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') console.log(`page console: ${m.text()}`); });

const runs = () => page.evaluate(() => Number(document.body.dataset.runs));
async function settle(before) {
  await page.waitForFunction((r) => Number(document.body.dataset.runs) > r, before, { timeout: 600_000, polling: 100 });
  const [st, text] = await page.evaluate(() => [document.body.dataset.state, document.getElementById('status').textContent]);
  if (st === 'error') throw new Error(text);
  return text;
}
// Clicks a button and waits for its action to finish; throws the page's error message.
async function click(id) {
  const before = await runs();
  await page.click(`#${id}`);
  return settle(before);
}
async function open(model, query = '') {
  await page.goto(`${url}?model=${encodeURIComponent(model)}${query}`);
  await settle(0); // the initial load
}
async function fill(values) {
  for (const [id, v] of Object.entries(values)) {
    if (await page.$eval(`#${id}`, (e) => e.tagName === 'SELECT')) await page.selectOption(`#${id}`, String(v));
    else await page.fill(`#${id}`, String(v));
  }
}
const last = () => page.evaluate(() => window.pixelcnn.last);

// runs one named check; an exception is that check's failure, not the end of the run
async function attempt(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, e.message.split('\n')[0]);
  }
}

try {
  const gpu = await page.evaluate(async () => {
    if (!navigator.gpu) return 'navigator.gpu absent';
    const adapter = await navigator.gpu.requestAdapter();
    return adapter ? `adapter ${adapter.info?.vendor ?? ''} ${adapter.info?.architecture ?? ''}` : 'navigator.gpu present, no adapter';
  });
  const version = await page.evaluate(() => navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0]);
  console.log(`info: WebGPU in this headless Chromium (${version}): ${gpu}`);

  for (const model of ['tiny-gated', 'tiny-class']) {
    const cls = model === 'tiny-class';
    await open(`exports/${model}/`);
    await fill({ seed: SEED, temperature: TEMPERATURE, batch: N, ...(cls ? { label: LABEL } : {}) });

    await attempt(`sample ${model} == Rust sampler`, async () => {
      await click('sample');
      const got = await last();
      const want = readNpy(join(work, `sample-${model}.npy`));
      const c = compareImages(got.images, want.data, N);
      check(`sample ${model} == Rust sampler`, c.lengthOk && c.same === N,
        `seed ${SEED}, temperature ${TEMPERATURE}${cls ? `, label ${LABEL}` : ''}: ${c.same}/${N} images identical${c.firstDiff ? `; first difference ${c.firstDiff}` : ''}`);
    });

    await attempt(`complete ${model} keeps the given rows`, async () => {
      await fill({ testset: 'mnist', testindex: TEST_INDEX, rows: ROWS });
      await click('usetest');
      await click('complete');
      const got = await last();
      const given = await page.evaluate(() => Array.from(window.pixelcnn.input));
      const keep = ROWS * 28;
      let kept = 0;
      for (let k = 0; k < N; k++) if (given.slice(0, keep).every((v, p) => got.images[k * given.length + p] === v)) kept++;
      check(`complete ${model} keeps the given rows`, kept === N, `${kept}/${N} images keep the top ${ROWS} rows of test image ${TEST_INDEX}`);
      const want = readNpy(join(work, `complete-${model}.npy`));
      const c = compareImages(got.images, want.data, N);
      check(`complete ${model} == Rust sample --complete`, c.lengthOk && c.same === N,
        `${c.same}/${N} images identical${c.firstDiff ? `; first difference ${c.firstDiff}` : ''}`);
    });

    await attempt(`score ${model} == trainer eval`, async () => {
      await fill({ testset: 'mnist', testindex: TEST_INDEX });
      await click('usetest');
      await click('score');
      const s = await page.evaluate(() => window.pixelcnn.lastScore);
      const want = JSON.parse(readFileSync(join(work, `eval-${model}.json`), 'utf8')).bits_per_dim;
      const label = cls ? Number(readFileSync(join(work, 'test-label.txt'), 'utf8')) : 0;
      const got = s.bitsPerDim[label];
      const diff = Math.abs(got - want);
      let detail = `test image ${TEST_INDEX}: page ${got.toFixed(6)}, trainer eval ${want.toFixed(6)}, |diff| ${diff.toExponential(2)}`;
      let ok = diff <= 1e-4;
      if (cls) {
        const sum = s.posterior.reduce((a, b) => a + b, 0);
        ok &&= s.posterior.length === 10 && Math.abs(sum - 1) < 1e-9;
        detail += ` (true label ${label}); p(label | image) over ${s.posterior.length} labels sums to ${sum.toFixed(12)}`;
      }
      check(`score ${model} == trainer eval`, ok, detail);
    });
  }

  // Speed on the shipped model, through the same button (median of 3 runs; the native
  // figures are printed by scripts/test-web.sh), with onnxruntime-web's default thread count
  // and with 2 threads. The batch-16 images are also compared with the native ones.
  const speedModel = env('SPEED_MODEL');
  for (const threads of ['', '&threads=2']) {
    await open(speedModel, threads);
    for (const batch of [1, 16]) {
      await fill({ seed: env('SPEED_SEED'), temperature: 1, batch });
      const runs = [];
      for (let r = 0; r < 3; r++) {
        await click('sample');
        runs.push(await last());
      }
      const median = [...runs].sort((a, b) => a.imagesPerSecond - b.imagesPerSecond)[1];
      const how = await page.evaluate(() => `${window.pixelcnn.model.backend}, ${window.pixelcnn.model.threads} thread(s)${crossOriginIsolated ? ', cross-origin isolated' : ''}`);
      console.log(`info: browser ${speedModel} batch ${batch}: ${median.imagesPerSecond.toFixed(2)} images/s (median of 3 runs: ${runs.map((r) => r.imagesPerSecond.toFixed(2)).join(', ')}; ${batch} per run; ${how})`);
      if (batch === 16 && !threads) {
        const c = compareImages(median.images, readNpy(join(work, 'speed-native.npy')).data, 16);
        console.log(`info: browser vs native ORT on ${speedModel}, seed ${env('SPEED_SEED')}: ${c.same}/16 images identical${c.firstDiff ? ` (first difference ${c.firstDiff})` : ''}`);
      }
    }
  }

  // The same test image as a PNG file through the upload control: the same model input.
  await open('mnist-class');
  await attempt('uploaded PNG == test image', async () => {
    await fill({ testset: 'mnist', testindex: TEST_INDEX });
    await click('usetest');
    const want = await page.evaluate(() => Array.from(window.pixelcnn.input));
    const before = await runs();
    await page.setInputFiles('#upload', join(work, 'test0.png'));
    await settle(before);
    const got = await page.evaluate(() => Array.from(window.pixelcnn.input));
    const same = got.filter((v, p) => v === want[p]).length;
    check('uploaded PNG == test image', same === want.length && got.length === want.length, `${same}/${want.length} input pixels equal`);
  });
  // A digit drawn with the mouse on the class-conditional model: the pad feeds the input
  // and the score is a distribution over the labels. Then the screenshot.
  await attempt('drawn digit is scored', async () => {
    await fill({ seed: 1, batch: 8, label: 7, testindex: TEST_INDEX, rows: ROWS });
    await click('sample');
    await click('usetest');
    await click('complete');
    const box = await page.locator('#pad').boundingBox();
    const pt = (x, y) => [box.x + box.width * x, box.y + box.height * y];
    await page.mouse.move(...pt(0.3, 0.2));
    await page.mouse.down();
    for (const [x, y] of [[0.7, 0.2], [0.45, 0.85]]) await page.mouse.move(...pt(x, y), { steps: 12 });
    await page.mouse.up();
    const lit = await page.evaluate(() => window.pixelcnn.input.filter((v) => v > 127).length);
    await click('score');
    const s = await page.evaluate(() => window.pixelcnn.lastScore);
    const sum = s.posterior.reduce((a, b) => a + b, 0);
    check('drawn digit is scored', lit > 20 && s.bitsPerDim.every(Number.isFinite) && Math.abs(sum - 1) < 1e-9,
      `${lit} input pixels above 127 after a drawn 7; bits/dim ${Math.min(...s.bitsPerDim).toFixed(3)}..${Math.max(...s.bitsPerDim).toFixed(3)} over the labels`);
  });
  mkdirSync(out, { recursive: true });
  await page.screenshot({ path: join(out, 'page.png'), fullPage: true });
  console.log(`info: screenshot ${join(out, 'page.png')}`);
} catch (e) {
  check('browser run', false, e.message.split('\n')[0]);
} finally {
  await browser.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
