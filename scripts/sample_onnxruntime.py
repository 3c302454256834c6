#!/usr/bin/env python3
"""Drop-in cached sampler in plain Python: numpy + onnxruntime only.

Reads the contract from the graphs' metadata (pixelcnn.contract), drives
step_row.onnx / step_pixel.onnx exactly as docs/onnx-interface.md describes, and draws
sub-pixels with the project's documented RNG (SplitMix64 per image, inverse CDF of the
softmax in float64), so a seed gives the same images as the Rust `sample` command.

  sample_onnxruntime.py OUT_DIR --n 16 --seed 1 [--label K] [--out grid.pgm|.npy]
  sample_onnxruntime.py OUT_DIR --check IDX_IMAGES
      teacher-forces test images through the step graphs and compares every step's
      logits with model.onnx (fails above --tol, default 1e-4).
"""
import argparse, json, os, sys, time

import numpy as np
import onnx
import onnxruntime as ort

from idxfile import read_idx

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def next_f64(self):
        return (self.next_u64() >> 11) * (1.0 / (1 << 53))


def image_seed(seed, index):
    return (seed + index * 0xD1B54A32D192ED03) & MASK


def inverse_cdf(logits, temperature, u):
    if not (np.isfinite(temperature) and temperature > 0):
        sys.exit(f"temperature must be a finite number > 0, got {temperature}")
    l = logits.astype(np.float64)
    if np.isnan(l).any() or not np.isfinite(l.max()):
        sys.exit("the model produced non-finite logits (NaN or +inf, or all -inf)")
    p = np.exp((l - l.max()) / temperature)
    # sequential sums, as the Rust code does, so both see the same boundaries
    total = 0.0
    for v in p:
        total += v
    acc, target = 0.0, u * total
    for k, v in enumerate(p):
        acc += v
        if acc > target:
            return k
    return len(p) - 1


class Model:
    def __init__(self, out_dir, pixel_threads=None):
        props = {p.key: p.value for p in onnx.load(os.path.join(out_dir, "model.onnx"), load_external_data=False).metadata_props}
        self.contract = json.loads(props["pixelcnn.contract"])
        self.spec = json.loads(props["pixelcnn.spec"])
        so = ort.SessionOptions()
        opts = dict(sess_options=so, providers=["CPUExecutionProvider"])
        g = self.contract["graphs"]
        if "step_pixel" not in g:
            sys.exit("this export has no step graphs (only Gated PixelCNNs and auto-encoders have them)")
        self.row = ort.InferenceSession(os.path.join(out_dir, g["step_row"]["file"]), **opts)
        if pixel_threads:
            # as the Rust engine runs step_pixel (a chain of tiny ops): one thread
            so1 = ort.SessionOptions()
            so1.intra_op_num_threads = pixel_threads
            opts = dict(sess_options=so1, providers=["CPUExecutionProvider"])
        self.pixel = ort.InferenceSession(os.path.join(out_dir, g["step_pixel"]["file"]), **opts)
        self.full = ort.InferenceSession(os.path.join(out_dir, g["model"]["file"]), **opts)
        self.g = g

    def zeros(self, role, name, n):
        for t in self.g[role]["inputs"]:
            if t["name"] == name:
                return np.zeros([n if isinstance(d, str) else d for d in t["shape"]], dtype=np.float32)
        raise KeyError(name)

    def drive(self, n, cond_feed, choose):
        """Runs the documented loop; choose(i, j, c, logits[n, C, 256]) -> values[n]."""
        C, H, W = self.spec["channels"], self.spec["height"], self.spec["width"]
        rin = [t["name"] for t in self.g["step_row"]["inputs"]]
        pin = [t["name"] for t in self.g["step_pixel"]["inputs"]]
        pout = [t["name"] for t in self.g["step_pixel"]["outputs"]]
        rout = [t["name"] for t in self.g["step_row"]["outputs"]]
        past_v = {k: self.zeros("step_row", k, n) for k in rin if k.startswith("past_v.")}
        v_ctx = self.zeros("step_pixel", "v_ctx", n)
        images = np.zeros((n, C, H, W), dtype=np.uint8)
        for i in range(H):
            row = np.zeros((n, C, W), dtype=np.uint8)
            past_h = {k: self.zeros("step_pixel", k, n) for k in pin if k.startswith("past_h.")}
            extra = dict(cond_feed)
            if "row_index" in pin:
                extra["row_index"] = np.array(i, dtype=np.int64)
            for j in range(W):
                for c in range(C):
                    feed = {"row": row, "col": np.array(j, dtype=np.int64), "v_ctx": v_ctx, **past_h}
                    feed.update({k: v for k, v in extra.items() if k in pin})
                    outs = dict(zip(pout, self.pixel.run(pout, feed)))
                    row[:, c, j] = choose(i, j, c, outs["logits"])
                    if c == C - 1:
                        past_h = {k.replace("present_", "past_"): v for k, v in outs.items() if k.startswith("present_h.")}
            images[:, :, i, :] = row
            feed = {"row": row, **past_v}
            feed.update({k: v for k, v in extra.items() if k in rin})
            outs = dict(zip(rout, self.row.run(rout, feed)))
            v_ctx = outs["v_ctx"]
            past_v = {k.replace("present_", "past_"): v for k, v in outs.items() if k.startswith("present_v.")}
        return images


