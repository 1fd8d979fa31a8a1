"""Jobs: what a command does, callable from Python, a notebook or the explorer alike. Each job takes
a request (a dataclass of everything its command's options say), does the work, and returns a result
that the command prints; the command line parses, calls one job and prints."""

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

__all__ = [
    "AnomalyEvaluation",
    "EvaluateAnomaliesRequest",
    "ScoreRequest",
    "ScoreResult",
    "TextScoreRequest",
    "evaluate_anomalies",
    "score",
    "score_documents",
]
