"""Text jobs: train a document search over a text collection (``aelab text train``), draw the map
of its 2-D codes (``aelab text map``) and query it (``aelab text search``)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AelabError
from ..params import DOCUMENT_DEFAULTS, TABLE
from ..report import code_map, save_figure, text_retrieval_table
from ..storage import check_output, output_lock
from ..text import DocumentSearch
from ..text.search import Result
from ..training import checkpoint_path
from .data import TextOptions

_D = DOCUMENT_DEFAULTS


@dataclass
class TextTrainRequest:
    """Fit a vocabulary, the document auto-encoder and LSA with the same code size on the training
    documents of ``data``, index them, measure retrieval with the test documents as queries, and
    save it all as the folder ``out``. ``binary``: the auto-encoder's codes are that many bits;
    ``weighting``: the vectors the auto-encoder reconstructs (``counts``, ``tf``, ``tfidf``)."""

    data: TextOptions
    out: str | os.PathLike
    n_components: int = _D["n_components"]
    binary: int | None = None
    weighting: str = "counts"
    loss: str = _D["loss"]
    max_features: int = _D["max_features"]
    hidden_layer_sizes: tuple[int, ...] | str = _D["hidden_layer_sizes"]
    denoise: str | None = _D["denoise"]
    keep_neighbours: float | str = _D["keep_neighbours"]
    n_neighbours: int | str = _D["n_neighbours"]
    epochs: int | str = _D["epochs"]
    batch_size: int | str = _D["batch_size"]
    learning_rate: float = _D["learning_rate"]
    random_state: int | None = 0
    verbose: bool = True
    resume: bool = False
    overwrite: bool = False

    def __post_init__(self):
        """Checked when made, before the documents are read."""
        check_output(self.out, self.overwrite)
        TABLE["keep_neighbours"].check(self.keep_neighbours)
        TABLE["n_neighbours"].check(self.n_neighbours)
        if self.denoise in ("", "none"):
            self.denoise = None


@dataclass
class TextTrainResult:
    engine: DocumentSearch
    out: Path
    lines: list[str] = field(default_factory=list)  # how training went, and the retrieval table


def text_train(request: TextTrainRequest, log: Callable[[str], None] | None = None) -> TextTrainResult:
    """Run ``request`` (the output is held against a second run into it); ``log`` hears what is
    read before training starts."""
    with output_lock(request.out):
        return _text_train(request, log or (lambda line: None))


def _text_train(request: TextTrainRequest, log) -> TextTrainResult:
    out = check_output(request.out, request.overwrite)
    corpus = request.data.load()
    log(f"documents: {corpus!r}")
    checkpoint = checkpoint_path(out)
    started = time.perf_counter()
    engine = DocumentSearch.build(
        corpus.train,
        n_components=request.n_components,
        binary=request.binary is not None,
        max_features=request.max_features,
        weighting=request.weighting,
        loss=request.loss,
        hidden_layer_sizes=request.hidden_layer_sizes,
        denoise=request.denoise,
        keep_neighbours=request.keep_neighbours,
        n_neighbours=request.n_neighbours,
        epochs=request.epochs,
        batch_size=request.batch_size,
        learning_rate=request.learning_rate,
        random_state=request.random_state,
        verbose=request.verbose,
        checkpoint_dir=checkpoint,
        resume=request.resume,
        info={"data": request.data.data, "strip": request.data.strip or "none", "split": corpus.info.get("split")},
    )
    vocabulary = len(next(iter(engine.models.values())).vocabulary)
    result = TextTrainResult(engine, out)
    result.lines.append(
        f"trained in {time.perf_counter() - started:.0f} s: a {vocabulary}-word vocabulary, "
        f"{request.n_components}-D codes of {len(corpus.train)} training documents"
    )
    metrics = {}
    if corpus.test.labels is not None and len(corpus.test):
        metrics = engine.evaluate(corpus.test)
        result.lines.append(
            f"\n{len(corpus.test)} test documents as queries against the training documents; relevant = same "
            f"label\n\n{text_retrieval_table(metrics)}"
        )
    engine.info["metrics"] = {kind: {n: v for n, v in m.items() if n != "pr_curve"} for kind, m in metrics.items()}
    engine.save(out, overwrite=request.overwrite)
    shutil.rmtree(checkpoint, ignore_errors=True)
    return result


@dataclass
class TextMapRequest:
    """The map of a split of ``data``'s documents under a document search of 2-D codes, the
    auto-encoder beside LSA, coloured by label (e-mail parts stripped as when the search was
    trained, unless ``data`` says)."""

    search: str | os.PathLike
    data: TextOptions
    out: str | os.PathLike
    split: str = "test"
    overwrite: bool = False


@dataclass
class TextMapResult:
    out: Path
    shares: dict[str, float]  # per model: the share of each document's 10 map neighbours on its topic


def text_map(request: TextMapRequest) -> TextMapResult:
    check_output(request.out, request.overwrite)
    engine = DocumentSearch.load(request.search)
    if engine.code_size != 2:
        raise AelabError(
            f"{request.search} has {engine.code_size}-D codes; a map needs 2-D codes: train one with "
            "aelab text train ... --n-components 2"
        )
    corpus = request.data.load(engine.info.get("strip", "none"))
    docs = corpus.split(request.split)
    codes, shares = engine.map(docs)
    title = f"{corpus.name}: {len(docs)} {request.split} documents"
    if shares:
        title += "; share of 10 map neighbours on the same topic: " + ", ".join(
            f"{name.split(' (')[0]} {share:.3f}" for name, share in shares.items()
        )
    save_figure(code_map(codes, docs.labels, title=title), request.out, request.overwrite)
    return TextMapResult(Path(request.out), shares)


@dataclass
class TextSearchRequest:
    """The ``k`` documents of a document search nearest to ``query`` (some words) under ``model``
    (``autoencoder`` or ``lsa``), with the topic their labels predict."""

    search: str | os.PathLike
    query: str
    k: int = 10
    model: str = "autoencoder"

    def __post_init__(self):
        if not self.query.strip():
            raise AelabError("the query is empty: give some words with --query")


def search_documents(request: TextSearchRequest) -> tuple[DocumentSearch, Result]:
    engine = DocumentSearch.load(request.search)
    return engine, engine.search(request.query, request.k, request.model)
