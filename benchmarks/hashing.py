"""Binary codes (semantic hashing): aelab's binary auto-encoders against PCAH and ITQ, at 8 to 128 bits.

20 Newsgroups (bydate, e-mail headers stripped, the protocol of benchmarks/text_20news.py): each
test document queries the training documents by Hamming distance; the precision of the top 100
(the measure of the deep semantic hashing papers). The binary document auto-encoder
(``DocumentModel(binary=True)``) beside PCAH and ITQ over the same 2,000-word TF-IDF vectors, and
beside VDSH and NASH, the papers' generative models, trained on the same words in the same run
(generative_hashing.py; ``--no-references`` leaves them out). ``--news-protocol vdsh`` is the
protocol of the VDSH / NASH / AMMI papers (see ``vdsh_split``): 10,000 words, half of the test set
as queries, and the document model fitted on that vocabulary size.

MNIST: the first ``--mnist-queries`` test images query the 60,000 training images; mean average
precision over the whole Hamming ranking and P@10. The binary 784-1000-500-250-BITS auto-encoder
with the defaults (the inputs' neighbours kept, 2,500 steps; or ``--epochs``, ``--denoise``,
``--binary-noise`` before its code's sigmoid, ``--keep-neighbours``), or with ``--model conv`` the
binary ``ConvAutoEncoder`` with its defaults, beside PCAH, ITQ and LSH (signs of random
projections of the centred pixels) in the same run. ``--mnist-protocol ryali`` is the protocol of
Ryali et al. (ICML 2020): 1,000 queries, 100 of each digit, drawn (seeded) from all 70,000 images,
the other 69,000 both the training set and the database.

    .venv/bin/python benchmarks/hashing.py [--bits 8,16,32,64,128] [--only news|mnist] [--epochs auto]
        [--denoise auto] [--binary-noise auto] [--keep-neighbours auto] [--model mlp|conv]
        [--mnist-protocol test|ryali] [--news-protocol bydate|vdsh] [--no-references]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.preprocessing import normalize

from aelab import ITQ, AutoEncoder, ConvAutoEncoder, DocumentModel, datasets
from aelab.params import auto_or_float, auto_or_int
from aelab.search import Index, evaluate
from aelab.text import DocumentVectorizer, load_text
from generative_hashing import hash_documents

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def hamming_figures(train_codes, train_labels, test_codes, test_labels, ks) -> dict:
    index = Index.build(train_codes, labels=list(train_labels), metric="hamming", kind="exact")
    return evaluate(index, test_codes, np.asarray(test_labels), ks=ks, latency_queries=1)


def news(bits: list[int], path: str, seed: int, references: tuple[str, ...], protocol: str) -> None:
    started = time.perf_counter()
    if protocol == "vdsh":
        (train_texts, X_train, train_labels), (test_texts, X_test, test_labels) = vdsh_split(path, seed)
        X_train, X_test = (X.toarray().astype(np.float32) for X in (X_train, X_test))
        vocabulary = 10_000
    else:
        docs = load_text(path, strip_parts=("headers",))
        train_texts, train_labels, test_texts, test_labels = (
            docs.train.texts,
            docs.train.labels,
            docs.test.texts,
            docs.test.labels,
        )
        tfidf = DocumentVectorizer("tfidf", 2000).fit(train_texts)
        X_train = tfidf.transform(train_texts).toarray().astype(np.float32)
        X_test = tfidf.transform(test_texts).toarray().astype(np.float32)
        vocabulary = 2000
    print(
        f"20 Newsgroups ({protocol}): {len(test_texts):,} queries, {len(train_texts):,} training documents, "
        f"{vocabulary:,} words; read in {time.perf_counter() - started:.0f} s; P@100 by Hamming distance"
    )
    unit = normalize(X_train), normalize(X_test)
    found = Index.build(unit[0], labels=list(train_labels), metric="cosine", kind="exact")
    found = evaluate(found, unit[1], np.asarray(test_labels), ks=(100,), latency_queries=1)
    print(
        f"the TF-IDF vectors themselves (cosine, {X_train.shape[1]:,} numbers a document): P@100 "
        f"{found['precision_at'][100]:.4f}",
        flush=True,
    )
    names = ("PCAH", "ITQ", *(r.upper() for r in references), "aelab")
    print(f"{'bits':>5s} " + " ".join(f"{name:>7s}" for name in names) + "  (aelab's training time)", flush=True)
    for n in bits:
        row = []
        for n_iter in (0, 50):
            itq = ITQ(n_components=n, n_iter=n_iter, random_state=seed).fit(X_train)
            found = hamming_figures(itq.transform(X_train), train_labels, itq.transform(X_test), test_labels, (100,))
            row.append(found["precision_at"][100])
        for kind in references:
            train_bits, test_bits = hash_documents(kind, X_train, X_test, n, seed)
            found = hamming_figures(train_bits, train_labels, test_bits, test_labels, (100,))
            row.append(found["precision_at"][100])
        t = time.perf_counter()
        model = DocumentModel(n_components=n, binary=True, max_features=vocabulary, random_state=seed).fit(train_texts)
        seconds = time.perf_counter() - t
        found = hamming_figures(
            model.transform(train_texts),
            train_labels,
            model.transform(test_texts),
            test_labels,
            (100,),
        )
        row.append(found["precision_at"][100])
        print(f"{n:5d} " + " ".join(f"{v:7.4f}" for v in row) + f"  ({seconds:.0f} s)", flush=True)


class LSH:
    """Locality-sensitive hashing's baseline: the signs of Gaussian random projections of the
    centred inputs (Charikar 2002)."""

    def __init__(self, n_components: int, random_state: int):
        self.n_components, self.random_state = n_components, random_state

    def fit(self, X):
        self.mean_ = X.mean(0)
        rng = np.random.default_rng(self.random_state)
        self.projection_ = rng.standard_normal((X.shape[1], self.n_components)).astype(np.float32)
        return self

    def transform(self, X):
        return ((X - self.mean_) @ self.projection_ > 0).astype(np.uint8)


def vdsh_split(path: str, seed: int):
    """The VDSH protocol's 20 Newsgroups (Chaidaroon & Fang 2017; the data preparation of AMMI's
    repository, karlstratos/ammi): headers, quoted replies and signatures stripped; a 10,000-word
    vocabulary (English stop words out, words in more than 80% or fewer than 3 documents out);
    documents left empty dropped; the official test set split in half (seeded) into test queries
    and a validation set (unused here). Returns the training and test (texts, TF-IDF rows,
    labels)."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    docs = load_text(path, strip_parts=("headers", "quotes", "signatures"))
    words = CountVectorizer(stop_words="english", max_features=10_000, max_df=0.8, min_df=3)
    counts_train = words.fit_transform(docs.train.texts)
    counts_test = words.transform(docs.test.texts)
    tfidf = TfidfTransformer().fit(counts_train)
    kept_train = np.flatnonzero(counts_train.getnnz(1) > 0)
    kept_test = np.flatnonzero(counts_test.getnnz(1) > 0)
    queries = np.sort(np.random.default_rng(seed).permutation(kept_test)[: len(kept_test) // 2])

    def part(texts, labels, counts, rows):
        return [texts[i] for i in rows], tfidf.transform(counts[rows]), np.asarray(labels)[rows]

    return (
        part(docs.train.texts, docs.train.labels, counts_train, kept_train),
        part(docs.test.texts, docs.test.labels, counts_test, queries),
    )


def mnist_split(data_dir: str, protocol: str, queries: int, seed: int):
    """(database images, labels, query images, labels, image shape) of a protocol."""
    ds = datasets.load("mnist", data_dir=data_dir)
    if protocol == "test":
        return ds.train.X, ds.train.y, ds.test.X[:queries], ds.test.y[:queries], ds.image_shape
    X, y = np.concatenate([ds.train.X, ds.test.X]), np.concatenate([ds.train.y, ds.test.y])
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.choice(np.flatnonzero(y == digit), 100, replace=False) for digit in range(10)])
    rest = np.setdiff1d(np.arange(len(X)), picked)
    return X[rest], y[rest], X[picked], y[picked], ds.image_shape


