#!/usr/bin/env bash
# Lossless compression of the MNIST and Fashion-MNIST test sets with the shipped models,
# beside classic codecs, in one table: bits per sub-pixel of the .pcnn file (header
# included) and the model's own cross-entropy on the same images (computed from the same
# logits), PNG and lossless WebP (one file per image, the `image` crate), gzip -9 and
# xz -9e of the raw IDX file; compress/decompress images/s; every round trip byte-checked.
#
#   scripts/bench-compress.sh [LIMIT]      (default: the whole test sets, 10000 images each)
#   BACKEND=tract scripts/bench-compress.sh 500
#   DATA=Fashion-MNIST scripts/bench-compress.sh   (one data set: MNIST or Fashion-MNIST)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"; cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
limit="${1:-10000}"; backend="${BACKEND:-ort}"
scripts/fetch-data.sh >/dev/null
scripts/setup-ort.sh >/dev/null
cargo build -q --workspace --bins
cargo build -q -p pixelcnn-runtime --example baseline_codecs
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
py=python3

echo "| data ($limit test images, $backend) | PixelCNN .pcnn | model cross-entropy | PNG | WebP lossless | gzip -9 | xz -9e | compress img/s | decompress img/s |"
echo "|---|---|---|---|---|---|---|---|---|"
for entry in "MNIST:mnist-gated:data/mnist" "Fashion-MNIST:fashion-gated:data/fashion-mnist"; do
  IFS=: read -r name model data <<<"$entry"
  [ -z "${DATA:-}" ] || [ "$DATA" = "$name" ] || continue
  src="$data/t10k-images-idx3-ubyte"; [ -f "$src" ] || src="$src.gz"
  # the first LIMIT images as a raw IDX file
  "$py" - "$src" "$limit" "$tmp/in-idx3-ubyte" <<'PY'
import gzip, sys
raw = open(sys.argv[1], "rb").read()
raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
n, r, c = (int.from_bytes(raw[k:k + 4], "big") for k in (4, 8, 12))
m = min(n, int(sys.argv[2]))
open(sys.argv[3], "wb").write(raw[:4] + m.to_bytes(4, "big") + raw[8:16] + raw[16:16 + m * r * c])
PY
  c="$("$bin"/compress --model "models/pretrained/$model" --backend "$backend" --in "$tmp/in-idx3-ubyte" --out "$tmp/x.pcnn")"
  d="$("$bin"/decompress --model "models/pretrained/$model" --backend "$backend" --in "$tmp/x.pcnn" --out "$tmp/out-idx3-ubyte")"
  cmp -s "$tmp/in-idx3-ubyte" "$tmp/out-idx3-ubyte" || { echo "$name: ROUND TRIP FAILED"; exit 1; }
  b="$("$bin"/../debug/examples/baseline_codecs "$tmp/in-idx3-ubyte")"
  gz=$(gzip -9 -c "$tmp/in-idx3-ubyte" | wc -c); xz=$(xz -9e -c "$tmp/in-idx3-ubyte" | wc -c)
  "$py" - "$name" "$c" "$d" "$b" "$gz" "$xz" <<'PY'
import json, sys
name, c, d, b = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
gz, xz, sp = int(sys.argv[5]), int(sys.argv[6]), b["subpixels"]
f = lambda v: f"{v:.3f}"
print(f"| {name} | {f(c['bits_per_subpixel'])} | {f(c['model_bits_per_subpixel'])} | {f(b['png_bytes'] * 8 / sp)} | "
      f"{f(b['webp_bytes'] * 8 / sp)} | {f(gz * 8 / sp)} | {f(xz * 8 / sp)} | {c['images_per_s']:.1f} | {d['images_per_s']:.1f} |")
PY
done
echo "(bits per sub-pixel; .pcnn includes its header; round trips checked byte for byte)"
