"""Document retrieval on 20 Newsgroups (bydate): TF-IDF, LSA and the document auto-encoder.

Each of the 7,532 test documents queries the 11,314 training documents by cosine similarity;
relevant means the same newsgroup. Reported: precision at recall 0.1%, 1%, 10%, 50% and 100%
(the protocol of Hinton & Salakhutdinov 2006 and of semantic hashing) and precision at 10, for
TF-IDF on the full vocabulary, LSA with 10 and 50 dimensions and the auto-encoder with a 10-D
code (2,000-word vocabulary). Then the speed of vectorizing and encoding the whole corpus, and
the 2-D maps of the test documents: the share of each document's 10 nearest neighbours on the
map that share its newsgroup, auto-encoder against LSA. E-mail headers are stripped (they name
the newsgroup).

    .venv/bin/python benchmarks/text_20news.py [--data PATH] [--out DIR] [--epochs 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from aelab import DocumentModel, report
from aelab.params import auto_or_int
from aelab.search import RECALL_LEVELS, Index, evaluate, neighbour_agreement, ranking_metrics
from aelab.text import WORDS, load_text

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "20newsgroups" / "20news-bydate.tar.gz"


def sparse_retrieval(train: sp.csr_matrix, test: sp.csr_matrix, train_labels, test_labels, chunk: int = 500):
    """Precision at the recall levels and at 10 of cosine search over sparse TF-IDF rows (unit length)."""
    at_recall, at_10 = [], []
    for start in range(0, test.shape[0], chunk):
        scores = (test[start : start + chunk] @ train.T).toarray()
        labels = test_labels[start : start + chunk]
        at_recall.append(ranking_metrics(scores, train_labels, labels)["precision_at_recall"])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
        at_10.append((train_labels[top] == labels[:, None]).mean(1))
    return np.concatenate(at_recall).mean(0), float(np.concatenate(at_10).mean())


def code_retrieval(model: DocumentModel, news):
    index = Index.build(
        model.transform(news.train.texts), labels=news.train.labels.tolist(), metric="cosine", kind="exact"
    )
    r = evaluate(index, model.transform(news.test.texts), news.test.labels, ks=(10,), latency_queries=1)
    return np.array([r["precision_at_recall"][level] for level in RECALL_LEVELS]), r["precision_at"][10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--out", default="text-20news", help="folder for the map figure")
    parser.add_argument("--epochs", type=auto_or_int, default=DocumentModel().epochs)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    news = load_text(args.data, strip_parts=("headers",))
    print(f"{news!r}, read and stripped in {time.perf_counter() - started:.1f} s", flush=True)
    labels_train, labels_test = news.train.labels, news.test.labels

    results = {}
    full = TfidfVectorizer(stop_words="english", token_pattern=WORDS, dtype=np.float32).fit(news.train.texts)
    results[f"TF-IDF, full vocabulary ({len(full.vocabulary_)} words)"] = sparse_retrieval(
        full.transform(news.train.texts), full.transform(news.test.texts), labels_train, labels_test
    )
    models = {}
    for size in (10, 50):
        models[f"LSA-{size}"] = DocumentModel(n_components=size, kind="lsa", random_state=args.seed).fit(
            news.train.texts
        )
        results[f"LSA-{size} (TF-IDF, 2,000 words)"] = code_retrieval(models[f"LSA-{size}"], news)
    started = time.perf_counter()
    ae = DocumentModel(n_components=10, epochs=args.epochs, random_state=args.seed).fit(news.train.texts)
    train_seconds = time.perf_counter() - started
    models["AE-10"] = ae
    results["auto-encoder, 10-D code"] = code_retrieval(ae, news)

    print(f"\n{len(news.test)} test documents query {len(news.train)} training documents; relevant = same newsgroup")
    print(
        "auto-encoder: 2000-1000-500-250-10, log counts in, softmax over words out, "
        f"{ae.code_model_.n_epochs_} epochs of batches of {ae.code_model_.batch_size_} in {train_seconds:.0f} s"
    )
    print(f"{'':44s}" + "".join(f"R={100 * r:g}%".rjust(9) for r in RECALL_LEVELS) + "     P@10")
    for name, (curve, p10) in results.items():
        print(f"{name:44s}" + "".join(f"{p:9.4f}" for p in curve) + f"{p10:9.4f}")
    ae_curve, lsa50 = results["auto-encoder, 10-D code"][0], results["LSA-50 (TF-IDF, 2,000 words)"][0]
    upto = [i for i, r in enumerate(RECALL_LEVELS) if r <= 0.1]
    above = all(ae_curve[i] > lsa50[i] for i in upto)
    print(
        f"auto-encoder (10-D) above LSA-50 at every recall level up to 10%: {'yes' if above else 'no'} "
        f"({', '.join(f'{ae_curve[i] - lsa50[i]:+.4f}' for i in upto)})"
    )

    everything = news.split("all").texts
    print(f"\nspeed over all {len(everything)} documents (2 threads of this machine, best of 3):")
    for name, fn in (
        ("vectorize (counts, 2,000 words)", ae.vectorize),
        ("vectorize + encode, auto-encoder-10", ae.transform),
        ("vectorize + encode, LSA-10", models["LSA-10"].transform),
    ):
        best = min(_seconds(fn, everything) for _ in range(3))
        print(f"  {name:38s} {len(everything) / best:9.0f} documents/s ({best:.2f} s)")

    maps = {
        "document auto-encoder (2-D)": DocumentModel(n_components=2, epochs=args.epochs, random_state=args.seed).fit(
            news.train.texts
        ),
        "LSA (2-D)": DocumentModel(n_components=2, kind="lsa", random_state=args.seed).fit(news.train.texts),
    }
    codes = {name: m.transform(news.test.texts) for name, m in maps.items()}
    print(
        f"\n2-D maps of the {len(news.test)} test documents: share of each document's 10 nearest neighbours "
        "on the map from its newsgroup"
    )
    for name, Z in codes.items():
        print(f"  {name:30s} {neighbour_agreement(Z, labels_test, 10):.4f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report.save_figure(
        report.code_map(codes, labels_test, title="20 Newsgroups test documents"), out / "map.png", overwrite=True
    )
    print(f"map: {out / 'map.png'}")


def _seconds(fn, texts) -> float:
    started = time.perf_counter()
    fn(texts)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
