#!/usr/bin/env bash
# The whole test suite, from a fresh clone: fetches data, ONNX Runtime and the Python
# packages (idempotent), runs every Rust test, then the Python drop-in checks on a
# freshly trained and exported tiny model.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
scripts/fetch-data.sh
scripts/setup-ort.sh >/dev/null
py="$(scripts/setup-python.sh)"

cargo build --workspace --bins
cargo test --workspace

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
echo "== Python drop-in checks (onnx.checker, onnxruntime $("$py" -c 'import onnxruntime as o; print(o.__version__)'))"
for cfg in tiny-gated tiny-class; do
  "$bin"/trainer fit --config "models/configs/$cfg.yaml" --out "$tmp/$cfg" >/dev/null
  "$bin"/exporter --to onnx --run "$tmp/$cfg" --out "$tmp/$cfg-onnx" --reference 8 >/dev/null
  "$py" scripts/check_onnx.py "$tmp/$cfg-onnx"
  if [ -f "$tmp/$cfg-onnx/step_pixel.onnx" ]; then
    "$py" scripts/sample_onnxruntime.py "$tmp/$cfg-onnx" --check data/mnist/t10k-images-idx3-ubyte
    # the same seed gives the same images in Python and in the Rust sampler
    label=""; [ "$cfg" = tiny-class ] && label="--label 3"
    "$py" scripts/sample_onnxruntime.py "$tmp/$cfg-onnx" --n 4 --seed 9 $label --out "$tmp/py.npy" >/dev/null
    "$bin"/sample --model "$tmp/$cfg-onnx" --backend ort --n 4 --seed 9 $label --out "$tmp/rs.npy" >/dev/null
    "$py" -c "import numpy as np, sys; a, b = np.load('$tmp/py.npy'), np.load('$tmp/rs.npy'); sys.exit(0 if (a == b).all() else 'Python and Rust samples differ'); " && echo "python sampler == rust sampler (seed 9): ok"
  fi
done
echo "python: 6 passed, 0 failed"
