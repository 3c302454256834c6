#!/usr/bin/env python3
"""Drop-in check of an exported PixelCNN in Python (onnx + onnxruntime + numpy only).

  check_onnx.py OUT_DIR           onnx.checker (full_check) on every graph, then runs
                                  model.onnx on OUT_DIR/reference/ inputs and compares
                                  logits and bits_per_dim with the Rust (burn) values.
  check_onnx.py OUT_DIR --score IDX_IMAGES [--labels IDX_LABELS] [--limit N]
                                  prints the mean bits_per_dim of an MNIST-style IDX
                                  image file (raw or .gz) as one JSON line; a
                                  class-conditional model is scored given each image's
                                  true label (--labels).
"""
import argparse, json, os, sys

import numpy as np
import onnx
import onnxruntime as ort

from idxfile import read_idx as read_idx_file


def contract_of(path):
    m = onnx.load(path)
    props = {p.key: p.value for p in m.metadata_props}
    return m, json.loads(props["pixelcnn.contract"]), json.loads(props["pixelcnn.spec"])


def check(out_dir, tol):
    model, contract, spec = contract_of(os.path.join(out_dir, "model.onnx"))
    for role, g in contract["graphs"].items():
        onnx.checker.check_model(onnx.load(os.path.join(out_dir, g["file"])), full_check=True)
        print(f"onnx.checker full_check ok: {g['file']} ({role})")
    ref = os.path.join(out_dir, "reference")
    sess = ort.InferenceSession(os.path.join(out_dir, "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = {}
    for i in sess.get_inputs():
        feeds[i.name] = np.load(os.path.join(ref, f"{i.name}.npy"))
    logits, bpd = sess.run(["logits", "bits_per_dim"], feeds)
    dl = float(np.abs(logits - np.load(os.path.join(ref, "logits.npy"))).max())
    db = float(np.abs(bpd - np.load(os.path.join(ref, "bits_per_dim.npy"))).max())
    print(json.dumps({"check": "python-onnxruntime-vs-burn", "ort_version": ort.__version__,
                      "max_abs_logit_diff": dl, "max_abs_bpd_diff": db, "images": int(logits.shape[0])}))
    if not (dl <= tol and db <= tol):
        sys.exit(f"FAILED: Python ONNX Runtime differs from burn by {dl} (logits), {db} (bits/dim); tolerance {tol}")


def read_idx(path):
    x = read_idx_file(path)
    if x.ndim != 3:
        sys.exit(f"{path}: not an IDX image file (shape {list(x.shape)})")
    return x[:, None]


def read_labels(path):
    y = read_idx_file(path)
    if y.ndim != 1:
        sys.exit(f"{path}: not an IDX label file (shape {list(y.shape)})")
    return y.astype(np.int64)


def score(out_dir, images_path, labels_path, limit, batch=250):
    sess = ort.InferenceSession(os.path.join(out_dir, "model.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    if names not in (["image"], ["image", "label"]):
        sys.exit(f"--score supports unconditional and class-conditional models (inputs: {names})")
    if "label" in names and not labels_path:
        sys.exit("this model is class-conditional: pass --labels IDX_LABELS (the true labels)")
    x = read_idx(images_path)[:limit]
    y = read_labels(labels_path)[:limit] if "label" in names else None
    if y is not None and len(y) != len(x):
        sys.exit(f"{labels_path}: {len(y)} labels for {len(x)} images")
    total = 0.0
    for s in range(0, len(x), batch):
        feeds = {"image": x[s:s + batch]}
        if y is not None:
            feeds["label"] = y[s:s + batch]
        total += float(sess.run(["bits_per_dim"], feeds)[0].astype(np.float64).sum())
    out = {"bits_per_dim": total / len(x), "images": len(x), "runtime": "python-onnxruntime " + ort.__version__}
    if y is not None:
        out["given"] = "true labels"
    print(json.dumps(out))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--score")
    ap.add_argument("--labels")
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args()
    if a.score:
        score(a.out_dir, a.score, a.labels, a.limit)
    else:
        check(a.out_dir, a.tol)
