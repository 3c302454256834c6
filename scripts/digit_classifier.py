#!/usr/bin/env python3
"""Independent MNIST digit classifiers to judge conditional samples and auto-encoder
reconstructions: "is this sample recognisably the digit it was asked for?"

Two kinds trained on the MNIST training split with fixed seeds and cached under data/, and
the model's own rule:
  mlp  a 784-512-10 ReLU MLP in numpy (Adam, 6 epochs; ~98% test accuracy): the default.
  cnn  two 3x3 conv + max-pool layers (32, 64 maps) and a 128-unit layer in PyTorch
       (Adam, 2 epochs; ~99% test accuracy; needs the .venv-torch of scripts/setup-torch.sh).
  bayes  the class-conditional PixelCNN's own classification, argmax_y p(x | y) (uniform prior):
       --model is its export directory; every image is scored under each of the 10 labels by
       model.onnx's bits_per_dim (Python ONNX Runtime). Not independent of the model: it says
       whether a sample is more likely under its own label than under any other.
They err differently: the MLP reads the coarse layout of ink, the CNN local strokes.

  digit_classifier.py train [--kind mlp|cnn] [--data data/mnist] [--out PATH]
  digit_classifier.py check [--kind mlp|cnn|bayes] (--images S.npy --labels L.npy | --mnist-test N)
                            [--model PATH]
      prints {"checker": kind, "accuracy": share of images classified as their label,
      "per_label": [...]} and exits 1 below --min (default 0: report only); --mnist-test N
      judges the first N MNIST test images against their true labels instead
  digit_classifier.py grid --images G.npy --out G.png
      writes uint8 [rows, cols, 1, 28, 28] as a grid of 28x28 cells (1-pixel gaps), 4x upscaled

IMAGES: uint8 [n, 1, 28, 28] (what `sample --out X.npy` writes); LABELS: int [n].
"""
import argparse, contextlib, json, os, sys

import numpy as np

from idxfile import read_idx


def forward(params, x):
    w1, b1, w2, b2 = params
    h = np.maximum(x @ w1 + b1, 0)
    return h, h @ w2 + b2


def prepare(images):
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


DEFAULT_MODEL = {"mlp": "data/digit-classifier.npz", "cnn": "data/digit-classifier-cnn.pt"}


