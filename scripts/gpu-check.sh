#!/usr/bin/env bash
# GPU check, in two halves (the GPU machine has CUDA 13 / driver 580, PyTorch and Python
# onnxruntime (CPU), but no Rust toolchain, no TensorRT and no network):
#
#   scripts/gpu-check.sh bundle DIR   (here, with Rust) builds the CUDA binaries
#       (CUDARC_CUDA_VERSION=13000, --features cuda), and puts them with gzipped MNIST,
#       the configs, the scripts and a 32x32x3 benchmark export into DIR. Carry DIR (it
#       stays under 64 MiB). ONNX Runtime GPU (scripts/setup-ort.sh --gpu, 284 MB) is too
#       big for one carry: split .ort/gpu/*.so* (split -b 60m) and send the parts in
#       consecutive calls, then `cat` them back into DIR/.ort/gpu/ on the machine.
#   scripts/gpu-check.sh run DIR      (there) in under 8 minutes: burn-cuda training on
#       MNIST (images/s, test bits/dim), PyTorch training on the same architecture,
#       ONNX Runtime CUDA vs CPU logits, and naive vs cached sampling on ort-cuda at
#       batch 16 and 256 for 28x28x1 and 32x32x3. One JSON line per figure.
set -euo pipefail
cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n 2,16p "$0"; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ "$cmd" = bundle ]; then
  cd "$root"
  mkdir -p "$dir/bin" "$dir/data/mnist" "$dir/models" "$dir/scripts"
  CUDARC_CUDA_VERSION=13000 cargo build --release --features pixelcnn-trainer/cuda -p pixelcnn-trainer --bin trainer
  cargo build --release -p pixelcnn-exporter -p pixelcnn-runtime --bins --examples
  cp target/release/{trainer,exporter,sample} target/release/examples/{bench_sample,compare_engines} "$dir/bin/"
  for f in data/mnist/*-ubyte; do gzip -c "$f" > "$dir/data/mnist/$(basename "$f").gz"; done
  cp -r models/configs "$dir/models/"
  cp scripts/reference_torch.py scripts/gpu-check.sh "$dir/scripts/"
  target/release/exporter --to onnx --spec models/configs/bench/rgb32-gated.yaml --out "$dir/rgb32-onnx" >/dev/null
  du -sh "$dir"
  exit 0
fi

[ "$cmd" = run ] || { echo "unknown command $cmd: bundle or run" >&2; exit 2; }
cd "$dir"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.ort/gpu/libonnxruntime.so.1.31.1}"
# CUDA 13 / cuDNN 9 libraries of the PyTorch install
nv="$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null || true)"
if [ -n "$nv" ]; then
  export LD_LIBRARY_PATH="$(ls -d "$nv"/nvidia/*/lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}"
fi
steps="${STEPS:-300}"
cfg=models/configs/mnist-gated-large.yaml
sed -e 's/^eval_limit:.*/eval_limit: 2000/' -e 's/^sample_count:.*/sample_count: 0/' -e "s/^checkpoint_every:.*/checkpoint_every: $steps/" "$cfg" > gpu-train.yaml
t0=$(date +%s)
bin/trainer fit --config gpu-train.yaml --backend cuda --max-steps "$steps" --out runs/gpu >/dev/null
python3 - <<PY
import json, statistics
v=[json.loads(l)['images_per_s'] for l in open('runs/gpu/metrics.jsonl')][5:]
e=[json.loads(l) for l in open('runs/gpu/epochs.jsonl')][-1]
print(json.dumps({"figure":"burn-cuda training","config":"$cfg","steps":$steps,"images_per_s":statistics.median(v),"test_bits_per_dim":e["test_bits_per_dim"],"test_images":e["test_images"]}))
PY
python3 scripts/reference_torch.py --config "$cfg" --steps 20 --device cuda \
  --ours "$(python3 -c "import json,statistics;print(statistics.median([json.loads(l)['images_per_s'] for l in open('runs/gpu/metrics.jsonl')][5:]))")"
bin/exporter --to onnx --run runs/gpu --out runs/gpu-onnx >/dev/null
bin/compare_engines --model runs/gpu-onnx --a ort --b ort-cuda --batch 16
for m in runs/gpu-onnx rgb32-onnx; do
  bin/bench_sample --model "$m" --backends ort-cuda --batches 16,256 --naive-steps 8 | grep '^{'
done
echo "{\"figure\":\"wall seconds\",\"seconds\":$(( $(date +%s) - t0 ))}"
