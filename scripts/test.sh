#!/usr/bin/env bash
# The whole test suite, from a fresh clone: fetches data, ONNX Runtime and the Python
# packages (idempotent), runs every Rust test, then the Python drop-in checks on a
# freshly trained and exported tiny model.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
# a full build and test run from a fresh clone leaves about 2.1 GB under target/; say what the disk has
echo "info: $(df -Ph "$root" | awk 'NR == 2 {print $4}') free on the disk of $root"
scripts/fetch-data.sh
scripts/setup-ort.sh >/dev/null
py="$(scripts/setup-python.sh)"

cargo build --workspace --bins

# every outcome is counted from what actually ran; the last line is the total
passed=0; failed=0
log="$(mktemp)"; tmp="$(mktemp -d)"; trap 'rm -rf "$tmp" "$log"' EXIT
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
cargo_rc=${PIPESTATUS[0]}
set -e
read -r p f < <(awk '/^test result:/ {p += $4; f += $6} END {print p + 0, f + 0}' "$log")
passed=$((passed + p)); failed=$((failed + f))
# a crash or build failure outside any counted test still fails the suite
if [ "$cargo_rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); echo "cargo test exited $cargo_rc"; fi

# check NAME COMMAND...: runs one Python drop-in check and counts its outcome
check() {
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); echo "ok: $name"; else failed=$((failed + 1)); echo "FAILED: $name"; fi
}

echo "== Python drop-in checks (onnx.checker, onnxruntime $("$py" -c 'import onnxruntime as o; print(o.__version__)'))"
for cfg in tiny-gated tiny-class; do
  "$bin"/trainer fit --config "models/configs/$cfg.yaml" --out "$tmp/$cfg" >/dev/null
  "$bin"/exporter --to onnx --run "$tmp/$cfg" --out "$tmp/$cfg-onnx" --reference 8 >/dev/null
  check "$cfg: onnx.checker + Python ONNX Runtime == burn" "$py" scripts/check_onnx.py "$tmp/$cfg-onnx"
  if [ -f "$tmp/$cfg-onnx/step_pixel.onnx" ]; then
    check "$cfg: step graphs == model.onnx under teacher forcing" \
      "$py" scripts/sample_onnxruntime.py "$tmp/$cfg-onnx" --check data/mnist/t10k-images-idx3-ubyte
    # the same seed gives the same images in Python and in the Rust sampler
    label=""; [ "$cfg" = tiny-class ] && label="--label 3"
    check "$cfg: Python sampler == Rust sampler (seed 9)" bash -c "
      '$py' scripts/sample_onnxruntime.py '$tmp/$cfg-onnx' --n 4 --seed 9 $label --out '$tmp/py.npy' >/dev/null &&
      '$bin/sample' --model '$tmp/$cfg-onnx' --backend ort --n 4 --seed 9 $label --out '$tmp/rs.npy' >/dev/null &&
      '$py' -c \"import numpy as np, sys; a, b = np.load('$tmp/py.npy'), np.load('$tmp/rs.npy'); sys.exit(0 if (a == b).all() else 'Python and Rust samples differ')\""
  fi
done
# the model's own classifier (digit_classifier.py --kind bayes) scores each image under every
# label in one interleaved batch: it must equal one plain model.onnx run per label
cat > "$tmp/bayes_check.py" <<'PY'
import json, subprocess, sys
import numpy as np
import onnxruntime as ort
sys.path.insert(0, "scripts")
from digit_classifier import bayes_bits
from idxfile import read_idx
model = sys.argv[1]
x = read_idx("data/mnist/t10k-images-idx3-ubyte")[:30].reshape(-1, 1, 28, 28)
y = read_idx("data/mnist/t10k-labels-idx1-ubyte")[:30].astype(np.int64)
bits = bayes_bits(model, x)
sess = ort.InferenceSession(f"{model}/model.onnx", providers=["CPUExecutionProvider"])
each = np.stack([sess.run(["bits_per_dim"], {"image": x, "label": np.full(len(x), k, np.int64)})[0]
                 for k in range(10)], axis=1)
diff = float(np.abs(bits - each).max())
spread = float((each.max(1) - each.min(1)).min())
out = subprocess.run([sys.executable, "scripts/digit_classifier.py", "check", "--kind", "bayes", "--model", model,
                      "--mnist-test", "30"], check=True, capture_output=True, text=True).stdout
