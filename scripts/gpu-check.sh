#!/usr/bin/env bash
# GPU check and GPU training for a GPU machine without a Rust toolchain or network access:
# built where Rust is, run there (needs an NVIDIA driver for CUDA 13; PyTorch and Python
# onnxruntime there for the peers and checks):
#
#   scripts/gpu-check.sh bundle DIR   (here, with Rust) builds the CUDA binaries
#       (CUDARC_CUDA_VERSION=13000, --features cuda; the dev profile, which is optimised,
#       stripped) and puts them with gzipped MNIST, the configs and the scripts into DIR,
#       and all of it into DIR.tar.xz (about 30 MB; sizes printed at the end).
#   scripts/gpu-check.sh bundle-runs DIR   (here) the runs RUNS for `train` (shipped models'
#       names, default: mnist-gated mnist-class mnist-ae, or run directories such as
#       models/training/mnist-gated-64; latest checkpoint each) and their data, as
#       DIR.tar.xz. ONNX Runtime GPU (scripts/setup-ort.sh --gpu, 284 MB) goes to
#       .ort/gpu/ in the bundle's directory there (split it, and `cat` it back, where a
#       transfer limits sizes); `run` needs it from its ONNX Runtime figures on.
#   With the device tool: a call sends the checkout (tracked and untracked-not-ignored
#   files) and the carried paths, at most 64 MiB: `scripts/device-tree.sh hide` first (the
#   shipped models stay here), bundles inside the checkout and git-ignored (.gpu/), carry
#   the .tar.xz files alone, e.g. `bundle .gpu/b` and `bundle-runs .gpu/r`, and a command
#   `mkdir -p /tmp/g && for t in .gpu/*.tar.xz; do tar xJf $t -C /tmp/g; done && bash
#   /tmp/g/scripts/gpu-check.sh train /tmp/g 300 mnist-gated`; `scripts/device-tree.sh
#   restore` afterwards.
#   scripts/gpu-check.sh run DIR      (there) in under 8 minutes: burn-cuda training on
#       MNIST (images/s, test bits/dim), PyTorch training on the same architecture,
#       ONNX Runtime CUDA vs CPU logits, and naive vs cached sampling on ort-cuda at
#       batch 16 and 256 for 28x28x1 and 32x32x3. One JSON line per figure.
#       A dry run on the CPU (what scripts/test.sh does with a tiny config):
#       BACKEND=cpu TORCH_DEVICE=cpu ORT_GPU=ort CONFIG=... RGB_SPEC=... STEPS=8 BATCHES=2 ...
#       (TORCH_PYTHON=none: without the PyTorch peer).
#   scripts/gpu-check.sh train DIR SECONDS NAME...   (there) the rest of the GPU time:
#       resumes each run NAME (one of the bundle's RUNS, by its directory's name; a
#       NAME with no shipped run starts fresh from DIR/models/configs/NAME.yaml) on burn-cuda,
#       one after the other, each for SECONDS, stopped with SIGTERM (a checkpoint at the
#       step reached), and packs each run (config, metrics, latest checkpoint) as
#       $OUT/NAME.tar.xz, split into NAME.tar.xz.0, .1, ... of 15 MiB where larger (a device
#       call brings back at most 8 files of 16 MiB, two folders down); here
#       `cat NAME.tar.xz* | tar xJf - -C runs` gives runs/NAME for `trainer fit --resume`.
#       BACKEND=cpu tries it without a GPU (SPLIT_BYTES sets the part size).
set -euo pipefail
cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n 2,39p "$0"; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"

