// PixelCNN exports in the browser (onnxruntime-web): cached sampling with the step graphs,
// completion, and likelihood scoring with model.onnx. The loop, the RNG and the draw rule
// are those of docs/onnx-interface.md (reference: scripts/sample_onnxruntime.py), so a seed
// gives the images `sample --backend ort` gives.

// The backend is chosen by the URL (?backend=webgpu, ?threads=N) because it decides which
// build of onnxruntime-web to load: the plain WebAssembly build runs these graphs 2-3x
// faster than the WebGPU-capable build (asyncify) does on its own WebAssembly provider.
const params = new URLSearchParams(location.search);
const backend = params.get('backend') === 'webgpu' && navigator.gpu ? 'webgpu' : 'wasm';
const ort = await import(backend === 'webgpu' ? './ort/ort.webgpu.min.mjs' : './ort/ort.wasm.min.mjs').catch((e) => {
  document.getElementById('status').textContent = `error: onnxruntime-web did not load (${e.message}): serve the page with scripts/serve-web.sh`;
  document.body.dataset.state = 'error';
  throw e;
});
if (params.has('threads')) ort.env.wasm.numThreads = Number(params.get('threads'));

// The shipped exports and the test set each was trained on.
const PRESETS = {
  'mnist-gated': { dir: 'models/pretrained/mnist-gated/', testSet: 'mnist' },
  'mnist-gated-small': { dir: 'models/pretrained/mnist-gated-small/', testSet: 'mnist' },
  'mnist-class': { dir: 'models/pretrained/mnist-class/', testSet: 'mnist' },
  'fashion-gated': { dir: 'models/pretrained/fashion-gated/', testSet: 'fashion' },
};
// IDX test sets as scripts/fetch-data.sh stores them (raw or gzipped).
const TEST_SETS = { mnist: 'data/mnist/t10k', fashion: 'data/fashion-mnist/t10k' };

// ---------------------------------------------------------------------------------------
// ONNX metadata. onnxruntime-web has no metadata API, so the ModelProto's top-level
// fields are walked here: metadata_props is field 14, a StringStringEntryProto with
// key = 1 and value = 2. Everything else (the graph, field 7, included) is skipped by its
// wire type; no protobuf library is needed.

function varint(bytes, pos) {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= bytes.length) throw new Error('truncated ONNX file');
    const b = bytes[pos++];
    value += (b & 0x7f) * scale; // exact for lengths and tags below 2^53
    if (b < 0x80) return [value, pos];
    scale *= 128;
  }
}

