#!/usr/bin/env bash
# Sampling benchmark: images/s of naive vs cached sampling on ONNX Runtime and tract,
# batch 1 and 16, for a 15-layer, 64-hidden 28x28x1 Gated PixelCNN
# (models/configs/mnist-gated-large.yaml). Speed does not depend on the weights, so the
# model is trained for one step only unless MODEL=OUT_DIR points at an export.
#   scripts/bench-sample.sh            # prints a table and one JSON line per row
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"; cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
scripts/fetch-data.sh 2>/dev/null; scripts/setup-ort.sh >/dev/null
cargo build -q --workspace --bins --examples
model="${MODEL:-}"
if [ -z "$model" ]; then
  work="bench-out/sample"; rm -rf "$work"; mkdir -p "$work"
  "$bin"/trainer fit --config models/configs/mnist-gated-large.yaml --max-steps 1 --out "$work/run" >/dev/null
  "$bin"/exporter --to onnx --run "$work/run" --out "$work/onnx" >/dev/null
  model="$work/onnx"
fi
"$bin"/examples/bench_sample --model "$model" --batches "${BATCHES:-1,16}" --naive-steps "${NAIVE_STEPS:-8}"
