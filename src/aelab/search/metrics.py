"""How good and how fast a search is: precision at k, mean average precision, precision-recall,
query latency, with labels as relevance (an item is relevant to a query when their labels agree).

Precision at k uses what the index returns (so an approximate index pays for what it misses),
except for a Hamming index, whose few distances leave many items tied: there the items tied at
the k-th distance count with the share of them that is relevant, what any order of the tied items
gives on average (McSherry & Najork, ECIR 2008), so that the collection's order (a folder read
class by class) does not decide; its average precision is likewise the mean over every order of
its tied items. The precision-recall curve ranks every item exactly in the index's space, ties in
the collection's order.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import DataError
from .index import Index

RECALL_LEVELS = (0.001, 0.01, 0.1, 0.5, 1.0)
CURVE_LEVELS = tuple(np.round(np.linspace(0.05, 1.0, 20), 4))  # recall levels of the precision-recall figure


def exact_scores(index: Index, Q: np.ndarray, V: np.ndarray | None = None) -> np.ndarray:
    """Scores of queries ``Q`` (in the index's space) against every item, greater = nearer.
    ``V``: the index's stored vectors, when the caller already has them (many chunks of queries)."""
    V = index.vectors() if V is None else V
    if index.metric == "hamming":  # differing bits: ones of either, less twice the shared ones
        Q = index.checked_rows(Q)
        return -(Q.sum(1)[:, None] - 2 * Q @ V.T + V.sum(1)[None, :])
    Q = index.prepared(Q)
    if index.metric == "l2":
        return -(np.square(Q).sum(1)[:, None] - 2 * Q @ V.T + np.square(V).sum(1)[None, :])
    return Q @ V.T


def ranking_metrics(
    scores: np.ndarray,
    item_labels: np.ndarray,
    query_labels: np.ndarray,
    recall_levels=RECALL_LEVELS,
    exclude: np.ndarray | None = None,
    ks=(),
    ties_shared: bool = False,
) -> dict:
    """Average precision of each query, precision at the given recall levels, and tie-aware
    precision at each of ``ks`` (the items tied at the k-th score shared out), from full rankings.
    With ``ties_shared`` the average precision is the mean over every order of the tied items.

    ``exclude[i]`` (or -1) is an item to leave out of query i's ranking (the query itself, when
    queries come from the indexed collection).
    """
    n_q, n = scores.shape
    ap = np.zeros(n_q)
    at_recall = np.zeros((n_q, len(recall_levels)))
    at_k = np.zeros((n_q, len(ks)))
    for i in range(n_q):
        s = scores[i].copy()
        if exclude is not None and exclude[i] >= 0:
            s[exclude[i]] = -np.inf
        order = np.argsort(-s, kind="stable")
        if exclude is not None and exclude[i] >= 0:
            order = order[:-1]
        rel = item_labels[order] == query_labels[i]
        ranked = s[order]
        for j, k in enumerate(ks):
            at_k[i, j] = _tie_aware_precision(ranked, rel, k)
        total = rel.sum()
        if total == 0:
            continue
        hits = np.cumsum(rel)
        ranks = np.arange(1, len(rel) + 1)
        ap[i] = _tie_aware_average_precision(ranked, rel) if ties_shared else np.sum(hits[rel] / ranks[rel]) / total
        for j, level in enumerate(recall_levels):
            needed = max(1, int(np.ceil(level * total)))
            rank = np.searchsorted(hits, needed) + 1  # first rank with that many relevant items
            at_recall[i, j] = needed / rank
    return {"average_precision": ap, "precision_at_recall": at_recall, "precision_at_k": at_k}


def _tie_aware_precision(ranked_scores: np.ndarray, rel: np.ndarray, k: int) -> float:
    """Precision at k of one ranking (scores descending, ``rel`` in the same order), the items tied
    at the k-th score counted with their share of relevant items."""
    k = min(k, len(rel))
    kth = ranked_scores[k - 1]
    above = np.searchsorted(-ranked_scores, -kth, side="left")  # items scored above the k-th
    tied = np.searchsorted(-ranked_scores, -kth, side="right") - above
    return float((rel[:above].sum() + (k - above) * rel[above : above + tied].mean()) / k)


def _tie_aware_average_precision(ranked_scores: np.ndarray, rel: np.ndarray) -> float:
    """Average precision of one ranking (scores descending, ``rel`` in the same order), averaged
    over every order of the tied items (McSherry & Najork's tie-aware measure): a rank inside a
    group of t tied items, r of them relevant, holds a relevant item with chance r / t, and then
    the group's ranks above it hold (r - 1) / (t - 1) of a relevant item each on average."""
    n = len(rel)
    starts = np.flatnonzero(np.r_[True, ranked_scores[1:] != ranked_scores[:-1]])
    size = np.diff(np.r_[starts, n])
    group = np.repeat(np.arange(len(starts)), size)
    relevant = np.add.reduceat(rel.astype(np.float64), starts)
    before = np.cumsum(relevant) - relevant  # relevant items in the groups above
    t, r, a = size[group], relevant[group], starts[group]
    ranks = np.arange(1, n + 1)
    above_in_group = (ranks - a - 1) * np.where(t > 1, (r - 1) / np.maximum(t - 1, 1), 0.0)
    return float(np.sum(r / t * (before[group] + 1 + above_in_group) / ranks) / rel.sum())


def precision_at_k(found_labels: np.ndarray, query_labels: np.ndarray, ks=(1, 10, 100)) -> dict[int, float]:
    """Share of relevant items among the first k returned, averaged over queries."""
    rel = found_labels == query_labels[:, None]
    return {k: float(rel[:, :k].mean()) for k in ks if k <= rel.shape[1]}


def evaluate(
    index: Index,
    Q: np.ndarray,
    query_labels,
    ks=(1, 10, 100),
    recall_levels=RECALL_LEVELS,
    latency_queries: int = 200,
    chunk: int = 256,
    exclude: np.ndarray | None = None,
) -> dict:
    """All retrieval figures of ``index`` for queries ``Q`` (already encoded) with ``query_labels``."""
    if index.labels is None:
        raise DataError("the index has no labels: retrieval is evaluated with labels as relevance")
    item_labels = np.asarray(index.labels)
    query_labels = np.asarray(query_labels)
    k_max = min(max(ks), len(index))
    started = time.perf_counter()
    found = index.query(Q, k_max + (1 if exclude is not None else 0))
    batch_seconds = time.perf_counter() - started
    # a Hamming index's precision shares out its ties, from the exact rankings below
    tied_ks = [k for k in ks if k <= k_max] if index.metric == "hamming" else []
    out = {"precision_at": {}}
    if not tied_ks:
        positions = found.positions
        if exclude is not None:  # drop the query itself from its own results
            positions = np.array([[p for p in row if p != e][:k_max] for row, e in zip(positions, exclude)])
        out["precision_at"] = precision_at_k(item_labels[positions], query_labels, ks)
    levels = sorted(set(recall_levels) | set(CURVE_LEVELS))
    ap, at_recall, at_k = [], [], []
    stored = index.vectors()  # once, not once a chunk
    for start in range(0, len(Q), chunk):
        part = ranking_metrics(
            exact_scores(index, Q[start : start + chunk], stored),
            item_labels,
            query_labels[start : start + chunk],
            levels,
            None if exclude is None else exclude[start : start + chunk],
            tied_ks,
            ties_shared=index.metric == "hamming",
        )
        ap.append(part["average_precision"])
        at_recall.append(part["precision_at_recall"])
        at_k.append(part["precision_at_k"])
    if tied_ks:
        out["precision_at"] = dict(zip(tied_ks, np.concatenate(at_k).mean(0).tolist()))
    mean_at = dict(zip(levels, np.concatenate(at_recall).mean(0).tolist()))
    out["map"] = float(np.concatenate(ap).mean())
    out["precision_at_recall"] = {r: mean_at[r] for r in recall_levels}
    out["pr_curve"] = {"recall": list(CURVE_LEVELS), "precision": [mean_at[r] for r in CURVE_LEVELS]}
    out["queries_per_s"] = len(Q) / batch_seconds
    latencies = []
    # a query without a direction (an empty document's cosine code) cannot be searched alone
    timed = Q[np.abs(Q).max(1) > 0] if index.metric == "cosine" else Q
    for row in timed[:latency_queries]:
        t = time.perf_counter()
        index.query(row[None, :], 10)
        latencies.append(time.perf_counter() - t)
    out["latency_ms"] = {
        "median": 1000 * float(np.median(latencies)),
        "p95": 1000 * float(np.percentile(latencies, 95)),
    }
    out["memory_mb"] = index.memory_bytes() / 2**20
    out["n_items"], out["n_queries"], out["dimension"] = len(index), len(Q), index.dimension
    return out


def neighbour_agreement(points: np.ndarray, labels, k: int = 10) -> float:
    """Mean share of each point's ``k`` nearest other points (Euclidean) that share its label: how
    well a map keeps the classes together (1 = every neighbourhood is one class)."""
    from sklearn.neighbors import NearestNeighbors

    labels = np.asarray(labels)
    k = min(int(k), len(points) - 1)
    if k < 1:
        raise DataError("neighbour agreement needs at least 2 points")
    _, found = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    others = np.array([[j for j in row if j != i][:k] for i, row in enumerate(found)])
    return float((labels[others] == labels[:, None]).mean())
