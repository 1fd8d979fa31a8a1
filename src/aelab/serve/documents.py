"""What the explorer shows over a document search (``aelab text train``'s folder): a query's
nearest documents with the predicted topic, and the map of every indexed document, from the codes
the search already holds (no documents are read again)."""

from __future__ import annotations

import time

import numpy as np

from ..errors import DataError
from ..models import PCA
from ..text.search import MODEL_NAMES
from .explorer import MAX_K, Items

MAX_QUERY_CHARS = 10_000


class DocumentExplorer(Items):
    """``engine`` (a :class:`aelab.text.DocumentSearch`) for the explorer's text views."""

    def __init__(self, engine, name: str = "documents"):
        self.engine, self.name = engine, name
        self.models = list(engine.indexes)
        first = engine.index(self.models[0])
        self.ids, self.labels = list(first.ids), None if first.labels is None else [str(v) for v in first.labels]
        self._positions = {doc_id: i for i, doc_id in enumerate(self.ids)}
        self.maps_ = {}
        for kind in self.models:
            codes = engine.index(kind).vectors()
            view = codes if codes.shape[1] == 2 else PCA(n_components=2).fit(codes).transform(codes)
            self.maps_[kind] = np.asarray(view, np.float32)
        size = engine.code_size
        self.view = "the 2-D codes" if size == 2 else f"the first two principal components of the {size}-D codes"

    def item(self, item) -> dict:
        found = super().item(item)
        return {**found, "first_line": self.engine.first_lines[found["position"]]}

    def maps(self) -> dict:
        """Every document's point on each model's map, with the labels."""
        return {
            "maps": {MODEL_NAMES[k]: np.round(v, 5).tolist() for k, v in self.maps_.items()},
            "labels": self.labels,
            "view": self.view,
        }

    def search(self, query: str, k: int = 10, model: str | None = None) -> dict:
        """The ``k`` nearest documents to ``query``, what their scores are, and the predicted topic."""
        model = model or self.models[0]
        if model not in self.models:
            raise DataError(f"this search holds the models {', '.join(self.models)}, not {model!r}")
        if not query.strip():
            raise DataError("the query is empty: give some words")
        if len(query) > MAX_QUERY_CHARS:
            raise DataError(f"the query has {len(query):,} characters; give at most {MAX_QUERY_CHARS:,}")
        if not 1 <= int(k) <= MAX_K:
            raise DataError(f"k must be 1 to {MAX_K}, not {k}")
        started = time.perf_counter()
        result = self.engine.search(query, int(k), model).as_dict()
        result["ms"] = round((time.perf_counter() - started) * 1000, 3)
        result["score"] = self.engine.index(model).score_name
        for hit in result["hits"]:
            hit["position"] = self._positions.get(hit["id"])
        return result
