"""What the explorer shows, as plain Python over the library: a trained model and a collection,
with every item's code, 2-D maps of the codes and of PCA, search indexes by code, by PCA of the
same size and by pixels, decoding, reconstruction and interpolation, and the items ranked by how
unusual the model finds them. The web application (:mod:`aelab.serve.app`) only
turns these into HTTP answers; scripts can use them directly.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from ..datasets import Dataset, Split, read_image
from ..errors import DataError
from ..generate import interpolate
from ..models import PCA
from ..report import pca_twin
from ..search import Index

MAX_K = 100  # neighbours one search may ask for
MAX_GRID = 32  # decoded images along a side of a grid
MAX_STEPS = 64  # images of an interpolation
RECENT_RECONSTRUCTIONS = 64  # kept: the page asks for an item's errors and then its three images
ERROR_SCALE_ITEMS = 512  # items whose error maps set the heat maps' common scale


class NoSuchItem(DataError):
    """An item number outside the collection (the web app answers 404)."""


class Items:
    """A collection's items, numbered 0 to n - 1, with their ``ids`` and ``labels`` (strings)."""

    ids: list[str]
    labels: list[str] | None

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, item) -> int:
        """The position of item ``item`` (its position, as the map numbers them), or NoSuchItem."""
        try:
            i = int(item)
        except (TypeError, ValueError):
            raise NoSuchItem(f"no item {item!r}: items are numbered 0 to {len(self) - 1}") from None
        if not 0 <= i < len(self):
            raise NoSuchItem(f"no item {i}: items are numbered 0 to {len(self) - 1}")
        return i

    def item(self, item) -> dict:
        i = self.position(item)
        return {"position": i, "id": self.ids[i], "label": None if self.labels is None else self.labels[i]}