# the data as .gz (fetch-data.sh keeps MNIST raw and Fashion-MNIST gzipped)
pack() {
  mkdir -p "$2"
  for f in "$1"/*-ubyte "$1"/*-ubyte.gz; do
    [ -e "$f" ] || continue
    case "$f" in *.gz) cp "$f" "$2/" ;; *) gzip -c "$f" > "$2/$(basename "$f").gz" ;; esac
  done
}
# DIR as DIR.tar.xz, and the size of both
seal() {
  du -sh "$1"
  tar -C "$1" -cf - . | xz -T0 -6 > "$1.tar.xz"
  ls -l "$1.tar.xz"
}

if [ "$cmd" = bundle ]; then
  cd "$root"
  mkdir -p "$dir/bin" "$dir/models" "$dir/scripts"
  # the dev profile is the optimised one (Cargo.toml), so the bundle shares its artifacts;
  # stripped, the binaries are a quarter of their size (and a sixth of that as xz)
  target="${CARGO_TARGET_DIR:-target}/debug"
  CUDARC_CUDA_VERSION=13000 cargo build --features pixelcnn-trainer/cuda -p pixelcnn-trainer --bin trainer
  strip -o "$dir/bin/trainer" "$target/trainer"
  cargo build -p pixelcnn-exporter -p pixelcnn-runtime --bins --examples
  for b in exporter examples/bench_sample examples/compare_engines; do
    strip -o "$dir/bin/$(basename "$b")" "$target/$b"
  done
  # the shared libraries they link beyond the C library (fontconfig, freetype, png, expat,
  # zlib: the training curves' text), for a machine whose image lacks some of them
  mkdir -p "$dir/lib"
  ldd "$dir"/bin/* | awk '/=> \//{print $3}' | sort -u |
    grep -v -E '/(libc|libm|libgcc_s|libpthread|libdl|librt|libstdc\+\+|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$dir/lib/"; done
  pack data/mnist "$dir/data/mnist"
  cp -r models/configs "$dir/models/"
  cp scripts/reference_torch.py scripts/gpu-check.sh "$dir/scripts/"
  seal "$dir"
  exit 0
fi

if [ "$cmd" = bundle-runs ]; then
  cd "$root"
  # the runs RUNS, for `train`: config (epochs raised, so time alone stops them), metrics
  # and the latest checkpoint; and Fashion-MNIST if one of them trains on it (30 MB)
  for run in ${RUNS:-mnist-gated mnist-class mnist-ae}; do
    # a shipped model's name, or a run directory (runs/NAME, models/training/NAME)
    if [ -f "$run/config.yaml" ]; then name="$(basename "$run")"; src="$run"
    else name="$run"; src="models/pretrained/$run/run"; fi
    mkdir -p "$dir/runs/$name/checkpoints"
    cp "$src"/{config.yaml,metrics.jsonl} "$dir/runs/$name/"
    [ -f "$src/epochs.jsonl" ] && cp "$src/epochs.jsonl" "$dir/runs/$name/"
    cp -r "$(ls -d "$src"/checkpoints/step-* | sort | tail -n1)" "$dir/runs/$name/checkpoints/"
    sed -i 's/^epochs: .*/epochs: 1000/' "$dir/runs/$name/config.yaml"
    if grep -q '^  path: data/fashion-mnist' "$dir/runs/$name/config.yaml"; then
      pack data/fashion-mnist "$dir/data/fashion-mnist"
    fi
  done
  seal "$dir"
  exit 0
fi

[ "$cmd" = run ] || [ "$cmd" = train ] || { echo "unknown command $cmd: bundle, bundle-runs, run or train" >&2; exit 2; }
cd "$dir"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.ort/gpu/libonnxruntime.so.1.31.1}"
# CUDA 13 / cuDNN 9 libraries of the PyTorch install
nv="$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null || true)"
if [ -n "$nv" ]; then
  export LD_LIBRARY_PATH="$(ls -d "$nv"/nvidia/*/lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}"
