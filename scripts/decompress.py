#!/usr/bin/env python3
"""Drop-in decoder of .pcnn files written by the Rust `compress`: numpy + onnxruntime +
constriction (the entropy coder's Python package) only.

It reads the container (docs/compression.md), checks the model's step graphs against the
file's SHA-256, drives step_row.onnx / step_pixel.onnx exactly as the Rust sampler does (same
batch layout), turns each sub-pixel's logits into the same coding distribution
(exp_portable in float64, then constriction's Categorical(perfect=False)), and range-decodes
the pixels; the file's CRC-32 of the pixels must match.

  decompress.py --model OUT_DIR --in FILE.pcnn --out IMAGES.npy|IMAGES-idx3-ubyte
"""
import argparse, hashlib, json, os, sys, zlib

import numpy as np
import constriction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sample_onnxruntime import Model  # noqa: E402

MAGIC, FORMAT = b"PCNNCODE", 1
CODER = ("constriction range coder (queue), u32 words, categorical "
         "from_floating_point_probabilities_fast, 24-bit")
INV_LN2, LN2_HI, LN2_LO = 1.4426950408889634, 0.6931471803691238, 1.9082149292705877e-10
TAYLOR = [1.0, 1.0, 0.5, 0.16666666666666666, 0.041666666666666664, 0.008333333333333333,
          0.001388888888888889, 0.0001984126984126984, 2.48015873015873e-05,
          2.7557319223985893e-06, 2.755731922398589e-07, 2.505210838544172e-08]


def exp_portable(x):
    """exp(x) for x <= 0 with the Rust codec's exact sequence of IEEE-754 operations."""
    x = np.clip(x, -700.0, 0.0)
    k = np.floor(x * INV_LN2 + 0.5)
    r = (x - k * LN2_HI) - k * LN2_LO
    p = np.full_like(r, TAYLOR[11])
    for c in reversed(TAYLOR[:11]):
        p = p * r + c
    return p * np.ldexp(1.0, k.astype(np.int64))


def probabilities(logits):
    """[n, 256] float32 logits -> [n, 256] float64 unnormalised probabilities."""
    l = logits.astype(np.float64)
    if np.isnan(l).any() or not np.isfinite(l.max(axis=1)).all():
        sys.exit("the model produced non-finite logits")
    return exp_portable(l - l.max(axis=1, keepdims=True))


def read_container(path):
    raw = open(path, "rb").read()
    if raw[:8] != MAGIC:
        sys.exit(f"{path}: not a .pcnn file (no PCNNCODE magic)")
    if len(raw) < 16:
        sys.exit(f"{path}: truncated")
    n = int.from_bytes(raw[8:12], "little")
    if n > 1 << 16 or len(raw) < 12 + n + 4:
        sys.exit(f"{path}: truncated or corrupted header")
    if zlib.crc32(raw[:-4]) != int.from_bytes(raw[-4:], "little"):
        sys.exit(f"{path}: corrupted (the file checksum does not match)")
    header = json.loads(raw[12:12 + n])
    if header["format"] != FORMAT or header["coder"] != CODER:
        sys.exit(f"{path}: format {header['format']} / coder {header['coder']!r} is not this decoder's")
    words = np.frombuffer(raw[12 + n:-4], dtype="<u4").astype(np.uint32)
    if len(words) != header["words"]:
        sys.exit(f"{path}: truncated coded data")
    return header, words


def model_hash(model, out_dir):
    h = hashlib.sha256()
    for role in ("step_row", "step_pixel"):
        h.update(open(os.path.join(out_dir, model.g[role]["file"]), "rb").read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--in", dest="inp", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    header, words = read_container(a.inp)
    if header["engine"] != "ort":
        sys.exit(f"{a.inp}: compressed with --backend {header['engine']}; this decoder runs ONNX Runtime (compress with --backend ort)")
    m = Model(a.model, pixel_threads=1)
    s = m.spec
    shape = (s["channels"], s["height"], s["width"])
    if (header["channels"], header["height"], header["width"]) != shape:
        sys.exit(f"{a.inp}: images are {header['channels']}x{header['height']}x{header['width']}, the model makes {shape}")
    if model_hash(m, a.model) != header["model_sha256"]:
        sys.exit(f"{a.inp}: written with another model (step graph SHA-256 differs)")
    dec = constriction.stream.queue.RangeDecoder(words)
    cat = constriction.stream.model.Categorical(perfect=False)
    out, start = [], 0
    while start < header["count"]:
        n = min(header["batch"], header["count"] - start)
        choose = lambda i, j, c, logits: dec.decode(cat, probabilities(logits[:, c])).astype(np.uint8)
        out.append(m.drive(n, {}, choose))
        start += n
    images = np.concatenate(out)
    if zlib.crc32(images.tobytes()) != header["pixels_crc32"]:
        sys.exit("the decoded pixels fail the file's checksum: probabilities differ from the encoder's")
    if a.out.endswith(".npy"):
        np.save(a.out, images)
    else:
        if shape[0] != 1:
            sys.exit("IDX holds gray images: write .npy")
        head = np.array([0x803, len(images), shape[1], shape[2]], dtype=">u4").tobytes()
        open(a.out, "wb").write(head + images.tobytes())
    print(json.dumps({"images": int(len(images)), "out": a.out}))


if __name__ == "__main__":
    main()