class Explorer(Items):
    """``model`` (a fitted auto-encoder) over the rows ``X`` of a collection (with ``labels`` and
    ``ids``; ``image_shape`` when its rows are images).

    The auto-encoder's map is its code itself when the code is 2-D, else the code's first two
    principal components (said in :attr:`view`); beside it, the 2-D PCA of the pixels. Searches
    are exact, by Euclidean distance (the map's own geometry: cosine similarity would see only the
    angle of a 2-D code) among the codes, beside PCA's scores of the same size (the lecture's
    comparison, and cheap) or the pixels themselves (the strong baseline, and the costly one).
    """

    def __init__(
        self,
        model,
        X: np.ndarray,
        labels=None,
        ids=None,
        image_shape=None,
        name: str = "collection",
        code_index: Index | None = None,
        codes: np.ndarray | None = None,
    ):
        """``code_index``: an index of these items' codes, in their order (FAISS or Milvus, as
        ``aelab index`` built it), that searches by code go to instead of an exact index of its own;
        ``codes``: the items' codes where they are known (an index's), else the model encodes ``X``."""
        self.model, self.name = model, name
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        n = len(self.X)
        if n < 2:
            raise DataError(f"the explorer needs at least 2 items, not {n}")
        self.labels = None if labels is None else [str(v) for v in labels]
        self.ids = [str(i) for i in (range(n) if ids is None else ids)]
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.codes = model.transform(self.X) if codes is None else np.asarray(codes, np.float32)
        if self.codes.shape[1] == 2:
            self._code_view, self.view = None, "the 2-D code"
        else:
            self._code_view = PCA(n_components=2).fit(self.codes)
            self.view = f"the first two principal components of the {self.codes.shape[1]}-D codes"
        self.code_map = self.codes if self._code_view is None else self._code_view.transform(self.codes)
        everything = Split(self.X, None, np.asarray(self.ids))
        self.pca = pca_twin(model, Dataset(name, everything, everything, image_shape=self.image_shape))
        self.scores = self.pca.transform(self.X)  # PCA's map: its first two (a 1-D code: a fit of its own)
        self.pixel_map = self.scores[:, :2] if self.pca.code_size >= 2 else PCA(n_components=2).fit_transform(self.X)
        self.spaces = {"code": self.codes, "pca": self.scores, "pixels": self.X}  # each item's query in each space
        self._reconstructed = lru_cache(maxsize=RECENT_RECONSTRUCTIONS)(self._reconstruct)
        self.indexes = {
            space: Index.build(vectors, space=space, ids=self.ids, labels=self.labels, kind="exact", metric="l2")
            for space, vectors in self.spaces.items()
            if not (space == "code" and code_index is not None)
        }
        if code_index is not None:
            if len(code_index) != n:
                raise DataError(f"the index holds {len(code_index)} items, the explorer was given {n}")
            self.indexes["code"] = code_index
        self._anomaly_scores, self._error_scale = None, None

    # --- unusual items -----------------------------------------------------------------------------
    @property
    def scores_anomalies(self) -> bool:
        """Whether the model scores anomalies (one saved by an older aelab does not)."""
        return getattr(self.model, "anomaly_reference_", None) is not None

    def anomaly_scores(self) -> np.ndarray:
        """Every item's anomaly score (computed at the first request: the page asks for them once)."""
        if not self.scores_anomalies:
            raise DataError("this model was saved by an aelab that did not score anomalies; train it again")
        if self._anomaly_scores is None:
            self._anomaly_scores = self.model.anomaly_scores(self.X)
        return self._anomaly_scores

    def unusual(self, k: int = 24) -> dict:
        """Every item's anomaly score (higher = more unusual), the model's threshold on them, and the
        ``k`` most unusual items, most unusual first."""
        k = int(k)
        if not 1 <= k <= MAX_K:
            raise DataError(f"k must be 1 to {MAX_K}, not {k}")
        scores = self.anomaly_scores()
        order = np.argsort(-scores, kind="stable")[:k]
        return {
            "scores": np.round(scores, 5).tolist(),
            "threshold": round(-float(self.model.offset_), 5),
            "contamination": self.model.contamination,
            "ranked": [{**self.item(i), "score": round(float(scores[i]), 5)} for i in order],
        }

    def error_map(self, item) -> np.ndarray:
        """Where the model failed to rebuild item ``item``, as a heat map (RGB in [0, 1]) on one scale
        for every item: brighter is worse."""
        from matplotlib import colormaps

        if self.image_shape is None:
            raise DataError(f"the items of {self.name} are not images")
        if self._error_scale is None:
            rows = np.unique(np.linspace(0, len(self) - 1, min(len(self), ERROR_SCALE_ITEMS)).astype(int))
            self._error_scale = float(np.percentile(self._heat(self.X[rows]), 99.5)) or 1.0
        heat = self._heat(self.X[self.position(item)][None])[0]
        return colormaps["inferno"](np.clip(heat / self._error_scale, 0, 1))[..., :3].astype(np.float32)

    def _heat(self, rows: np.ndarray) -> np.ndarray:
        """The error maps of ``rows`` in the images' height x width (colour summed over channels)."""
        maps = self.model.error_maps(rows).reshape(len(rows), *self.image_shape)
        return maps.sum(-1) if len(self.image_shape) == 3 else maps

    # --- items ---------------------------------------------------------------------------------
    def image(self, item) -> np.ndarray:
        """Item ``item``'s pixels in [0, 1], in its image shape."""
        return self.as_image(self.X[self.position(item)])

    def as_image(self, row: np.ndarray) -> np.ndarray:
        if self.image_shape is None:
            raise DataError(f"the items of {self.name} are not images")
        return np.clip(np.asarray(row, np.float32).reshape(self.image_shape), 0.0, 1.0)

    def maps(self) -> dict:
        """Every item's place on the auto-encoder's map and on PCA's, with the labels."""
        return {
            "ae": np.round(self.code_map, 5).tolist(),
            "pca": np.round(self.pixel_map, 5).tolist(),
            "labels": self.labels,
            "ae_view": self.view,
            "pca_view": "the first two principal components of the pixels",
        }

    # --- decoding ------------------------------------------------------------------------------
    def codes_at(self, points: np.ndarray) -> np.ndarray:
        """The codes at points of the auto-encoder's map (for a larger code: the codes the 2-D view
        maps there that lie in the plane of its two components through the mean code)."""
        points = np.asarray(points, np.float32).reshape(-1, 2)
        if not np.isfinite(points).all():
            raise DataError("a point of the map must have finite coordinates")
        return points if self._code_view is None else self._code_view.inverse_transform(points)

    def decode(self, x: float, y: float) -> np.ndarray:
        return self.decode_points([[x, y]])[0]

    def decode_points(self, points) -> list[np.ndarray]:
        """The images the decoder makes at ``points`` of the auto-encoder's map, in one pass."""
        return [self.as_image(r) for r in self.model.inverse_transform(self.codes_at(points))]

    def grid(self, box: tuple[float, float, float, float], n: int) -> np.ndarray:
        """The ``n`` x ``n`` images decoded at evenly spaced points of ``box`` (x0, x1, y0, y1),
        top row first (the largest y), as one mosaic."""
        n = int(n)
        if not 1 <= n <= MAX_GRID:
            raise DataError(f"a grid has 1 to {MAX_GRID} images a side, not {n}")
        x0, x1, y0, y1 = map(float, box)
        xs, ys = np.linspace(x0, x1, n), np.linspace(y1, y0, n)
        points = np.array([[x, y] for y in ys for x in xs], np.float32)
        return mosaic(self.decode_points(points), n)

    def interpolation(self, a, b, steps: int = 10) -> np.ndarray:
        """The decoded line between the codes of items ``a`` and ``b``, as one strip."""
        steps = int(steps)
        if not 2 <= steps <= MAX_STEPS:
            raise DataError(f"an interpolation has 2 to {MAX_STEPS} steps, not {steps}")
        images, _ = interpolate(self.model, self.X[self.position(a)], self.X[self.position(b)], steps)
        return mosaic([self.as_image(r) for r in images], steps)

    def reconstruction(self, item) -> dict:
        """The item, the auto-encoder's reconstruction and PCA's, with their squared errors."""
        return self._reconstructed(self.position(item))

    def _reconstruct(self, i: int) -> dict:
        x = self.X[i : i + 1]
        rows = {"original": x[0], "ae": self.model.reconstruct(x)[0], "pca": self.pca.reconstruct(x)[0]}
        errors = {k: float(((rows[k] - x[0]) ** 2).sum()) for k in ("ae", "pca")}
        return {"rows": rows, "errors": errors, "pca_components": self.pca.code_size}

    # --- search --------------------------------------------------------------------------------
    def neighbours(self, item, k: int = 10, beside: str = "pca") -> dict:
        """Item ``item``'s ``k`` nearest other items by code and ``beside`` ("pca" or "pixels"),
        with the time each search took."""
        return self.neighbours_of_items([item], k, beside)[0]

    def neighbours_of_items(self, items, k: int = 10, beside: str = "pca") -> list[dict]:
        """:meth:`neighbours` of several items; their queries are the vectors the indexes hold."""
        k, beside = _search_options(k, beside)
        at = [self.position(i) for i in items]
        return self._search(self.codes[at], self.spaces[beside][at], k, beside, skips=at)

    def neighbours_of_image(self, data: bytes, name: str = "the upload", k: int = 10, beside: str = "pca") -> dict:
        """The ``k`` nearest items to an image file's bytes (resized to the items' shape)."""
        return self.neighbours_of_rows(self.read_image(data, name), k, beside)[0]

    def read_image(self, data: bytes, name: str = "the upload") -> np.ndarray:
        """An image file's bytes as one row of the items' shape (resized), or a one-line DataError."""
        if self.image_shape is None:
            raise DataError(f"the items of {self.name} are not images; search by an item instead")
        size, colour = self.image_shape[:2], len(self.image_shape) == 3
        row = read_image(name, colour, size, data=data).reshape(1, -1)
        if row.shape[1] != self.X.shape[1]:
            raise DataError(f"{name} does not match the items' shape {self.image_shape}")
        return row

    def neighbours_of_rows(self, rows, k: int = 10, beside: str = "pca") -> list[dict]:
        """The ``k`` nearest items to each of ``rows`` (in the items' units), encoded in one pass."""
        k, beside = _search_options(k, beside)
        rows = np.asarray(rows, np.float32).reshape(-1, self.X.shape[1])
        besides = self.pca.transform(rows) if beside == "pca" else rows
        return self._search(self.model.transform(rows), besides, k, beside)

    def _search(self, codes, besides, k: int, beside: str, skips=None) -> list[dict]:
        """Each query alone (FAISS computes the distances of a batch of 20 or more otherwise, and
        a query's neighbours do not depend on the requests it came with)."""
        out = []
        for n, (code, other) in enumerate(zip(codes, besides)):
            skip = None if skips is None else skips[n]
            answer = {}
            for space, query in (("code", code), (beside, other)):
                started = time.perf_counter()
                found = self.indexes[space].query(query[None], k=min(k + (skip is not None), len(self)))
                ms = (time.perf_counter() - started) * 1000
                hits = [
                    {**self.item(p), "score": round(float(s), 5)}
                    for s, p in zip(found.scores[0], found.positions[0])
                    if p >= 0 and p != skip
                ][:k]
                answer[space] = {"items": hits, "ms": round(ms, 3), "score": self.indexes[space].score_name}
            out.append(answer)
        return out


def _search_options(k, beside: str) -> tuple[int, str]:
    k = int(k)
    if not 1 <= k <= MAX_K:
        raise DataError(f"k must be 1 to {MAX_K}, not {k}")
    if beside not in ("pca", "pixels"):
        raise DataError(f"search beside pca or pixels, not {beside!r}")
    return k, beside


def mosaic(images: list[np.ndarray], columns: int, gap: int = 1) -> np.ndarray:
    """Images of one shape tiled in rows of ``columns``, ``gap`` pixels apart (white)."""
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    out = np.ones((rows * (h + gap) - gap, columns * (w + gap) - gap, *images[0].shape[2:]), np.float32)
    for n, image in enumerate(images):
        r, c = divmod(n, columns)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
    return out
