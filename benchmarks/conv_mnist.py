"""The lecture's convolutional auto-encoder on MNIST, with both unpooling kinds and both decoder
layers, beside the same architecture in Keras trained in the same run.

Encoder: conv 16-8-8 (3x3, same padding, ReLU), a 2x2 max pooling after each (28 -> 14 -> 7 -> 4);
decoder: the mirror (unpooling, then a transposed convolution or a convolution), sigmoid output,
binary cross-entropy; batch 256, 10 epochs on the 60,000 training images. Prints the test
cross-entropy and squared error per image, and training samples per second (median epoch).

    python benchmarks/conv_mnist.py [--data-dir ../shared/data/mnist] [--epochs 10]
        [--keras-python /path/to/python-with-tensorflow]

Keras (TensorFlow, CPU) is not an aelab dependency: give ``--keras-python`` an interpreter that
has it (``python -m venv tf && tf/bin/pip install tensorflow==2.21.*``); the Keras model then
trains in a child process, after aelab's runs, so that the two never share the cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from aelab import ConvAutoEncoder, datasets

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
CONFIGS = [  # (unpooling, upsampling, precision)
    ("max", "deconv", "float32"),
    ("nearest", "deconv", "float32"),
    ("max", "conv", "float32"),
    ("nearest", "conv", "float32"),
    ("max", "deconv", "bfloat16"),
    ("nearest", "deconv", "bfloat16"),
]


def per_image(model, X: np.ndarray) -> tuple[float, float]:
    """Test binary cross-entropy and squared error, each summed over pixels, mean over images."""
    R = model.reconstruct(X).astype(np.float64)
    Rc = np.clip(R, 1e-7, 1 - 1e-7)
    bce = -(X * np.log(Rc) + (1 - X) * np.log(1 - Rc)).sum(1).mean()
    return float(bce), float(((R - X) ** 2).sum(1).mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--keras-python", help="a Python interpreter with TensorFlow, for the Keras reference")
    p.add_argument("--only", help="run only configurations whose name contains this text")
    args = p.parse_args()

    ds = datasets.load("mnist", data_dir=args.data_dir)
    print(f"data: {ds!r}; torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    rows = []
    header = f"{'model':34s} {'test BCE':>9s} {'test sq. err':>12s} {'samples/s':>10s} {'seconds':>8s}"
    print(header, flush=True)
    for unpooling, upsampling, precision in CONFIGS:
        name = f"aelab {unpooling} unpool + {upsampling}" + (" (bf16)" if precision == "bfloat16" else "")
        if args.only and args.only not in name:
            continue
        model = ConvAutoEncoder(
            n_components=None,  # the lecture's model: the pooled maps (8 x 4 x 4) are the code
            channels=(16, 8, 8),
            unpooling=unpooling,
            upsampling=upsampling,
            epochs=args.epochs,
            batch_size=args.batch_size,
            validation_fraction=0.0,
            precision=precision,
            random_state=0,
        )
        model.fit(ds.train.X, image_shape=ds.image_shape)
        speed = float(np.median([h["samples_per_s"] for h in model.history_]))
        bce, sq = per_image(model, ds.test.X)
        rows.append((name, bce, sq, speed, model.training_seconds_))
        print(f"{name:34s} {bce:9.2f} {sq:12.2f} {speed:10.0f} {model.training_seconds_:8.0f}", flush=True)

    if args.keras_python:
        script = Path(__file__).with_name("keras_conv_reference.py")
        done = subprocess.run(
            [args.keras_python, str(script), args.data_dir, str(args.epochs), str(args.batch_size)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(f"Keras reference failed: {done.stderr.strip().splitlines()[-1:]}")
            return
        k = json.loads(done.stdout.strip().splitlines()[-1])
        name = f"Keras {k['keras']} (TensorFlow {k['tensorflow']})"
        print(
            f"{name:34s} {k['test_bce']:9.2f} {k['test_squared_error']:12.2f} {k['samples_per_s']:10.0f} "
            f"{k['seconds']:8.0f}"
        )
        for row in rows:
            print(f"  {row[0]}: {row[3] / k['samples_per_s']:.2f}x Keras's training speed")
    else:
        print("Keras reference skipped (pass --keras-python PYTHON, an interpreter with tensorflow)", file=sys.stderr)


if __name__ == "__main__":
    main()
