#!/usr/bin/env python3
"""Write Fashion-MNIST (Debian package dataset-fashion-mnist) as COPY text.

Usage: fashion_to_copy.py train|test > rows.copy
Each line: id <TAB> label <TAB> [x1,...,x784]   (pixel values 0..255)
Reads the idx files through fmnist.py (numpy).
"""
import sys

import fmnist


def main():
    part = sys.argv[1] if len(sys.argv) > 1 else "train"
    vectors, labels = fmnist.load("train" if part == "train" else "t10k")
    out = sys.stdout
    for i in range(len(vectors)):
        out.write(f"{i}\t{labels[i]}\t{fmnist.vector_literal(vectors[i])}\n")


if __name__ == "__main__":
    main()
