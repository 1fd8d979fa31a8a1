"""What training feeds a neighbour-keeping objective: each training row's nearest neighbours among the
training rows, and one of them drawn for it each epoch (its partner in the batch).

The graph is UMAP's fuzzy k-nearest-neighbour graph (McInnes et al. 2018; parametric UMAP, Sainburg
et al. 2021, trains an encoder on it): each row's k nearest rows by Euclidean distance, weighted
``exp(-(d - rho) / sigma)`` with ``rho`` the distance to its nearest row and ``sigma`` chosen so that
the weights sum to log2(k). Rows of more than :data:`GRAPH_DIMENSIONS` features are compared in the
space of their leading principal directions (from an even sample of the rows), as UMAP users compare
images in PCA space: so the graph of a collection larger than memory is built a chunk at a time,
and it is the same graph whether the rows are read from memory or streamed. Word counts are
compared by their words, all of them (few principal directions lose what tells topics apart).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

GRAPH_DIMENSIONS = 64  # rows of more features are compared on this many principal directions
BASIS_SAMPLE = 20_000  # rows the principal directions are computed from, spread over the rows
GRAPH_CHUNK = 16_384  # rows read, projected and searched at a time
SIGMA_STEPS = 64  # bisections of each row's sigma
EMPTY_DISTANCE = 4.0  # of a document without words from the others (unit vectors lie within 2)


@dataclass
class NeighbourGraph:
    """For the training rows ``rows`` (their positions in the data), each one's ``k`` nearest
    training rows (``neighbours``, positions in the data) and the cumulative shares with which one
    of them is drawn as its partner (``cumulative``, its fuzzy weights normalised)."""

    rows: np.ndarray
    neighbours: np.ndarray
    cumulative: np.ndarray

    @classmethod
    def build(
        cls, read: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, k: int, words: bool = False
    ) -> NeighbourGraph:
        """The graph of the data rows at ``rows`` (positions), read ``read(positions)`` a chunk at a
        time; ``words``: the rows are word counts, compared as :func:`word_weights` weighs them."""
        import faiss

        rows = np.asarray(rows, dtype=np.int64)
        k = int(min(k, len(rows) - 1))
        if k < 1:
            raise ValueError("a neighbour graph needs at least 2 rows")
        chunks = [rows[i : i + GRAPH_CHUNK] for i in range(0, len(rows), GRAPH_CHUNK)]
        project = word_weights(read, rows) if words else _projection(read, rows)
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


def word_weights(read, rows: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Word counts to the vectors the graph compares, in which the nearest rows are those of the
    highest cosine similarity: log(1 + count) times the word's inverse document frequency (from an
    even sample of ``rows``), each row scaled to unit length, so that a long document's neighbours
    are the documents with its rarer words, not the other long ones. All the words count: a few
    principal directions of them lose most of what tells one topic from another
    (docs/benchmarks/hashing.md measures both)."""
    sample = _even_sample(read, rows)
    idf = (np.log((1 + len(sample)) / (1 + (np.asarray(sample) > 0).sum(0))) + 1).astype(np.float32)

    def weigh(X):
        W = np.log1p(np.maximum(np.asarray(X, dtype=np.float32), 0)) * idf
        length = np.linalg.norm(W, axis=1, keepdims=True)
        # a document without words would lie at distance 1 from every other, nearer than most
        # true neighbours; one more coordinate puts such documents beside each other, far from the rest
        empty = (length == 0).astype(np.float32) * EMPTY_DISTANCE
        return np.ascontiguousarray(np.hstack([W / np.maximum(length, 1e-12), empty]))

    return weigh


def _projection(read, rows: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Rows to the space the graph compares them in: their own, or their leading principal
    directions (computed from an even sample of ``rows``) when they have more features than
    :data:`GRAPH_DIMENSIONS`."""
    sample = _even_sample(read, rows)
    if sample.shape[1] <= GRAPH_DIMENSIONS:
        return lambda X: np.ascontiguousarray(X, dtype=np.float32)
    sample = sample.astype(np.float64)
    mean = sample.mean(0)
    basis = _leading_directions(sample - mean, GRAPH_DIMENSIONS).astype(np.float32)
    mean = mean.astype(np.float32)
    return lambda X: np.ascontiguousarray((np.asarray(X, dtype=np.float32) - mean) @ basis)


def _even_sample(read, rows: np.ndarray) -> np.ndarray:
    """Up to :data:`BASIS_SAMPLE` of ``rows``, spread evenly over them, read."""
    return read(rows[np.unique(np.linspace(0, len(rows) - 1, min(len(rows), BASIS_SAMPLE)).astype(int))])


def _leading_directions(A: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` leading right singular vectors of ``A`` (as columns), by torch's seeded randomized
    SVD: a full SVD of thousands of rows of ten thousand word counts takes minutes, this a few
    seconds, and the graph is the same for the same data."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        _, _, V = torch.svd_lowrank(torch.from_numpy(A), q=min(k + 16, *A.shape), niter=4)
    return V[:, :k].numpy()
