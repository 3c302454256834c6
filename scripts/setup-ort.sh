#!/usr/bin/env bash
# Fetches ONNX Runtime's shared library from the PyPI wheel into .ort/ (git-ignored),
# where the runtime crate finds it without any environment variable.
#   scripts/setup-ort.sh          CPU library  (onnxruntime==1.31.1)
#   scripts/setup-ort.sh --gpu    CPU+CUDA+TensorRT providers (onnxruntime-gpu==1.31.1, CUDA 13)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version=1.31.1
pkg=onnxruntime; dest="$root/.ort/cpu"
if [ "${1:-}" = "--gpu" ]; then pkg=onnxruntime-gpu; dest="$root/.ort/gpu"; fi
lib="$dest/libonnxruntime.so.$version"
if [ -f "$lib" ] && [ -f "$dest/.complete" ]; then echo "$lib" ; exit 0; fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$pkg==$version" >&2
whl="$(ls "$tmp"/*.whl | head -n1)"
mkdir -p "$tmp/x" && python3 -m zipfile -e "$whl" "$tmp/x"
mkdir -p "$dest"
for f in "$tmp"/x/onnxruntime/capi/libonnxruntime*.so*; do cp "$f" "$dest/"; done
[ -f "$lib" ] || { echo "wheel $whl has no libonnxruntime.so.$version" >&2; exit 1; }
ln -sf "libonnxruntime.so.$version" "$dest/libonnxruntime.so"
touch "$dest/.complete"
echo "$lib"
