#!/usr/bin/env bash
# Training throughput on CPU: images/s (median over the timed steps, the first step
# excluded as warm-up) and peak memory (max RSS) of `trainer fit` for a named config,
# for each backend in BACKENDS, side by side in one run with scripts/reference_torch.py
# (PyTorch eager, installed into .venv-torch by scripts/setup-torch.sh) on the same
# architecture, batch and thread count; prints ours/PyTorch.
#   scripts/bench-train.sh [CONFIG]     (default models/configs/mnist-gated-large.yaml:
#                                        15 layers, 64 hidden, 28x28x1, batch 32)
#   STEPS=6 BACKENDS="cpu candle" THREADS=2 scripts/bench-train.sh
#   NO_TORCH=1 scripts/bench-train.sh   (ours only)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"; cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
cfg="${1:-models/configs/mnist-gated-large.yaml}"
steps="${STEPS:-6}"
threads="${THREADS:-$(nproc)}"
export RAYON_NUM_THREADS="$threads"
scripts/fetch-data.sh 2>/dev/null
cargo build -q -p pixelcnn-trainer --bin trainer
out="bench-out/train"; rm -rf "$out"; mkdir -p "$out"
printf '%-10s %10s %12s %12s\n' backend steps "images/s" "peak MiB"
first=""
for b in ${BACKENDS:-cpu}; do
  # eval_limit/sample_count trimmed so the run measures training steps
  sed -e 's/^eval_limit:.*/eval_limit: 16/' -e 's/^sample_count:.*/sample_count: 0/' "$cfg" > "$out/$b.yaml"
  /usr/bin/time -f '%M' -o "$out/$b.rss" "$bin"/trainer fit --config "$out/$b.yaml" --backend "$b" \
    --max-steps "$steps" --out "$out/$b" >/dev/null 2>"$out/$b.err" || { cat "$out/$b.err" >&2; exit 1; }
  ips=$(python3 -c "
import json,statistics
v=[json.loads(l)['images_per_s'] for l in open('$out/$b/metrics.jsonl')][1:]
print(statistics.median(v))")
  rss=$(( $(cat "$out/$b.rss") / 1024 ))
  printf '%-10s %10s %12.2f %12s\n' "$b" "$steps" "$ips" "$rss"
  echo "{\"bench\":\"train\",\"config\":\"$cfg\",\"backend\":\"$b\",\"steps\":$steps,\"images_per_s\":$ips,\"peak_rss_mib\":$rss}"
  [ -z "$first" ] && first="$ips"
done
if [ -z "${NO_TORCH:-}" ]; then
  torch_py="$(scripts/setup-torch.sh)"
  /usr/bin/time -f '%M' -o "$out/torch.rss" "$torch_py" scripts/reference_torch.py --config "$cfg" \
    --steps "$steps" --device cpu --threads "$threads" --no-sample --ours "$first" > "$out/torch.json"
  cat "$out/torch.json"
  "$torch_py" - "$out/torch.json" "$first" "$(( $(cat "$out/torch.rss") / 1024 ))" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
ours = float(sys.argv[2])
print(f"{'pytorch':<10} {'':>10} {r['images_per_s']:12.2f} {sys.argv[3]:>12}")
print(f"ours/pytorch (training images/s, {r['threads']} threads, batch {r['batch']}): {ours / r['images_per_s']:.2f}x")
PY
fi
