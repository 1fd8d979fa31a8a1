"""Search jobs: index a collection (``aelab index``: new, added to, streamed or built in shards),
find an item's neighbours (``aelab search``), and measure indexes with labelled queries
(``aelab evaluate-retrieval``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AelabError
from ..report import precision_recall_figure, retrieval_table, save_figure
from ..search import Index, evaluate_indexes, index_collection, neighbour_figure, open_collection, search
from ..storage import atomic_path, check_output, fresh_path, output_lock, save_json
from .data import DataOptions


# --- aelab index ---------------------------------------------------------------------------------
@dataclass
class IndexRequest:
    """Index the collection of ``data`` into the new index folder ``out``, or add it to the index
    ``add``. ``space``: the vectors (``code`` of the model of ``model``, ``pca``, ``pcah``,
    ``itq`` or ``pixels``); ``kind``: FAISS's index (``auto``: exact up to 200,000 items, IVF
    above); ``stream`` reads and encodes a batch at a time; ``shards`` builds an IVF-PQ index in
    that many shards, ``workers`` at once. ``codes``: a Parquet table of codes to index instead of
    ``data`` (as ``aelab encode --out FILE.parquet`` writes it; ``model`` then only encodes queries)."""

    data: DataOptions | None
    out: str | os.PathLike | None = None
    add: str | os.PathLike | None = None
    model: str | os.PathLike | None = None
    space: str = "code"
    metric: str | None = None
    kind: str = "auto"
    n_components: int | None = None
    split: str = "train"
    stream: bool = False
    batch_size: int = 4096
    shards: int | None = None
    workers: int = 1
    overwrite: bool = False
    codes: str | os.PathLike | None = None
    engine: str | None = None

    def __post_init__(self):
        if self.engine is not None:
            from ..search.milvus import Engine

            Engine.parse(self.engine)  # a malformed URL: one line, before anything is read
            if self.add or self.shards is not None:
                raise AelabError("--engine places a new index: leave out --add (the index keeps its own) and --shards")
        if (self.data is None) == (self.codes is None):
            raise AelabError("give the collection to index: --data SPEC, or --from FILE.parquet (a table of codes)")
        if self.codes is not None and (self.shards is not None or self.space != "code" or self.stream):
            raise AelabError("--from indexes the codes of its table as they are: leave out --space, --shards, --stream")
        if (self.out is None) == (self.add is None):
            raise AelabError("give --out INDEX for a new index, or --add INDEX to add to an existing one")
        if self.shards is not None and (self.kind != "ivfpq" or self.add):
            raise AelabError("--shards builds a new --kind ivfpq index")


@dataclass
class IndexResult:
    index: Index
    out: Path
    added: int  # items read from the collection


def index(request: IndexRequest) -> IndexResult:
    """Build or extend the index; the output is held (no second run into it) and written atomically."""
    out = request.add or request.out
    with output_lock(out):
        if request.out:
            check_output(request.out, request.overwrite)
        existing = Index.load(request.add) if request.add else None
        if request.codes is not None:
            from ..search import index_codes
            from ..search.parquet import CodesFile

            table = CodesFile.open(request.codes)
            built = index_codes(
                table,
                out,
                index=existing,
                model=request.model,
                metric=request.metric,
                kind=request.kind,
                overwrite=request.overwrite,
                engine=request.engine,
            )
            return IndexResult(built, Path(out), table.n)
        data = request.data
        collection = data.collection(request.split, request.stream)
        source = open_collection(**collection)
        info = {
            "data": data.data,
            "data_dir": data.data_dir,
            "split": "all" if request.stream else request.split,
            "stream": bool(request.stream),
            "test_size": data.test_size,
            "split_seed": data.split_seed,
            "label_column": data.label_column,
            "image_size": list(data.image_size or ()) or None,
        }
        settings = dict(
            model=request.model, space=request.space, metric=request.metric, n_components=request.n_components
        )
        if request.shards is not None:
            from ..search.sharded import build_sharded

            built = build_sharded(
                collection,
                out,
                shards=request.shards,
                workers=request.workers,
                info=info,
                overwrite=request.overwrite,
                **settings,
            )
        else:
            built = index_collection(
                source,
                out,
                index=existing,
                kind=request.kind,
                batch_size=request.batch_size,
                info=info,
                overwrite=request.overwrite,
                engine=request.engine,
                **settings,
            )
    return IndexResult(built, Path(out), source.n)


# --- aelab search --------------------------------------------------------------------------------
@dataclass
class SearchRequest:
    """The ``k`` nearest items of ``query`` (an item's id, an image file or a ``.npy`` sample) in
    the index ``index``; with ``figure``, the query beside its neighbours (and beside those of the
    index ``beside``), drawn from the collection that ``data`` names."""

    index: str | os.PathLike
    query: str
    k: int = 10
    resize: bool = True
    figure: str | os.PathLike | None = None
    beside: str | os.PathLike | None = None
    data: str | None = None
    data_dir: str | None = None
    overwrite: bool = False

    def __post_init__(self):
        if self.beside and not self.figure:
            raise AelabError("--beside draws a second row of the figure: give --figure FILE.png too")


@dataclass
class SearchResult:
    index: Index
    query: str  # what the query was, in words
    neighbours: list[dict] = field(default_factory=list)  # rank, id, score, label, path


def find(request: SearchRequest) -> SearchResult:
    index = Index.load(request.index)
    if request.figure:
        check_output(request.figure, request.overwrite)
    what, rows = search(index, request.query, request.k, request.resize)
    if request.figure:
        beside = Index.load(request.beside) if request.beside else None
        figure = neighbour_figure(index, request.query, rows, beside, request.data, request.data_dir)
        save_figure(figure, request.figure, request.overwrite)
    return SearchResult(index, what, rows)


# --- aelab evaluate-retrieval --------------------------------------------------------------------
@dataclass
class EvaluateRetrievalRequest:
    """Each index of ``indexes`` queried with the labelled samples of a split of ``queries``
    (relevant = same label): precision, mAP, speed and memory, into ``out`` (None:
    ``INDEX-retrieval``) as ``metrics.json`` and a precision-recall figure."""

    indexes: list[str]
    queries: DataOptions
    split: str = "test"
    n_queries: int | None = None
    out: str | os.PathLike | None = None
    overwrite: bool = False


@dataclass
class EvaluateRetrievalResult:
    results: dict[str, dict]
    n_queries: int
    data: str  # the queries' collection
    out: Path

    @property
    def table(self) -> str:
        return retrieval_table(self.results)


def evaluate_retrieval(request: EvaluateRetrievalRequest) -> EvaluateRetrievalResult:
    if request.out:
        out = check_output(request.out, request.overwrite)
    else:
        out = fresh_path(str(Path(request.indexes[0])) + "-retrieval")
    ds = request.queries.load()
    spec = request.queries.data
    results, n = evaluate_indexes(request.indexes, ds, request.split, request.n_queries, queries_spec=spec)
    curves = {name: (r["pr_curve"]["recall"], r["pr_curve"]["precision"]) for name, r in results.items()}
    with atomic_path(out, request.overwrite) as tmp:
        tmp.mkdir()
        save_json(tmp / "metrics.json", {"queries": spec, "split": request.split, "n_queries": n, "indexes": results})
        save_figure(precision_recall_figure(curves, title=f"{ds.name}: {n} queries"), tmp / "precision-recall.png")
    return EvaluateRetrievalResult(results, n, ds.name, Path(out))
