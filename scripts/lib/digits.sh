# Sourced by the scripts that judge MNIST models with the independent digit classifier
# (check-class-samples.sh, check-reconstructions.sh): cd's to the repository root and sets
# `bin` (the debug binaries), `py` (the project's Python) and `tmp` (a temporary directory,
# removed on exit); fetches MNIST and trains scripts/digit_classifier.py on first use.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"; cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
py="$(scripts/setup-python.sh)"
scripts/fetch-data.sh >/dev/null 2>&1 || scripts/fetch-data.sh
[ -f data/digit-classifier.npz ] || "$py" scripts/digit_classifier.py train >/dev/null
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