acc = json.loads(out)["accuracy"]
print(f"max abs diff {diff:.2e}, smallest spread over labels {spread:.2e}, accuracy {acc} "
      f"(from per-label runs {float((each.argmin(1) == y).mean())})")
sys.exit(0 if diff <= 1e-5 and spread > 0 and acc == float((each.argmin(1) == y).mean()) else "bayes scores differ")
PY
check "tiny-class: digit_classifier.py --kind bayes == one model.onnx run per label" \
  "$py" "$tmp/bayes_check.py" "$tmp/tiny-class-onnx"
# the GPU machine's training step, on the CPU: resumes a run whose learning-rate cool-down
# has ended (dropping it, to train on) and brings config, metrics and checkpoint back
g="$tmp/gpu"; mkdir -p "$g/bin" "$g/data" "$g/runs"
ln -s "$bin/trainer" "$g/bin/trainer"; ln -s "$root/data/mnist" "$g/data/mnist"
sed 's/^  lr: 0.003$/  lr: 0.003\n  cooldown: {start: 1, steps: 2}/' models/configs/tiny-gated.yaml > "$tmp/cool.yaml"
check "gpu-check.sh train (BACKEND=cpu) trains a cooled-down run on and brings it back" bash -c "
  cd '$g' && '$bin/trainer' fit --config '$tmp/cool.yaml' --out runs/tiny >/dev/null 2>&1 &&
  [ -d runs/tiny/checkpoints/step-000000003 ] && [ ! -d runs/tiny/checkpoints/step-000000006 ] &&
  cd '$root' && OUT='$tmp/gpu-out' BACKEND=cpu SPLIT_BYTES=20000 scripts/gpu-check.sh train '$g' 120 tiny > '$tmp/gpu.log' 2>&1 &&
  grep -q '\"figure\": \"training\", \"run\": \"tiny\", \"step\": 6' '$tmp/gpu.log' &&
  mkdir -p '$tmp/gpu-back' && cat '$tmp/gpu-out/tiny.tar.xz'* | tar xJf - -C '$tmp/gpu-back' &&
  [ -f '$tmp/gpu-out/tiny.tar.xz.1' ] && [ -f '$tmp/gpu-back/tiny/checkpoints/step-000000006/state.json' ] &&
  [ -f '$tmp/gpu-back/tiny/metrics.jsonl' ] && ! grep -q cooldown '$tmp/gpu-back/tiny/config.yaml' &&
  '$bin/trainer' eval --run '$tmp/gpu-back/tiny' --limit 2 >/dev/null || { cat '$tmp/gpu.log'; false; }"
# ... and keeps a cool-down still under way at the checkpoint's step: the rate goes on falling
sed -e 's/^  lr: 0.003$/  lr: 0.003\n  cooldown: {start: 1, steps: 20}/' -e 's/^max_steps: 6$/max_steps: 3/' \
  models/configs/tiny-gated.yaml > "$tmp/cooling.yaml"
check "gpu-check.sh train (BACKEND=cpu) keeps a cool-down still under way" bash -c "
  cd '$g' && '$bin/trainer' fit --config '$tmp/cooling.yaml' --out runs/cooling >/dev/null 2>&1 &&
  [ -d runs/cooling/checkpoints/step-000000003 ] && sed -i 's/^max_steps: 3$/max_steps: 6/' runs/cooling/config.yaml &&
  cd '$root' && OUT='$tmp/gpu-out2' BACKEND=cpu scripts/gpu-check.sh train '$g' 120 cooling > '$tmp/gpu2.log' 2>&1 &&
  grep -q 'cooldown runs to step 21 (checkpoint: 3): kept' '$tmp/gpu2.log' &&
  grep -q '^  cooldown:' '$g/runs/cooling/config.yaml' &&
  '$py' -c 'import json, sys; r = [json.loads(l) for l in open(sys.argv[1])]; lr = {x[\"step\"]: x[\"lr\"] for x in r if \"lr\" in x}; sys.exit(0 if 0 < lr[6] < lr[4] < 0.003 else f\"lr at steps 4, 6: {lr[4]}, {lr[6]}\")' '$g/runs/cooling/metrics.jsonl' ||
  { cat '$tmp/gpu2.log'; false; }"
