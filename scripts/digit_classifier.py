#!/usr/bin/env python3
"""An independent MNIST digit classifier (numpy only) to judge conditional samples and
auto-encoder reconstructions: "is this sample recognisably the digit it was asked for?"

A 784-512-10 ReLU MLP trained with Adam on the MNIST training split (fixed seed, a few
epochs, ~98% test accuracy), cached as an .npz; then it labels images from .npy files.

  digit_classifier.py train [--data data/mnist] [--out data/digit-classifier.npz]
  digit_classifier.py check --images S.npy --labels L.npy [--model data/digit-classifier.npz]
      prints {"accuracy": share of images classified as their label, "per_label": [...]}
      and exits 1 below --min (default 0: report only)
  digit_classifier.py grid --images G.npy --out G.png
      writes uint8 [rows, cols, 1, 28, 28] as a grid of 28x28 cells (1-pixel gaps), 4x upscaled

IMAGES: uint8 [n, 1, 28, 28] (what `sample --out X.npy` writes); LABELS: int [n].
"""
import argparse, gzip, json, os, sys

import numpy as np


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(dims)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        sys.exit(f"{path}: header says {shape}, file holds {body.size} values")
    return body.reshape(shape)


def find(data, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(data, name)
        if os.path.exists(p):
            return p
    sys.exit(f"{data}: no {stem}[.gz] (scripts/fetch-data.sh fetches MNIST)")


def forward(params, x):
    w1, b1, w2, b2 = params
    h = np.maximum(x @ w1 + b1, 0)
    return h, h @ w2 + b2


def prepare(images):
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def train(a):
    x = prepare(read_idx(find(a.data, "train-images-idx3-ubyte")))
    y = read_idx(find(a.data, "train-labels-idx1-ubyte")).astype(np.int64)
    xt = prepare(read_idx(find(a.data, "t10k-images-idx3-ubyte")))
    yt = read_idx(find(a.data, "t10k-labels-idx1-ubyte")).astype(np.int64)
    rng = np.random.default_rng(0)
    hidden = 512
    params = [
        (rng.standard_normal((784, hidden)) * np.sqrt(2 / 784)).astype(np.float32),
        np.zeros(hidden, np.float32),
        (rng.standard_normal((hidden, 10)) * np.sqrt(1 / hidden)).astype(np.float32),
        np.zeros(10, np.float32),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lr, b1, b2, t = 1e-3, 0.9, 0.999, 0
    for epoch in range(a.epochs):
        order = rng.permutation(len(x))
        for lo in range(0, len(x), 128):
            idx = order[lo:lo + 128]
            xb, yb = x[idx], y[idx]
            h, logits = forward(params, xb)
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            g_logits = p / len(yb)
            g_h = (g_logits @ params[2].T) * (h > 0)
            grads = [xb.T @ g_h, g_h.sum(0), h.T @ g_logits, g_logits.sum(0)]
            t += 1
            for k, g in enumerate(grads):
                m[k] = b1 * m[k] + (1 - b1) * g
                v[k] = b2 * v[k] + (1 - b2) * g * g
                params[k] -= lr * (m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + 1e-8)
        acc = (forward(params, xt)[1].argmax(1) == yt).mean()
        print(json.dumps({"epoch": epoch + 1, "test_accuracy": float(acc)}), file=sys.stderr)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    np.savez(a.out, *params)
    print(json.dumps({"model": a.out, "test_accuracy": float(acc)}))


def check(a):
    if not os.path.exists(a.model):
        sys.exit(f"{a.model}: no classifier yet: run `{sys.argv[0]} train` first")
    z = np.load(a.model)
    params = [z[f"arr_{k}"] for k in range(4)]
    images = np.load(a.images)
    labels = np.load(a.labels).astype(np.int64).reshape(-1)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        sys.exit(f"{a.images}: expected uint8 [n, 1, 28, 28], got {images.dtype} {list(images.shape)}")
    if len(labels) != len(images):
        sys.exit(f"{a.labels}: {len(labels)} labels for {len(images)} images")
    pred = forward(params, prepare(images))[1].argmax(1)
    per = [float((pred[labels == k] == k).mean()) if (labels == k).any() else None for k in range(10)]
    acc = float((pred == labels).mean())
    print(json.dumps({"images": len(images), "accuracy": acc, "per_label": per}))
    if acc < a.min:
        sys.exit(f"accuracy {acc:.3f} is below --min {a.min}")


def grid(a):
    from PIL import Image
    cells = np.load(a.images)
    rows, cols, cell = cells.shape[0], cells.shape[1], 29
    g = np.full((rows * cell + 1, cols * cell + 1), 40, np.uint8)
    for i in range(rows):
        for j in range(cols):
            g[1 + i * cell:1 + i * cell + 28, 1 + j * cell:1 + j * cell + 28] = cells[i, j, 0]
    Image.fromarray(g).resize((g.shape[1] * 4, g.shape[0] * 4), Image.NEAREST).save(a.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", default="data/mnist")
    t.add_argument("--out", default="data/digit-classifier.npz")
    t.add_argument("--epochs", type=int, default=6)
    c = sub.add_parser("check")
    c.add_argument("--images", required=True)
    c.add_argument("--labels", required=True)
    c.add_argument("--model", default="data/digit-classifier.npz")
    c.add_argument("--min", type=float, default=0.0)
    g = sub.add_parser("grid")
    g.add_argument("--images", required=True)
    g.add_argument("--out", required=True)
    a = ap.parse_args()
    {"train": train, "check": check, "grid": grid}[a.cmd](a)


if __name__ == "__main__":
    main()
