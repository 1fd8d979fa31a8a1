"""Search by code: a persistent FAISS index over the codes (or PCA scores, or pixels) of a collection.

The lecture's point: nearest neighbours by pixels are poor; encode every image with a deep
auto-encoder and search on the codes instead. An :class:`Index` keeps the vectors in FAISS, with
each item's id, file path and label beside them, and the model that made the vectors (copied into
the index folder, so a query is encoded the same way later).

Scores: for ``cosine`` and ``ip`` (inner product) greater is nearer; for ``l2`` the score is the
Euclidean distance, smaller is nearer. ``hamming`` indexes binary codes (vectors of 0s and 1s, a
multiple of 8 of them) in FAISS's binary indexes, packed 8 bits a byte; the score is the number of
bits that differ, smaller is nearer.
"""

from __future__ import annotations

import math
import os
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import schemas
from ..errors import DataError, ModelError, ParameterError
from ..params import INDEX_KINDS, METRICS, SPACES
from ..storage import (
    atomic_path,
    check_digests,
    folder_file,
    json_value,
    read_json,
    read_tagged_folder,
    record_digests,
    save_json,
)
from ..validation import check_choices

#: ``kind="auto"`` searches exactly up to this many items, approximately (IVF) above; the choice and
#: its figures are in docs/benchmarks/index_scale.md (benchmarks/index_scale.py).
AUTO_EXACT_LIMIT = 200_000
INDEX_FORMAT = "aelab-index"
VECTORS_FILE, ITEMS_FILE, META_FILE, MODEL_DIR = "vectors.faiss", "items.json", "index.json", "model"
EXACT_FILE = "exact.npy"  # an IVF-PQ index's full vectors, read from disk to re-rank its shortlists


#: The engines other than FAISS that an index folder may keep its vectors in, by the name its
#: ``index.json`` gives: each opens such a folder (``opener(path, checked_meta)``). Each registers
#: itself here (aelab.search imports them all).
ENGINES: dict = {}


def default_metric(encoder) -> str:
    """The metric of an index over ``encoder``'s vectors when none is named: Hamming distance for
    binary codes; Euclidean distance for the codes of an auto-encoder trained to keep its inputs'
    neighbours, since that term pulls and pushes codes by their Euclidean distance (UMAP's
    similarity) and they rank better by it than by their angles; else cosine similarity. A
    document model's codes keep cosine, which ranks them better (docs/benchmarks/retrieval.md)."""
    if getattr(encoder, "binary", False):
        return "hamming"
    terms = getattr(encoder, "regularization_", None)
    return "l2" if terms is not None and terms.keep_neighbours else "cosine"


@dataclass
class Neighbours:
    """The result of :meth:`Index.query`: per query row, ``k`` scores and item positions (nearest
    first; -1 where the index holds fewer than ``k`` items), with the items' ids, labels and
    source paths, all arrays of shape (queries, k)."""

    scores: np.ndarray
    positions: np.ndarray
    ids: np.ndarray
    labels: np.ndarray | None
    paths: np.ndarray | None = None


#: What each metric's scores are, in words (:attr:`Index.score_name`)
SCORE_NAMES = {
    "l2": "Euclidean distance",
    "cosine": "cosine similarity",
    "ip": "inner product",
    "hamming": "Hamming distance (bits that differ)",
}


