"""Jobs: what a command does, callable from Python, a notebook or the explorer alike. Each job takes
a request (a dataclass of everything its command's options say, checked when it is made where
that can be done before any data is read), does the work, and returns a result that the command
prints; the command line parses, calls one job and prints.

>>> from aelab.jobs import DataOptions, TrainRequest, train   # doctest: +SKIP
>>> result = train(TrainRequest(aelab.AutoEncoder(), DataOptions("photos/"), "photos-ae"))
"""

from .anomalies import (
    AnomalyEvaluation,
    EvaluateAnomaliesRequest,
    ScoreRequest,
    ScoreResult,
    TextScoreRequest,
    evaluate_anomalies,
    score,
    score_documents,
)
from .data import DataOptions, PackRequest, TextOptions, pack
from .generate import EvaluateSamplesRequest, GenerateRequest, generate, judge_samples
from .models import (
    ClassifyRequest,
    EncodeRequest,
    EvaluateRequest,
    ExportRequest,
    ReconstructRequest,
    classify,
    encode,
    evaluate,
    export,
    reconstruct,
)
from .search import EvaluateRetrievalRequest, IndexRequest, SearchRequest, evaluate_retrieval, find, index
from .text import TextMapRequest, TextSearchRequest, TextTrainRequest, search_documents, text_map, text_train
from .train import TrainRequest, TrainResult, train

__all__ = [
    "AnomalyEvaluation",
    "ClassifyRequest",
    "DataOptions",
    "EncodeRequest",
    "EvaluateAnomaliesRequest",
    "EvaluateRequest",
    "EvaluateRetrievalRequest",
    "EvaluateSamplesRequest",
    "ExportRequest",
    "GenerateRequest",
    "IndexRequest",
    "PackRequest",
    "ReconstructRequest",
    "ScoreRequest",
    "ScoreResult",
    "SearchRequest",
    "TextMapRequest",
    "TextOptions",
    "TextScoreRequest",
    "TextSearchRequest",
    "TextTrainRequest",
    "TrainRequest",
    "TrainResult",
    "classify",
    "encode",
    "evaluate",
    "evaluate_anomalies",
    "evaluate_retrieval",
    "export",
    "find",
    "generate",
    "index",
    "judge_samples",
    "pack",
    "reconstruct",
    "score",
    "score_documents",
    "search_documents",
    "text_map",
    "text_train",
    "train",
]
