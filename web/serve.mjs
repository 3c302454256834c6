// Static server for the page: node web/serve.mjs [--port 8080] [--host 127.0.0.1] [--mount NAME=DIR]...
//
//   /            web/ (index.html, app.js)
//   /ort/        web/node_modules/onnxruntime-web/dist (the runtime's .mjs and .wasm files)
//   /models/     models/ (the shipped exports in models/pretrained/<name>/)
//   /data/       data/ (MNIST / Fashion-MNIST test sets from scripts/fetch-data.sh)
//   /NAME/       DIR, for every --mount (e.g. an export directory made elsewhere)
//
// It sends the cross-origin isolation headers so that onnxruntime-web may use
// SharedArrayBuffer (WebAssembly threads). Only files under these roots are served.
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = dirname(fileURLToPath(import.meta.url));
const root = resolve(web, '..');
const args = process.argv.slice(2);
let port = 8080;
let host = '127.0.0.1';
const mounts = {
  ort: join(web, 'node_modules', 'onnxruntime-web', 'dist'),
  models: join(root, 'models'),
  data: process.env.PIXELCNN_DATA ? resolve(process.env.PIXELCNN_DATA) : join(root, 'data'),
};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--port') port = Number(args[++i]);
  else if (a === '--host') host = args[++i];
  else if (a === '--mount') {
    const [name, dir] = args[++i].split(/=(.*)/s);
    if (!/^[\w.-]+$/.test(name) || !dir) throw new Error(`--mount NAME=DIR, got ${args[i]}`);
    mounts[name] = resolve(dir);
  } else throw new Error(`unknown argument ${a} (use --port N, --host H, --mount NAME=DIR)`);
}

const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm',
  '.png': 'image/png', '.onnx': 'application/octet-stream', '.map': 'application/json',
};

// URL path -> file path, or null when it falls outside every served root
function locate(urlPath) {
  let parts;
  try {
    parts = decodeURIComponent(urlPath).split('/').filter(Boolean);
  } catch {
    return null; // malformed %-escape
  }
  let base = web;
  if (parts.length && Object.hasOwn(mounts, parts[0])) base = mounts[parts.shift()];
  else if (parts[0] === 'node_modules') return null;
  const file = resolve(base, ...parts);
  if (file !== base && !file.startsWith(base + sep)) return null;
  try {
    const st = statSync(file);
    return st.isDirectory() ? locate(`${urlPath.replace(/\/?$/, '/')}index.html`) : file;
  } catch {
    return null;
  }
}

const server = createServer((req, res) => {
  const file = req.method === 'GET' || req.method === 'HEAD' ? locate(new URL(req.url, 'http://x').pathname) : null;
  const headers = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cache-Control': 'no-cache',
  };
  if (!file) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  const type = types[extname(file)] ?? 'application/octet-stream';
  res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': statSync(file).size });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).on('error', () => res.destroy()).pipe(res);
});
server.listen(port, host, () => {
  // the one line scripts read to find the page
  console.log(`serving http://${host}:${server.address().port}/`);
});
