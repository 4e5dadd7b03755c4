#!/usr/bin/env python3
"""Writes a small tabular dataset derived from Fashion-MNIST, for examples/tabular_csv.yaml.

    python3 tools/data/fashion_features_csv.py /tmp/fashion_tabular [--damage]

Four classes (tshirt, trouser, sneaker, bag); per image 19 columns: the mean ink of a 4x4 grid of 7x7-pixel blocks
(b00..b33), the fraction of pixels above 128 (ink), the bounding box's width/height (aspect) and a categorical
shape (wide/tall/square). --damage blanks some values, writes 'n/a' into b00 on some rows, adds an extra field to
a few rows, a far outlier and duplicated rows (what tests/cli/tabular_pipeline_test.cpp does in C++).
Standard library only; reads /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist).
"""
import gzip
import os
import struct
import sys

SRC = "/usr/share/datasets/fashion-mnist"
NAMES = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
KEEP = {0, 1, 7, 8}
HEADER = [f"b{y}{x}" for y in range(4) for x in range(4)] + ["ink", "aspect", "shape", "label"]


def read_idx(name):
    for path in (os.path.join(SRC, name + ".gz"), os.path.join(SRC, name)):
        if os.path.exists(path):
            data = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
            ndim = data[3]
            dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
            return dims, data[4 + 4 * ndim:]
    sys.exit(f"{name} not found in {SRC}: install the Debian package dataset-fashion-mnist")


def features(px):
    out = []
    for by in range(4):
        for bx in range(4):
            s = sum(px[(by * 7 + y) * 28 + bx * 7 + x] for y in range(7) for x in range(7))
            out.append(f"{s / 49:.4g}")
    on = [(i // 28, i % 28) for i in range(784) if px[i] > 128]
    if on:
        ys, xs = [p[0] for p in on], [p[1] for p in on]
        w, h = max(xs) - min(xs) + 1, max(ys) - min(ys) + 1
    else:
        w = h = 1
    shape = "wide" if w > h * 1.15 else ("tall" if h > w * 1.15 else "square")
    return out + [f"{len(on) / 784:.4g}", f"{w / h:.4g}", shape]


def write(path, split, n, damage):
    (count, *_), images = read_idx(f"{split}-images-idx3-ubyte")
    _, labels = read_idx(f"{split}-labels-idx1-ubyte")
    rows = 0
    with open(path, "w") as f:
        f.write(",".join(HEADER) + "\n")
        for i in range(min(n, count)):
            if labels[i] not in KEEP:
                continue
            row = features(images[i * 784:(i + 1) * 784]) + [NAMES[labels[i]]]
            rows += 1
            if damage:
                if rows % 41 == 0:
                    row[6] = ""
                elif rows % 157 == 0:
                    row[0] = "n/a"
                elif rows % 211 == 0:
                    row.append("extra")
                elif rows == 100:
                    row[0] = "25500"
            f.write(",".join(row) + "\n")
            if damage and rows % 97 == 0:
                f.write(",".join(row) + "\n")
    print(f"{path}: {rows} rows")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit(__doc__)
    os.makedirs(args[0], exist_ok=True)
    damage = "--damage" in sys.argv
    write(os.path.join(args[0], "train.csv"), "train", 12000, damage)
    write(os.path.join(args[0], "test.csv"), "t10k", 4000, False)


if __name__ == "__main__":
    main()
