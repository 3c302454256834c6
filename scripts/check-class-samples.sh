#!/usr/bin/env bash
# Judges a class-conditional MNIST model by an independent classifier: samples N images per
# label with the cached graphs (ONNX Runtime), then scripts/digit_classifier.py (a numpy MLP
# trained on MNIST, ~98% test accuracy; trained and cached on first use) reports the share
# classified as the label they were sampled for. Also writes a grid with one row per label.
#   scripts/check-class-samples.sh MODEL_DIR [N_PER_LABEL=20] [GRID.png]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"; cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
model="$1"; n="${2:-20}"; grid="${3:-}"
py="$(scripts/setup-python.sh)"
scripts/fetch-data.sh >/dev/null 2>&1 || scripts/fetch-data.sh
[ -f data/digit-classifier.npz ] || "$py" scripts/digit_classifier.py train >/dev/null
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for k in 0 1 2 3 4 5 6 7 8 9; do
  "$bin"/sample --model "$model" --backend ort --n "$n" --label "$k" --seed $((k + 1)) --temperature "${TEMP:-1}" --out "$tmp/$k.npy" >/dev/null
done
"$py" - "$tmp" "$n" "$grid" <<'PY'
import sys, numpy as np
tmp, n, grid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
imgs = np.concatenate([np.load(f"{tmp}/{k}.npy") for k in range(10)])
np.save(f"{tmp}/all.npy", imgs)
np.save(f"{tmp}/labels.npy", np.repeat(np.arange(10), n))
if grid:  # 10 rows (labels 0..9) of the first 10 samples each, 4x upscaled
    from PIL import Image
    cell, cols = 29, min(10, n)
    g = np.full((10 * cell + 1, cols * cell + 1), 40, np.uint8)
    for k in range(10):
        for j in range(cols):
            g[1 + k * cell:1 + k * cell + 28, 1 + j * cell:1 + j * cell + 28] = imgs[k * n + j, 0]
    Image.fromarray(g).resize((g.shape[1] * 4, g.shape[0] * 4), Image.NEAREST).save(grid)
PY
"$py" scripts/digit_classifier.py check --images "$tmp/all.npy" --labels "$tmp/labels.npy" --min "${MIN:-0}"
