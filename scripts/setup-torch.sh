#!/usr/bin/env bash
# Creates .venv-torch (git-ignored) with PyTorch from PyPI for the benchmark peers
# (scripts/reference_torch.py). Separate from .venv: the test suite does not need it.
# Prints the interpreter's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-torch"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, numpy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check torch numpy >&2
fi
echo "$venv/bin/python"
