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
import argparse, gzip, json, os, sys

import numpy as np
import onnx
import onnxruntime as ort


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


def read_idx_bytes(path):
    """An IDX file's bytes, raw or gzipped; PATH may also name the file without its `.gz`."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    try:
        raw = open(path, "rb").read()
    except OSError as e:
        sys.exit(f"{path}: {e.strerror} (scripts/fetch-data.sh downloads MNIST and Fashion-MNIST)")
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def read_idx(path):
    raw = read_idx_bytes(path)
    magic, n, r, c = np.frombuffer(raw[:16], dtype=">u4")
    if magic != 0x803 or len(raw) != 16 + n * r * c:
        sys.exit(f"{path}: not an IDX uint8 image file of the expected size")
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, 1, r, c)


def read_labels(path):
    raw = read_idx_bytes(path)
    magic, n = np.frombuffer(raw[:8], dtype=">u4")
    if magic != 0x801 or len(raw) != 8 + n:
        sys.exit(f"{path}: not an IDX uint8 label file of the expected size")
    return np.frombuffer(raw[8:], dtype=np.uint8).astype(np.int64)


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
