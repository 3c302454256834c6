#!/usr/bin/env bash
# Creates .venv (git-ignored) with the Python packages the drop-in checks use:
# onnx, onnxruntime==1.31.1 (the same version the Rust side loads), numpy, pillow, and
# constriction==0.5.0 (the entropy coder the Rust codec uses, same version).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import onnx, onnxruntime, numpy, PIL, constriction" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "onnx>=1.17" "onnxruntime==1.31.1" "numpy>=1.26" "pillow>=10" "constriction==0.5.0" >&2
fi
echo "$venv/bin/python"
