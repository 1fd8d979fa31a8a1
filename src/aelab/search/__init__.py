"""Search by code: FAISS indexes of codes, PCA scores or pixels; retrieval metrics; whole
collections indexed, queried, drawn and evaluated."""

from . import milvus  # noqa: F401  (registers its engine with Index.load; pymilvus is imported only when used)
from .collection import (
    evaluate_indexes,
    index_codes,
    index_collection,
    item_prefix,
    neighbour_figure,
    open_collection,
    query_vector,
    search,
    space_model,
)
from .index import AUTO_EXACT_LIMIT, Index, Neighbours, default_metric
from .metrics import RECALL_LEVELS, evaluate, exact_scores, neighbour_agreement, precision_at_k, ranking_metrics

__all__ = [
    "AUTO_EXACT_LIMIT",
    "RECALL_LEVELS",
    "Index",
    "Neighbours",
    "default_metric",
    "evaluate",
    "evaluate_indexes",
    "exact_scores",
    "index_codes",
    "index_collection",
    "item_prefix",
    "neighbour_agreement",
    "neighbour_figure",
    "open_collection",
    "precision_at_k",
    "query_vector",
    "ranking_metrics",
    "search",
    "space_model",
]