class Index:
    """Vectors of a collection in a FAISS index, with item ids, paths and labels.

    Parameters
    ----------
    metric : "cosine", "ip" (inner product), "l2" (Euclidean) or "hamming" (binary codes), fixed
        when indexing.
    kind : "exact" (brute force), "hnsw" or "ivf" (approximate), "ivfpq" (IVF over product-quantized
        vectors, a few bytes each in memory, scanned with FAISS's SIMD "fast scan" of 4-bit codes,
        whose shortlist is re-ranked exactly with the full vectors, kept on disk), or "auto": exact
        up to 200,000 items, IVF above.
    space : what the vectors are ("code", "pca" or "pixels"); recorded for reports.
    hnsw_neighbours, ef_search : HNSW graph degree and search breadth.
    ivf_lists, n_probe : IVF cells (None: about 4 sqrt(n), at most n / 39) and cells visited per
        query (None: 64, or one in 128 cells when there are more, one in 100 for ivfpq; the
        docs/benchmarks/index_scale.md gives the recall this reaches, from benchmarks/index_scale.py).
    pq_groups, rerank : for ivfpq, the groups of dimensions each coded in 4 bits (None: one per 3
        dimensions, a divisor of the dimension; two groups make a byte) and the shortlist re-ranked
        exactly (``rerank`` x k items).

    Examples
    --------
    >>> import numpy as np
    >>> from aelab.search import Index
    >>> index = Index.build(np.eye(3, dtype=np.float32), labels=[0, 1, 2])
    >>> index.query(np.array([[0.9, 0.1, 0.0]], np.float32), k=2).ids.tolist()
    [['0', '1']]
    """

    def __init__(
        self,
        metric: str = "cosine",
        kind: str = "auto",
        space: str = "code",
        hnsw_neighbours: int = 32,
        ef_search: int = 256,
        ivf_lists: int | None = None,
        n_probe: int | None = None,
        pq_groups: int | None = None,
        rerank: int = 100,
    ):
        check_choices(("metric", metric, METRICS), ("kind", kind, INDEX_KINDS), ("space", space, SPACES))
        self.metric, self.kind, self.space = metric, kind, space
        self.hnsw_neighbours, self.ef_search = hnsw_neighbours, ef_search
        self.ivf_lists, self.n_probe = ivf_lists, n_probe
        self.pq_groups, self.rerank = pq_groups, rerank
        self.exact_parts: list[np.ndarray] = []  # ivfpq: the full vectors that re-rank, as added
        self.faiss_index = None
        self.ids: list[str] = []
        self.paths: list[str | None] = []
        self.labels: list | None = None
        self.model = None  # what encodes queries: a fitted aelab model, or None for pixels
        self.info: dict = {}

    # --- building ------------------------------------------------------------------------------
    @classmethod
    def build(cls, vectors, ids=None, paths=None, labels=None, **params) -> Index:
        """A new index over the rows of ``vectors``."""
        index = cls(**params)
        index.add(vectors, ids, paths, labels)
        return index

    def add(self, vectors, ids=None, paths=None, labels=None) -> Index:
        """Append items. ``ids`` default to their positions; the first call fixes the dimension
        (and trains an IVF index on these vectors)."""
        V = self.prepared(vectors)
        n, width = len(V), self._width(V)
        if n == 0 or width == 0:
            raise DataError(f"nothing to add: the vectors are empty (shape {V.shape})")
        if not self.ids:
            self._check_directions(V, "vector of the index")
        ids, paths = self._item_fields(n, len(self.ids), ids, paths, labels)
        known = self._id_positions()
        check_new_ids(ids, known)
        check_labelled(None if not self.ids else self.labels is not None, labels)
        if self.faiss_index is None:
            self.faiss_index = self.new_faiss_index(V)
        elif width != self.dimension:
            raise DataError(f"vectors have {width} dimensions but the index holds {self.dimension}-D vectors")
        if n:
            _faiss_call(self.faiss_index.add, V)
            if self._reranks:
                self.exact_parts.append(V)
                self.faiss_index = self.fast_scan(self.faiss_index)
        known.update((item, len(self.ids) + p) for p, item in enumerate(ids))
        self.ids += ids
        self.paths += paths
        if labels is not None:
            self.labels = (self.labels or []) + [json_value(v) for v in labels]
        return self

    @staticmethod
    def _item_fields(n: int, first: int, ids, paths, labels) -> tuple[list[str], list[str | None]]:
        """The ids (by default their positions from ``first``) and paths of ``n`` items being added,
        as text, checked to be one per item, as the labels are."""
        ids = [str(first + i) for i in range(n)] if ids is None else [str(i) for i in ids]
        paths = [None] * n if paths is None else [None if p is None else str(p) for p in paths]
        if len(ids) != n or len(paths) != n or (labels is not None and len(labels) != n):
            raise DataError(f"{n} vectors need {n} ids, paths and labels")
        return ids, paths

    def prepared(self, vectors) -> np.ndarray:
        """Vectors as FAISS takes them: float32 rows (normalised, for cosine), or bits packed into
        bytes (for hamming)."""
        V = self.checked_rows(vectors)
        if self.metric == "hamming":
            return np.packbits(V.astype(bool), axis=1)  # FAISS's order of bits does not change distances
        if self.metric == "cosine":
            norms = np.linalg.norm(V, axis=1, keepdims=True)
            V = V / np.where(norms > 0, norms, 1.0)
        return np.ascontiguousarray(V, dtype=np.float32)

    def checked_rows(self, vectors) -> np.ndarray:
        """Vectors as float32 rows, checked (0s and 1s, 8 bits at a time, for hamming)."""
        V = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if V.ndim != 2:
            raise DataError(
                f"vectors must be one per row, not an array of shape {V.shape}"
                + ("; reshape(1, -1) for a single vector" if V.ndim == 1 else "")
            )
        if not np.isfinite(V).all():
            raise DataError("vectors contain NaN or infinite values")
        if self.metric == "hamming":
            if ((V != 0) & (V != 1)).any():
                raise DataError("a hamming index holds binary codes: vectors of 0s and 1s (a model trained --binary)")
            if V.shape[1] % 8:
                raise DataError(f"binary codes come 8 bits at a time in FAISS; these have {V.shape[1]} bits")
        return V

    def _check_directions(self, V: np.ndarray, what: str) -> None:
        """Cosine similarity needs a direction: vectors of all zeros score 0 against everything. An
        item or a query among others may be so (an empty document); all of them may not, or every
        answer would be a tie."""
        if self.metric == "cosine" and V.size and not np.abs(V).max():
            raise DataError(
                f"every {what} is all zeros: with no direction, its cosine similarities are all 0 and rank nothing; "
                "use metric='l2' (--metric l2), or give vectors that are not all zeros"
            )

    def new_faiss_index(self, V: np.ndarray):
        import faiss

        d = V.shape[1]
        if self.metric == "hamming":
            if self.kind not in ("auto", "exact"):
                raise ParameterError(
                    f"a hamming index scans every item's few bytes exactly; use kind='exact', not {self.kind!r}"
                )
            self.kind_ = "exact"
            return faiss.IndexBinaryFlat(d * 8)
        metric = faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT
        kind = self.kind if self.kind != "auto" else ("exact" if len(V) <= AUTO_EXACT_LIMIT else "ivf")
        self.kind_ = kind
        if kind == "exact":
            return faiss.IndexFlatL2(d) if self.metric == "l2" else faiss.IndexFlatIP(d)
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, int(self.hnsw_neighbours), metric)
            index.hnsw.efConstruction = max(200, 2 * int(self.hnsw_neighbours))  # a better graph, slower to build
            index.hnsw.efSearch = int(self.ef_search)
            return index
        # FAISS's rule of thumb: about 4 sqrt(n) cells, each trained on at least 39 vectors
        lists = int(self.ivf_lists or max(1, min(65536, int(4 * np.sqrt(len(V))), len(V) // 39)))
        if len(V) < lists:
            raise DataError(
                f"an IVF index with {lists} cells needs at least {lists} vectors to train on; "
                "build it from more items, or use kind='exact' or 'hnsw'"
            )
        quantizer = faiss.IndexFlatL2(d) if self.metric == "l2" else faiss.IndexFlatIP(d)
        if kind == "ivfpq":
            groups = int(self.pq_groups or max(g for g in range(1, max(1, d // 3) + 1) if d % g == 0))
            if d % groups:
                raise ParameterError(f"pq_groups must divide the dimension {d}, not {groups}")
            # coded as a plain IVF-PQ, whose inverted lists merge; searched once converted (fast_scan)
            index = faiss.IndexIVFPQ(quantizer, d, lists, groups, 4, metric)
            if len(V) < 16 * 39:
                raise DataError(
                    f"an IVF-PQ index learns 16 centroids a group of dimensions from at least {16 * 39} vectors, "
                    f"not {len(V):,}; use kind='exact'"
                )
        else:
            index = faiss.IndexIVFFlat(quantizer, d, lists, metric)
        index.train(V)
        index.nprobe = self._probes(lists)
        if kind == "ivf":  # items' vectors by position (id queries, exact rankings), kept up by add
            index.make_direct_map()
        self._quantizer = quantizer  # the IVF index points at it: keep it alive as long as the index
        return index

    def fast_scan(self, index):
        """An IVF-PQ index of 4-bit codes as FAISS's fast-scan index, which scans them with SIMD
        table lookups. FAISS converts one into the other; its fast-scan lists cannot themselves be
        merged (merge_from corrupts memory in faiss 1.15), so shards merge before converting."""
        import faiss

        if isinstance(index, faiss.IndexIVFPQFastScan):
            return index
        fast = faiss.IndexIVFPQFastScan(index)
        fast = faiss.deserialize_index(faiss.serialize_index(fast))  # owns its quantizer and lists
        fast.nprobe = self._probes(fast.nlist)
        return fast

    def _probes(self, lists: int) -> int:
        # IVF-PQ's codes lose a little recall that a few more (cheaply scanned) cells win back
        share = 100 if getattr(self, "kind_", self.kind) == "ivfpq" else 128
        return min(lists, int(self.n_probe) if self.n_probe else max(64, lists // share))

    # --- searching -----------------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        """Numbers per vector (bits, for hamming)."""
        return int(self.faiss_index.d) if self.faiss_index is not None else 0

    @property
    def score_name(self) -> str:
        """What a found item's score is, in words, for the people reading it: a distance (smaller
        is nearer) or a similarity (greater is nearer)."""
        return SCORE_NAMES[self.metric]

    def __len__(self) -> int:
        return len(self.ids)

    def query(self, vectors, k: int = 10) -> Neighbours:
        """The ``k`` nearest items of each row of ``vectors`` (already in the index's space)."""
        if not len(self):
            raise DataError("the index is empty")
        V = self.prepared(vectors)
        if self._width(V) != self.dimension:
            raise DataError(f"queries have {self._width(V)} dimensions but the index holds {self.dimension}-D vectors")
        self._check_directions(V, "query")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ParameterError(f"the number of neighbours (-k) must be a whole number >= 1, not {k!r}")
        found = self._nearest(V, min(int(k), len(self)))
        if self.metric == "l2":  # engines give squared distances
            found.scores = np.sqrt(np.maximum(found.scores, 0))
        elif self.metric == "hamming":  # bits that differ, counted
            found.scores = np.round(found.scores).astype(np.float32)
        return found

    def _nearest(self, V: np.ndarray, k: int) -> Neighbours:
        """The ``k`` nearest items of the checked, prepared queries ``V`` (``k`` at most the items),
        scored as the engine scores them (squared distances for l2)."""
        if self._reranks:
            scores, positions = self._reranked(V, k)
        else:
            scores, positions = _faiss_call(self.faiss_index.search, V, k)
        ids, labels, paths = self._arrays()
        found = np.where(positions >= 0, positions, 0)
        return Neighbours(
            scores,
            positions,
            np.where(positions >= 0, ids[found], ""),
            None if labels is None else np.where(positions >= 0, labels[found], None),
            np.where(positions >= 0, paths[found], None),
        )

    @property
    def _reranks(self) -> bool:
        """Whether this is an IVF-PQ index, whose shortlists the full vectors re-rank."""
        return getattr(self, "kind_", None) == "ivfpq"

    def _exact(self) -> np.ndarray:
        """The full vectors of an IVF-PQ index (memory-mapped from its folder once loaded), joined
        into one array when first needed after adding."""
        if len(self.exact_parts) > 1:
            self.exact_parts = [np.concatenate(self.exact_parts)]
        return self.exact_parts[0]

    def _reranked(self, V: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """IVF-PQ's ``rerank`` x k nearest by their codes, ranked again by the full vectors."""
        shortlist = min(len(self), k * int(self.rerank))
        _, found = _faiss_call(self.faiss_index.search, V, shortlist)
        exact = self._exact()
        scores = np.full((len(V), k), np.nan, np.float32)
        positions = np.full((len(V), k), -1, np.int64)
        for q, row in enumerate(found):
            row = np.sort(row[row >= 0])  # in file order: one pass over the disk
            candidates = np.asarray(exact[row], np.float32)
            if self.metric == "l2":
                s = np.square(candidates - V[q]).sum(1)
                order = np.argsort(s, kind="stable")[:k]
            else:
                s = candidates @ V[q]
                order = np.argsort(-s, kind="stable")[:k]
            scores[q, : len(order)], positions[q, : len(order)] = s[order], row[order]
        return scores, positions

    def _arrays(self):
        """The ids, labels and paths as arrays, for fast lookups of many results (rebuilt after ``add``)."""
        if getattr(self, "_cache", None) is None or len(self._cache[0]) != len(self.ids):
            labels = None if self.labels is None else np.array(self.labels, dtype=object)
            self._cache = (np.array(self.ids, dtype=object), labels, np.array(self.paths, dtype=object))
        return self._cache

    def _id_positions(self) -> dict[str, int]:
        """Each id's position, built once and then kept up to date by ``add`` (which checks new ids
        against it, instead of gathering every id again for each batch)."""
        if getattr(self, "_positions", None) is None:
            self._positions = {i: p for p, i in enumerate(self.ids)}
        return self._positions

    def position(self, item_id: str) -> int:
        """Where the item with this id sits; a one-line error for an unknown id."""
        try:
            return self._id_positions()[str(item_id)]
        except KeyError:
            raise DataError(
                f"no item with id {item_id!r} in the index ({len(self)} items, ids like {', '.join(self.ids[:3])})"
            ) from None

    def vector(self, position: int) -> np.ndarray:
        """The stored vector of an item (normalised, for a cosine index), on every index kind."""
        if self._reranks:
            return np.asarray(self._exact()[int(position)][None, :], np.float32)
        return self._unpacked(_faiss_call(self.faiss_index.reconstruct, int(position))[None, :])

    def vectors(self) -> np.ndarray:
        """Every stored vector, in item order (an IVF-PQ index's full vectors, not its codes)."""
        if self._reranks:
            return np.asarray(self._exact(), np.float32)
        return self._unpacked(_faiss_call(self.faiss_index.reconstruct_n, 0, len(self)))

    def _width(self, V: np.ndarray) -> int:
        """Numbers per row of prepared vectors (packed bits count 8 a byte)."""
        return V.shape[1] * 8 if self.metric == "hamming" else V.shape[1]

    def _unpacked(self, V: np.ndarray) -> np.ndarray:
        return np.unpackbits(V, axis=1).astype(np.float32) if self.metric == "hamming" else V

    def encode(self, X) -> np.ndarray:
        """Vectors of samples ``X`` in this index's space (through the stored model, if any)."""
        return np.asarray(X, dtype=np.float32) if self.model is None else self.model.transform(X)

    def memory_bytes(self) -> int:
        """Size of the serialised FAISS index and of the tables FAISS computes when reading it: what
        the vectors and the search structure take in memory (not an IVF-PQ index's full vectors,
        which stay on disk)."""
        import faiss

        serialize = faiss.serialize_index_binary if self.metric == "hamming" else faiss.serialize_index
        size = int(serialize(self.faiss_index).nbytes)
        found = self.faiss_index
        if self._reranks and found.by_residual and found.metric_type == faiss.METRIC_L2 and found.use_precomputed_table:
            size += found.nlist * found.M * found.ksub * 4  # FAISS recomputes this table when reading
        return size

    # --- saving --------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the index folder atomically: an interrupted save leaves the previous index intact."""
        import faiss

        if self.faiss_index is None:
            raise DataError("nothing to save: the index is empty")
        with atomic_path(path, overwrite) as tmp:
            tmp.mkdir()
            write = faiss.write_index_binary if self.metric == "hamming" else faiss.write_index
            write(self.faiss_index, str(tmp / VECTORS_FILE))
            save_json(tmp / ITEMS_FILE, {"ids": self.ids, "paths": self.paths, "labels": self.labels})
            files = [VECTORS_FILE, ITEMS_FILE]
            if self._reranks:
                np.save(tmp / EXACT_FILE, np.ascontiguousarray(self._exact(), np.float32), allow_pickle=False)
                files.append(EXACT_FILE)
            save_json(
                tmp / META_FILE,
                {
                    "files": record_digests(tmp, files),
                    "format": INDEX_FORMAT,
                    "format_version": 1,
                    "metric": self.metric,
                    "kind": self.kind,
                    "built_as": getattr(self, "kind_", self.kind),
                    "space": self.space,
                    "count": len(self),
                    "dimension": self.dimension,
                    "params": {
                        "hnsw_neighbours": self.hnsw_neighbours,
                        "ef_search": self.ef_search,
                        "ivf_lists": self.ivf_lists,
                        "n_probe": self.n_probe,
                        "pq_groups": self.pq_groups,
                        "rerank": self.rerank,
                    },
                    "info": self.info,
                },
            )
            if self.model is not None:
                self.model.save(tmp / MODEL_DIR)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Index:
        """An index folder written by :meth:`save`. The folder is untrusted data: its JSON is checked
        against :mod:`aelab.schemas`, its files against their recorded checksums, and the FAISS
        index against what ``index.json`` says it is."""
        import faiss

        path = Path(path)
        meta = read_tagged_folder(path, META_FILE, INDEX_FORMAT, 1, "index", schemas.INDEX_META)
        check_digests(path, meta.get("files"))
        if "engine" in meta:  # its vectors are in another engine (Milvus), which opens it
            return ENGINES[meta["engine"]["kind"]](path, meta).finish_loading(path, meta)
        index = cls(meta["metric"], meta["kind"], meta["space"], **meta.get("params", {}))
        index.kind_ = meta.get("built_as", "exact" if meta["kind"] == "auto" else meta["kind"])
        try:
            read = faiss.read_index_binary if index.metric == "hamming" else faiss.read_index
            index.faiss_index = read(str(folder_file(path, VECTORS_FILE)))
        except (RuntimeError, MemoryError) as exc:
            reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{path} is damaged: {VECTORS_FILE} cannot be read ({reason}); build the index again"
            ) from None
        index._check_faiss(path, meta)
        if index._reranks:
            index.exact_parts = [_exact_file(path, index.faiss_index.ntotal, index.dimension)]
        items = read_json(folder_file(path, ITEMS_FILE), schemas.INDEX_ITEMS)
        index.ids, index.paths, index.labels = items["ids"], items["paths"], items["labels"]
        lengths = {len(index.ids), len(index.paths), len(index.labels if index.labels is not None else index.ids)}
        if lengths != {index.faiss_index.ntotal}:
            raise ModelError(
                f"{path} is damaged: it holds {index.faiss_index.ntotal} vectors but {sorted(lengths)} ids, paths "
                "or labels; build the index again"
            )
        if (repeated := _repeated(index.ids)) is not None:
            raise ModelError(f"{path} is damaged: the item id {repeated!r} occurs twice in {ITEMS_FILE}")
        return index.finish_loading(path, meta)

    def finish_loading(self, path: Path, meta: dict) -> Index:
        """The model that encodes queries and the collection's settings, from the folder ``path``
        whose vectors are read; checked against each other."""
        from ..models import load as load_model

        if os.path.lexists(folder_file(path, MODEL_DIR)):
            self.model = load_model(path / MODEL_DIR)
        self.info = meta.get("info", {})
        self._check_space(path)
        return self

    def _check_space(self, path: Path) -> None:
        """The index's header says what its vectors are (its space); its model and its vectors must
        say the same, or its answers would be described wrongly."""
        from ..models import ITQ, PCA

        model, space = self.model, self.space
        # "code": a model's codes, or vectors given from Python (Index.build), which have no model
        expected = {"pixels": None, "pca": PCA, "pcah": ITQ, "itq": ITQ}.get(space, "a model with codes")
        found = None if model is None else type(model)
        right = (
            found is None
            if expected is None
            else isinstance(model, expected)
            if isinstance(expected, type)
            else not isinstance(model, (PCA, ITQ))
        )
        if right and space in ("pcah", "itq"):
            right = (model.n_iter == 0) == (space == "pcah")
        if space == "code" and model is None and "data" in self.info:  # 'aelab index' gives codes their model
            right = False
        if not right:
            what = "no model" if found is None else f"an aelab {found.__name__}"
            raise ModelError(
                f"{path} is damaged: index.json says its vectors are in the {space} space, but it holds {what}"
            )
        if model is not None and model.code_size != self.dimension:
            raise ModelError(
                f"{path} is damaged: its model makes {model.code_size}-D codes, its vectors are {self.dimension}-D"
            )
        shape = self.info.get("image_shape")
        width = model.n_features_in_ if model is not None else self.dimension
        if shape and math.prod(shape) != width:
            raise ModelError(f"{path} is damaged: index.json says images of {shape}, its items have {width} values")

    def _check_faiss(self, path: Path, meta: dict) -> None:
        """The FAISS index read from ``path`` is what ``index.json`` says: its kind, metric, size and
        dimension; then its search settings are applied."""
        import faiss

        found = self.faiss_index
        if self.metric == "hamming":
            right = isinstance(found, faiss.IndexBinaryFlat) and self.kind_ == "exact"
        else:
            kinds = {
                "exact": faiss.IndexFlat,
                "hnsw": faiss.IndexHNSW,
                "ivf": faiss.IndexIVFFlat,
                "ivfpq": faiss.IndexIVFPQFastScan,
            }
            metric = faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT
            right = isinstance(found, kinds[self.kind_]) and found.metric_type == metric
        if not right:
            raise ModelError(
                f"{path} is damaged: index.json says a {self.kind_} {self.metric} index, {VECTORS_FILE} holds a "
                f"{type(found).__name__}"
            )
        if found.ntotal != meta["count"] or (found.ntotal and found.d != meta["dimension"]):
            raise ModelError(
                f"{path} is damaged: index.json says {meta['count']} vectors of {meta['dimension']} dimensions, "
                f"{VECTORS_FILE} holds {found.ntotal} of {found.d}"
            )
        if self.kind_ == "hnsw":
            found.hnsw.efSearch = int(self.ef_search)
        elif self.kind_ in ("ivf", "ivfpq"):
            ivf = faiss.extract_index_ivf(found)
            ivf.nprobe = self._probes(ivf.nlist)
            if self.kind_ == "ivf" and ivf.direct_map.type == faiss.DirectMap.NoMap:  # written before ids were mapped
                ivf.make_direct_map()


def _exact_file(path: Path, count: int, dimension: int) -> np.ndarray:
    """An IVF-PQ index's full vectors, memory-mapped (its digest was checked with the folder's)."""
    from ..datasets.arrays import check_npy_header

    file = folder_file(path, EXACT_FILE)
    with open(file, "rb") as fh:
        shape, fortran, dtype = check_npy_header(fh, str(file), file.stat().st_size)
    if shape != (count, dimension) or fortran or dtype != np.float32:
        raise ModelError(
            f"{path} is damaged: {EXACT_FILE} holds {shape} {dtype} vectors, not {count} x {dimension} float32; "
            "build the index again"
        )
    return np.load(file, mmap_mode="r", allow_pickle=False)


def check_labelled(labelled: bool | None, labels) -> None:
    """Items added to an index come with labels exactly when its items have them (``labelled``;
    None for an index with no items yet)."""
    if labelled is None or labelled == (labels is not None):
        return
    raise DataError(
        "this index has labels: give labels for the added items too"
        if labelled
        else "this index was built without labels; cannot add labelled items"
    )


def check_new_ids(ids: list[str], known: Container[str]) -> None:
    """Every item of an index needs an id of its own: refuse ``ids`` (of items being added) that
    repeat one another or one of ``known`` (the index's own)."""
    repeated = _repeated(ids)
    if repeated is None:
        repeated = next((i for i in ids if i in known), None)
    if repeated is not None:
        raise DataError(f"the item id {repeated!r} is given twice; every item of an index needs an id of its own")


def _repeated(ids: list[str]) -> str | None:
    """An id that occurs more than once in ``ids``, or None."""
    if len(set(ids)) == len(ids):
        return None
    seen = set()
    return next(i for i in ids if i in seen or seen.add(i))


def _faiss_call(fn, *args):
    """A FAISS call whose errors (C++ exceptions, seen as RuntimeError) become one-line aelab errors."""
    try:
        return fn(*args)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"the FAISS index refused the operation ({first[:160]}); if the index folder came from "
            "elsewhere, build it again with aelab index"
        ) from None
