#!/usr/bin/env bash
# The browser page (web/) tested in a real headless Chromium against the Rust tools:
#   - sampling with a fixed seed gives the pixels of `sample --backend ort` (plain and
#     class-conditional tiny models, trained and exported here; the class model's weights in
#     ONNX external data files beside its graphs),
#   - completion keeps the given rows and equals `sample --complete IMG --rows R`,
#   - the page's score equals `trainer eval --limit 1` (bits/dim of the first test image)
#     within 1e-4,
#   - an uploaded PNG of that test image gives the model the same pixels, and a digit
#     drawn with the mouse is scored over every label (shipped mnist-class),
# and prints browser vs native ONNX Runtime sampling speed on the shipped mnist-gated-small (7 layers).
#   BIN_DIR=target/debug scripts/test-web.sh     # BIN_DIR unset: cargo build first
# Installs what it needs: Chromium from Debian (apt-get) if /usr/bin/chromium is missing,
# onnxruntime-web and playwright-core from web/package-lock.json (npm ci; no browser
# download). Prints "ok:"/"FAILED:" per check and exits non-zero on any failure; the
# screenshot goes to bench-out/web/page.png.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ -z "${BIN_DIR:-}" ]; then cargo build -q --workspace --bins; fi
bin="${BIN_DIR:-${CARGO_TARGET_DIR:-$root/target}/debug}"
scripts/fetch-data.sh 2>/dev/null
scripts/setup-ort.sh >/dev/null

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Chromium from Debian (apt-get)" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver fonts-dejavu-core >/dev/null
fi

# what the browser's results are compared with: one seed, temperature, batch and label for
# all; the seed is near 2^64 so that the 64-bit wrap-around of the per-image seeds is used
export SEED=18446744073709551000 TEMPERATURE=0.8 N=3 LABEL=3 ROWS=14 SPEED_MODEL=mnist-gated-small SPEED_SEED=1
tmp="$(mktemp -d)"; server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
# MNIST's first test image as a PNG for `sample --complete`, and its label
python3 - data/mnist "$tmp" <<'PY'
import struct, sys, zlib
data, out = sys.argv[1], sys.argv[2]
img = open(f"{data}/t10k-images-idx3-ubyte", "rb").read()[16:16 + 784]
label = open(f"{data}/t10k-labels-idx1-ubyte", "rb").read()[8]
chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
raw = b"".join(b"\0" + img[r * 28:(r + 1) * 28] for r in range(28))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(f"{out}/test0.png", "wb").write(png)
open(f"{out}/test-label.txt", "w").write(str(label))
PY
for cfg in tiny-gated tiny-class; do
  nice "$bin"/trainer fit --config "models/configs/$cfg.yaml" --out "$tmp/run-$cfg" >/dev/null
  # the class model's weights go beside its graphs (ONNX external data), as a model larger
  # than the exporter's largest file (4 MiB) has them
  split=(); [ "$cfg" = tiny-class ] && split=(--max-file-bytes 32768)
  nice "$bin"/exporter --to onnx --run "$tmp/run-$cfg" --out "$tmp/$cfg" "${split[@]}" >/dev/null
  if [ ${#split[@]} -gt 0 ] && [ ! -f "$tmp/$cfg/model.onnx.data-000" ]; then
    echo "FAILED: the $cfg export kept its weights in model.onnx (expected external data files)"; exit 1
  fi
  label=(); [ "$cfg" = tiny-class ] && label=(--label "$LABEL")
  nice "$bin"/sample --model "$tmp/$cfg" --backend ort --n "$N" --seed "$SEED" --temperature "$TEMPERATURE" "${label[@]}" --out "$tmp/sample-$cfg.npy" >/dev/null
  nice "$bin"/sample --model "$tmp/$cfg" --backend ort --n "$N" --seed "$SEED" --temperature "$TEMPERATURE" "${label[@]}" \
    --complete "$tmp/test0.png" --rows "$ROWS" --out "$tmp/complete-$cfg.npy" >/dev/null
  nice "$bin"/trainer eval --run "$tmp/run-$cfg" --limit 1 > "$tmp/eval-$cfg.json"
done

# native ONNX Runtime speed on the shipped model: sampling time only, as in the page; niced
# like the browser; the median of 3 runs (this host is shared and noisy)
native_speed() { # BATCH N
  for _ in 1 2 3; do
    nice "$bin"/sample --model "models/pretrained/$SPEED_MODEL" --backend ort --n "$2" --batch "$1" \
      --seed "$SPEED_SEED" --out "$tmp/speed-native.npy" | tail -n1
  done | node -e '
    const runs = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => JSON.parse(l).images_per_s);
    const sorted = [...runs].sort((a, b) => a - b);
    console.log(`${sorted[1].toFixed(2)} images/s (median of 3 runs: ${runs.map((r) => r.toFixed(2)).join(", ")}; ${process.argv[1]} per run)`);' "$2"
}
echo "info: native ONNX Runtime $SPEED_MODEL batch 1: $(native_speed 1 4)"
echo "info: native ONNX Runtime $SPEED_MODEL batch 16: $(native_speed 16 16)"   # leaves speed-native.npy: seed 1, 16 images

# the page, served as scripts/serve-web.sh serves it, with the tiny exports under /exports/
# (a second try when the first server exits before serving, e.g. npm ci failed; what it
# printed and its exit status go to stdout so that a CI log shows why)
start_server() { # TRY: 0 when the server prints its URL
  nice scripts/serve-web.sh 0 --mount "exports=$tmp" > "$tmp/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1500); do
    grep -q '^serving ' "$tmp/serve.log" && return 0
    if ! kill -0 "$server" 2>/dev/null; then
      local rc=0; wait "$server" || rc=$?; server=""
      echo "info: page server (try $1) exited with status $rc before serving; it printed:"
      sed 's/^/  | /' "$tmp/serve.log"
      return 1
    fi
    sleep 0.2
  done
  echo "info: page server (try $1) printed no URL in 300 s"; kill "$server" 2>/dev/null; server=""; return 1
}
start_server 1 || { sleep 5; start_server 2; } || { echo "FAILED: the page server did not start"; exit 1; }
url="$(sed -n 's/^serving //p' "$tmp/serve.log" | head -n1)"
echo "info: page served at $url"
nice node web/test/browser.mjs "$url" "$tmp" bench-out/web
