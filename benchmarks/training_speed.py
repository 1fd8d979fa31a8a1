"""Training speed of the 784-1000-500-250-30 auto-encoder against this machine's own limit, and
against a plain PyTorch loop of the same model in the same run.

The limit is the float32 matrix-multiply rate measured in the same run, divided by the work of one
sample: about 6 x parameters floating-point operations (2 for the forward pass, 4 for the
backward). The fraction of that limit reached by aelab's real training loop is the figure to watch.
Beside it, the same net trained by the plainest loop (a random permutation, rows indexed from one
tensor, binary cross-entropy, fused AdamW, nothing else) for as many steps: aelab's loop with the
same objective (no neighbour-keeping term) should keep its pace; the default recipe (with the term,
whose partner rows double each batch's work) is shown as well.

    python benchmarks/training_speed.py [--batch-size 256] [--epochs 3]
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
import torch.nn.functional as F

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


def plain_loop(net: torch.nn.Module, X: np.ndarray, batch: int, epochs: int) -> float:
    """Samples/s of the plainest training loop of ``net`` (median over epochs)."""
    data = torch.from_numpy(X)
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.1, fused=True)
    generator, rates = torch.Generator().manual_seed(0), []
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=generator)
        steps = len(data) // batch
        started = time.perf_counter()
        for b in range(steps):
            x = data[order[b * batch : (b + 1) * batch]]
            _, logits = net(x)
            loss = F.binary_cross_entropy_with_logits(logits, x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        rates.append(steps * batch / (time.perf_counter() - started))
    return float(np.median(rates))


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
        rates = {}
        for name, terms in (("aelab, same objective", {"keep_neighbours": 0}), ("aelab, default recipe", {})):
            ae = AutoEncoder(
                n_components=30,
                hidden_layer_sizes=(1000, 500, 250),
                epochs=args.epochs,
                batch_size=batch,
                validation_fraction=0.0,
                random_state=0,
                **terms,
            ).fit(X)
            rates[name] = float(np.median([h["samples_per_s"] for h in ae.history_]))
        rates["plain PyTorch loop"] = plain_loop(copy.deepcopy(ae.module_), X, batch, args.epochs)
        after = matmul_gflops()
        params = sum(p.numel() for p in ae.module_.parameters())
        gflops = max(before, after)
        limit = gflops * 1e9 / (6 * params)
        print(f"batch {batch}: matmul {gflops:.0f} GFLOP/s -> limit {limit:.0f} samples/s for {params:,} parameters")
        plain = rates["plain PyTorch loop"]
        for name, rate in rates.items():
            share = f"{rate / limit:>4.0%} of the limit, {rate / plain:.2f}x the plain loop"
            print(f"  {name:<24} {rate:>7.0f} samples/s = {share}")


if __name__ == "__main__":
    main()