// Calls visit(field, bytes) for each length-delimited field of one protobuf message.
function fields(bytes, visit) {
  let pos = 0;
  while (pos < bytes.length) {
    let tag;
    [tag, pos] = varint(bytes, pos);
    const wire = tag % 8;
    if (wire === 0) [, pos] = varint(bytes, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let len;
      [len, pos] = varint(bytes, pos);
      if (pos + len > bytes.length) throw new Error('truncated ONNX file');
      visit(Math.floor(tag / 8), bytes.subarray(pos, pos + len));
      pos += len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

export function onnxMetadata(bytes) {
  const text = new TextDecoder();
  const props = {};
  fields(bytes, (field, entry) => {
    if (field !== 14) return;
    const kv = {};
    fields(entry, (f, s) => { kv[f] = text.decode(s); });
    props[kv[1]] = kv[2];
  });
  return props;
}

// ---------------------------------------------------------------------------------------
// The project's RNG (models/core/src/rng.rs). SplitMix64 needs exact 64-bit wrapping
// arithmetic, so it runs on BigInt; everything after it is float64, as in Rust, and JS
// numbers are float64, so no Math.fround is needed anywhere: the only float32 values are
// the logits, and a Float32Array element read into a number is exactly Rust's `l as f64`.

const U64 = (x) => BigInt.asUintN(64, x);

export class SplitMix64 {
  constructor(seed) { this.state = U64(seed); }
  nextU64() {
    this.state = U64(this.state + 0x9e3779b97f4a7c15n);
    let z = this.state;
    z = U64((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = U64((z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }
  // u in [0, 1) with 53 random bits: (next >> 11) * 2^-53, both steps exact in float64
  nextF64() { return Number(this.nextU64() >> 11n) * 2 ** -53; }
}

// Image k of a request seeded with `seed` starts its stream at seed + k * 0xD1B54A32D192ED03 (mod 2^64).
export const imageSeed = (seed, k) => U64(BigInt(seed) + BigInt(k) * 0xd1b54a32d192ed03n);

// The inverse CDF of softmax(logits / T): the smallest v with p_0 + ... + p_v > u * sum(p),
// p = exp((logit - max) / T) in float64, summed in index order (the order fixes the
// rounding, so every implementation sees the same boundaries); the last value if rounding
// leaves none. `logits` holds `levels` values from `offset`.
export function inverseCdf(logits, offset, levels, temperature, u) {
  let max = -Infinity;
  for (let k = 0; k < levels; k++) {
    const l = logits[offset + k];
    if (Number.isNaN(l)) max = NaN;
    else if (l > max) max = l;
  }
  if (!Number.isFinite(max)) throw new Error('the model produced non-finite logits (NaN or +inf, or all -inf)');
  const p = new Float64Array(levels);
  let total = 0;
  for (let k = 0; k < levels; k++) {
    p[k] = Math.exp((logits[offset + k] - max) / temperature);
    total += p[k];
  }
  const target = u * total;
  let acc = 0;
  for (let k = 0; k < levels; k++) {
    acc += p[k];
    if (acc > target) return k;
  }
  return levels - 1;
}

// ---------------------------------------------------------------------------------------
// Loading an export: graph files, names and shapes come from the `pixelcnn.contract`
// metadata, the image size and conditioning from `pixelcnn.spec`.

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

export async function loadModel(dir) {
  dir = dir.endsWith('/') ? dir : `${dir}/`;
  const entry = await fetchBytes(`${dir}model.onnx`);
  const meta = onnxMetadata(entry);
  if (!meta['pixelcnn.contract'] || !meta['pixelcnn.spec']) throw new Error(`${dir}model.onnx has no pixelcnn metadata: not an export of this project`);
  const contract = JSON.parse(meta['pixelcnn.contract']);
  const spec = JSON.parse(meta['pixelcnn.spec']);
  if (contract.format !== 1) throw new Error(`contract format ${contract.format} is not supported (expected 1)`);
  const options = { executionProviders: [backend], graphOptimizationLevel: 'all' };
  const sessions = {};
  for (const [role, g] of Object.entries(contract.graphs)) {
    if (role === 'encoder') continue; // auto-encoder reconstructions are not offered here
    const bytes = g.file === 'model.onnx' ? entry : await fetchBytes(dir + g.file);
    // weights kept beside the graph (ONNX external data): onnxruntime-web fetches them
    const externalData = (g.external_data ?? []).map((f) => ({ path: f, data: dir + f }));
    sessions[role] = await ort.InferenceSession.create(bytes, externalData.length ? { ...options, externalData } : options);
  }
  const threads = backend === 'wasm' ? ort.env.wasm.numThreads : null; // settled by the first session
  const m = { dir, spec, contract, sessions, C: spec.channels, H: spec.height, W: spec.width, backend, threads };
  if (sessions.step_pixel) {
    const logits = output(m, 'step_pixel', 'logits');
    m.levels = logits.shape[logits.shape.length - 1];
    for (const [role, name] of [['step_pixel', 'row'], ['step_pixel', 'col'], ['step_pixel', 'v_ctx'], ['step_row', 'row']]) input(m, role, name);
    output(m, 'step_row', 'v_ctx');
  }
  return m;
}

const input = (m, role, name) => lookup(m, role, 'inputs', name);
const output = (m, role, name) => lookup(m, role, 'outputs', name);
function lookup(m, role, side, name) {
  const t = m.contract.graphs[role]?.[side].find((x) => x.name === name);
  if (!t) throw new Error(`the contract's ${role} graph has no ${side.slice(0, -1)} \`${name}\``);
  return t;
}
const hasInput = (m, role, name) => m.contract.graphs[role].inputs.some((t) => t.name === name);
const dims = (t, n) => t.shape.map((d) => (typeof d === 'string' ? n : d)); // "batch" -> n

// The conditioning inputs of one graph for n images: `label` (class models) and
// `row_index` (spatial conditioning); vector conditioning needs vectors this page lacks.
function condFeeds(m, role, n, label, rowIndex) {
  const feeds = {};
  for (const t of m.contract.graphs[role].inputs) {
    if (t.name === 'label') {
      if (label === null || label === undefined) throw new Error('class-conditional model: pick a label');
      feeds.label = new ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(label)), dims(t, n));
    } else if (t.name === 'row_index') {
      feeds.row_index = new ort.Tensor('int64', BigInt64Array.of(BigInt(rowIndex)), []);
    } else if (t.name === 'cond') {
      throw new Error('this model is conditioned on vectors: use the Rust `sample --cond`; the page covers none/class');
    }
  }
  return feeds;
}

// State inputs start as zeros of the contract's shape ("batch" = n).
function zeroStates(m, role, prefix, n) {
  const states = {};
  for (const t of m.contract.graphs[role].inputs) {
    if (!t.name.startsWith(prefix)) continue;
    const shape = dims(t, n);
    states[t.name] = new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  }
  return states;
}

// present_X outputs become the next call's past_X inputs.
function carry(outputs, prefix) {
  const states = {};
  for (const [name, value] of Object.entries(outputs)) {
    if (name.startsWith(prefix)) states[`past_${name.slice('present_'.length)}`] = value;
  }
  return states;
}

// ---------------------------------------------------------------------------------------
// The cached loop of docs/onnx-interface.md. For each row i: past_h.* restart at zero;
// for each column j and colour c, step_pixel gives the logits of sub-pixel (c, i, j) and
// choose() picks its value, written into `row`; the present_h.* of the LAST colour's call
// become past_h.* (nothing at column j depends on the last colour, so that state is
// complete). After the row, step_row folds it into the vertical stack's state
// (present_v.* -> past_v.*) and gives v_ctx, the vertical context of the next row.
// Rows above `start` are copied from `given` ([n, C, H, W]) and run only through step_row:
// they consume no draws. Returns the images [n, C, H, W].
export async function drive(m, { n, label = null, given = null, start = 0, choose, onPixel = () => {} }) {
  const { C, H, W } = m;
  const { step_row: rowGraph, step_pixel: pixelGraph } = m.sessions;
  if (!pixelGraph) throw new Error('this export has no step graphs (only Gated PixelCNNs and auto-encoders have them)');
  const images = new Uint8Array(n * C * H * W);
  const rowShape = dims(input(m, 'step_pixel', 'row'), n); // [n, C, W]
  const row = new Uint8Array(n * C * W);
  let pastV = zeroStates(m, 'step_row', 'past_v.', n);
  let vCtx = zeroStates(m, 'step_pixel', 'v_ctx', n).v_ctx;
  for (let i = 0; i < H; i++) {
    row.fill(0);
    if (i < start) {
      for (let b = 0; b < n; b++) for (let c = 0; c < C; c++) for (let j = 0; j < W; j++) {
        row[(b * C + c) * W + j] = given[((b * C + c) * H + i) * W + j];
      }
    } else {
      let pastH = zeroStates(m, 'step_pixel', 'past_h.', n);
      const cond = condFeeds(m, 'step_pixel', n, label, i);
      for (let j = 0; j < W; j++) {
        const col = new ort.Tensor('int64', BigInt64Array.of(BigInt(j)), []);
        for (let c = 0; c < C; c++) {
          const out = await pixelGraph.run({
            row: new ort.Tensor('uint8', row, rowShape), col, v_ctx: vCtx, ...pastH, ...cond,
          });
          const values = choose(i, j, c, out.logits.data); // logits [n, C, levels]
          for (let b = 0; b < n; b++) row[(b * C + c) * W + j] = values[b];
          if (c === C - 1) pastH = carry(out, 'present_h.');
        }
        for (let b = 0; b < n; b++) for (let c = 0; c < C; c++) images[((b * C + c) * H + i) * W + j] = row[(b * C + c) * W + j];
        await onPixel(images, i, j);
      }
    }
    for (let b = 0; b < n; b++) for (let c = 0; c < C; c++) images.set(row.subarray((b * C + c) * W, (b * C + c + 1) * W), ((b * C + c) * H + i) * W);
    if (i + 1 < H) { // the last row's state would never be read
      const out = await rowGraph.run({ row: new ort.Tensor('uint8', row, rowShape), ...pastV, ...condFeeds(m, 'step_row', n, label, i) });
      vCtx = out.v_ctx;
      pastV = carry(out, 'present_v.');
    }
  }
  return images;
}

// Samples n images (image k seeded with imageSeed(seed, k)); with `given` and `rows`,
// completes the top `rows` rows of the image `given` ([C, H, W]), as `sample --complete`.
export async function sample(m, { n, seed, temperature, label = null, given = null, rows = 0, onPixel }) {
  if (!(Number.isFinite(temperature) && temperature > 0)) throw new Error(`temperature must be a finite number > 0, got ${temperature}`);
  const rngs = Array.from({ length: n }, (_, k) => new SplitMix64(imageSeed(seed, k)));
  const { C, levels } = m;
  const choose = (i, j, c, logits) => rngs.map((rng, b) => inverseCdf(logits, (b * C + c) * levels, levels, temperature, rng.nextF64()));
  let prefix = null;
  if (given) {
    if (rows > m.H) throw new Error(`${rows} rows exceed the image height ${m.H}`);
    prefix = new Uint8Array(n * given.length);
    for (let b = 0; b < n; b++) prefix.set(given, b * given.length);
  }
  return drive(m, { n, label, given: prefix, start: given ? rows : 0, choose, onPixel });
}

// bits/dim of one image [C, H, W] from model.onnx's `bits_per_dim` output. For a
// class-conditional model the image is scored under every label in one batch, and Bayes'
// rule with a uniform prior gives p(label | x) = softmax over labels of log p(x | label),
// where log p(x | label) = -bits_per_dim * D * ln 2 nats (D = C*H*W sub-pixels).
export async function score(m, image) {
  const classes = m.spec.conditioning?.kind === 'class' ? m.spec.conditioning.classes : 0;
  const n = Math.max(classes, 1);
  const batch = new Uint8Array(n * image.length);
  for (let b = 0; b < n; b++) batch.set(image, b * image.length);
  const feeds = { image: new ort.Tensor('uint8', batch, dims(input(m, 'model', 'image'), n)) };
  for (const t of m.contract.graphs.model.inputs) {
    if (t.name === 'label') feeds.label = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, k) => BigInt(k)), dims(t, n));
    else if (t.name !== 'image') throw new Error(`model.onnx needs \`${t.name}\`, which this page cannot provide`);
  }
  output(m, 'model', 'bits_per_dim');
  const bitsPerDim = Array.from((await m.sessions.model.run(feeds, ['bits_per_dim'])).bits_per_dim.data);
  if (!classes) return { bitsPerDim };
  const D = m.C * m.H * m.W;
  const logp = bitsPerDim.map((bpd) => -bpd * D * Math.LN2);
  const top = Math.max(...logp);
  const w = logp.map((l) => Math.exp(l - top));
  const sum = w.reduce((a, b) => a + b, 0);
  return { bitsPerDim, posterior: w.map((x) => x / sum) };
}

// ---------------------------------------------------------------------------------------
// Test images: IDX files (raw or gzip) from data/.

async function fetchIdx(base) {
  let bytes = null;
  for (const url of [base, `${base}.gz`]) {
    const r = await fetch(url);
    if (r.ok) { bytes = new Uint8Array(await r.arrayBuffer()); break; }
  }
  if (!bytes) throw new Error(`${base}: not found (run scripts/fetch-data.sh)`);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  const magic = v.getUint32(0);
  if (magic === 0x803) return { n: v.getUint32(4), rows: v.getUint32(8), cols: v.getUint32(12), data: bytes.subarray(16) };
  if (magic === 0x801) return { n: v.getUint32(4), data: bytes.subarray(8) };
  throw new Error(`${base}: not an IDX file (magic ${magic.toString(16)})`);
}

const testSets = {};
async function testImage(name, index) {
  testSets[name] ??= Promise.all([fetchIdx(`${TEST_SETS[name]}-images-idx3-ubyte`), fetchIdx(`${TEST_SETS[name]}-labels-idx1-ubyte`)]);
  const [images, labels] = await testSets[name];
  if (!(index >= 0 && index < images.n)) throw new Error(`test image ${index} is outside 0..${images.n - 1}`);
  const size = images.rows * images.cols;
  return { pixels: images.data.slice(index * size, (index + 1) * size), rows: images.rows, cols: images.cols, label: labels.data[index] };
}

// ---------------------------------------------------------------------------------------
// The page.

const $ = (id) => document.getElementById(id);
const state = { model: null, input: null, last: null, lastScore: null };
window.pixelcnn = state; // read by scripts/test-web.sh's browser driver

// Draws images [n, C, H, W] as a grid with 1-pixel gaps; CSS scales it up.
function paintGrid(canvas, images, n, { C, H, W }) {
  const cols = Math.min(n, 8);
  const gridRows = Math.ceil(n / cols);
  const width = cols * (W + 1) - 1;
  const height = gridRows * (H + 1) - 1;
  if (canvas.width !== width || canvas.height !== height) {
    Object.assign(canvas, { width, height });
    const scale = Math.max(1, Math.min(4, Math.floor(900 / width)));
    canvas.style.width = `${width * scale}px`;
  }
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(width, height);
  for (let b = 0; b < n; b++) {
    const x0 = (b % cols) * (W + 1);
    const y0 = Math.floor(b / cols) * (H + 1);
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
      const at = ((y0 + i) * width + x0 + j) * 4;
      for (let k = 0; k < 3; k++) img.data[at + k] = images[((b * C + (C === 3 ? k : 0)) * H + i) * W + j];
      img.data[at + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

// Yields to the browser (a message task, no timer clamping) so the grid repaints while sampling.
const channel = new MessageChannel();
const nextTask = () => new Promise((resolve) => { channel.port1.onmessage = resolve; channel.port2.postMessage(0); });

function progressPainter(canvas, n) {
  let last = 0;
  return async (images, i, j) => {
    const now = performance.now();
    if (now - last < 40 && !(i === state.model.H - 1 && j === state.model.W - 1)) return;
    last = now;
    paintGrid(canvas, images, n, state.model);
    await nextTask();
  };
}

function setStatus(text, s) {
  $('status').textContent = text;
  document.body.dataset.state = s;
}

// Runs one action with the page marked busy; data-runs counts finished actions.
function action(fn) {
  return async () => {
    setStatus('working…', 'busy');
    for (const b of document.querySelectorAll('button')) b.disabled = true;
    try {
      setStatus(await fn(), 'idle');
    } catch (e) {
      console.error(e);
      setStatus(`error: ${e.message ?? e}`, 'error');
    } finally {
      for (const b of document.querySelectorAll('button')) b.disabled = false;
      document.body.dataset.runs = Number(document.body.dataset.runs) + 1;
    }
  };
}

function requestFromForm() {
  const m = state.model;
  if (!m) throw new Error('load a model first');
  const seedText = $('seed').value.trim();
  if (!/^\d+$/.test(seedText) || BigInt(seedText) >= 2n ** 64n) throw new Error('seed: an integer in 0..2^64-1');
  const n = Number($('batch').value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error('batch size: 1..256');
  const temperature = Number($('temperature').value);
  const label = m.spec.conditioning?.kind === 'class' ? Number($('label').value) : null;
  return { n, seed: BigInt(seedText), temperature, label };
}

async function runSampling(canvas, extra, what) {
  const m = state.model;
  const req = { ...requestFromForm(), ...extra };
  paintGrid(canvas, new Uint8Array(req.n * m.C * m.H * m.W), req.n, m);
  const t0 = performance.now();
  const images = await sample(m, { ...req, onPixel: progressPainter(canvas, req.n) });
  const seconds = (performance.now() - t0) / 1000;
  paintGrid(canvas, images, req.n, m);
  state.last = { kind: what, n: req.n, seed: String(req.seed), label: req.label, rows: extra.rows ?? 0, images: Array.from(images), seconds, imagesPerSecond: req.n / seconds };
  return `${what}: ${req.n} images in ${seconds.toFixed(2)} s (${(req.n / seconds).toFixed(2)} images/s, ${m.backend})`;
}

function showInput(pixels, info) {
  const m = state.model;
  state.input = pixels;
  $('inputinfo').textContent = info;
  paintGrid($('input'), pixels, 1, m);
  $('input').style.width = '112px';
}

// The drawing pad, scaled down to the model's size (smoothed, as a scanner would).
function padToInput() {
  const m = state.model;
  const small = new OffscreenCanvas(m.W, m.H);
  const ctx = small.getContext('2d');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage($('pad'), 0, 0, m.W, m.H);
  return imageToPlanes(ctx.getImageData(0, 0, m.W, m.H).data, false);
}

// RGBA pixels -> [C, H, W] uint8 (gray: the mean of R, G and B).
function imageToPlanes(rgba, invert) {
  const { C, H, W } = state.model;
  const out = new Uint8Array(C * H * W);
  for (let p = 0; p < H * W; p++) {
    for (let c = 0; c < C; c++) {
      const v = C === 3 ? rgba[p * 4 + c] : Math.round((rgba[p * 4] + rgba[p * 4 + 1] + rgba[p * 4 + 2]) / 3);
      out[c * H * W + p] = invert ? 255 - v : v;
    }
  }
  return out;
}

function setupPad() {
  const pad = $('pad');
  const ctx = pad.getContext('2d');
  const clear = () => { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, pad.width, pad.height); };
  clear();
  let drawing = false;
  const at = (e) => { const r = pad.getBoundingClientRect(); return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height]; };
  pad.addEventListener('pointerdown', (e) => {
    drawing = true;
    pad.setPointerCapture(e.pointerId);
    Object.assign(ctx, { strokeStyle: '#fff', lineWidth: 18, lineCap: 'round', lineJoin: 'round' });
    ctx.beginPath();
    ctx.moveTo(...at(e));
    ctx.lineTo(...at(e));
    ctx.stroke();
  });
  pad.addEventListener('pointermove', (e) => { if (drawing) { ctx.lineTo(...at(e)); ctx.stroke(); } });
  pad.addEventListener('pointerup', () => {
    drawing = false;
    if (state.model) showInput(padToInput(), '(drawn)');
  });
  $('clear').addEventListener('click', () => { clear(); if (state.model) showInput(padToInput(), '(drawn)'); });
}

function describe(m) {
  const s = m.spec;
  const cond = s.conditioning?.kind ?? 'none';
  const graphs = Object.keys(m.sessions).join(', ');
  const threads = m.threads ? `, ${m.threads} thread(s)` : '';
  return `${s.arch}, ${s.layers} layers x ${s.hidden}, ${s.channels}x${s.height}x${s.width}, conditioning ${cond}${cond === 'class' ? ` (${s.conditioning.classes} labels)` : ''}; graphs: ${graphs}; ${m.backend}${threads}`;
}

async function loadSelected() {
  const name = $('model').value;
  const dir = name === 'custom' ? $('custom').value.trim() : PRESETS[name].dir;
  for (const s of Object.values(state.model?.sessions ?? {})) await s.release();
  state.model = null;
  const m = await loadModel(dir);
  state.model = m;
  $('modelinfo').textContent = describe(m);
  const classes = m.spec.conditioning?.kind === 'class' ? m.spec.conditioning.classes : 0;
  $('labellabel').classList.toggle('hidden', !classes);
  $('label').replaceChildren(...Array.from({ length: classes }, (_, k) => new Option(String(k), String(k))));
  $('rows').max = m.H;
  if (PRESETS[name]) $('testset').value = PRESETS[name].testSet;
  $('scoreout').replaceChildren();
  showInput(padToInput(), '(drawn)');
  return `loaded ${dir}`;
}

async function useTestImage() {
  const m = state.model;
  if (!m) throw new Error('load a model first');
  const index = Number($('testindex').value);
  const t = await testImage($('testset').value, index);
  if (m.C !== 1 || t.rows !== m.H || t.cols !== m.W) throw new Error(`test images are 1x${t.rows}x${t.cols}, the model expects ${m.C}x${m.H}x${m.W}`);
  showInput(t.pixels, `(${$('testset').value} test #${index}, label ${t.label})`);
  return `test image ${index} (label ${t.label})`;
}

async function useUpload() {
  const m = state.model;
  const file = $('upload').files[0];
  if (!m || !file) throw new Error('load a model and pick a file');
  const bitmap = await createImageBitmap(file);
  const small = new OffscreenCanvas(m.W, m.H);
  const ctx = small.getContext('2d');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, 0, 0, m.W, m.H);
  showInput(imageToPlanes(ctx.getImageData(0, 0, m.W, m.H).data, $('invert').checked), `(${file.name})`);
  return `using ${file.name}`;
}

async function scoreInput() {
  const m = state.model;
  if (!m || !state.input) throw new Error('load a model first');
  const s = await score(m, state.input);
  state.lastScore = s;
  const out = $('scoreout');
  if (!s.posterior) {
    out.textContent = `${s.bitsPerDim[0].toFixed(4)} bits/dim (${(s.bitsPerDim[0] * m.C * m.H * m.W).toFixed(1)} bits for the image)`;
    return `scored: ${s.bitsPerDim[0].toFixed(4)} bits/dim`;
  }
  const best = s.posterior.indexOf(Math.max(...s.posterior));
  const grid = document.createElement('div');
  grid.className = 'bars';
  for (const h of ['label', 'p(label | image)', '', 'bits/dim']) grid.append(Object.assign(document.createElement('b'), { textContent: h }));
  s.posterior.forEach((p, k) => {
    const bar = Object.assign(document.createElement('div'), { className: k === best ? 'bar best' : 'bar' });
    bar.style.width = `${Math.max(p * 100, 0.5)}%`;
    const track = document.createElement('div');
    track.append(bar);
    const cell = (text) => Object.assign(document.createElement('span'), { textContent: text });
    grid.append(cell(String(k)), track, cell(p.toFixed(3)), cell(s.bitsPerDim[k].toFixed(4)));
  });
  out.replaceChildren(grid);
  return `scored: most likely label ${best} (p = ${s.posterior[best].toFixed(3)})`;
}

async function init() {
  $('ortinfo').textContent = `onnxruntime-web ${ort.env.versions?.web ?? ''}`;
  const select = $('model');
  for (const name of [...Object.keys(PRESETS), 'custom']) select.append(new Option(name, name));
  select.addEventListener('change', () => $('customlabel').classList.toggle('hidden', select.value !== 'custom'));
  if (params.has('model')) {
    const preset = params.get('model');
    if (PRESETS[preset]) select.value = preset;
    else { select.value = 'custom'; $('custom').value = preset; }
    select.dispatchEvent(new Event('change'));
  }
  if (!navigator.gpu) $('backend').querySelector('[value=webgpu]').disabled = true;
  $('backend').value = backend;
  $('backend').addEventListener('change', () => { // reload with the other build, same model
    const q = new URLSearchParams(location.search);
    q.set('backend', $('backend').value);
    q.set('model', select.value === 'custom' ? $('custom').value : select.value);
    location.search = q;
  });
  setupPad();
  $('load').addEventListener('click', action(loadSelected));
  $('sample').addEventListener('click', action(() => runSampling($('samples'), {}, 'sampled')));
  $('complete').addEventListener('click', action(() => {
    if (!state.input) throw new Error('no input image');
    const rows = Number($('rows').value);
    if (!Number.isInteger(rows) || rows < 0 || rows > state.model.H) throw new Error(`rows: 0..${state.model.H}`);
    return runSampling($('completions'), { given: state.input, rows }, 'completed');
  }));
  $('usetest').addEventListener('click', action(useTestImage));
  $('upload').addEventListener('change', action(useUpload));
  $('score').addEventListener('click', action(scoreInput));
  await action(loadSelected)();
}

init();
