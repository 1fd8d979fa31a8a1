"""What training feeds a neighbour-keeping objective: each training row's nearest neighbours among the
training rows, and one of them drawn for it each epoch (its partner in the batch).

The graph is UMAP's fuzzy k-nearest-neighbour graph (McInnes et al. 2018; parametric UMAP, Sainburg
et al. 2021, trains an encoder on it): each row's k nearest rows by Euclidean distance, weighted
``exp(-(d - rho) / sigma)`` with ``rho`` the distance to its nearest row and ``sigma`` chosen so that
the weights sum to log2(k). Rows of more than :data:`GRAPH_DIMENSIONS` features are compared in the
space of their leading principal directions (from an even sample of the rows), as UMAP users compare
images in PCA space: so the graph of a collection larger than memory is built a chunk at a time,
and it is the same graph whether the rows are read from memory or streamed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

GRAPH_DIMENSIONS = 64  # rows of more features are compared on this many principal directions
BASIS_SAMPLE = 20_000  # rows the principal directions are computed from, spread over the rows
GRAPH_CHUNK = 16_384  # rows read, projected and searched at a time
SIGMA_STEPS = 64  # bisections of each row's sigma


@dataclass
class NeighbourGraph:
    """For the training rows ``rows`` (their positions in the data), each one's ``k`` nearest
    training rows (``neighbours``, positions in the data) and the cumulative shares with which one
    of them is drawn as its partner (``cumulative``, its fuzzy weights normalised)."""

    rows: np.ndarray
    neighbours: np.ndarray
    cumulative: np.ndarray

    @classmethod
    def build(cls, read: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, k: int) -> NeighbourGraph:
        """The graph of the data rows at ``rows`` (positions), read ``read(positions)`` a chunk at a time."""
        import faiss

        rows = np.asarray(rows, dtype=np.int64)
        k = int(min(k, len(rows) - 1))
        if k < 1:
            raise ValueError("a neighbour graph needs at least 2 rows")
        chunks = [rows[i : i + GRAPH_CHUNK] for i in range(0, len(rows), GRAPH_CHUNK)]
        project = _projection(read, rows)
        index = None
        for chunk in chunks:
            V = project(read(chunk))
            if index is None:
                index = faiss.IndexFlatL2(V.shape[1])
            index.add(V)
        found, distances = [], []
        for start, chunk in zip(range(0, len(rows), GRAPH_CHUNK), chunks):
            squared, at = index.search(project(read(chunk)), k + 1)
            own = np.arange(start, start + len(chunk))[:, None]
            keep = at != own  # every row's own entry is dropped (or, when duplicates hid it, the farthest)
            keep[keep.all(1), -1] = False
            found.append(at[keep].reshape(len(chunk), k))
            distances.append(np.sqrt(np.maximum(squared[keep].reshape(len(chunk), k), 0)))
        weights = fuzzy_weights(np.concatenate(distances))
        cumulative = np.cumsum(weights / weights.sum(1, keepdims=True), 1).astype(np.float32)
        return cls(rows, rows[np.concatenate(found)], cumulative)

    def partners(self, rng: np.random.Generator) -> np.ndarray:
        """One neighbour of each training row (in the order of ``rows``), drawn by its weight."""
        draw = rng.random((len(self.rows), 1), dtype=np.float32)
        pick = np.minimum((self.cumulative < draw).sum(1), self.neighbours.shape[1] - 1)
        return self.neighbours[np.arange(len(self.rows)), pick]


def fuzzy_weights(distances: np.ndarray) -> np.ndarray:
    """UMAP's membership of each row's neighbours (rows of ``distances``, nearest first):
    ``exp(-(d - rho) / sigma)``, ``rho`` the nearest distance, ``sigma`` bisected so that a row's
    weights sum to log2(k)."""
    gaps = np.maximum(distances - distances[:, :1], 0.0)
    target = np.log2(distances.shape[1])
    low, high = np.zeros(len(gaps)), np.full(len(gaps), np.inf)
    sigma = np.ones(len(gaps))
    for _ in range(SIGMA_STEPS):
        total = np.exp(-gaps / sigma[:, None]).sum(1)
        over = total > target
        high, low = np.where(over, sigma, high), np.where(over, low, sigma)
        sigma = np.where(np.isinf(high), sigma * 2, (low + high) / 2)
    return np.exp(-gaps / np.maximum(sigma, 1e-12)[:, None])


def unit_log_counts(X: np.ndarray) -> np.ndarray:
    """Word counts as the graph compares them: log(1 + count), each row scaled to unit length, so
    that a long document's neighbours are the documents with its words, not the other long ones."""
    L = np.log1p(np.maximum(X, 0))
    return L / np.maximum(np.linalg.norm(L, axis=1, keepdims=True), 1e-12)


def _projection(read, rows: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Rows to the space the graph compares them in: their own, or their leading principal
    directions (computed from an even sample of ``rows``) when they have more features than
    :data:`GRAPH_DIMENSIONS`."""
    sample = read(rows[np.unique(np.linspace(0, len(rows) - 1, min(len(rows), BASIS_SAMPLE)).astype(int))])
    if sample.shape[1] <= GRAPH_DIMENSIONS:
        return lambda X: np.ascontiguousarray(X, dtype=np.float32)
    sample = sample.astype(np.float64)
    mean = sample.mean(0)
    _, _, Vt = np.linalg.svd(sample - mean, full_matrices=False)
    basis = Vt[:GRAPH_DIMENSIONS].T.astype(np.float32)
    mean = mean.astype(np.float32)
    return lambda X: np.ascontiguousarray((np.asarray(X, dtype=np.float32) - mean) @ basis)