fi
# the bundle's copies of the shared libraries this machine lacks (none where it has them all)
if [ -d lib ]; then
  mkdir -p lib-missing
  for f in lib/*; do
    n="$(basename "$f")"
    ldconfig -p | grep -q "[[:space:]]$n (" || ln -sf "$PWD/$f" "lib-missing/$n"
  done
  export LD_LIBRARY_PATH="$PWD/lib-missing:${LD_LIBRARY_PATH:-}"
  [ -z "$(ls lib-missing)" ] || echo "from the bundle: $(ls lib-missing | tr '\n' ' ')" >&2
fi
if [ "$cmd" = train ]; then
  secs="${3:?train DIR SECONDS NAME...}"; shift 3
  [ $# -gt 0 ] || { echo "train: name at least one run (models/pretrained/NAME or models/configs/NAME.yaml)" >&2; exit 2; }
  for name in "$@"; do
    resume=(--resume); cfg="runs/$name/config.yaml"
    if [ ! -f "$cfg" ]; then
      resume=(); mkdir -p "runs/$name"; cp "models/configs/$name.yaml" "runs/$name/config.yaml"
    fi
    # a run may end with a learning-rate cool-down (optimizer.cooldown): one that is over by
    # the latest checkpoint's step (the rate is zero there) is dropped, to train on at the
    # run's lr x lr_decay^step; one still under way is kept
    python3 - "$cfg" <<'PY'
import glob, json, os, re, sys
path = sys.argv[1]
text = open(path).read()
states = sorted(glob.glob(os.path.join(os.path.dirname(path), "checkpoints", "step-*", "state.json")))
step = json.load(open(states[-1]))["step"] if states else 0
block = re.search(r"(?m)^  cooldown:( \{[^\n]*\})?\n(    [^\n]*\n)*", text)
if block:
    fields = dict(re.findall(r"(start|steps):\s*(\d+)", block.group(0)))
    end = int(fields.get("start", 0)) + int(fields.get("steps", 0))
    if end <= step:
        open(path, "w").write(text[: block.start()] + text[block.end() :])
        print(f"{path}: optimizer.cooldown ended at step {end} (checkpoint: {step}): dropped to train on", file=sys.stderr)
    else:
        print(f"{path}: optimizer.cooldown runs to step {end} (checkpoint: {step}): kept", file=sys.stderr)
PY
    t0=$(date +%s)
    timeout -s TERM -k 60 "$secs" bin/trainer fit --config "$cfg" --out "runs/$name" "${resume[@]}" \
      --backend "${BACKEND:-cuda}" >"runs/$name.log" 2>&1 || [ $? -eq 124 ]
    out="${OUT:-out}"; mkdir -p "$out"
    last="$(ls -d "runs/$name"/checkpoints/step-* | sort | tail -n1)"
    files=("$name/config.yaml" "$name/metrics.jsonl" "${last#runs/}")
    [ -f "runs/$name/epochs.jsonl" ] && files+=("$name/epochs.jsonl")
    tar -C runs -cf - "${files[@]}" | xz -T0 -3 > "$out/$name.tar.xz"
    part="${SPLIT_BYTES:-$((15 << 20))}"
    if [ "$(stat -c %s "$out/$name.tar.xz")" -gt "$part" ]; then
      split -b "$part" -d -a 1 "$out/$name.tar.xz" "$out/$name.tar.xz." && rm "$out/$name.tar.xz"
    fi
    echo "here: cat $name.tar.xz* | tar xJf - -C runs   (gives runs/$name)" >&2
    python3 - "$last" "$name" "$(( $(date +%s) - t0 ))" <<'PY'
import json, sys
state = json.load(open(f"{sys.argv[1]}/state.json"))
print(json.dumps({"figure": "training", "run": sys.argv[2], "step": state["step"], "wall_seconds": int(sys.argv[3])}))
PY
    tail -n 3 "runs/$name.log"
  done
  exit 0
fi

steps="${STEPS:-300}"
cfg="${CONFIG:-models/configs/mnist-gated-large.yaml}"
backend="${BACKEND:-cuda}"; ort_gpu="${ORT_GPU:-ort-cuda}"
sed -e 's/^eval_limit:.*/eval_limit: 2000/' -e 's/^sample_count:.*/sample_count: 0/' -e "s/^checkpoint_every:.*/checkpoint_every: $steps/" \
  -e 's/^max_steps:.*//' -e 's/^train_limit:.*//' "$cfg" > gpu-train.yaml
t0=$(date +%s)
rm -rf runs/gpu runs/gpu-onnx
bin/trainer fit --config gpu-train.yaml --backend "$backend" --max-steps "$steps" --out runs/gpu >/dev/null
# images/s: the median over the steps after the first five (warm-up: kernels compile)
ours="$(python3 -c "import json,statistics;v=[json.loads(l)['images_per_s'] for l in open('runs/gpu/metrics.jsonl')];print(statistics.median(v[min(5, len(v) - 1):]))")"
python3 - <<PY
import json
e=[json.loads(l) for l in open('runs/gpu/epochs.jsonl')][-1]
print(json.dumps({"figure":"burn-$backend training","config":"$cfg","steps":$steps,"images_per_s":$ours,"test_bits_per_dim":e["test_bits_per_dim"],"test_images":e["test_images"]}))
PY
# the PyTorch peer (TORCH_PYTHON=none skips it, for a dry run where torch is missing)
if [ "${TORCH_PYTHON:-python3}" != none ]; then
  "${TORCH_PYTHON:-python3}" scripts/reference_torch.py --config "$cfg" --steps 20 --device "${TORCH_DEVICE:-cuda}" --ours "$ours"
fi
bin/exporter --to onnx --run runs/gpu --out runs/gpu-onnx >/dev/null
bin/compare_engines --model runs/gpu-onnx --a ort --b "$ort_gpu" --batch 16
# the 32x32x3 sampling benchmark: random weights, exported here (RGB_SPEC: another spec)
bin/exporter --to onnx --spec "${RGB_SPEC:-models/configs/bench/rgb32-gated.yaml}" --out runs/rgb32-onnx >/dev/null
for m in runs/gpu-onnx runs/rgb32-onnx; do
  bin/bench_sample --model "$m" --backends "$ort_gpu" --batches "${BATCHES:-16,256}" --naive-steps 8 | grep '^{'
done
echo "{\"figure\":\"wall seconds\",\"seconds\":$(( $(date +%s) - t0 ))}"
