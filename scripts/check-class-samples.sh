#!/usr/bin/env bash
# Judges a class-conditional MNIST model by an independent classifier: samples N images per
# label with the cached graphs (ONNX Runtime), then scripts/digit_classifier.py (a numpy MLP
# trained on MNIST, ~98% test accuracy, or with CHECKER=cnn a small CNN, ~99%; trained and
# cached on first use; CHECKER=bayes: the model's own argmax_y p(x | y), not independent)
# reports the share classified as the label they were sampled for.
# Also writes a grid with one row per label.
#   [CHECKER=mlp|cnn|bayes|mlp,cnn,bayes] scripts/check-class-samples.sh MODEL_DIR [N_PER_LABEL=20] [GRID.png]
set -euo pipefail
model="$1"; n="${2:-20}"; grid="${3:-}"
source "$(dirname "$0")/lib/digits.sh"
for k in 0 1 2 3 4 5 6 7 8 9; do
  "$bin"/sample --model "$model" --backend ort --n "$n" --label "$k" --seed $((k + 1)) --temperature "${TEMP:-1}" --out "$tmp/$k.npy" >/dev/null
done
"$py" - "$tmp" "$n" <<'PY'
import sys, numpy as np
tmp, n = sys.argv[1], int(sys.argv[2])
imgs = np.concatenate([np.load(f"{tmp}/{k}.npy") for k in range(10)])
np.save(f"{tmp}/all.npy", imgs)
np.save(f"{tmp}/labels.npy", np.repeat(np.arange(10), n))
np.save(f"{tmp}/grid.npy", imgs.reshape(10, n, 1, 28, 28)[:, :10])  # rows: labels 0..9
PY
[ -z "$grid" ] || "$py" scripts/digit_classifier.py grid --images "$tmp/grid.npy" --out "$grid"
judge "$tmp/all.npy" "$tmp/labels.npy"
