"""Search by example on MNIST (or the 8x8 digits): aelab's codes beside pixels, PCA and UMAP of the
same size, each fitted on the same indexed images in the same run.

Protocols (relevant = same digit, exact search, mAP over the whole ranking, P@10, P@100), every
space searched by cosine similarity and by Euclidean distance (l2); a star marks the metric that
``aelab index`` picks for the space (:func:`aelab.search.default_metric`):

- ``sub``: the first 20,000 MNIST training images, a seeded hold-out (aelab's: test_size 0.2,
  seed 0) into 16,000 indexed images and 4,000 queries;
- ``full``: the 60,000 training images indexed, the 10,000 test images as queries;
- ``digits``: the 1,797 8x8 digits of scikit-learn, the same hold-out (1,437 indexed, 360 queries).

UMAP is umap-learn with its defaults (``pip install -e '.[bench]'``), fitted on the indexed images;
queries go through its ``transform``. aelab's model is ``AutoEncoder(n_components=d)`` with its
defaults (``--epochs`` to shorten them, ``--keep-neighbours 0`` for the codes without the
neighbour-keeping term). The times are fitting, and encoding the queries (a forward pass for aelab,
UMAP's ``transform``, which optimises each query's place).

    python benchmarks/retrieval_mnist.py [--protocol sub|full|digits] [--dims 2,10,30] [--epochs N]
        [--keep-neighbours W|auto] [--no-umap] [--data mnist|fashion-mnist] [--data-dir ../shared/data/mnist]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from aelab import PCA, AutoEncoder, datasets
from aelab.params import auto_or_float, auto_or_int
from aelab.search import Index, default_metric, evaluate

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def collection(protocol: str, data_dir: str, name: str = "mnist"):
    """(indexed images, their labels, queries, their labels) of a protocol, on MNIST or
    Fashion-MNIST (``name``)."""
    if protocol == "digits":
        ds = datasets.load("digits")
        X, y = np.concatenate([ds.train.X, ds.test.X]), np.concatenate([ds.train.y, ds.test.y])
    else:
        ds = datasets.load(name, data_dir=data_dir)
        if protocol == "full":
            return ds.train.X, ds.train.y, ds.test.X, ds.test.y
        X, y = ds.train.X[:20_000], ds.train.y[:20_000]
    part = datasets.hold_out(protocol, X, y, 0.2, 0)
    return part.train.X, part.train.y, part.test.X, part.test.y


METRICS = ("cosine", "l2")


def measure(indexed, labels, queries, query_labels) -> dict:
    """mAP, P@10 and P@100 of exact search by each of ``METRICS``."""
    out = {}
    for metric in METRICS:
        index = Index.build(indexed, labels=labels.tolist(), kind="exact", metric=metric)
        found = evaluate(index, queries, query_labels)
        out[metric] = {"map": found["map"], "p10": found["precision_at"][10], "p100": found["precision_at"][100]}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", choices=("sub", "full", "digits"), default="sub")
    p.add_argument("--dims", default="2,10,30", help="code sizes, comma-separated")
    p.add_argument("--epochs", type=auto_or_int, default="auto", help="aelab's training epochs (default: its own)")
    p.add_argument("--keep-neighbours", type=auto_or_float, default="auto", help="aelab's keep_neighbours weight")
    p.add_argument("--no-umap", dest="umap", action="store_false", help="leave UMAP out")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    p.add_argument("--data", default="mnist", choices=("mnist", "fashion-mnist"), help="the collection of sub and full")
    args = p.parse_args()
    X, y, Q, yq = collection(args.protocol, args.data_dir, args.data)
    print(f"{args.protocol}: {len(X)} indexed images, {len(Q)} queries; exact search, relevant = same label")
    print(
        f"{'space':28s} {'metric':7s} {'mAP':>7s} {'P@10':>7s} {'P@100':>7s} {'fit s':>7s} {'encode s':>9s} "
        f"{'recon':>7s}"
    )

    def row(name, scores, fit_s=None, encode_s=None, recon=None, default=None):
        for i, metric in enumerate(METRICS):
            found = scores[metric]
            cells = [f"{metric + ('*' if metric == default else ''):7s}"]
            cells += [f"{found['map']:7.4f}", f"{found['p10']:7.4f}", f"{found['p100']:7.4f}"]
            if i == 0:
                cells += [f"{fit_s:7.0f}" if fit_s is not None else f"{'':7s}"]
                cells += [f"{encode_s:9.2f}" if encode_s is not None else f"{'':9s}"]
                cells += [f"{recon:7.2f}" if recon is not None else ""]
            print(f"{name if i == 0 else '':28s} {' '.join(cells)}".rstrip(), flush=True)

    row(f"pixels ({X.shape[1]}-D)", measure(X, y, Q, yq), default=default_metric(None))
    for d in (int(v) for v in args.dims.split(",")):
        pca = PCA(n_components=d).fit(X)
        scores = measure(pca.transform(X), y, pca.transform(Q), yq)
        row(f"PCA-{d}", scores, recon=pca.reconstruction_error(Q), default=default_metric(pca))
        if args.umap:
            import umap

            with warnings.catch_warnings():  # umap-learn's notes on its own threading
                warnings.simplefilter("ignore")
                started = time.perf_counter()
                fitted = umap.UMAP(n_components=d, random_state=0).fit(X)
                fit_s = time.perf_counter() - started
                started = time.perf_counter()
                codes = fitted.transform(Q)
            row(f"UMAP-{d}", measure(fitted.embedding_, y, codes, yq), fit_s, time.perf_counter() - started)
        started = time.perf_counter()
        model = AutoEncoder(n_components=d, epochs=args.epochs, keep_neighbours=args.keep_neighbours, random_state=0)
        model.fit(X)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        codes = model.transform(Q)
        encode_s = time.perf_counter() - started
        weight = model.terms_.get("keep_neighbours", 0)
        name = f"aelab-{d} (neighbours {weight:g})"
        scores = measure(model.transform(X), y, codes, yq)
        row(name, scores, fit_s, encode_s, model.reconstruction_error(Q), default_metric(model))
    print("recon: squared error per test image, summed over pixels (aelab and PCA of the same code size)")


if __name__ == "__main__":
    main()