def mnist(data):
    return [read_idx(os.path.join(data, stem)) for stem in (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]


def cnn_net():
    import torch.nn as nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn_predict(net, images):
    import torch
    with torch.no_grad():
        x = torch.tensor(np.asarray(images), dtype=torch.float32).reshape(-1, 1, 28, 28) / 255.0
        return torch.cat([net(x[k:k + 1000]) for k in range(0, len(x), 1000)]).argmax(1).numpy()


def train_cnn(a):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    x, y, xt, yt = mnist(a.data)
    net = cnn_net()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    X = torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 28, 28) / 255.0
    Y = torch.tensor(y.astype(np.int64))
    for epoch in range(a.epochs):
        order = torch.randperm(len(X))
        for lo in range(0, len(X), 128):
            b = order[lo:lo + 128]
            loss = F.cross_entropy(net(X[b]), Y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = float((cnn_predict(net, xt) == yt).mean())
        print(json.dumps({"epoch": epoch + 1, "test_accuracy": acc}), file=sys.stderr)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    torch.save(net.state_dict(), a.out)
    print(json.dumps({"model": a.out, "test_accuracy": acc}))


def train(a):
    a.out = a.out or DEFAULT_MODEL[a.kind]
    if a.kind == "cnn":
        a.epochs = a.epochs or 2
        return train_cnn(a)
    a.epochs = a.epochs or 6
    x, y, xt, yt = mnist(a.data)
    x, y, xt, yt = prepare(x), y.astype(np.int64), prepare(xt), yt.astype(np.int64)
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


def bayes_bits(model_dir, images, batch=50):
    """bits/dim of every image under every label, [n, classes], from a class-conditional export."""
    import onnxruntime as ort
    path = os.path.join(model_dir, "model.onnx")
    if not os.path.exists(path):
        sys.exit(f"{path}: no such file (--kind bayes needs --model EXPORT_DIR of a class-conditional model)")
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    if names != ["image", "label"]:
        sys.exit(f"{path}: --kind bayes needs a class-conditional model (inputs image, label); it takes {names}")
    classes = json.loads(sess.get_modelmeta().custom_metadata_map["pixelcnn.spec"])["conditioning"]["classes"]
    labels = np.arange(classes, dtype=np.int64)
    out = []
    for s in range(0, len(images), batch):
        x = np.asarray(images[s:s + batch])
        feeds = {"image": np.repeat(x, classes, axis=0), "label": np.tile(labels, len(x))}
        out.append(sess.run(["bits_per_dim"], feeds)[0].reshape(len(x), classes))
    return np.concatenate(out)


def bayes_predict(model_dir, images):
    """argmax_y p(x | y) with a uniform prior: the label under which the image costs the fewest bits."""
    bits = bayes_bits(model_dir, images)
    if bits.shape[1] != 10:
        sys.exit(f"{model_dir}: the model has {bits.shape[1]} classes; digits need 10")
    return bits.argmin(1)


def check(a):
    if a.kind == "bayes" and not a.model:
        sys.exit("--kind bayes needs --model EXPORT_DIR (the class-conditional model to classify with)")
    a.model = a.model or DEFAULT_MODEL[a.kind]
    if a.kind != "bayes" and not os.path.exists(a.model):
        if not a.train_if_missing:
            sys.exit(f"{a.model}: no classifier yet: run `{sys.argv[0]} train --kind {a.kind}` first")
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the verdict
            train(argparse.Namespace(kind=a.kind, data=a.data, out=a.model, epochs=None))
    if a.mnist_test is not None:
        if a.mnist_test < 1:
            sys.exit(f"--mnist-test {a.mnist_test}: expected a number of test images >= 1")
        if a.images or a.labels or a.repeats > 1:
            sys.exit("--mnist-test takes the images and labels from MNIST: drop --images, --labels, --repeats")
        _, _, images, labels = mnist(a.data)
        images, labels = images[:a.mnist_test].reshape(-1, 1, 28, 28), labels[:a.mnist_test].astype(np.int64)
    elif not (a.images and a.labels):
        sys.exit("check needs --images and --labels, or --mnist-test N")
    else:
        images = np.load(a.images)
        labels = np.load(a.labels).astype(np.int64).reshape(-1)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        sys.exit(f"{a.images}: expected uint8 [n, 1, 28, 28], got {images.dtype} {list(images.shape)}")
    if len(labels) != len(images):
        sys.exit(f"{a.labels}: {len(labels)} labels for {len(images)} images")
    if a.kind == "cnn":
        import torch
        net = cnn_net()
        net.load_state_dict(torch.load(a.model))
        pred = cnn_predict(net.eval(), images)
    elif a.kind == "bayes":
        pred = bayes_predict(a.model, images)
    else:
        z = np.load(a.model)
        pred = forward([z[f"arr_{k}"] for k in range(4)], prepare(images))[1].argmax(1)
    per = [float((pred[labels == k] == k).mean()) if (labels == k).any() else None for k in range(10)]
    acc = float((pred == labels).mean())
    verdict = {"checker": a.kind, "images": len(images), "accuracy": acc, "per_label": per}
    if a.repeats > 1:
        # the images are `repeats` blocks, each one sample for the same n conditions:
        # how many of its samples each condition gets right (0..repeats), as a histogram
        if len(images) % a.repeats:
            sys.exit(f"{a.images}: {len(images)} images is not --repeats {a.repeats} blocks of equal size")
        right = (pred == labels).reshape(a.repeats, -1).sum(0)
        verdict["right_of_repeats"] = np.bincount(right, minlength=a.repeats + 1).tolist()
    print(json.dumps(verdict))
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
    t.add_argument("--kind", choices=["mlp", "cnn"], default="mlp")
    t.add_argument("--data", default="data/mnist")
    t.add_argument("--out", help="default: data/digit-classifier.npz (mlp), data/digit-classifier-cnn.pt (cnn)")
    t.add_argument("--epochs", type=int, help="default: 6 (mlp), 2 (cnn)")
    c = sub.add_parser("check")
    c.add_argument("--kind", choices=["mlp", "cnn", "bayes"], default="mlp")
    c.add_argument("--images")
    c.add_argument("--labels")
    c.add_argument("--mnist-test", type=int, metavar="N", help="judge the first N MNIST test images instead")
    c.add_argument("--model", help="default: the kind's file under data/ (mlp, cnn); the export directory (bayes)")
    c.add_argument("--min", type=float, default=0.0)
    c.add_argument("--repeats", type=int, default=1,
                   help="the images are R blocks of samples for the same conditions: also report how many of "
                        "its R samples each condition gets right")
    c.add_argument("--train-if-missing", action="store_true",
                   help="train a classifier of --kind into --model's file first when it does not exist")
    c.add_argument("--data", default="data/mnist", help="MNIST, for --train-if-missing and --mnist-test")
    g = sub.add_parser("grid")
    g.add_argument("--images", required=True)
    g.add_argument("--out", required=True)
    a = ap.parse_args()
    {"train": train, "check": check, "grid": grid}[a.cmd](a)


if __name__ == "__main__":
    main()
