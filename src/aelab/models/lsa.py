"""LSA, the baseline of the document auto-encoder: a truncated SVD of the document-word matrix
(scikit-learn's TruncatedSVD), with aelab's interface. It takes sparse matrices as they come
from :class:`aelab.text.DocumentVectorizer`; unlike PCA it does not centre the data, so
the sparse matrix never becomes dense.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.decomposition import TruncatedSVD

from ..errors import DataError, ParameterError
from ..params import ARCHITECTURE, CONTAMINATION, TABLE
from .anomaly import reference_sample
from .base import CodeModel, check_shapes

_ARRAYS = ("components_", "explained_variance_", "explained_variance_ratio_", "singular_values_")


class LSA(CodeModel):
    """Latent semantic analysis with ``n_components`` codes. ``contamination``: the share of training
    documents that ``predict`` flags as anomalies, or "auto" (see :mod:`aelab.models.anomaly`).

    Examples
    --------
    >>> from aelab.models.lsa import LSA
    >>> from aelab.text import DocumentVectorizer
    >>> X = DocumentVectorizer().fit_transform(["red apple pie", "green apple", "fast red car", "car race"])
    >>> LSA(n_components=2, random_state=0).fit(X).transform(X).shape
    (4, 2)
    """

    def __init__(self, n_components=10, n_iter=7, random_state=0, contamination="auto"):
        self.contamination = contamination
        self.n_components = n_components
        self.n_iter = n_iter
        self.random_state = random_state

    def _check_params(self) -> None:
        ARCHITECTURE["n_components"].check(self.n_components)
        TABLE["random_state"].check(self.random_state)
        CONTAMINATION.check(self.contamination)
        if not isinstance(self.n_iter, numbers.Integral) or isinstance(self.n_iter, bool) or self.n_iter < 1:
            raise ParameterError(f"n_iter must be a whole number >= 1, not {self.n_iter!r}")

    def fit(self, X, y=None):
        """Fit on ``X`` (documents in rows, sparse or dense). Returns self."""
        self._check_params()
        X = self._check_X(X, fitting=True)
        if not 1 <= int(self.n_components) < X.shape[1]:
            raise DataError(
                f"LSA n_components={self.n_components} must be between 1 and {X.shape[1] - 1} (fewer than the "
                f"number of words), and X has n_features = {X.shape[1]}"
            )
        self.svd_ = TruncatedSVD(
            n_components=int(self.n_components), n_iter=int(self.n_iter), random_state=self.random_state
        ).fit(X)
        self._expose()
        self._fit_anomaly_reference(reference_sample(X))
        return self

    def _expose(self):
        for name in _ARRAYS:
            setattr(self, name, getattr(self.svd_, name))

    def _check_X(self, X, fitting: bool = False, what: str = "X"):
        if not sp.issparse(X):
            return super()._check_X(X, fitting, what)
        X = sp.csr_matrix(X, dtype=np.float32)
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise DataError(f"{what} is empty (shape {X.shape})")
        if not np.isfinite(X.data).all():
            raise DataError(f"{what} contains NaN or infinite values")
        if fitting:
            self.n_features_in_ = X.shape[1]
        else:
            self.check_n_features(X.shape[1], what)
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # documents come as sparse matrices
        return tags

    def transform(self, X) -> np.ndarray:
        """Codes of ``X``: its coordinates on the leading singular vectors (computed in float64, so
        that a row's code does not depend on the rows beside it)."""
        X = self._check_X(X)  # NotFittedError before any fitted attribute is used
        return self.svd_.transform(X.astype(np.float64)).astype(np.float32)

    def inverse_transform(self, Z) -> np.ndarray:
        """Reconstructions (dense) from codes."""
        Z = self._check_codes(Z)
        return self.svd_.inverse_transform(Z.astype(np.float64)).astype(np.float32)

    def reconstruction_error(self, X, chunk: int = 4096) -> float:
        """Mean over documents of the squared error summed over words (in chunks: X may be sparse)."""
        X = self._check_X(X)
        total = 0.0
        for start in range(0, X.shape[0], chunk):
            part = X[start : start + chunk]
            dense = part.toarray() if sp.issparse(part) else part
            total += float(np.sum((self.reconstruct(part) - dense) ** 2, dtype=np.float64))
        return total / X.shape[0]

    def _saved_state(self):
        return {}, {name: torch.from_numpy(np.asarray(getattr(self.svd_, name))) for name in _ARRAYS}

    def _restore_state(self, fitted, tensors):
        k = int(self.n_components)
        shapes = {"components_": (k, self.n_features_in_), "explained_variance_": (k,)}
        check_shapes(tensors, dict(shapes, explained_variance_ratio_=(k,), singular_values_=(k,)))
        svd = TruncatedSVD(n_components=int(self.n_components), n_iter=int(self.n_iter), random_state=self.random_state)
        for name in _ARRAYS:
            setattr(svd, name, tensors[name].numpy())
        svd.n_features_in_ = self.n_features_in_
        self.svd_ = svd
        self._expose()
