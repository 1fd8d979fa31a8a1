"""Checks that every layer shares, made once at the boundary: arrays of samples and choices.

Like ``sklearn.utils.validation``: the estimators and the data loaders both use these, so neither
has to import the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DataError, ParameterError


def as_samples(X, what: str = "data") -> np.ndarray:
    """Check an array of samples at the boundary and return it as 2-D float32.

    Raises a one-line :class:`DataError` for empty data, non-numeric values, NaN or infinity.
    """
    try:
        X = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{what} cannot be read as an array ({exc})") from None
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise DataError(f"{what} must be numeric, got values of type {X.dtype}")
    if X.ndim == 1:
        raise DataError(
            f"{what} is 1-D with shape {X.shape}; pass one sample per row "
            "(reshape(-1, 1) for a single feature, reshape(1, -1) for a single sample)"
        )
    if X.ndim == 0:
        raise DataError(f"{what} is a single number; pass one sample per row")
    if X.ndim > 2:
        X = X.reshape(len(X), -1)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{what} is empty (shape {X.shape}); give at least one sample with one feature")
    X = X.astype(np.float32, copy=False)
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise DataError(
            f"{what} contains NaN or infinite values (first at row {bad[0]}, column {bad[1]}); "
            "remove or impute them first"
        )
    return X


def check_choices(*checks: tuple[str, Any, Any]) -> None:
    """Raise a one-line ParameterError for the first ``(name, value, allowed)`` whose value is not allowed."""
    for name, value, allowed in checks:
        if value not in allowed:
            raise ParameterError(f"{name} must be one of {', '.join(map(str, allowed))}, not {value!r}")
