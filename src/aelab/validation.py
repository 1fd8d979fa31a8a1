"""Checks that every layer shares, made once at the boundary: arrays of samples and choices.

Like ``sklearn.utils.validation``: the estimators and the data loaders both use these, so neither
has to import the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DataError, NotNumericError, ParameterError

MAX_ABS = 1e15  # beyond this, float32 sums of squares (variances, distances) overflow to infinity


def as_samples(X, what: str = "data") -> np.ndarray:
    """Check an array of samples at the boundary and return it as 2-D float32.

    Raises a one-line :class:`DataError` for sparse, complex, empty or non-numeric data, NaN or
    infinity (worded as scikit-learn's ``check_array`` words them, where it has words for them).
    """
    import scipy.sparse as sp

    if sp.issparse(X):
        raise DataError(
            f"{what} is a sparse matrix; sparse input is not supported here: pass a dense array (X.toarray())"
        )
    try:
        X = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{what} cannot be read as an array ({exc})") from None
    if np.iscomplexobj(X):
        raise DataError(f"Complex data not supported: {what} holds complex numbers")
    if X.dtype == object:
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise NotNumericError(f"{what} must be numeric ({exc})") from None
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise DataError(f"{what} must be numeric, got values of type {X.dtype}")
    if X.ndim <= 1:
        raise DataError(
            f"Reshape your data: {what} has shape {X.shape}; pass one sample per row "
            "(reshape(-1, 1) for a single feature, reshape(1, -1) for a single sample)"
        )
    if X.ndim > 4:
        raise DataError(
            f"{what} has shape {X.shape}: pass one sample per row (n, features), or images (n, height, width) or "
            "(n, height, width, channels)"
        )
    if X.ndim > 2:
        X = X.reshape(len(X), -1)
    for n, kind in ((X.shape[0], "sample"), (X.shape[1], "feature")):
        if n == 0:
            raise DataError(f"{what} is empty: 0 {kind}(s) (shape={X.shape}) while a minimum of 1 is required.")
    X = X.astype(np.float32, copy=False)
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise DataError(
            f"{what} contains NaN or infinite values (first at row {bad[0]}, column {bad[1]}); "
            "remove or impute them first"
        )
    top = float(np.abs(X).max())
    if top > MAX_ABS:
        raise DataError(
            f"{what} holds values too large to compute with in float32 (up to {top:.3g}; their squares "
            f"overflow beyond {MAX_ABS:.0e}); rescale the data first"
        )
    return X


def check_choices(*checks: tuple[str, Any, Any]) -> None:
    """Raise a one-line ParameterError for the first ``(name, value, allowed)`` whose value is not allowed."""
    for name, value, allowed in checks:
        if value not in allowed:
            raise ParameterError(f"{name} must be one of {', '.join(map(str, allowed))}, not {value!r}")
