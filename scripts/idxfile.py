"""IDX files (MNIST's format) for the Python scripts: raw or gzipped, named with or without
their `.gz`. Needs numpy only."""
import gzip, os, sys

import numpy as np


def read_idx(path):
    """An unsigned-byte IDX file as a uint8 array of its header's shape."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        sys.exit(f"{path}: {e.strerror} (scripts/fetch-data.sh downloads MNIST and Fashion-MNIST)")
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8 or len(data) < 4 + 4 * data[3]:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(dims)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        sys.exit(f"{path}: header says {shape}, file holds {body.size} values")
    return body.reshape(shape)
