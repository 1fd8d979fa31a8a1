"""A whole collection in and out of an index: encoding and adding it a batch at a time, answering a
query given as an item id or a file, drawing a query beside its neighbours, and evaluating several
indexes of one collection side by side."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from .. import datasets
from ..datasets import Stream, open_stream, read_sample
from ..errors import DataError, ParameterError
from ..models import ITQ, PCA, CodeModel
from ..models import load as load_model
from ..storage import check_output
from .index import Index, default_metric
from .metrics import evaluate

PCA_FIT_SAMPLES = 20_000  # a PCA space is fitted on up to this many samples spread over the collection
FITTED_SPACES = ("pca", "pcah", "itq")  # spaces whose model is fitted on the collection being indexed


def open_collection(
    spec: str,
    *,
    data_dir=None,
    split: str = "train",
    stream: bool = False,
    image_size=None,
    test_size: float = 0.2,
    seed: int = 0,
    label_column=None,
) -> Stream:
    """The samples to index, as a :class:`aelab.datasets.Stream`: read a batch at a time from a
    ``.npy`` file or an image folder (``stream``), or one ``split`` of a data set loaded in memory."""
    if stream:
        return open_stream(spec, image_size)
    ds = datasets.load(spec, data_dir, test_size=test_size, seed=seed, label_column=label_column, image_size=image_size)
    part = ds.split(split)
    paths = [str(i) if isinstance(i, str) else None for i in part.ids] if part.ids is not None else None
    return Stream(
        ds.name,
        len(part.X),
        ds.n_features,
        ds.image_shape,
        labels=None if part.y is None else part.y.tolist(),
        paths=paths,
        _read=lambda start, stop: part.X[start:stop],
    )


def item_prefix(split: str, stream: bool) -> str:
    """How the items of a collection are named: ``train:12`` (the split and the row within it), or
    ``row:12`` when it was streamed whole; ``aelab encode`` names its rows as an index does."""
    return "row:" if stream else f"{split}:"


def spread_sample(source: Stream, count: int) -> np.ndarray:
    """Up to ``count`` rows spread evenly over the collection, read one at a time."""
    rows = np.unique(np.linspace(0, source.n - 1, min(source.n, count)).astype(int))
    return np.concatenate([source.rows(r, r + 1) for r in rows])


def space_model(space: str, model=None, n_components: int | None = None) -> CodeModel | None:
    """What encodes a collection and later its queries: the trained ``model`` (a folder or a fitted
    code model) for ``code``; a new PCA for ``pca``, or binary codes from PCA for ``pcah`` and
    ``itq`` (of the model's code size, else ``n_components``, else 30 numbers or 32 bits);
    nothing for ``pixels``."""
    if space == "pixels":
        return None
    if isinstance(model, (str, os.PathLike)):
        path, model = model, load_model(model)
        if not isinstance(model, CodeModel):
            raise DataError(f"{path} holds a {type(model).__name__}, not a model with codes")
    size = n_components or (model.code_size if model is not None else None)
    if space == "pca":
        return PCA(n_components=size or 30)
    if space in ("pcah", "itq"):
        return ITQ(n_components=size or 32, n_iter=0 if space == "pcah" else 50)
    if model is None:
        raise DataError("--space code needs a trained model folder: aelab index DIR --data SPEC --out INDEX")
    return model


def new_index(metric: str, kind: str, space: str, *, engine: str | None = None, out=None, overwrite=False) -> Index:
    """An empty index: FAISS in the index folder, or with ``engine`` (``milvus://...``) a Milvus
    collection (:mod:`aelab.search.milvus`) that the folder ``out`` will name."""
    if engine is None:
        return Index(metric=metric, kind=kind, space=space)
    from .milvus import new_index as new_milvus_index

    return new_milvus_index(engine, out, metric=metric, kind=kind, space=space, overwrite=overwrite)


def progress_bar(total: int, what: str):
    """A progress bar over ``total`` items, drawn only on a terminal (tqdm's ``disable=None``)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit="items", unit_scale=True, dynamic_ncols=True, disable=None)


def item_batches(source: Stream, prefix: str, batch_size: int):
    """The rows of ``source``, ``batch_size`` at a time, with their items: ``(rows, ids, paths,
    labels)``, each id the prefix and the row's number (:func:`item_prefix`)."""
    for start, X in source.batches(int(batch_size)):
        stop = start + len(X)
        yield (
            X,
            [f"{prefix}{n}" for n in range(start, stop)],
            None if source.paths is None else source.paths[start:stop],
            None if source.labels is None else source.labels[start:stop],
        )


def _fill(index: Index, out, batches, total: int, overwrite: bool) -> Index:
    """Add ``batches`` of ``(vectors, ids, paths, labels)`` to ``index`` with a progress bar over
    ``total`` items, and save it as ``out``; a build that fails leaves nothing behind (a Milvus
    build drops its half-filled collection)."""
    try:
        with contextlib.closing(progress_bar(total, "indexing")) as bar:
            for vectors, ids, paths, labels in batches:
                index.add(vectors, ids, paths, labels)
                bar.update(len(ids))
        index.save(out, overwrite=overwrite)
    except BaseException:
        if hasattr(index, "abandon"):
            index.abandon()
        raise
    return index


def index_collection(
    source: Stream,
    out,
    *,
    index: Index | None = None,
    model=None,
    space: str = "code",
    metric: str | None = None,
    kind: str = "auto",
    n_components: int | None = None,
    batch_size: int = 8192,
    info: dict | None = None,
    overwrite: bool = False,
    engine: str | None = None,
) -> Index:
    """Encode ``source`` a batch at a time and write the index folder ``out`` atomically.

    A new index is built in ``space`` (see :func:`space_model`), by ``metric`` (None:
    :func:`default_metric`); with ``index`` (loaded from
    ``out``) the items are added to it, their ids prefixed with the source's name so that they
    never collide with the first ones. ``info`` (the data spec, split...) is kept with a new index.
    ``engine`` (``milvus://...``) puts a new index's vectors in Milvus instead of FAISS.
    """
    if int(batch_size) < 1:
        raise DataError(f"the batch size must be at least 1, not {batch_size}")
    adding = index is not None
    if not adding:
        check_output(out, overwrite)
        encoder = space_model(space, model, n_components)
        index = new_index(metric or default_metric(encoder), kind, space, engine=engine, out=out, overwrite=overwrite)
        index.model = encoder
    info = dict(info or {})
    if index.model is None:
        if index.dimension and source.n_features != index.dimension:
            raise DataError(
                f"{source.name} has {source.n_features} features per sample but the index holds "
                f"{index.dimension}-D pixel vectors"
            )
    elif adding or space == "code":  # a new PCA is fitted on this data below
        index.model.check_n_features(source.n_features, f"the data {source.name}")
    split = info.get("split", "all")
    prefix = item_prefix(split, bool(info.get("stream")))
    if adding:
        prefix = f"{Path(str(info.get('data', source.name))).name}/{prefix}"
        if any(i.startswith(prefix) for i in index.ids):
            raise DataError(
                f"{out} already holds items from {info.get('data', source.name)} ({split}); nothing was added"
            )
    else:
        if space in FITTED_SPACES:
            sample = spread_sample(source, PCA_FIT_SAMPLES) if info.get("stream") else source.rows(0, source.n)
            index.model.fit(sample, image_shape=source.image_shape)
        index.info = dict(info, image_shape=list(source.image_shape) if source.image_shape else None)
    batches = ((index.encode(X), *items) for X, *items in item_batches(source, prefix, batch_size))
    return _fill(index, out, batches, source.n, adding or overwrite)


def index_codes(
    table,
    out,
    *,
    index: Index | None = None,
    model=None,
    metric: str | None = None,
    kind: str = "auto",
    batch_size: int = 65_536,
    overwrite: bool = False,
    engine: str | None = None,
) -> Index:
    """The index folder ``out`` over a Parquet table of codes (a :class:`aelab.search.parquet.CodesFile`,
    as ``aelab encode --out FILE.parquet`` writes it), read ``batch_size`` rows at a time, with the
    table's own ids, labels and paths; or those items added to ``index``. ``model`` (a folder or a
    fitted code model) encodes later queries; without one, items are found by their ids."""
    adding = index is not None
    if not table.n:
        raise DataError(f"{table.path} holds no items")
    if not adding:
        check_output(out, overwrite)
        encoder = space_model("code", model) if model is not None else None
        if encoder is not None and (encoder.code_size, bool(getattr(encoder, "binary", False))) != (
            table.code_size,
            table.binary,
        ):
            raise DataError(
                f"{table.path} holds {table.code_size}-D {'binary ' if table.binary else ''}codes, but the model makes "
                f"{encoder.code_size}-D {'binary ' if getattr(encoder, 'binary', False) else ''}codes"
            )
        # without a model, the table's own kind of code (bits or numbers) picks the metric
        metric = metric or default_metric(encoder if encoder is not None else table)
        index = new_index(metric, kind, "code", engine=engine, out=out, overwrite=overwrite)
        index.model = encoder
        index.info = {"codes": table.path.name[:200]}
        if encoder is not None and encoder.image_shape_:
            index.info["image_shape"] = list(encoder.image_shape_)
    elif index.dimension != table.code_size:
        raise DataError(f"{table.path} holds {table.code_size}-D codes but the index holds {index.dimension}-D vectors")

    def batches():
        labelled = None  # a table's items are labelled when the first batch holds a label
        for batch in table.batches(int(batch_size)):
            if labelled is None:
                labelled = batch.labels is not None and any(v is not None for v in batch.labels)
            yield batch.codes, batch.ids, batch.paths, batch.labels if labelled else None

    return _fill(index, out, batches(), table.n, adding or overwrite)


# --- queries ----------------------------------------------------------------------------------------
def query_sample(index: Index, path: Path, resize: bool = True) -> tuple[np.ndarray, str]:
    """One sample from an image or ``.npy`` file, read as the index's collection was (see
    :func:`aelab.datasets.read_sample`), and what was done to it in words."""
    shape = tuple(index.info.get("image_shape") or ()) or None
    n_features = index.model.n_features_in_ if index.model is not None else index.dimension
    return read_sample(path, shape, n_features, "the index holds", "or an item id of the index", resize)


def query_vector(index: Index, query: str, resize: bool = True) -> tuple[np.ndarray, str]:
    """The vector of a query in the index's space (an item id, or an image or ``.npy`` file), and
    what the query was, in words (with what was done to a file to read it like the collection)."""
    path = Path(query)
    if not path.exists():
        return index.vector(index.position(query)), f"item {query}"
    X, note = query_sample(index, path, resize)
    return index.encode(X), f"{path} ({note})" if note else str(path)


def search(index: Index, query: str, k: int = 10, resize: bool = True) -> tuple[str, list[dict]]:
    """The ``k`` nearest items of a query (see :func:`query_vector`): what the query was, and one
    row per neighbour (rank, id, score, label, path)."""
    vector, what = query_vector(index, query, resize)
    found = index.query(vector, k)
    rows = [
        {
            "rank": r + 1,
            "id": found.ids[0][r],
            "score": float(found.scores[0][r]),
            "label": None if found.labels is None else found.labels[0][r],
            "path": found.paths[0][r],
        }
        for r in range(found.positions.shape[1])
        if found.positions[0][r] >= 0
    ]
    return what, rows


def collection_pixels(index: Index, data: str | None = None, data_dir=None):
    """``pixels(item_id)``: an indexed item's input vector, read from the collection the index was
    built from, or None for an item that is not in it (items added from other data). The collection
    is ``data`` (and ``data_dir``), which the user names, else the index's own data set when that
    is a built-in one (``digits``, ``mnist``...), read with the split settings the index recorded
    (checked against :data:`aelab.schemas.INDEX_META` when it was loaded).

    Nothing else the index folder says is opened (not its stored paths, not its stored data
    folder): the folder may come from someone else."""
    info = index.info
    stored = info.get("data")
    if data is None:
        if not (isinstance(stored, str) and stored.lower() in datasets.NAMES):
            raise DataError(
                "to draw the items, name the collection the index was built from with --data (and --data-dir); "
                f"the index says it was {str(stored)[:200]!r}"
            )
        data, data_dir, download = stored, None, False  # a name from the folder: never a download
    else:
        download = True
    split = info.get("split", "train")  # these split settings were checked when the index was loaded
    image_size = tuple(info["image_size"]) if info.get("image_size") else None
    if info.get("stream"):
        stream, prefix = open_stream(data, image_size), "row:"
        size, width, read = stream.n, stream.n_features, lambda row: stream.rows(row, row + 1)[0]
    else:
        ds = datasets.load(
            data,
            data_dir,
            test_size=info.get("test_size", 0.2),
            seed=info.get("split_seed", 0),
            label_column=info.get("label_column"),
            image_size=image_size,
            download=download,
        )
        part, prefix = ds.split(split), f"{split}:"
        size, width, read = len(part.X), part.X.shape[1], lambda row: part.X[row]
    n_features = index.model.n_features_in_ if index.model is not None else index.dimension
    if width != n_features:
        raise DataError(f"{data} has {width} features per sample but the index's items have {n_features}")

    def pixels(item_id: str) -> np.ndarray | None:
        number = item_id[len(prefix) :] if item_id.startswith(prefix) else ""
        return read(int(number)) if number.isdigit() and int(number) < size else None

    return pixels


def neighbour_figure(
    index: Index, query: str, rows: list[dict], beside: Index | None = None, data: str | None = None, data_dir=None
):
    """The query beside its neighbours (and, with ``beside``, beside those another index of the same
    collection finds). The items' pixels come from the collection (see :func:`collection_pixels`);
    items not in it are drawn blank."""
    from ..report import image_strip

    info = index.info
    shape = tuple(info.get("image_shape") or ()) or None
    pixels = collection_pixels(index, data, data_dir)

    first = query_sample(index, Path(query))[0][0] if Path(query).exists() else pixels(query)
    blank = np.zeros(
        int(np.prod(shape)) if shape else index.model.n_features_in_ if index.model is not None else index.dimension,
        np.float32,
    )
    strips = [(f"{index.space} space", rows)]
    if beside is not None:
        if beside.info.get("data") != info.get("data") or beside.info.get("split") != info.get("split"):
            raise DataError("--beside indexes another collection; build both indexes from the same --data")
        if first is None:
            raise DataError("--beside needs the query's pixels: give an image file or an item of the collection")
        found = beside.query(beside.encode(first[None, :]), len(rows))
        strips.append(
            (
                f"{beside.space} space",
                [
                    {
                        "rank": r + 1,
                        "id": found.ids[0][r],
                        "label": None if found.labels is None else found.labels[0][r],
                        "path": found.paths[0][r],
                    }
                    for r in range(found.positions.shape[1])
                ],
            )
        )
    images, titles = [], []
    for name, strip in strips:
        images += [first] + [pixels(r["id"]) for r in strip]
        titles += [f"query ({name})"] + [
            f"{r['rank']}: {r['label']}" if r["label"] is not None else str(r["rank"]) for r in strip
        ]
    images = np.stack([blank if im is None else im for im in images])
    return image_strip(images, shape, titles, title=f"nearest items, {index.metric}", per_row=len(rows) + 1)


# --- evaluation ---------------------------------------------------------------------------------------
def evaluate_indexes(
    paths, ds: datasets.Dataset, split: str = "test", n_queries: int | None = None, queries_spec: str | None = None
) -> tuple[dict[str, dict], int]:
    """Retrieval figures (:func:`aelab.search.evaluate`) of each index folder in ``paths`` with the
    labelled samples of ``ds.split(split)`` (the first ``n_queries``) as queries; a query that is an
    item of an index (same data spec ``queries_spec`` and split) is not its own neighbour.

    Returns the figures by ``"folder (space)"`` and the number of queries.
    """
    queries = ds.split(split)
    if queries.y is None:
        raise DataError(f"the queries ({ds.name}) have no labels; retrieval is evaluated with labels as relevance")
    if n_queries is not None and (isinstance(n_queries, bool) or int(n_queries) != n_queries or n_queries < 1):
        raise ParameterError(f"the number of queries (--n-queries) must be a whole number >= 1, not {n_queries!r}")
    n = len(queries.X) if n_queries is None else min(int(n_queries), len(queries.X))
    X, y = queries.X[:n], queries.y[:n]
    results = {}
    for path in paths:
        index = Index.load(path)
        if index.labels is None:
            raise DataError(f"{path} has no labels; build it from labelled data to evaluate retrieval")
        if index.model is not None:
            index.model.check_n_features(ds.n_features, f"the queries ({ds.name})")
        elif ds.n_features != index.dimension:
            raise DataError(
                f"the queries ({ds.name}) have {ds.n_features} features per sample but {path} holds "
                f"{index.dimension}-D vectors"
            )
        same = index.info.get("data") == queries_spec and index.info.get("split") == split
        exclude = np.arange(n) if same else None  # a query is not its own neighbour
        results[f"{Path(path).name} ({index.space})"] = evaluate(index, index.encode(X), y, exclude=exclude)
    return results, n
