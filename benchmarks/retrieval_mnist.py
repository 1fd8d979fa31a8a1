"""Image search on MNIST: codes against pixels and PCA, as the lecture compares them.

The 10,000 test images are queries against the 60,000 training images, relevant = same digit.
Three exact (brute-force) cosine indexes: raw pixels (784-D), PCA-30, and the 30-D codes of a
784-1000-500-250-30 auto-encoder (trained here with the default recipe for --epochs epochs, or
given with --model). Prints precision at 1, 10 and 100, mean average precision, and queries per
second; the target is code space at least as precise as pixel space at ten times the speed.

    python benchmarks/retrieval_mnist.py [--data-dir ../shared/data/mnist] [--epochs 20] [--model DIR]
        [--keep-distances W|auto]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from aelab import PCA, AutoEncoder, datasets, load
from aelab.params import auto_or_float
from aelab.search import Index, evaluate

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--model", help="a trained 30-D model folder to use instead of training one")
    p.add_argument("--metric", default="cosine", choices=("cosine", "l2", "ip"))
    p.add_argument(
        "--keep-distances", type=auto_or_float, default="auto", help="the keep_distances weight of the auto-encoder"
    )
    p.add_argument("--save", metavar="DIR", help="save the trained auto-encoder here (for --model next time)")
    args = p.parse_args()

    ds = datasets.load("mnist", data_dir=args.data_dir)
    if args.model:
        ae = load(args.model)
    else:
        t = time.perf_counter()
        ae = AutoEncoder(
            n_components=30,
            epochs=args.epochs,
            keep_distances=args.keep_distances,
            validation_fraction=0.0,
            random_state=0,
        )
        ae.fit(ds.train.X)
        print(
            f"auto-encoder 784-1000-500-250-30 (keep_distances {ae.terms_.get('keep_distances', 0):g}): "
            f"{args.epochs} epochs "
            f"in {time.perf_counter() - t:.0f} s, "
            f"test reconstruction error {ae.reconstruction_error(ds.test.X):.2f}"
        )
    pca = PCA(n_components=30).fit(ds.train.X)
    spaces = {"pixels (784-D)": None, "PCA-30": pca, f"auto-encoder codes ({ae.code_size}-D)": ae}
    print(f"{len(ds.test.X)} test queries against {len(ds.train.X)} training images, exact {args.metric} search")
    print(
        f"{'space':26s} {'P@1':>7s} {'P@10':>7s} {'P@100':>7s} {'mAP':>7s} {'search q/s':>10s} "
        f"{'+encoding':>10s} {'median ms':>10s}"
    )
    rates = {}
    for name, model in spaces.items():
        encode = (lambda X: X) if model is None else model.transform
        index = Index.build(encode(ds.train.X), labels=ds.train.y.tolist(), metric=args.metric, kind="exact")
        t = time.perf_counter()
        Q = encode(ds.test.X)
        encode_s = time.perf_counter() - t
        r = evaluate(index, Q, ds.test.y)
        with_encoding = len(Q) / (len(Q) / r["queries_per_s"] + encode_s)
        rates[name] = (r["queries_per_s"], with_encoding, r["latency_ms"]["median"])
        pa = r["precision_at"]
        print(
            f"{name:26s} {pa[1]:7.4f} {pa[10]:7.4f} {pa[100]:7.4f} {r['map']:7.4f} {r['queries_per_s']:10.0f} "
            f"{with_encoding:10.0f} {r['latency_ms']['median']:10.3f}",
            flush=True,
        )
    pixels, code = rates[list(spaces)[0]], rates[list(spaces)[2]]
    print(
        f"code space against pixel space: {code[0] / pixels[0]:.1f}x the batched search rate, "
        f"{code[1] / pixels[1]:.1f}x with the encoding of the queries included, "
        f"{pixels[2] / code[2]:.1f}x faster single queries (median latency)"
    )
    if args.save and not args.model:
        ae.save(args.save, overwrite=True)


if __name__ == "__main__":
    main()
