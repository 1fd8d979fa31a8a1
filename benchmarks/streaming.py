"""Training from a memory-mapped .npy against training in memory, in the same run.

1. Speed: the default recipe (784-1000-500-250-30) for a few epochs on the 60,000 MNIST training
   images (uint8), from memory, then streamed from the same pixels: memory-mapped from a .npy, from
   WebDataset shards of .npy rows and of PNG images (``aelab pack`` of the .npy and of the folder),
   and from that folder of PNG files (the last three decoded in DataLoader workers); samples/s of
   each, its ratio to in-memory training (target >= 0.9), and whether the weights are identical.
2. Memory: a memory-mapped uint8 .npy of ``--gigabytes`` (MNIST repeated with noise), trained on
   for ``--seconds`` by a child process whose resident memory is sampled from /proc: its anonymous
   memory (what the process itself holds) and its file-backed pages (the mapped file, which the
   system reclaims under pressure) are printed apart.

    .venv/bin/python benchmarks/streaming.py [--data-dir ../shared/data/mnist] [--epochs 3]
        [--gigabytes 8] [--seconds 90] [--workdir /tmp]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aelab import AutoEncoder, datasets

CHILD = """
import sys, numpy as np, aelab
X = np.load(sys.argv[1], mmap_mode="r")
aelab.AutoEncoder(epochs=1, random_state=0, verbose=False).fit(X, stream=True)
"""


def png_folder(root: Path, pixels: np.ndarray) -> Path:
    """The images as PNG files, a sub-folder of 1,000 each (the labels do not matter here)."""
    for start in range(0, len(pixels), 1000):
        part = root / f"part{start // 1000:03d}"
        part.mkdir(parents=True)
        for i in range(start, min(start + 1000, len(pixels))):
            Image.fromarray(pixels[i].reshape(28, 28)).save(part / f"{i:05d}.png")
    return root


def speed(data_dir: str, epochs: int) -> None:
    mnist = datasets.load("mnist", data_dir=data_dir)
    pixels = np.round(mnist.train.X * 255).astype(np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.save(tmp / "mnist.npy", pixels)
        folder = png_folder(tmp / "png", pixels)
        datasets.pack_shards(folder, tmp / "shards")
        datasets.pack_shards(tmp / "mnist.npy", tmp / "npy-shards")
        shards, npy_shards = datasets.ShardRows(tmp / "shards"), datasets.ShardRows(tmp / "npy-shards")
        sources = {
            "in memory": pixels,
            "memory-mapped .npy": np.load(tmp / "mnist.npy", mmap_mode="r"),
            f"WebDataset shards ({len(npy_shards.shards)}, .npy)": npy_shards,
            f"WebDataset shards ({len(shards.shards)}, PNG)": shards,
            "image folder (PNG files)": datasets.ImageRows(folder),
        }
        decoders = f"{shards.workers} worker processes" if shards.workers else "the training process (2 cores or fewer)"
        print(f"{epochs} epochs of the default recipe on {len(pixels):,} MNIST images; decoded in {decoders}")
        print(f"{'from':<28} {'samples/s':>9}  {'/ memory':>8}  {'seconds':>7}  identical weights")
        base = None
        for name, X in sources.items():
            started = time.perf_counter()
            model = AutoEncoder(epochs=epochs, random_state=0).fit(X, stream=X is not pixels)
            seconds = time.perf_counter() - started  # with the checking pass of streamed data
            rate = np.mean([h["samples_per_s"] for h in model.history_])
            base = base or (rate, model)
            same = all(
                torch.equal(p, q)
                for p, q in zip(base[1].module_.state_dict().values(), model.module_.state_dict().values())
            )
            print(f"{name:<28} {rate:>9,.0f}  {rate / base[0]:>8.2f}  {seconds:>7.0f}  {same}", flush=True)


def make_big(path: Path, data_dir: str, gigabytes: float) -> int:
    mnist = datasets.load("mnist", data_dir=data_dir)
    pixels = np.round(mnist.train.X * 255).astype(np.uint8)
    rows = int(gigabytes * 2**30) // pixels.shape[1]
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(rows, pixels.shape[1]))
    rng = np.random.default_rng(0)
    for start in range(0, rows, len(pixels)):
        block = pixels[: min(len(pixels), rows - start)].astype(np.int16)
        out[start : start + len(block)] = np.clip(block + rng.integers(-8, 9, block.shape), 0, 255)
    out.flush()
    del out
    return rows


def memory(path: Path, seconds: float) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)])
    peak = {"RssAnon": 0, "RssFile": 0, "VmRSS": 0}
    started = time.perf_counter()
    while child.poll() is None and time.perf_counter() - started < seconds:
        try:
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in peak:
                    peak[key] = max(peak[key], int(value.split()[0]) * 1024)
        except FileNotFoundError:
            break
        time.sleep(0.5)
    child.kill()
    child.wait()
    print(
        f"peak over {time.perf_counter() - started:.0f} s of streamed training: "
        f"anonymous {peak['RssAnon'] / 2**30:.2f} GiB, "
        f"file-backed (the mapped file) {peak['RssFile'] / 2**30:.2f} GiB, total RSS {peak['VmRSS'] / 2**30:.2f} GiB"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--gigabytes", type=float, default=8.0)
    p.add_argument("--seconds", type=float, default=90.0)
    p.add_argument("--workdir", default=tempfile.gettempdir())
    args = p.parse_args()
    speed(args.data_dir, args.epochs)
    if args.gigabytes > 0:
        path = Path(args.workdir) / "aelab-streaming-big.npy"
        started = time.perf_counter()
        rows = make_big(path, args.data_dir, args.gigabytes)
        print(
            f"wrote {path}: {rows:,} rows of 784 uint8, {path.stat().st_size / 2**30:.1f} GiB, "
            f"in {time.perf_counter() - started:.0f} s"
        )
        try:
            memory(path, args.seconds)
        finally:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
