"""One process against two Gloo ranks (DistributedDataParallel) on this machine, in the same run.

The default recipe (784-1000-500-250-30, batch 256) trains for ``--epochs`` epochs on the MNIST
training images, once as one process with every core's thread and once as ``aelab train
--nproc-per-node 2`` (one thread per rank, as the launcher sets); printed: samples/s of each
(the mean over the epochs after the first), their ratio, the wall time of the command, and the
test reconstruction error each reaches after the same epochs.

On two cores this shows that the ranks train the same model (the same test error), and what the
machinery costs: two ranks have the same two cores that one process's two threads have, and add
an all-reduce of the gradients (2.8M weights) per step, and two small ones per BatchNorm layer
(the pair of runs without BatchNorm shows what those cost). It cannot show a speed-up; that needs
more cores or GPUs than one process can use.

    .venv/bin/python benchmarks/ddp.py [--data-dir ../shared/data/mnist] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import aelab


def train(out: Path, data_dir: str, epochs: int, *extra: str) -> tuple[float, float, float]:
    """Samples/s, seconds and test error of one ``aelab train`` run."""
    command = [sys.executable, "-m", "aelab", "train", "--data", "mnist", "--data-dir", data_dir, "--out", str(out)]
    command += ["--epochs", str(epochs), "--seed", "0", "--hidden", "1000-500-250", "--batch-size", "256", *extra]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # torch's own choice; ranks: cores / N
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(done.stderr)
    error = float(re.search(r"test reconstruction error: ([0-9.]+)", done.stdout).group(1))
    history = aelab.load(out).history_
    return float(np.mean([h["samples_per_s"] for h in history[1:] or history])), seconds, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/mnist")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; the default recipe, {args.epochs} epochs of the MNIST training set, batch 256")
    print(f"{'run':<40} {'samples/s':>10} {'seconds':>8} {'test error':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for norm in ("batch", "none"):
            runs = []
            for name, extra in (("one process", ()), ("two Gloo ranks", ("--nproc-per-node", "2"))):
                label = f"{name}, normalization {norm}"
                out = Path(tmp) / label.replace(" ", "-").replace(",", "")
                runs.append(train(out, args.data_dir, args.epochs, "--normalization", norm, *extra))
                rate, seconds, error = runs[-1]
                print(f"{label:<40} {rate:>10,.0f} {seconds:>8.0f} {error:>11.2f}", flush=True)
            (r1, _, e1), (r2, _, e2) = runs
            print(
                f"  two ranks / one process: {r2 / r1:.2f} of the samples/s; test error {100 * (e2 / e1 - 1):+.1f}%",
                flush=True,
            )


if __name__ == "__main__":
    main()
