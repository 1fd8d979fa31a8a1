"""A density over codes: a Gaussian mixture fitted to a model's training codes, from which
generation draws new codes (:mod:`aelab.generate`) and by which anomaly scores measure how far a
code lies from where the training codes are (:mod:`aelab.models.anomaly`)."""

from __future__ import annotations

import numpy as np

from ..validation import check_choices

GMM_COMPONENTS = 10


def fit_density(codes: np.ndarray, density: str = "gaussian", seed: int = 0, covariance: str = "full"):
    """A scikit-learn GaussianMixture fitted to the codes: one Gaussian, or 10 components; with
    full covariances, or with ``covariance="diag"`` diagonal ones (for long codes, whose full
    covariances would take memory and time with the square and cube of their size)."""
    from sklearn.mixture import GaussianMixture

    check_choices(("density", density, ("gaussian", "gmm")))
    distinct = len(np.unique(codes, axis=0)) if density == "gmm" else 1  # bits, or a few codes, take fewer
    k = 1 if density == "gaussian" else min(GMM_COMPONENTS, distinct)
    floor = 1e-4 * float(np.var(codes, axis=0).mean()) + 1e-12  # relative to the codes' own scale
    check_choices(("covariance", covariance, ("full", "diag")))
    return GaussianMixture(n_components=k, covariance_type=covariance, reg_covar=floor, random_state=seed).fit(codes)
