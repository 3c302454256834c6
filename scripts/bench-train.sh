#!/usr/bin/env bash
# Training throughput on CPU: images/s (median over the timed steps, the first step
# excluded as warm-up) and peak memory (max RSS) of `trainer fit` for a named config,
# for each backend in BACKENDS, side by side in one run with scripts/reference_torch.py
# (PyTorch eager, installed into .venv-torch by scripts/setup-torch.sh) on the same
# architecture, batch and thread count, alternating over ROUNDS rounds (default 3);
# prints the median of the per-round ours/PyTorch ratios.
#   scripts/bench-train.sh [CONFIG]     (default models/configs/mnist-gated-large.yaml:
#                                        15 layers, 64 hidden, 28x28x1, batch 32)
#   STEPS=6 ROUNDS=5 BACKENDS="cpu ndarray" THREADS=2 scripts/bench-train.sh
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
rounds="${ROUNDS:-3}"
[ -n "${NO_TORCH:-}" ] || torch_py="$(scripts/setup-torch.sh)"
# ours and PyTorch alternate, ROUNDS times: this host's speed drifts by tens of percent
# over minutes, so each round's ratio compares runs seconds apart, and the summary is
# the median over rounds
printf '%-6s %-10s %10s %12s %12s\n' round runtime steps "images/s" "peak MiB"
for r in $(seq "$rounds"); do
  first=""
  for b in ${BACKENDS:-cpu}; do
    # eval_limit/sample_count trimmed so the run measures training steps
    sed -e 's/^eval_limit:.*/eval_limit: 16/' -e 's/^sample_count:.*/sample_count: 0/' "$cfg" > "$out/$b.yaml"
    rm -rf "$out/$b"
    /usr/bin/time -f '%M' -o "$out/$b.rss" "$bin"/trainer fit --config "$out/$b.yaml" --backend "$b" \
      --max-steps "$steps" --out "$out/$b" >/dev/null 2>"$out/$b.err" || { cat "$out/$b.err" >&2; exit 1; }
    ips=$(python3 -c "
import json,statistics
v=[json.loads(l)['images_per_s'] for l in open('$out/$b/metrics.jsonl')][1:]
print(statistics.median(v))")
    rss=$(( $(cat "$out/$b.rss") / 1024 ))
    printf '%-6s %-10s %10s %12.2f %12s\n' "$r" "$b" "$steps" "$ips" "$rss"
    echo "{\"bench\":\"train\",\"round\":$r,\"config\":\"$cfg\",\"backend\":\"$b\",\"steps\":$steps,\"images_per_s\":$ips,\"peak_rss_mib\":$rss}" >> "$out/rounds.jsonl"
    [ -z "$first" ] && first="$ips"
  done
  if [ -z "${NO_TORCH:-}" ]; then
    /usr/bin/time -f '%M' -o "$out/torch.rss" "$torch_py" scripts/reference_torch.py --config "$cfg" \
      --steps "$steps" --device cpu --threads "$threads" --no-sample --ours "$first" > "$out/torch.json"
    "$torch_py" - "$out/torch.json" "$r" "$(( $(cat "$out/torch.rss") / 1024 ))" >> "$out/rounds.jsonl" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
r.update(round=int(sys.argv[2]), peak_rss_mib=int(sys.argv[3]))
print(json.dumps(r))
PY
    python3 -c "
import json; r=json.loads(open('$out/rounds.jsonl').readlines()[-1])
print(f\"{r['round']:<6} {'pytorch':<10} {'$steps':>10} {r['images_per_s']:12.2f} {r['peak_rss_mib']:>12}\")"
  fi
done
cat "$out/rounds.jsonl"
[ -n "${NO_TORCH:-}" ] || python3 - "$out/rounds.jsonl" "${BACKENDS:-cpu}" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
first = sys.argv[2].split()[0]
ours = [r for r in rows if r.get("backend") == first]
torch = [r for r in rows if r.get("runtime", "").startswith("pytorch")]
ratios = [o["images_per_s"] / t["images_per_s"] for o, t in zip(ours, torch)]
med = lambda k, rs: statistics.median(r[k] for r in rs)
print(f"median over {len(ratios)} rounds: ours {med('images_per_s', ours):.1f} images/s "
      f"(peak {max(r['peak_rss_mib'] for r in ours)} MiB), PyTorch {med('images_per_s', torch):.1f} "
      f"({max(r['peak_rss_mib'] for r in torch)} MiB); per-round ratios "
      + " ".join(f"{x:.2f}" for x in ratios))
print(f"ours/pytorch (training images/s, {torch[0]['threads']} threads, batch {torch[0]['batch']}): "
      f"{statistics.median(ratios):.2f}x")
PY
