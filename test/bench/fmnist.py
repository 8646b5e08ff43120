"""Fashion-MNIST from the Debian package dataset-fashion-mnist.

The ann-benchmarks fashion-mnist-784-euclidean setup: the 60,000 training
images are the base set, the test images are queries, vectors are the raw
pixel values 0..255 as float32.  The one reader of the idx files for every
benchmark script here.
"""
import gzip
import io
import os
import time

import numpy as np

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def _read_idx(name):
    """An idx file (gzip'd, big-endian header) as a uint8 array of its shape."""
    with gzip.open(os.path.join(DATA_DIR, name), "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic >> 8 != 0x08:
        raise ValueError(f"{name}: not an unsigned-byte idx file")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split="train", limit=None):
    """(vectors float32 [n, 784], labels int [n]) for 'train' or 't10k';
    limit keeps only the first rows."""
    images = _read_idx(f"{split}-images-idx3-ubyte.gz")
    labels = _read_idx(f"{split}-labels-idx1-ubyte.gz")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images.reshape(len(images), -1).astype(np.float32), labels.astype(np.int64)


def vector_literal(v):
    """pgvector text form of one vector; integer pixels print without decimals."""
    if np.all(v == np.rint(v)):
        # str() of Python ints is several times faster than "%g" of floats
        return "[" + ",".join(map(str, v.astype(np.int64).tolist())) + "]"
    return "[" + ",".join("%g" % x for x in v) + "]"


def exact_neighbours(base, queries, k):
    """Exact k nearest neighbours by L2 (ties broken by row number):
    (ids int64 [nq, k], distances float64 [nq, k])."""
    base64 = base.astype(np.float64)
    base_sq = (base64 ** 2).sum(axis=1)
    ids = np.empty((len(queries), k), dtype=np.int64)
    dists = np.empty((len(queries), k), dtype=np.float64)
    kk = min(k + 1, len(base)) - 1
    for start in range(0, len(queries), 100):
        q = queries[start:start + 100].astype(np.float64)
        d = base_sq[None, :] - 2.0 * q @ base64.T + (q ** 2).sum(axis=1)[:, None]
        part = np.argpartition(d, kk, axis=1)[:, :kk + 1]
        for i, row in enumerate(part):
            order = sorted(row, key=lambda j: (d[i, j], j))[:k]
            ids[start + i, :len(order)] = order
            dists[start + i, :len(order)] = d[i, order]
    return ids, np.sqrt(np.maximum(dists, 0))


def load_table(cur, base, labels, table="fmnist"):
    """A fresh table (id, label, embedding vector(784) STORAGE PLAIN) holding
    the base rows, by one COPY, then VACUUM ANALYZE; seconds the COPY took."""
    cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"CREATE TABLE {table} (id int, label int, embedding vector({base.shape[1]}))")
    cur.execute(f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE PLAIN")
    text = io.StringIO("".join(f"{i}\t{labels[i]}\t{vector_literal(v)}\n"
                               for i, v in enumerate(base)))
    t = time.perf_counter()
    cur.copy_expert(f"COPY {table} (id, label, embedding) FROM STDIN", text)
    seconds = time.perf_counter() - t
    cur.execute(f"VACUUM ANALYZE {table}")
    return seconds
