"""``aelab serve``: the lecture's pictures live in a browser, over a trained model and a collection.

>>> from aelab.serve import Explorer, create_app   # doctest: +SKIP
>>> app = create_app(Explorer(model, ds.test.X, ds.test.y, image_shape=ds.image_shape))
"""

from __future__ import annotations

from .app import create_app
from .documents import DocumentExplorer
from .explorer import Explorer

__all__ = [
    "DocumentExplorer",
    "Explorer",
    "create_app",
    "index_explorer",
    "is_document_search",
    "is_index",
    "open_explorer",
    "run",
]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_document_search(folder) -> bool:
    """Whether ``folder`` is a document search (``aelab text train``'s), not a model."""
    from pathlib import Path

    from ..text.search import SEARCH_FILE

    return (Path(folder) / SEARCH_FILE).is_file()


def open_explorer(folder, data=None, split: str = "all") -> tuple[Explorer | DocumentExplorer, str]:
    """The explorer of a folder, and what it shows in words: a document search (which holds its
    documents' codes) alone, or a trained auto-encoder over the ``split`` of the collection ``data``
    (:class:`aelab.jobs.data.DataOptions`)."""
    from pathlib import Path

    import numpy as np

    from ..errors import AelabError
    from ..models import PCA, load
    from ..text import DocumentSearch

    if is_index(folder):
        return index_explorer(folder, data)
    if is_document_search(folder):
        if data is not None:
            raise AelabError(f"{folder} is a document search, which holds its own documents: give no data")
        explorer = DocumentExplorer(DocumentSearch.load(folder), name=Path(folder).name)
        return explorer, f"documents of {explorer.name}"
    model = load(folder)
    if isinstance(model, PCA) or not hasattr(model, "inverse_transform"):
        raise AelabError(f"{folder} is not an auto-encoder; serve a model trained with 'aelab train'")
    if data is None:
        raise AelabError(f"give --data: the collection to explore with {folder}")
    ds = data.load()
    items = ds.split(split)
    model.check_n_features(items.X.shape[1], "--data")
    ids = None if items.ids is None else np.asarray(items.ids)
    explorer = Explorer(model, items.X, items.y, ids=ids, image_shape=ds.image_shape, name=ds.name)
    return explorer, f"items of {ds.name}"


def is_index(folder) -> bool:
    """Whether ``folder`` is an index folder (``aelab index``'s), not a model."""
    from pathlib import Path

    from ..search.index import META_FILE

    return (Path(folder) / META_FILE).is_file()


def index_explorer(folder, data=None) -> tuple[Explorer, str]:
    """The explorer over the items of an index folder (its vectors in FAISS or in Milvus), whose
    searches by code go to the index itself. The items' pixels come from the collection ``data``
    names (:class:`aelab.jobs.data.DataOptions`; by default the index's own, when it is a built-in
    data set); items not in it, or all of them without a collection, are what the index's model
    decodes from their stored codes, where the index keeps codes (not cosine's directions)."""
    from pathlib import Path

    import numpy as np

    from ..errors import AelabError
    from ..models import PCA
    from ..search import Index
    from ..search.collection import collection_pixels

    index = Index.load(folder)
    model = index.model
    if model is None or isinstance(model, PCA) or not hasattr(model, "inverse_transform") or index.space != "code":
        raise AelabError(
            f"{folder} is an index of {index.space} vectors without an auto-encoder; the explorer serves an index "
            "of an auto-encoder's codes (aelab index MODEL --data SPEC --out INDEX)"
        )
    ids = index.ids
    try:
        pixels = collection_pixels(index, None if data is None else data.data, None if data is None else data.data_dir)
        rows = [pixels(item) for item in ids]
    except AelabError:
        if data is not None:
            raise
        rows = [None] * len(ids)
    codes = None if index.metric == "cosine" else index.vectors()  # the codes themselves, not directions
    missing = [i for i, row in enumerate(rows) if row is None]
    if missing:
        if codes is None:
            raise AelabError(
                f"{len(missing):,} items of {folder} are not in "
                + (f"--data {data.data}" if data is not None else "a collection aelab knows")
                + "; give --data: the collection the index was built from (a cosine index keeps directions, "
                "not codes to decode)"
            )
        for i, row in zip(missing, model.inverse_transform(codes[missing])):
            rows[i] = row
    shape = tuple(index.info.get("image_shape") or ()) or model.image_shape_
    name = f"index {Path(folder).name}"
    explorer = Explorer(
        model, np.stack(rows), index.labels, ids, image_shape=shape, name=name, code_index=index, codes=codes
    )
    where = getattr(index, "engine", None)
    return explorer, f"items of {name}" + (f" (vectors in {where.describe()})" if where is not None else "")


def run(explorer: Explorer, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``explorer`` with uvicorn until interrupted.

    Torch and FAISS use one thread each: the explorer's worker computes while the event loop
    reads and writes requests, and its small batches gain nothing from more. What exists before
    serving (the explorer's items, ids and indexes, the libraries) is frozen out of the garbage
    collector, whose full collections would otherwise walk all of it every few seconds, stalling
    every request at once."""
    import gc

    import faiss
    import torch
    import uvicorn

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    app = create_app(explorer)
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="warning")
