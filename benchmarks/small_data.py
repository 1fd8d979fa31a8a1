"""The default recipe on small collections: auto-encoders with their defaults against PCA of the same
code size, on labelled image folders of 300, 1,000 and 3,000 images at 28x28, 64x64 and 112x92.

With ``--text``: the same for documents, the document auto-encoder (``DocumentModel`` defaults)
against LSA with the same 10-D code, on short labelled texts: the first line (at least four words)
of 20 Newsgroups posts, headers, quotes and signatures stripped, N for training and N / 4 as
queries; precision at 10 and mAP, relevant = same newsgroup (chance: 0.05).

Each image collection is made from the first MNIST training images, resized with Pillow and written as
PNG files in one sub-folder per digit, then read with ``aelab.datasets.load`` as any user's folder
is (seeded 20% hold-out). The MLP (``aelab.AutoEncoder()``) and the convolutional auto-encoder
(``aelab.ConvAutoEncoder()``) train with every default ("auto" epochs and batch size); PCA gets the
same code size (or the largest PCA there is). Printed: the test error per image (squared error
summed over pixels) of each, the auto-encoder's against PCA's, the epochs and batch size chosen,
and the training time.

    .venv/bin/python benchmarks/small_data.py [--data-dir ../shared/data/mnist] [--sizes 28x28 112x92]
        [--counts 300 1000] [--models autoencoder conv] [--hidden 512-256 1000-500-250]
    .venv/bin/python benchmarks/small_data.py --text [--news ../shared/data/20newsgroups/20news-bydate.tar.gz]
        [--counts 1000 4000]
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


def short_texts(docs, n: int, seed: int):
    """``n`` documents' first lines of at least four words, drawn with ``seed``."""
    from aelab.text import Documents, first_line

    keep = [i for i, t in enumerate(docs.texts) if len(first_line(t).split()) >= 4]
    rows = np.sort(np.random.default_rng(seed).choice(keep, size=min(n, len(keep)), replace=False))
    return Documents([first_line(docs.texts[i]) for i in rows], [docs.ids[i] for i in rows], docs.labels[rows])


def text_table(news_path: str, counts) -> None:
    from aelab.text import DocumentSearch, load_text

    news = load_text(news_path, strip_parts=("headers", "quotes", "signatures"))
    print("documents (train / queries)  words  model        P@10     mAP  seconds", flush=True)
    for count in counts:
        train, test = short_texts(news.train, count, 0), short_texts(news.test, count // 4, 1)
        words = np.mean([len(t.split()) for t in train.texts])
        for kind in ("autoencoder", "lsa"):
            started = time.perf_counter()
            engine = DocumentSearch.build(train, n_components=10, models=(kind,), random_state=0)
            r = engine.evaluate(test)[kind]
            print(
                f"{len(train):>8} / {len(test):<8}         {words:5.1f}  {kind:<11}  {r['precision_at'][10]:.3f}  "
                f"{r['map']:.3f}  {time.perf_counter() - started:7.0f}",
                flush=True,
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))
    p.add_argument("--sizes", nargs="+", default=["28x28", "64x64", "112x92"])
    p.add_argument("--counts", nargs="+", type=int, default=[300, 1000, 3000])
    p.add_argument(
        "--models",
        nargs="*",
        default=["autoencoder", "conv"],
        choices=["autoencoder", "conv", "before"],
        help="before: the MLP with the recipe's fixed settings of before the auto defaults (batch 256, "
        "100 epochs, patience 20, 1000-500-250), for comparison in the same run",
    )
    p.add_argument(
        "--hidden",
        nargs="+",
        default=[],
        metavar="SIZES",
        help="also train the 'autoencoder' row with these hidden layers instead of auto (e.g. 512-256 "
        "1000-500-250), to check the thresholds of hidden_layer_sizes='auto'",
    )
    p.add_argument("--text", action="store_true", help="the documents table instead of the images")
    p.add_argument(
        "--news",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "20newsgroups" / "20news-bydate.tar.gz"),
    )
    args = p.parse_args()
    if args.text:
        text_table(args.news, args.counts)
        return

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
                makers = {
                    "autoencoder": lambda: AutoEncoder(random_state=0),
                    "conv": lambda: ConvAutoEncoder(random_state=0),
                    "before": lambda: AutoEncoder(
                        epochs=100, batch_size=256, patience=20, hidden_layer_sizes=(1000, 500, 250), random_state=0
                    ),
                }
                for sizes in args.hidden:
                    layers = tuple(int(n) for n in sizes.split("-"))
                    makers[f"mlp {sizes}"] = lambda layers=layers: AutoEncoder(
                        hidden_layer_sizes=layers, random_state=0
                    )
                for name in [*args.models, *(f"mlp {sizes}" for sizes in args.hidden)]:
                    model = makers[name]()
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
