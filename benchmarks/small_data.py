"""The default recipe on small collections: auto-encoders with their defaults against PCA of the same
code size, on labelled image folders of 300, 1,000 and 3,000 images at 28x28, 64x64 and 112x92.

Each collection is made from the first MNIST training images, resized with Pillow and written as
PNG files in one sub-folder per digit, then read with ``aelab.datasets.load`` as any user's folder
is (seeded 20% hold-out). The MLP (``aelab.AutoEncoder()``) and the convolutional auto-encoder
(``aelab.ConvAutoEncoder()``) train with every default ("auto" epochs and batch size); PCA gets the
same code size (or the largest PCA there is). Printed: the test error per image (squared error
summed over pixels) of each, the auto-encoder's against PCA's, the epochs and batch size chosen,
and the training time.

    .venv/bin/python benchmarks/small_data.py [--data-dir ../shared/data/mnist] [--sizes 28x28 112x92]
        [--counts 300 1000] [--models autoencoder conv]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from aelab import AutoEncoder, ConvAutoEncoder, datasets
from aelab.report import pca_twin


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray, size: tuple[int, int]) -> Path:
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        resized = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BILINEAR)
        resized.save(folder / f"{i:05d}.png")
    return root


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))
    p.add_argument("--sizes", nargs="+", default=["28x28", "64x64", "112x92"])
    p.add_argument("--counts", nargs="+", type=int, default=[300, 1000, 3000])
    p.add_argument(
        "--models",
        nargs="+",
        default=["autoencoder", "conv"],
        choices=["autoencoder", "conv", "before"],
        help="before: the MLP with the recipe's fixed settings of before the auto defaults (batch 256, "
        "100 epochs, patience 20, 1000-500-250), for comparison in the same run",
    )
    args = p.parse_args()

    mnist = datasets.load("mnist", data_dir=args.data_dir)
    pixels = np.round(mnist.train.X * 255).astype(np.uint8).reshape(-1, 28, 28)
    print(
        "collection          model          code  epochs  batch   test error  PCA error  vs PCA   seconds", flush=True
    )
    for size_text in args.sizes:
        size = datasets.parse_image_size(size_text)
        for count in args.counts:
            with tempfile.TemporaryDirectory() as tmp:
                folder = write_folder(
                    Path(tmp) / f"mnist-{size_text}-{count}", pixels[:count], mnist.train.y[:count], size
                )
                ds = datasets.load(folder)
                for name in args.models:
                    model = {
                        "autoencoder": lambda: AutoEncoder(random_state=0),
                        "conv": lambda: ConvAutoEncoder(random_state=0),
                        "before": lambda: AutoEncoder(
                            epochs=100, batch_size=256, patience=20, hidden_layer_sizes=(1000, 500, 250), random_state=0
                        ),
                    }[name]()
                    started = time.perf_counter()
                    model.fit(ds.train.X, ds.train.y, image_shape=ds.image_shape)
                    seconds = time.perf_counter() - started
                    error = model.reconstruction_error(ds.test.X)
                    pca = pca_twin(model, ds)
                    pca_error = pca.reconstruction_error(ds.test.X)
                    code = f"{model.code_size}" + ("" if pca.code_size == model.code_size else f"/{pca.code_size}")
                    print(
                        f"{size_text:>7} x {count:<6}  {name:<12}  {code:>6}  {model.n_epochs_:>6}  "
                        f"{model.batch_size_:>5}  {error:>11.2f}  {pca_error:>9.2f}  "
                        f"{100 * (error / pca_error - 1):>+6.1f}%  {seconds:>8.0f}"
                        + (f"  ({model.training_warning()})" if model.training_warning() else ""),
                        flush=True,
                    )


if __name__ == "__main__":
    main()