# the GPU machine's check, dry run on the CPU with the tiny config (no PyTorch here): the
# training figure, the engines' comparison, the two sampling benches and the wall time
mkdir -p "$g/models" "$g/scripts"; cp -r models/configs "$g/models/"; cp scripts/reference_torch.py "$g/scripts/"
for b in exporter examples/bench_sample examples/compare_engines; do ln -s "$bin/$b" "$g/bin/$(basename "$b")"; done
check "gpu-check.sh run (BACKEND=cpu, tiny config) prints every figure" bash -c "
  ORT_DYLIB_PATH='$(scripts/setup-ort.sh)' BACKEND=cpu ORT_GPU=ort TORCH_PYTHON=none CONFIG=models/configs/tiny-gated.yaml RGB_SPEC=models/configs/tiny-gated.yaml \
    STEPS=8 BATCHES=2 scripts/gpu-check.sh run '$g' > '$tmp/gpu-run.log' 2>&1 &&
  grep -q '\"figure\": \"burn-cpu training\", \"config\": \"models/configs/tiny-gated.yaml\", \"steps\": 8' '$tmp/gpu-run.log' &&
  grep -q '\"check\":\"compare_engines\",\"max_abs_bpd_diff\":0.0' '$tmp/gpu-run.log' &&
  [ \$(grep -c '\"bench\":\"sample\"' '$tmp/gpu-run.log') = 2 ] && grep -q '\"figure\":\"wall seconds\"' '$tmp/gpu-run.log' ||
  { cat '$tmp/gpu-run.log'; false; }"
# what a device call sends: the shipped models hidden from it leave the code (a few MiB), and
# restore gives back the index as committed (in a clone of this checkout's HEAD)
check "device-tree.sh hide sends under 8 MiB; restore puts the index back" bash -c "
  git clone -q '$root' '$tmp/tree' && cd '$tmp/tree' && git ls-files -s > '$tmp/index-before' &&
  scripts/device-tree.sh hide > '$tmp/tree.log' && tail -n1 '$tmp/tree.log' | python3 -c 'import sys; n = int(sys.stdin.read().split()[0]); sys.exit(n >= 8 << 20)' &&
  [ -n \"\$(git status --porcelain --ignored models/pretrained)\" ] &&
  scripts/device-tree.sh restore >/dev/null && git ls-files -s | cmp -s - '$tmp/index-before' &&
  [ -z \"\$(git status --porcelain)\" ] || { cat '$tmp/tree.log'; false; }"
echo "== Python drop-in decoder (constriction $("$py" -c 'import importlib.metadata as m; print(m.version("constriction"))'))"
check "scripts/decompress.py decodes the Rust compress output (MNIST, 10 images, batches of 4)" bash -c "
  '$bin/compress' --model models/pretrained/mnist-gated --in data/mnist/t10k-images-idx3-ubyte --limit 10 --batch 4 --out '$tmp/x.pcnn' >/dev/null &&
  '$py' scripts/decompress.py --model models/pretrained/mnist-gated --in '$tmp/x.pcnn' --out '$tmp/x.npy' >/dev/null &&
  '$py' -c \"import numpy as np, sys; sys.path.insert(0, 'scripts'); from idxfile import read_idx; x = read_idx('data/mnist/t10k-images-idx3-ubyte')[:10].reshape(10, 1, 28, 28); sys.exit(0 if (np.load('$tmp/x.npy') == x).all() else 'Python decoding differs from the images')\""
echo "== Browser checks (headless Chromium + onnxruntime-web: scripts/test-web.sh)"
set +e
BIN_DIR="$bin" scripts/test-web.sh 2>&1 | tee "$tmp/web.log"
web_rc=${PIPESTATUS[0]}
set -e
# each browser check counts from its own "ok: NAME (...)" line; a missing line is a failure
web_ok() { awk -v p="ok: $1 (" 'index($0, p) == 1 {found = 1} END {exit !found}' "$tmp/web.log"; }
for cfg in tiny-gated tiny-class; do
  for name in "sample $cfg == Rust sampler" "complete $cfg keeps the given rows" \
    "complete $cfg == Rust sample --complete" "score $cfg == trainer eval"; do
    check "browser: $name" web_ok "$name"
  done
done
check "browser: uploaded PNG == test image" web_ok "uploaded PNG == test image"
check "browser: drawn digit is scored (shipped mnist-class)" web_ok "drawn digit is scored"
check "browser: scripts/test-web.sh exits 0 (setup, server and every check)" test "$web_rc" -eq 0
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
