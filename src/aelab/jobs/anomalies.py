"""Anomaly jobs: score a collection with a trained model (``aelab score``), evaluate a model as a
detector beside scikit-learn's (``aelab evaluate-anomalies``), and score documents
(``aelab text score``)."""

from __future__ import annotations

import contextlib
import csv
import heapq
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..models import PCA, AutoEncoder, ConvAutoEncoder
from ..models.anomaly import reference_sample, threshold, training_quantiles
from ..params import CONTAMINATION, MODEL_KINDS
from ..report import anomaly_curves_figure, save_figure, unusual_items_figure
from ..storage import atomic_path, check_output
from ..validation import check_choices
from .data import DataOptions, TextOptions
from .models import code_model

SCORE_COLUMNS = ("id", "label", "path", "score", "flagged")
TEXT_SCORE_COLUMNS = ("id", "label", "score", "flagged", "first_line")
SHOWN = 10  # items listed (and drawn) at each end of a ranking
KNN_NEIGHBOURS = 5
OCSVM_ROWS = 10_000  # a one-class SVM's fit grows with the square of its rows


# --- aelab score ---------------------------------------------------------------------------------
@dataclass
class ScoreRequest:
    """``aelab score MODEL --data SPEC --out FILE.csv``: every item's anomaly score (higher = more
    unusual) and whether the model's threshold flags it (``contamination``: None keeps the model's)."""

    model: str | os.PathLike
    data: DataOptions
    out: str | os.PathLike
    split: str = "all"
    stream: bool = False
    contamination: float | str | None = None
    batch_size: int = 4096
    overwrite: bool = False


@dataclass
class ScoreResult:
    out: Path
    count: int
    flagged: int
    threshold: float
    contamination: float | str
    most_unusual: list[dict] = field(default_factory=list)  # id, label, path, score; the most unusual first


def score(request: ScoreRequest) -> ScoreResult:
    """Score a collection a batch at a time into a CSV written atomically (see :class:`ScoreRequest`)."""
    out = check_output(request.out, request.overwrite)
    model = code_model(request.model)
    if request.contamination is not None:
        CONTAMINATION.check(request.contamination)
        model.set_params(contamination=request.contamination)
    limit = -model.offset_  # an older model says so before any data is read
    source = request.data.open(request.split, request.stream)
    model.check_n_features(source.n_features, f"--data {request.data.data}")
    prefix = "row:" if request.stream else f"{request.split}:"  # the ids an index gives the same items
    top: list[tuple[float, int]] = []
    flagged = 0
    with csv_table(out, SCORE_COLUMNS, request.overwrite) as writer:
        for start, rows in source.batches(request.batch_size):
            scores = model.anomaly_scores(rows)
            for i, value in enumerate(scores.tolist(), start):
                flag = value > limit
                flagged += flag
                row = [f"{prefix}{i}", _item(source.labels, i), _item(source.paths, i), f"{value:.6g}", int(flag)]
                writer.writerow(row)
                heapq.heappush(top, (value, i)) if len(top) < SHOWN else heapq.heappushpop(top, (value, i))
    ranked = [
        {"id": f"{prefix}{i}", "label": _item(source.labels, i), "path": _item(source.paths, i), "score": v}
        for v, i in sorted(top, reverse=True)
    ]
    return ScoreResult(out, source.n, int(flagged), limit, model.contamination, ranked)


@contextlib.contextmanager
def csv_table(out, columns, overwrite: bool = False):
    """A CSV writer whose file appears whole at ``out`` once the block ends (nothing half-written)."""
    with atomic_path(out, overwrite) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        yield writer


def _item(values, i):
    return "" if values is None else values[i]


# --- aelab evaluate-anomalies --------------------------------------------------------------------
@dataclass
class EvaluateAnomaliesRequest:
    """Train a model on the ``normal`` labels of the training split, score the whole test split
    (the other labels are the anomalies), and measure it beside scikit-learn's detectors."""

    data: DataOptions
    normal: list[str]
    out: str | os.PathLike
    model: str = "autoencoder"
    n_components: int = 30
    epochs: int | str = "auto"
    contamination: float | str = "auto"
    seed: int = 0
    baselines: bool = True
    overwrite: bool = False
    verbose: bool = False