def mnist(bits: list[int], data_dir: str, protocol: str, queries: int, seed: int, model: str, settings: dict) -> None:
    X, y_db, Q, y, image_shape = mnist_split(data_dir, protocol, queries, seed)
    print(
        f"MNIST ({protocol}): {len(Q):,} queries against {len(X):,} images (the training set); "
        "mAP over the whole Hamming ranking, and P@10"
    )
    names = ("LSH", "PCAH", "ITQ", "aelab")
    print(
        f"{'bits':>5s} "
        + " ".join(f"{n + ' mAP':>10s}" for n in names)
        + " "
        + " ".join(f"{n + ' P@10':>11s}" for n in names)
    )
    for n in bits:
        models = [LSH(n, seed).fit(X)] + [ITQ(n_components=n, n_iter=it, random_state=seed).fit(X) for it in (0, 50)]
        t = time.perf_counter()
        ae = (ConvAutoEncoder if model == "conv" else AutoEncoder)(
            n_components=n, binary=True, validation_fraction=0.0, random_state=seed, **settings
        )
        models.append(ae.fit(X, image_shape=image_shape))
        seconds = time.perf_counter() - t
        found = [hamming_figures(m.transform(X), y_db, m.transform(Q), y, (10,)) for m in models]
        maps, p10 = [f["map"] for f in found], [f["precision_at"][10] for f in found]
        print(
            f"{n:5d} "
            + " ".join(f"{v:10.4f}" for v in maps)
            + " "
            + " ".join(f"{v:11.4f}" for v in p10)
            + f"  ({seconds:.0f} s; {ae.terms_})",
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
    p.add_argument("--binary-noise", type=auto_or_float, default="auto", help="of the MNIST auto-encoders")
    p.add_argument("--keep-neighbours", type=auto_or_float, default="auto", help="of the MNIST auto-encoders")
    p.add_argument("--mnist-protocol", choices=("test", "ryali"), default="test")
    p.add_argument("--news-protocol", choices=("bydate", "vdsh"), default="bydate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", choices=("mlp", "conv"), default="mlp", help="the MNIST auto-encoder")
    p.add_argument("--no-references", action="store_true", help="leave VDSH and NASH out of the 20 Newsgroups table")
    args = p.parse_args()
    bits = [int(b) for b in args.bits.split(",")]
    if args.only != "mnist":
        news(bits, args.news, args.seed, () if args.no_references else ("vdsh", "nash"), args.news_protocol)
    if args.only != "news":
        settings = dict(
            epochs=args.epochs,
            denoise=args.denoise,
            binary_noise=args.binary_noise,
            keep_neighbours=args.keep_neighbours,
        )
        mnist(bits, args.mnist_dir, args.mnist_protocol, args.mnist_queries, args.seed, args.model, settings)


if __name__ == "__main__":
    main()
