"""Binary codes (semantic hashing): aelab's binary auto-encoders against PCAH and ITQ, at 8 to 128 bits.

20 Newsgroups (bydate, e-mail headers stripped, the protocol of benchmarks/text_20news.py): each
test document queries the training documents by Hamming distance; the precision of the top 100
(the measure of the deep semantic hashing papers). The binary document auto-encoder
(``DocumentModel(binary=True)``) beside PCAH and ITQ over the same 2,000-word TF-IDF vectors, and
beside VDSH and NASH, the papers' generative models, trained on the same words in the same run
(generative_hashing.py; ``--no-references`` leaves them out).

MNIST: the first ``--mnist-queries`` test images query the 60,000 training images; mean average
precision over the whole Hamming ranking and P@10. The binary 784-1000-500-250-BITS auto-encoder
with the defaults (inputs 70% masked, 2,500 steps: 11 epochs here; or ``--epochs``, ``--denoise``,
``--binary-noise`` before its code's sigmoid), or with ``--model conv`` the binary
``ConvAutoEncoder`` with its defaults, beside PCAH and ITQ of the pixels.

    .venv/bin/python benchmarks/hashing.py [--bits 8,16,32,64,128] [--only news|mnist] [--epochs auto]
        [--denoise auto] [--binary-noise 4] [--model mlp|conv] [--no-references]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from aelab import ITQ, AutoEncoder, ConvAutoEncoder, DocumentModel, datasets
from aelab.params import BINARY_NOISE, auto_or_int
from aelab.search import Index, evaluate
from aelab.text import DocumentVectorizer, load_text
from generative_hashing import hash_documents

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def hamming_figures(train_codes, train_labels, test_codes, test_labels, ks) -> dict:
    index = Index.build(train_codes, labels=list(train_labels), metric="hamming", kind="exact")
    return evaluate(index, test_codes, np.asarray(test_labels), ks=ks, latency_queries=1)


def news(bits: list[int], path: str, seed: int, references: tuple[str, ...]) -> None:
    started = time.perf_counter()
    docs = load_text(path, strip_parts=("headers",))
    print(f"{docs!r}, read in {time.perf_counter() - started:.0f} s; precision of the top 100 by Hamming distance")
    tfidf = DocumentVectorizer("tfidf", 2000).fit(docs.train.texts)
    X_train = tfidf.transform(docs.train.texts).toarray().astype(np.float32)
    X_test = tfidf.transform(docs.test.texts).toarray().astype(np.float32)
    names = ("PCAH", "ITQ", *(r.upper() for r in references), "aelab")
    print(f"{'bits':>5s} " + " ".join(f"{name:>7s}" for name in names) + "  (aelab's training time)", flush=True)
    for n in bits:
        row = []
        for n_iter in (0, 50):
            itq = ITQ(n_components=n, n_iter=n_iter, random_state=seed).fit(X_train)
            found = hamming_figures(
                itq.transform(X_train), docs.train.labels, itq.transform(X_test), docs.test.labels, (100,)
            )
            row.append(found["precision_at"][100])
        for kind in references:
            train_bits, test_bits = hash_documents(kind, X_train, X_test, n, seed)
            found = hamming_figures(train_bits, docs.train.labels, test_bits, docs.test.labels, (100,))
            row.append(found["precision_at"][100])
        t = time.perf_counter()
        model = DocumentModel(n_components=n, binary=True, random_state=seed).fit(docs.train.texts)
        seconds = time.perf_counter() - t
        found = hamming_figures(
            model.transform(docs.train.texts),
            docs.train.labels,
            model.transform(docs.test.texts),
            docs.test.labels,
            (100,),
        )
        row.append(found["precision_at"][100])
        print(f"{n:5d} " + " ".join(f"{v:7.4f}" for v in row) + f"  ({seconds:.0f} s)", flush=True)


def mnist(bits: list[int], data_dir: str, epochs, queries: int, seed: int, noise: float, denoise, model: str) -> None:
    ds = datasets.load("mnist", data_dir=data_dir)
    Q, y = ds.test.X[:queries], ds.test.y[:queries]
    print(
        f"MNIST: {len(Q):,} test queries against {len(ds.train.X):,} training images; mAP and P@10 by Hamming distance"
    )
    print(
        f"{'bits':>5s} {'PCAH mAP':>9s} {'ITQ mAP':>9s} {'aelab mAP':>10s} "
        f"{'PCAH P@10':>10s} {'ITQ P@10':>9s} {'aelab P@10':>11s}"
    )
    for n in bits:
        models = [ITQ(n_components=n, n_iter=it, random_state=seed).fit(ds.train.X) for it in (0, 50)]
        t = time.perf_counter()
        ae = (ConvAutoEncoder if model == "conv" else AutoEncoder)(
            n_components=n,
            binary=True,
            binary_noise=noise,
            denoise=denoise,
            epochs=epochs,
            validation_fraction=0.0,
            random_state=seed,
        )
        models.append(ae.fit(ds.train.X, image_shape=ds.image_shape))
        seconds = time.perf_counter() - t
        found = [hamming_figures(m.transform(ds.train.X), ds.train.y, m.transform(Q), y, (10,)) for m in models]
        maps, p10 = [f["map"] for f in found], [f["precision_at"][10] for f in found]
        print(
            f"{n:5d} {maps[0]:9.4f} {maps[1]:9.4f} {maps[2]:10.4f} {p10[0]:10.4f} {p10[1]:9.4f} {p10[2]:11.4f}"
            f"  ({seconds:.0f} s)",
            flush=True,
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bits", default="8,16,32,64,128")
    p.add_argument("--only", choices=("news", "mnist"))
    p.add_argument("--news", default=str(SHARED / "20newsgroups" / "20news-bydate.tar.gz"))
    p.add_argument("--mnist-dir", default=str(SHARED / "mnist"))
    p.add_argument("--epochs", type=auto_or_int, default="auto", help="of the MNIST auto-encoders")
    p.add_argument("--denoise", default="auto", help="of the MNIST auto-encoders ('none' for clean inputs)")
    p.add_argument("--mnist-queries", type=int, default=2000)
    p.add_argument("--binary-noise", type=float, default=BINARY_NOISE, help="of the MNIST auto-encoders")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", choices=("mlp", "conv"), default="mlp", help="the MNIST auto-encoder")
    p.add_argument("--no-references", action="store_true", help="leave VDSH and NASH out of the 20 Newsgroups table")
    args = p.parse_args()
    bits = [int(b) for b in args.bits.split(",")]
    if args.only != "mnist":
        news(bits, args.news, args.seed, () if args.no_references else ("vdsh", "nash"))
    if args.only != "news":
        mnist(
            bits,
            args.mnist_dir,
            args.epochs,
            args.mnist_queries,
            args.seed,
            args.binary_noise,
            args.denoise,
            args.model,
        )


if __name__ == "__main__":
    main()