@dataclass
class AnomalyEvaluation:
    out: Path
    n_train: int
    n_test: int
    n_anomalies: int
    normal: list[str]
    metrics: dict[str, dict]  # detector -> roc_auc, average_precision, f1, flagged, seconds
    model_name: str


def evaluate_anomalies(request: EvaluateAnomaliesRequest) -> AnomalyEvaluation:
    """See :class:`EvaluateAnomaliesRequest`; writes ``metrics.json``, ``curves.png`` (ROC and
    precision-recall), ``unusual.png`` (the most and least unusual test items, with their error
    maps) and the trained model (``model/``) into the folder ``out``."""
    check_choices(("model", request.model, MODEL_KINDS))
    CONTAMINATION.check(request.contamination)
    out = check_output(request.out, request.overwrite)
    ds = request.data.load()
    train_normal, test_anomaly, normal = normal_split(ds, request.normal, request.data.data)
    X_train, X_test = ds.train.X[train_normal], ds.test.X
    model = _detector_model(request, ds.image_shape)
    started = time.perf_counter()
    model.fit(X_train, image_shape=ds.image_shape)
    seconds = time.perf_counter() - started
    name = f"aelab {request.model}-{model.code_size}"
    scores = {name: (None, model.anomaly_scores(X_test), seconds)}
    if request.baselines:
        scores.update(baseline_scores(X_train, X_test, model.code_size, request.seed, request.contamination))
    metrics, curves = {}, {}
    for detector, (limit, test_scores, secs) in scores.items():
        limit = -model.offset_ if limit is None else limit
        metrics[detector], curves[detector] = detector_metrics(test_anomaly, test_scores, limit, secs)
    ours = scores[name][1]
    with atomic_path(out, request.overwrite) as tmp:
        tmp.mkdir()
        model.save(tmp / "model")
        record = {
            "data": request.data.data,
            "normal": normal,
            "model": request.model,
            "contamination": request.contamination,
            "n_train": int(len(X_train)),
            "n_test": int(len(X_test)),
            "n_anomalies": int(test_anomaly.sum()),
            "metrics": metrics,
        }
        (tmp / "metrics.json").write_text(json.dumps(record, indent=2) + "\n")
        title = (
            f"{ds.name}: normal = {', '.join(normal)}; {int(test_anomaly.sum())} of {len(X_test)} test items anomalies"
        )
        save_figure(anomaly_curves_figure(curves, title), tmp / "curves.png")
        save_figure(_ends_figure(model, X_test, ours, ds.test.y, ds.image_shape), tmp / "unusual.png")
    return AnomalyEvaluation(out, len(X_train), len(X_test), int(test_anomaly.sum()), normal, metrics, name)


