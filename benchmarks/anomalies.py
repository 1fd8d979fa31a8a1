"""One-class anomaly detection (the protocol of Ruff et al., "Deep One-Class Classification", ICML
2018): for each class of MNIST (or Fashion-MNIST), train on that class of the training split,
score the 10,000 test images (the other classes are the anomalies) and measure ROC-AUC; the table
per class and the mean. aelab's model is ``AutoEncoder()`` with its defaults, scored by its default
``anomaly_scores`` (its blurred reconstruction and code-density evidence combined, the model
trained on the images as images); each kind alone is printed beside it, the reconstruction
unblurred too, and scikit-learn's detectors are fitted on the same images in the same run
(IsolationForest, a one-class SVM, kNN distance, PCA's reconstruction error with aelab's code size;
:func:`aelab.jobs.anomalies.baseline_scores`). Pixels are in [0, 1] for every detector.

Also a small real folder of images (``--faces DIR``: one sub-folder per person, such as the ORL
faces; each person in turn is normal, the others are the anomalies, on aelab's seeded hold-out;
``--people N``: the first N people only),
and 20 Newsgroups (``--news``: each chosen group in turn is normal; the document model against
scikit-learn's detectors on TF-IDF vectors of the same vocabulary).

    .venv/bin/python benchmarks/anomalies.py [--data mnist] [--data-dir ../shared/data/mnist]
        [--classes 0,1,...] [--epochs N] [--keep-neighbours W|auto] [--no-baselines] [--faces DIR]
        [--news [--groups 0,1]]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from aelab import AutoEncoder, DocumentModel, datasets
from aelab.jobs.anomalies import baseline_scores
from aelab.params import auto_or_float, auto_or_int

ROOT = Path(__file__).resolve().parents[2]
NEWS = ROOT / "shared" / "data" / "20newsgroups" / "20news-bydate.tar.gz"
#: Deep SVDD (one-class), MNIST, per digit: Ruff et al. 2018, Table 1, as it was given to us (not
#: checked against the paper, which was not among the sources reachable here).
DEEP_SVDD_MNIST = (98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5)
KINDS = ("reconstruction", "blurred", "density")  # each printed where the model has it


def one_class_table(X_train, y_train, X_test, y_test, classes, make_model, baselines, image_shape, names=None) -> dict:
    """Per class (normal) the ROC-AUC (in %) of each detector; prints a line per class as it goes."""
    rows = {}
    for c in classes:
        normal = X_train[y_train == c]
        is_anomaly = (y_test != c).astype(int)
        started = time.perf_counter()
        model = make_model().fit(normal, image_shape=image_shape)
        seconds = time.perf_counter() - started
        row = {"aelab": 100 * roc_auc_score(is_anomaly, model.anomaly_scores(X_test))}
        for kind in KINDS:
            if kind != "blurred" or image_shape is not None:
                row[f"aelab {kind}"] = 100 * roc_auc_score(is_anomaly, model.anomaly_scores(X_test, kind))
        if baselines:
            for name, (_, scores, _) in baseline_scores(normal, X_test, model.code_size, 0, "auto").items():
                row[name] = 100 * roc_auc_score(is_anomaly, scores)
        rows[c] = row
        label = names[c] if names else str(c)
        print(f"{label:>12}  " + "  ".join(f"{k} {v:.1f}" for k, v in row.items()) + f"  ({seconds:.0f} s)", flush=True)
    return rows


def print_table(rows: dict, names=None, published: dict | None = None) -> None:
    detectors = list(next(iter(rows.values())))
    width = max(len(d) for d in detectors) + 2
    header = f"{'detector':<{width}}" + "".join(f"{(names[c] if names else str(c))[:7]:>8}" for c in rows) + "     mean"
    print("\n" + header)
    for d in detectors:  # the mean to two places, so that one rounded up does not pass for a target met
        values = [rows[c][d] for c in rows]
        print(f"{d:<{width}}" + "".join(f"{v:>8.1f}" for v in values) + f"{np.mean(values):>9.2f}")
    for name, values in (published or {}).items():
        print(f"{name:<{width}}" + "".join(f"{v:>8.1f}" for v in values) + f"{np.mean(values):>9.2f}")
    best = {c: max(rows[c], key=rows[c].get) for c in rows}
    print("best per class: " + ", ".join(f"{names[c] if names else c}: {best[c]}" for c in rows))


def images(args) -> None:
    ds = datasets.load(args.data, args.data_dir)
    classes = [int(c) for c in args.classes.split(",")] if args.classes else sorted(set(ds.train.y.tolist()))
    print(
        f"{args.data}: train on one class of the {len(ds.train.X)} training images, score the {len(ds.test.X)} test "
        "images; ROC-AUC in %"
    )
    rows = one_class_table(
        ds.train.X,
        ds.train.y,
        ds.test.X,
        ds.test.y,
        classes,
        lambda: AutoEncoder(epochs=args.epochs, keep_neighbours=args.keep_neighbours, random_state=args.seed),
        not args.no_baselines,
        ds.image_shape,
    )
    published = {}
    if args.data == "mnist" and classes == list(range(10)):
        published["Deep SVDD (Ruff et al. 2018, Table 1)"] = DEEP_SVDD_MNIST
    print_table(rows, published=published)


def faces(args) -> None:
    ds = datasets.load(args.faces, test_size=args.test_size, seed=args.seed)
    people = sorted(set(ds.train.y.tolist()))
    if args.people:
        people = people[: args.people]
    print(
        f"{args.faces}: {len(people)} people, {len(ds.train.X)} training and {len(ds.test.X)} test images of "
        f"{'x'.join(map(str, ds.image_shape))}; each person in turn normal; ROC-AUC in %"
    )
    rows = one_class_table(
        ds.train.X,
        ds.train.y,
        ds.test.X,
        ds.test.y,
        people,
        lambda: AutoEncoder(epochs=args.epochs, random_state=args.seed),
        not args.no_baselines,
        ds.image_shape,
        names={p: str(p) for p in people},
    )
    detectors = list(next(iter(rows.values())))
    print("\nmean over the people:  " + "  ".join(f"{d} {np.mean([rows[p][d] for p in rows]):.1f}" for d in detectors))


def news(args) -> None:
    from aelab.text import load_text, parse_strip

    corpus = load_text(str(args.news_data), strip_parts=parse_strip("headers"))
    names = sorted(set(corpus.train.labels.tolist()))
    groups = [names[int(g)] for g in args.groups.split(",")] if args.groups else names
    print(
        f"20 Newsgroups (headers stripped): each group's training documents normal, the {len(corpus.test)} test "
        "documents scored; ROC-AUC in %"
    )
    rows = {}
    for group in groups:
        normal = [t for t, label in zip(corpus.train.texts, corpus.train.labels) if label == group]
        is_anomaly = (corpus.test.labels != group).astype(int)
        started = time.perf_counter()
        model = DocumentModel(epochs=args.epochs, random_state=args.seed).fit(normal)
        seconds = time.perf_counter() - started
        row = {"aelab": 100 * roc_auc_score(is_anomaly, model.anomaly_scores(corpus.test.texts))}
        for kind in ("reconstruction", "density"):
            row[f"aelab {kind}"] = 100 * roc_auc_score(is_anomaly, model.anomaly_scores(corpus.test.texts, kind))
        if not args.no_baselines:  # scikit-learn's detectors on the TF-IDF vectors of the same words
            from aelab.text import DocumentVectorizer

            vectorizer = DocumentVectorizer("tfidf", model.max_features).fit(normal)
            train, test = vectorizer.transform(normal).toarray(), vectorizer.transform(corpus.test.texts).toarray()
            for name, (_, scores, _) in baseline_scores(train, test, model.n_components_, 0, "auto").items():
                row[f"{name} (TF-IDF)"] = 100 * roc_auc_score(is_anomaly, scores)
        rows[group] = row
        print(f"{group:>26}  " + "  ".join(f"{k} {v:.1f}" for k, v in row.items()) + f"  ({seconds:.0f} s)", flush=True)
    print_table(rows, names={g: g.split(".")[-1] for g in rows})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist", help="mnist or fashion-mnist")
    parser.add_argument("--data-dir", default=str(ROOT / "shared" / "data" / "mnist"))
    parser.add_argument("--classes", help="comma-separated classes (default: all)")
    parser.add_argument("--epochs", type=auto_or_int, default="auto", help="aelab's training epochs")
    parser.add_argument("--keep-neighbours", type=auto_or_float, default="auto", help="aelab's neighbour-keeping term")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baselines", action="store_true", help="aelab alone")
    parser.add_argument("--no-images", action="store_true", help="skip MNIST / Fashion-MNIST")
    parser.add_argument("--faces", metavar="DIR", help="a folder of faces, one sub-folder per person")
    parser.add_argument("--test-size", type=float, default=0.2, help="the faces' hold-out share")
    parser.add_argument("--people", type=int, help="only the first N people (by name) in turn normal")
    parser.add_argument("--news", action="store_true", help="20 Newsgroups too")
    parser.add_argument("--news-data", default=str(NEWS))
    parser.add_argument("--groups", help="comma-separated newsgroup numbers (sorted names; default: all 20)")
    args = parser.parse_args()
    if not args.no_images:
        images(args)
    if args.faces:
        faces(args)
    if args.news:
        news(args)


if __name__ == "__main__":
    main()
