#!/usr/bin/env bash
# The main job on a fresh machine: sample digits and clothes from the shipped pretrained
# models on CPU with the cached step graphs on ONNX Runtime, no training needed. Builds
# the `sample` binary without the tract engine (`--no-default-features`: a third of the
# build time; `--backend tract` needs the default build). Writes samples/*.png and prints
# one JSON line per grid.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"; cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
scripts/setup-ort.sh >/dev/null
cargo build -q -p pixelcnn-runtime --no-default-features --bin sample
mkdir -p samples
s="$bin"/sample
$s --model models/pretrained/mnist-gated --backend ort --n 64 --seed 1 --scale 4 --out samples/mnist.png
$s --model models/pretrained/mnist-class --backend ort --n 16 --label 7 --seed 2 --scale 4 --out samples/mnist-class-7.png
$s --model models/pretrained/fashion-gated --backend ort --n 64 --seed 3 --scale 4 --out samples/fashion.png
echo "grids in samples/"
