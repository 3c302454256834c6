#!/usr/bin/env bash
# Full-forward images/s on burn (flex CPU backend), ONNX Runtime and tract for the same model
# and batch, side by side in one run. Default model: mnist-gated-large.yaml (15 layers,
# 64 hidden, 28x28x1) after one training step (speed does not depend on the weights);
# RUN=RUN_DIR to use a trained run. BATCH (default 16), REPS (default 5).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"; cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
scripts/fetch-data.sh 2>/dev/null; scripts/setup-ort.sh >/dev/null
cargo build -q --workspace --bins --examples
run="${RUN:-}"
work="bench-out/forward"; rm -rf "$work"; mkdir -p "$work"
if [ -z "$run" ]; then
  run="$work/run"
  "$bin"/trainer fit --config models/configs/mnist-gated-large.yaml --max-steps 1 --out "$run" >/dev/null
fi
"$bin"/exporter --to onnx --run "$run" --out "$work/onnx" >/dev/null
"$bin"/examples/bench_forward --run "$run" --onnx "$work/onnx" --batch "${BATCH:-16}" --reps "${REPS:-5}"
