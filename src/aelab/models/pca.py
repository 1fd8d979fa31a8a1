"""PCA, the linear baseline: a thin layer over scikit-learn's PCA with aelab's interface.

PCA is the one-hidden-layer linear auto-encoder, so every auto-encoder result is reported beside
PCA with the same code size.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA as _SkPCA

from ..errors import DataError
from ..params import ARCHITECTURE, CONTAMINATION, TABLE
from ..validation import check_choices
from .anomaly import reference_sample
from .base import CodeModel, check_shapes

SVD_SOLVERS = ("auto", "full", "covariance_eigh", "arpack", "randomized")

_ARRAYS = ("components_", "mean_", "explained_variance_", "explained_variance_ratio_", "singular_values_")


class PCA(CodeModel):
    """Principal component analysis with ``n_components`` codes.

    Parameters
    ----------
    n_components : code size.
    whiten : scale codes to unit variance.
    svd_solver, random_state : passed to :class:`sklearn.decomposition.PCA`; the seed of the randomized
        solvers is 0 unless given, so that a baseline is the same in every run.
    contamination : the share of training samples that ``predict`` flags as anomalies, or "auto"
        (see :mod:`aelab.models.anomaly`).

    Examples
    --------
    >>> from aelab import PCA, datasets
    >>> ds = datasets.load("digits")
    >>> pca = PCA(n_components=2).fit(ds.train.X)
    >>> pca.transform(ds.test.X).shape
    (360, 2)
    """

    def __init__(self, n_components=2, whiten=False, svd_solver="auto", random_state=0, contamination="auto"):
        self.contamination = contamination
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.random_state = random_state

    def _check_params(self) -> None:
        ARCHITECTURE["n_components"].check(self.n_components)
        check_choices(("whiten", self.whiten, (False, True)), ("svd_solver", self.svd_solver, SVD_SOLVERS))
        TABLE["random_state"].check(self.random_state)
        CONTAMINATION.check(self.contamination)

    def fit(self, X, y=None, *, image_shape=None):
        """Fit on ``X`` (samples in rows). Returns self."""
        self._fit(X, image_shape)
        self._fit_anomaly_reference(reference_sample(self._check_X(X)))
        return self

    def _fit(self, X, image_shape=None):
        """The components alone (without what anomaly scores need; ITQ's PCA is one)."""
        self._check_params()
        self._set_image_shape(X, image_shape)
        X = self._check_X(X, fitting=True)
        limit = min(X.shape)
        if not 1 <= int(self.n_components) <= limit:
            raise DataError(
                f"PCA n_components={self.n_components} must be between 1 and {limit} "
                f"(the smaller of {X.shape[0]} samples and {X.shape[1]} features)"
            )
        self.pca_ = _SkPCA(
            n_components=int(self.n_components),
            whiten=self.whiten,
            svd_solver=self.svd_solver,
            random_state=self.random_state,
        ).fit(X)
        self._expose()
        return self

    def _expose(self):
        for name in _ARRAYS + ("noise_variance_",):
            setattr(self, name, getattr(self.pca_, name))

    def transform(self, X) -> np.ndarray:
        """Codes of ``X``: its coordinates on the principal components (computed in float64, so that
        a sample's code does not depend on the samples it comes with: float32 products do, by the
        way BLAS splits them)."""
        X = self._check_X(X)  # NotFittedError before any fitted attribute is used
        return self.pca_.transform(X.astype(np.float64)).astype(np.float32)

    def inverse_transform(self, Z) -> np.ndarray:
        """Reconstructions from codes."""
        Z = self._check_codes(Z)
        return self.pca_.inverse_transform(Z).astype(np.float32)

    def _saved_state(self):
        fitted = {"noise_variance_": float(self.pca_.noise_variance_), "n_samples_": int(self.pca_.n_samples_)}
        return fitted, {name: torch.from_numpy(np.asarray(getattr(self.pca_, name))) for name in _ARRAYS}

    def _restore_state(self, fitted, tensors):
        k, d = int(self.n_components), self.n_features_in_
        check_shapes(
            tensors,
            {
                "components_": (k, d),
                "mean_": (d,),
                "explained_variance_": (k,),
                "explained_variance_ratio_": (k,),
                "singular_values_": (k,),
            },
        )
        pca = _SkPCA(
            n_components=int(self.n_components),
            whiten=self.whiten,
            svd_solver=self.svd_solver,
            random_state=self.random_state,
        )
        for name in _ARRAYS:
            setattr(pca, name, tensors[name].numpy())
        pca.n_components_ = pca.components_.shape[0]
        pca.n_features_in_ = self.n_features_in_
        pca.n_samples_ = fitted["n_samples_"]
        pca.noise_variance_ = fitted["noise_variance_"]
        self.pca_ = pca
        self._expose()
