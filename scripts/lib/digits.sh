# Sourced by the scripts that judge MNIST models with the independent digit classifier
# (check-class-samples.sh, check-reconstructions.sh): cd's to the repository root and sets
# `bin` (the debug binaries), `py` (the project's Python) and `tmp` (a temporary directory,
# removed on exit) and `judge` (runs the classifiers of scripts/digit_classifier.py that
# CHECKER names, training each on first use); fetches MNIST.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"; cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
py="$(scripts/setup-python.sh)"
scripts/fetch-data.sh >/dev/null 2>&1 || scripts/fetch-data.sh
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# CHECKER: which classifiers judge, comma-separated (mlp, cnn, bayes; default mlp; cnn needs
# PyTorch, installed into .venv-torch by scripts/setup-torch.sh; bayes is the class-conditional
# model's own argmax_y p(x | y), for the export directory in `model`); each prints one JSON line.
IFS=, read -r -a checkers <<< "${CHECKER:-mlp}"
for kind in "${checkers[@]}"; do
  case "$kind" in mlp|cnn|bayes) ;; *) echo "CHECKER: unknown classifier '$kind': expected a comma-separated list of mlp, cnn, bayes" >&2; exit 2 ;; esac
done
judge() {  # judge IMAGES.npy LABELS.npy [REPEATS]
  local kind cpy extra
  for kind in "${checkers[@]}"; do
    extra=()
    case "$kind" in
      mlp) cpy="$py" ;;
      cnn) cpy="$(scripts/setup-torch.sh)" ;;
      bayes) cpy="$py"; extra=(--model "$model") ;;
    esac
    "$cpy" scripts/digit_classifier.py check --kind "$kind" --train-if-missing "${extra[@]}" \
      --images "$1" --labels "$2" --min "${MIN:-0}" --repeats "${3:-1}"
  done
}