def normal_split(ds, normal: list[str], spec: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The training rows of the ``normal`` labels, which test items are anomalies, and the normal
    labels as the data spell them; one line when a label is not in the data or the test split
    cannot measure a detector (no anomalies, or nothing normal)."""
    if ds.train.y is None or ds.test.y is None:
        raise DataError(f"--data {spec} has no labels; an evaluation needs labels to know the normal items")
    known = sorted({str(v) for v in np.concatenate([ds.train.y, ds.test.y]).tolist()})
    wanted = [str(v).strip() for v in normal if str(v).strip()]
    missing = [v for v in wanted if v not in known]
    if not wanted or missing:
        raise DataError(
            f"--normal {','.join(missing) or '(none)'}: not a label of {spec}; its labels are {', '.join(known[:50])}"
            + (" ..." if len(known) > 50 else "")
        )
    train_normal = np.isin(np.asarray(ds.train.y).astype(str), wanted)
    test_anomaly = ~np.isin(np.asarray(ds.test.y).astype(str), wanted)
    if not train_normal.any():
        raise DataError(f"the training split of {spec} has no item labelled {', '.join(wanted)} to train on")
    if test_anomaly.all() or not test_anomaly.any():
        what = "no anomalies (every test item has a normal label)" if not test_anomaly.any() else "no normal items"
        raise DataError(
            f"the test split of {spec} has {what}, so ROC-AUC is undefined; choose normal labels that leave both "
            "in the test split"
        )
    return train_normal, test_anomaly, wanted


def _detector_model(request: EvaluateAnomaliesRequest, image_shape):
    common = dict(contamination=request.contamination)
    if request.model == "pca":
        return PCA(n_components=request.n_components, **common)
    trained = dict(epochs=request.epochs, random_state=request.seed, verbose=request.verbose, **common)
    if request.model == "conv":
        if image_shape is None:
            raise DataError("--model conv needs images; this data has plain feature vectors")
        return ConvAutoEncoder(n_components=request.n_components, **trained)
    return AutoEncoder(n_components=request.n_components, **trained)


def baseline_scores(X_train, X_test, n_components: int, seed: int, contamination) -> dict[str, tuple]:
    """Per scikit-learn detector fitted on ``X_train``: its threshold on ``contamination`` of its
    training scores (as aelab's), its anomaly scores of ``X_test`` (higher = more unusual) and its
    seconds: IsolationForest, a one-class SVM (RBF, nu 0.1, on up to ``OCSVM_ROWS`` rows), the mean
    distance to the ``KNN_NEIGHBOURS`` nearest training items, and PCA's reconstruction error with
    aelab's code size."""
    from sklearn.decomposition import PCA as SkPCA
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import NearestNeighbors
    from sklearn.svm import OneClassSVM

    reference = reference_sample(X_train, seed)
    results = {}

    def timed(name, fit, score_train, score_test):
        started = time.perf_counter()
        fit()
        train, test = score_train(), score_test()
        limit = threshold(training_quantiles(train), contamination)
        results[name] = (limit, np.asarray(test, np.float64), time.perf_counter() - started)

    forest = IsolationForest(random_state=seed)
    timed(
        "IsolationForest",
        lambda: forest.fit(X_train),
        lambda: -forest.score_samples(reference),
        lambda: -forest.score_samples(X_test),
    )
    svm = OneClassSVM(gamma="scale", nu=0.1)
    small = reference[:OCSVM_ROWS]  # the same even sample, no more rows than the SVM can take
    timed(
        "OneClassSVM", lambda: svm.fit(small), lambda: -svm.score_samples(reference), lambda: -svm.score_samples(X_test)
    )
    knn = NearestNeighbors(n_neighbors=min(KNN_NEIGHBOURS + 1, len(X_train)))
    timed(
        f"kNN distance (k={KNN_NEIGHBOURS})",
        lambda: knn.fit(X_train),
        lambda: knn.kneighbors(reference)[0][:, 1:].mean(1),  # without the item itself
        lambda: knn.kneighbors(X_test, n_neighbors=min(KNN_NEIGHBOURS, len(X_train)))[0].mean(1),
    )
    size = min(n_components, *X_train.shape)
    pca = SkPCA(n_components=size, random_state=seed)

    def pca_error(X):
        return np.square(pca.inverse_transform(pca.transform(X)) - X).sum(1)

    timed(
        f"PCA-{size} reconstruction error",
        lambda: pca.fit(X_train),
        lambda: pca_error(reference),
        lambda: pca_error(X_test),
    )
    return results


def detector_metrics(is_anomaly, scores, limit: float, seconds: float) -> tuple[dict, dict]:
    """ROC-AUC, average precision and F1 at the threshold ``limit`` (with the share it flags), and
    the ROC and precision-recall curves for a figure."""
    from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve, roc_auc_score, roc_curve

    flagged = scores > limit
    metrics = {
        "roc_auc": float(roc_auc_score(is_anomaly, scores)),
        "average_precision": float(average_precision_score(is_anomaly, scores)),
        "f1": float(f1_score(is_anomaly, flagged, zero_division=0.0)),
        "flagged": float(flagged.mean()),
        "threshold": float(limit),
        "seconds": float(seconds),
    }
    fpr, tpr, _ = roc_curve(is_anomaly, scores)
    precision, recall, _ = precision_recall_curve(is_anomaly, scores)
    curve = dict(
        fpr=fpr, tpr=tpr, precision=precision, recall=recall, auc=metrics["roc_auc"], ap=metrics["average_precision"]
    )
    return metrics, curve


def _ends_figure(model, X, scores, labels, image_shape):
    """The ``SHOWN`` most unusual items and the ``SHOWN`` least, with their error maps."""
    order = np.argsort(-scores, kind="stable")
    rows = np.concatenate([order[:SHOWN], order[-SHOWN:]])
    maps = model.error_maps(X[rows]).reshape(len(rows), -1)
    captions = [
        f"{'most' if k < SHOWN else 'least'} {labels[r] if labels is not None else ''}\n{scores[r]:.3g}"
        for k, r in enumerate(rows)
    ]
    return unusual_items_figure(
        X[rows], maps, captions, image_shape, title="the most unusual test items (left) and the least (right)"
    )


def metrics_table(metrics: dict[str, dict]) -> str:
    """The detectors' measures, one line each."""
    width = max(len(name) for name in metrics) + 2
    lines = [f"{'detector':<{width}}{'ROC-AUC':>8}{'AP':>8}{'F1':>8}{'flagged':>9}{'seconds':>9}"]
    for name, m in metrics.items():
        lines.append(
            f"{name:<{width}}{m['roc_auc']:>8.4f}{m['average_precision']:>8.4f}{m['f1']:>8.4f}"
            f"{m['flagged']:>9.3f}{m['seconds']:>9.1f}"
        )
    return "\n".join(lines)


# --- aelab text score ----------------------------------------------------------------------------
@dataclass
class TextScoreRequest:
    """``aelab text score SEARCH --data SPEC --out FILE.csv``: the documents that a document search's
    model rebuilds worst (and whose codes lie farthest from the training documents')."""

    search: str | os.PathLike
    data: TextOptions
    out: str | os.PathLike
    split: str = "all"
    model: str = "autoencoder"
    contamination: float | str | None = None
    overwrite: bool = False


def score_documents(request: TextScoreRequest) -> ScoreResult:
    """Score a text collection's documents with a document search's model into a CSV (id, label,
    score, flagged, first line), written atomically; the result lists the most unusual."""
    from ..text import DocumentSearch
    from ..text.search import first_line

    out = check_output(request.out, request.overwrite)
    engine = DocumentSearch.load(request.search)
    model = engine.index(request.model).model
    if request.contamination is not None:
        CONTAMINATION.check(request.contamination)
        model.set_params(contamination=request.contamination)
    limit = -model.offset_
    corpus = request.data.load(engine.info.get("strip", "none"))
    docs = corpus.split(request.split)
    if not len(docs):
        raise DataError(f"the {request.split} split of {request.data.data} holds no documents")
    scores = model.anomaly_scores(docs.texts)
    labels = None if docs.labels is None else docs.labels.tolist()
    with csv_table(out, TEXT_SCORE_COLUMNS, request.overwrite) as writer:
        for i, value in enumerate(scores.tolist()):
            writer.writerow(
                [docs.ids[i], _item(labels, i), f"{value:.6g}", int(value > limit), first_line(docs.texts[i])]
            )
    ranked = [
        {
            "id": docs.ids[i],
            "label": _item(labels, i),
            "first_line": first_line(docs.texts[i]),
            "score": float(scores[i]),
        }
        for i in np.argsort(-scores, kind="stable")[:SHOWN]
    ]
    return ScoreResult(out, len(docs), int((scores > limit).sum()), limit, model.contamination, ranked)
