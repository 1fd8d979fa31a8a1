"""Training speed of the 784-1000-500-250-30 auto-encoder against this machine's own limit.

The limit is the float32 matrix-multiply rate measured in the same run, divided by the work of one
sample: about 6 x parameters floating-point operations (2 for the forward pass, 4 for the
backward). The fraction of that limit reached by aelab's real training loop is the figure to watch.

    python benchmarks/training_speed.py [--batch-size 256] [--epochs 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from aelab import AutoEncoder


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Best-of-three float32 matrix-multiply rate in GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, nargs="+", default=[256])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=60000)
    args = p.parse_args()

    X = np.random.default_rng(0).random((args.samples, 784), dtype=np.float32)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for batch in args.batch_size:
        before = matmul_gflops()
        ae = AutoEncoder(
            n_components=30,
            hidden_layer_sizes=(1000, 500, 250),
            epochs=args.epochs,
            batch_size=batch,
            validation_fraction=0.0,
            random_state=0,
        ).fit(X)
        after = matmul_gflops()
        rate = float(np.median([h["samples_per_s"] for h in ae.history_]))
        params = sum(p.numel() for p in ae.module_.parameters())
        gflops = max(before, after)
        limit = gflops * 1e9 / (6 * params)
        print(
            f"batch {batch}: matmul {gflops:.0f} GFLOP/s -> limit {limit:.0f} samples/s for {params:,} parameters; "
            f"training {rate:.0f} samples/s = {rate / limit:.0%} of the limit"
        )


if __name__ == "__main__":
    main()