def cond_feed(model, n, label):
    kind = model.contract["conditioning"]
    if kind == "class":
        if label is None:
            sys.exit("class-conditional model: pass --label K")
        return {"label": np.full((n,), label, dtype=np.int64)}
    if kind in ("vector", "spatial"):
        sys.exit("vector-conditioned models: use the Rust `sample --cond`; this driver covers none/class")
    return {}


def sample(a):
    m = Model(a.out_dir)
    n = a.n
    rngs = [SplitMix64(image_seed(a.seed, b)) for b in range(n)]
    choose = lambda i, j, c, logits: [inverse_cdf(logits[b, c], a.temperature, rngs[b].next_f64()) for b in range(n)]
    t = time.time()
    imgs = m.drive(n, cond_feed(m, n, a.label), choose)
    dt = time.time() - t
    if a.out:
        np.save(a.out, imgs) if a.out.endswith(".npy") else write_pgm(a.out, imgs)
    print(json.dumps({"images": n, "seconds": dt, "images_per_s": n / dt, "out": a.out}))


def write_pgm(path, imgs):
    n, C, H, W = imgs.shape
    grid = np.zeros((H, n * (W + 1)), dtype=np.uint8)
    for b in range(n):
        grid[:, b * (W + 1):b * (W + 1) + W] = imgs[b, 0]
    with open(path, "wb") as f:
        f.write(b"P5 %d %d 255\n" % (grid.shape[1], grid.shape[0]) + grid.tobytes())


def check(a):
    m = Model(a.out_dir)
    C, H, W = m.spec["channels"], m.spec["height"], m.spec["width"]
    x = read_idx(a.check)[:, None][:a.n]
    if x.shape[1:] != (C, H, W):
        sys.exit(f"{a.check}: images are {x.shape[1:]}, the model expects {(C, H, W)}")
    n = len(x)
    feed = cond_feed(m, n, 0 if m.contract["conditioning"] == "class" else None)
    full = m.full.run(["logits"], {"image": x, **feed})[0]
    worst = [0.0]

    def choose(i, j, c, logits):
        worst[0] = max(worst[0], float(np.abs(logits[:, c] - full[:, c, i, j]).max()))
        return x[:, c, i, j]

    imgs = m.drive(n, feed, choose)
    assert (imgs == x).all()
    print(json.dumps({"check": "python step graphs vs model.onnx (teacher forcing)", "images": n,
                      "steps": C * H * W, "max_abs_logit_diff": worst[0]}))
    if worst[0] > a.tol:
        sys.exit(f"FAILED: step logits differ from model.onnx by {worst[0]} > {a.tol}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--label", type=int)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--out")
    ap.add_argument("--check")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    check(a) if a.check else sample(a)
