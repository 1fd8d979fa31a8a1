"""Generating from the code space: grids, samples from fitted code densities or the prior, and
interpolations, decoded by a trained model; and how good the samples are, judged by a classifier."""

from .quality import evaluate_samples, frechet_distance, judge, quality_classifier, sample_quality
from .sampling import (
    code_box,
    draw,
    fit_density,
    grid,
    interpolate,
    parse_box,
    parse_dims,
    sample,
    training_codes,
)

__all__ = [
    "evaluate_samples",
    "code_box",
    "draw",
    "fit_density",
    "frechet_distance",
    "grid",
    "interpolate",
    "judge",
    "parse_box",
    "parse_dims",
    "quality_classifier",
    "sample",
    "sample_quality",
    "training_codes",
]
