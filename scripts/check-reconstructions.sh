#!/usr/bin/env bash
# Judges an MNIST auto-encoder (decoder p(x | h), encoder h = e(x)) by an independent
# classifier: the first N test images are encoded with encoder.onnx (Python ONNX Runtime),
# one image is sampled for each code with the cached graphs (`sample --cond`, ONNX
# Runtime), and scripts/digit_classifier.py reports the share of reconstructions
# classified as the digit they were encoded from. Also writes a grid of originals (odd
# rows) above their reconstructions (even rows).
#   scripts/check-reconstructions.sh MODEL_DIR [N=100] [GRID.png]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"; cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
model="$1"; n="${2:-100}"; grid="${3:-}"
py="$(scripts/setup-python.sh)"
scripts/fetch-data.sh >/dev/null 2>&1 || scripts/fetch-data.sh
[ -f data/digit-classifier.npz ] || "$py" scripts/digit_classifier.py train >/dev/null
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$py" - "$model" "$n" "$tmp" <<'PY'
import sys, numpy as np, onnxruntime as ort
model, n, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
raw = open("data/mnist/t10k-images-idx3-ubyte", "rb").read()
x = np.frombuffer(raw[16:16 + n * 784], np.uint8).reshape(n, 1, 28, 28)
labels = np.frombuffer(open("data/mnist/t10k-labels-idx1-ubyte", "rb").read()[8:8 + n], np.uint8)
enc = ort.InferenceSession(f"{model}/encoder.onnx", providers=["CPUExecutionProvider"])
h = np.concatenate([enc.run(None, {"image": x[k:k + 1]})[0] for k in range(n)]).astype(np.float32)
np.save(f"{tmp}/x.npy", x); np.save(f"{tmp}/h.npy", h); np.save(f"{tmp}/labels.npy", labels.astype(np.int64))
PY
"$bin"/sample --model "$model" --backend ort --n "$n" --cond "$tmp/h.npy" --seed 1 --out "$tmp/rec.npy" >/dev/null
if [ -n "$grid" ]; then
  "$py" - "$tmp" "$grid" <<'PY'
import sys, numpy as np
from PIL import Image
tmp, grid = sys.argv[1], sys.argv[2]
x, r = np.load(f"{tmp}/x.npy"), np.load(f"{tmp}/rec.npy")
cols, cell = 10, 29
pairs = min(5, len(x) // cols)
g = np.full((2 * pairs * cell + 1, cols * cell + 1), 40, np.uint8)
for p in range(pairs):
    for j in range(cols):
        k = p * cols + j
        for row, img in ((2 * p, x[k, 0]), (2 * p + 1, r[k, 0])):
            g[1 + row * cell:1 + row * cell + 28, 1 + j * cell:1 + j * cell + 28] = img
Image.fromarray(g).resize((g.shape[1] * 4, g.shape[0] * 4), Image.NEAREST).save(grid)
PY
fi
"$py" scripts/digit_classifier.py check --images "$tmp/rec.npy" --labels "$tmp/labels.npy" --min "${MIN:-0}"
