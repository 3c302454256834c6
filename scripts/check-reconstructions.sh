#!/usr/bin/env bash
# Judges an MNIST auto-encoder (decoder p(x | h), encoder h = e(x)) by an independent
# classifier: the first N test images are encoded with encoder.onnx (Python ONNX Runtime),
# one image is sampled for each code with the cached graphs (`sample --cond`, ONNX
# Runtime), and scripts/digit_classifier.py (CHECKER as in check-class-samples.sh) reports
# the share of reconstructions classified as the digit they were encoded from. Also writes
# a grid of originals (odd rows) above their reconstructions (even rows). SAMPLES=K draws K
# reconstructions per code (seeds 1..K), judges all K*N, and reports as `right_of_repeats`
# how many codes get their digit 0, 1, ..., K times: misses that every sample of a code
# shares come from the code, the rest from sampling.
#   [CHECKER=mlp|cnn|mlp,cnn] [SAMPLES=K] scripts/check-reconstructions.sh MODEL_DIR [N=100] [GRID.png]
set -euo pipefail
model="$1"; n="${2:-100}"; grid="${3:-}"
source "$(dirname "$0")/lib/digits.sh"
"$py" - "$model" "$n" "$tmp" <<'PY'
import sys, numpy as np, onnxruntime as ort
sys.path.insert(0, "scripts")
from idxfile import read_idx
model, n, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
x = read_idx("data/mnist/t10k-images-idx3-ubyte")[:n].reshape(-1, 1, 28, 28)
labels = read_idx("data/mnist/t10k-labels-idx1-ubyte")[:n]
if len(x) < n:
    sys.exit(f"data/mnist/t10k-images-idx3-ubyte: {len(x)} test images, {n} asked for")
enc = ort.InferenceSession(f"{model}/encoder.onnx", providers=["CPUExecutionProvider"])
h = np.concatenate([enc.run(None, {"image": x[k:k + 1]})[0] for k in range(n)]).astype(np.float32)
np.save(f"{tmp}/x.npy", x); np.save(f"{tmp}/h.npy", h); np.save(f"{tmp}/labels.npy", labels.astype(np.int64))
PY
k="${SAMPLES:-1}"
for seed in $(seq 1 "$k"); do
  "$bin"/sample --model "$model" --backend ort --n "$n" --cond "$tmp/h.npy" --seed "$seed" --out "$tmp/rec-$seed.npy" >/dev/null
done
if [ -n "$grid" ]; then
  "$py" - "$tmp" <<'PY'
import sys, numpy as np
tmp = sys.argv[1]
x, r = np.load(f"{tmp}/x.npy"), np.load(f"{tmp}/rec-1.npy")
p = min(5, len(x) // 10)  # pairs of rows of 10: originals above their reconstructions
pair = lambda a: a[:p * 10].reshape(p, 10, 1, 28, 28)
np.save(f"{tmp}/grid.npy", np.stack([pair(x), pair(r)], 1).reshape(2 * p, 10, 1, 28, 28))
PY
  "$py" scripts/digit_classifier.py grid --images "$tmp/grid.npy" --out "$grid"
fi
# K blocks of N samples, with the labels repeated K times
"$py" - "$tmp" "$k" <<'PY'
import sys, numpy as np
tmp, k = sys.argv[1], int(sys.argv[2])
np.save(f"{tmp}/all.npy", np.concatenate([np.load(f"{tmp}/rec-{s}.npy") for s in range(1, k + 1)]))
np.save(f"{tmp}/all-labels.npy", np.tile(np.load(f"{tmp}/labels.npy"), k))
PY
judge "$tmp/all.npy" "$tmp/all-labels.npy" "$k"
