#!/usr/bin/env bash
# Sampling benchmark: images/s of naive vs cached sampling on ONNX Runtime and tract at
# batch 1, 16, 64 and 256 for a 15-layer, 64-hidden 28x28x1 Gated PixelCNN
# (models/configs/mnist-gated-large.yaml), each row with the share of the full forward's
# arithmetic rate the cached loop reaches; then, in the same run, PyTorch eager's naive
# and cached samplers on the same architecture (scripts/reference_torch.py, its cached
# sampler checked against its own full forward under teacher forcing) and our
# cached / PyTorch cached ratios. Speed does not depend on the weights, so the model is
# trained for one step only unless MODEL=OUT_DIR points at an export.
#   scripts/bench-sample.sh                 # BATCHES=1,16 for a shorter run; NO_TORCH=1 skips the peer
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"; cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
scripts/fetch-data.sh 2>/dev/null; scripts/setup-ort.sh >/dev/null
[ -n "${NO_TORCH:-}" ] || torch_py="$(scripts/setup-torch.sh)"
cargo build -q --workspace --bins --examples
batches="${BATCHES:-1,16,64,256}"
model="${MODEL:-}"
cfg=models/configs/mnist-gated-large.yaml
if [ -z "$model" ]; then
  work="bench-out/sample"; rm -rf "$work"; mkdir -p "$work"
  "$bin"/trainer fit --config "$cfg" --max-steps 1 --out "$work/run" >/dev/null
  "$bin"/exporter --to onnx --run "$work/run" --out "$work/onnx" >/dev/null
  model="$work/onnx"
fi
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
"$bin"/examples/bench_sample --model "$model" --batches "$batches" --naive-steps "${NAIVE_STEPS:-8}" | tee "$out/ours.txt"
[ -z "${NO_TORCH:-}" ] || exit 0
echo "== PyTorch eager peer (same architecture, same machine): naive and cached samplers"
"$torch_py" scripts/reference_torch.py --config "$cfg" --steps 0 --device cpu --naive-steps 4 \
  --cached-batches "$batches" | tee "$out/torch.txt"
"$torch_py" - "$out/ours.txt" "$out/torch.txt" <<'PY'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
torch = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
cached = {t["batch"]: t["images_per_s"] for t in torch if t["bench"] == "cached-sample"}
print(f"{'backend':<8} {'batch':>5} {'ours cached':>12} {'PyTorch cached':>15} {'ours/PyTorch':>13}")
for o in ours:
    t = cached.get(o["batch"])
    if t:
        print(f"{o['backend']:<8} {o['batch']:>5} {o['cached_images_per_s']:>12.2f} {t:>15.2f} {o['cached_images_per_s'] / t:>12.2f}x")
PY
