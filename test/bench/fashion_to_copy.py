#!/usr/bin/env python3
"""Write Fashion-MNIST (Debian package dataset-fashion-mnist) as COPY text.

Usage: fashion_to_copy.py train|test > rows.copy
Each line: id <TAB> label <TAB> [x1,...,x784]   (pixel values 0..255)
Only the standard library is needed (idx files are gzip'd big-endian).
"""
import gzip
import struct
import sys

DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def main():
    part = sys.argv[1] if len(sys.argv) > 1 else "train"
    prefix = "train" if part == "train" else "t10k"
    (n, rows, cols), images = read_idx(f"{DIR}/{prefix}-images-idx3-ubyte.gz")
    _, labels = read_idx(f"{DIR}/{prefix}-labels-idx1-ubyte.gz")
    dim = rows * cols
    out = sys.stdout
    for i in range(n):
        px = images[i * dim:(i + 1) * dim]
        out.write(f"{i}\t{labels[i]}\t[{','.join(map(str, px))}]\n")


if __name__ == "__main__":
    main()
