"""Anomaly scores of a code model, in scikit-learn's outlier-detector convention.

What a model cannot rebuild, or what lands where no training codes lie, is unusual. Every code
model scores samples by kinds of evidence (:meth:`AnomalyScoring.anomaly_scores`, higher = more
unusual):

- ``reconstruction``: the model's own loss per sample less what a perfect reconstruction would cost
  (squared error; for a sigmoid output with cross-entropy, the Bernoulli divergence of the
  reconstruction from each pixel; for word counts, the divergence of the decoded word
  distribution from the document's), so that ink or length alone is no evidence;
- ``blurred``: for images, the same with the image and its reconstruction both blurred by a
  Gaussian of one pixel (:func:`aelab.objectives.blurred_divergence`), so that a stroke rebuilt a
  pixel away is little evidence and a part missing or added is as much as before;
- ``density``: the negative log-likelihood of the code under a Gaussian mixture fitted to the
  training codes (as :func:`aelab.models.density.fit_density` fits them for sampling);
- ``elbo``: a variational model's negative evidence bound (reconstruction plus the code's KL
  divergence from the prior);
- ``auto``: the default, the sum of the kinds above (those the model has: for images the blurred
  reconstruction, else the reconstruction or a variational model's bound; the density where it
  had enough training codes to go on) each measured in units of its own spread on normal data:
  its median subtracted, divided by its interquartile range. A model rebuilds the rows it trained
  on better than new ones, so on those its reconstruction's spread is too small (on a digit of
  MNIST, half of what it is on new images of the digit) and would outweigh the density; the
  spreads are measured on the rows that training held out for validation where there are at
  least ``HELD_OUT_ROWS`` of them, and on the training rows otherwise.

When a model is fitted it scores an even sample of its training data (up to ``REFERENCE_ROWS``) and
keeps what scoring needs: the code density, each kind's median and spread, and the quantiles of
the default score on the training data, from which ``offset_`` follows for any ``contamination``
(a share of the training data), now or later.

scikit-learn's convention: ``score_samples`` is higher for normal samples (minus the default
score), ``decision_function`` is ``score_samples - offset_`` (negative for anomalies), ``predict``
gives +1 for normal samples and -1 for anomalies. PyOD's detectors point the other way: their
``decision_scores_`` (higher = more abnormal) are this model's ``anomaly_scores(X_train)``, their
``threshold_`` is ``-offset_``, and their ``labels_`` (1 = outlier) are ``predict(X_train) == -1``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import check_is_fitted

from ..errors import DataError, ModelError
from ..objectives import BLURRED_LOSSES, blurred_divergence
from ..params import ANOMALY_KINDS, CONTAMINATION
from ..validation import check_choices
from .density import fit_density

REFERENCE_ROWS = 10_000  # training samples scored at fit: the density, the spreads, the quantiles
HELD_OUT_ROWS = 100  # the least rows held out from training that the kinds' spreads are measured on
QUANTILES = 1001  # of the training scores, kept with the model: offset_ for any contamination
SCORE_CHUNK = 1024  # rows scored at once (word counts are densified a chunk at a time)
DENSITY_ROWS_PER_DIM = 10  # the default counts the code density when it had this many training rows a code dimension
FULL_COVARIANCE_DIMS = 64  # longer codes get a density with diagonal covariances
TUKEY_FENCE = 1.5  # contamination "auto": beyond Q3 + 1.5 IQR of the training scores
DENSITY_PREFIX = "anomaly_density."


class AnomalyScoring:
    """Anomaly scores, thresholds and maps for a code model (see the module docstring).

    A subclass provides ``_check_X``, ``transform`` and ``reconstruct``, and may refine
    ``_score_pass`` (its own loss per feature, its codes and a variational model's KL term, in one
    pass)."""

    # --- the scores --------------------------------------------------------------------------------
    def anomaly_scores(self, X, kind: str = "auto") -> np.ndarray:
        """The raw anomaly score of each sample of ``X`` (higher = more unusual), of ``kind``:
        "reconstruction", "blurred" (images), "density", "elbo" (variational models) or "auto"
        (their standardised sum). PyOD calls these ``decision_scores_``."""
        check_choices(("kind", kind, ANOMALY_KINDS))
        reference = self._anomaly_reference()
        if kind == "elbo" and not getattr(self, "variational", False):
            raise DataError("kind 'elbo' is the bound of a variational model (trained with --vae); use reconstruction")
        if kind == "blurred" and self._blur_shape() is None:
            raise DataError(
                f"kind 'blurred' compares images, and this {type(self).__name__} was trained on rows that are not "
                "(give image_shape when training); use reconstruction"
            )
        X = self._check_X(X)
        kinds = reference["kinds"] if kind == "auto" else [kind]
        raw = self._raw_scores(X, kinds)
        if kind != "auto":
            return raw[kind]
        return np.sum([(raw[k] - reference["centre"][k]) / reference["spread"][k] for k in kinds], axis=0)

    def score_samples(self, X) -> np.ndarray:
        """Normality of each sample (higher = more normal, as scikit-learn's outlier detectors):
        minus the default anomaly score."""
        return -self.anomaly_scores(X)

    @property
    def offset_(self) -> float:
        """The threshold on ``score_samples`` below which a sample is an anomaly, from the training
        scores and ``contamination`` (PyOD's ``threshold_`` is its negative)."""
        return -threshold(self._anomaly_reference()["quantiles"], self.contamination)

    def decision_function(self, X) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for the samples ``predict`` flags."""
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        """+1 for normal samples, -1 for anomalies (``decision_function`` below zero)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def error_maps(self, X) -> np.ndarray:
        """Where each reconstruction failed: the reconstruction score of every feature (pixel), in
        the images' shape when the model knows it. Sums to the ``reconstruction`` score."""
        check_is_fitted(self)
        X = self._check_X(X)
        maps = np.concatenate([self._score_pass(part, blur=False)[0] for part in _chunks(X)])
        shape = getattr(self, "image_shape_", None)
        return maps.reshape(len(maps), *shape) if shape else maps

    # --- what subclasses may refine ----------------------------------------------------------------
    def _score_pass(self, X, blur: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Of rows ``X``: per feature, the reconstruction's cost above a perfect one (here the
        squared error), the codes, a variational model's KL term per sample (else None), and per
        sample the blurred reconstruction's cost (None without ``blur`` or an image shape)."""
        dense = X.toarray() if sp.issparse(X) else X
        rebuilt = self.reconstruct(X)
        blurred = None
        shape = self._blur_shape() if blur else None
        if shape is not None:
            rebuilt_, dense_ = (torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in (rebuilt, dense))
            blurred = blurred_divergence("mse", rebuilt_, dense_, "identity", shape).numpy()
        return np.square(rebuilt - dense, dtype=np.float64), self.transform(X), None, blurred

    def _blur_shape(self) -> tuple[int, ...] | None:
        """The image shape by which the ``blurred`` kind blurs, where the model has one and its loss
        is a pixel-wise one (squared error, or cross-entropy of a sigmoid output)."""
        if getattr(self, "loss_", "mse") not in BLURRED_LOSSES:
            return None
        return getattr(self, "image_shape_", None)

    def _anomaly_kinds(self, n_rows: int) -> list[str]:
        """The kinds that the default score combines, for a density fitted on ``n_rows`` training
        codes: a handful of codes in many dimensions says little about where codes lie (and its
        training codes fit it far better than any new one), so it takes part only with at least
        ``DENSITY_ROWS_PER_DIM`` rows a dimension."""
        if getattr(self, "variational", False):
            kinds = ["elbo"]
        else:
            kinds = ["blurred" if self._blur_shape() is not None else "reconstruction"]
        return kinds + (["density"] if n_rows >= DENSITY_ROWS_PER_DIM * self.code_size else [])

    # --- fitted state ------------------------------------------------------------------------------
    def _fit_anomaly_reference(self, sample, codes=None, held_out=None) -> None:
        """Score ``sample`` (training rows, checked: see :func:`reference_sample`) and keep what
        scoring needs: the density of their codes (``codes``, when already computed), each kind's
        median and spread (on the rows ``held_out`` from training, checked, when there are at least
        ``HELD_OUT_ROWS``; else on ``sample``), the quantiles of the default score on ``sample``."""
        if codes is None:
            codes = np.concatenate([self._score_pass(part, blur=False)[1] for part in _chunks(sample)])
        codes = np.asarray(codes, np.float64)
        covariance = "full" if codes.shape[1] <= FULL_COVARIANCE_DIMS else "diag"
        self.anomaly_density_ = fit_density(codes, "gmm" if len(codes) >= 20 else "gaussian", covariance=covariance)
        kinds = self._anomaly_kinds(len(codes))
        raw = measured = self._raw_scores(sample, kinds)
        measured_on = "training"
        if held_out is not None and held_out.shape[0] >= HELD_OUT_ROWS:
            measured, measured_on = self._raw_scores(held_out, kinds), "held_out"
        centre = {k: float(np.median(measured[k])) for k in kinds}
        spread = {k: _spread(measured[k]) for k in kinds}
        combined = np.sum([(raw[k] - centre[k]) / spread[k] for k in kinds], axis=0)
        self.anomaly_reference_ = {
            "kinds": kinds,
            "centre": centre,
            "spread": spread,
            "quantiles": training_quantiles(combined).tolist(),
            "measured_on": measured_on,
            "measured_rows": int(len(measured[kinds[0]])),
        }

    def _anomaly_reference(self) -> dict:
        check_is_fitted(self)
        reference = getattr(self, "anomaly_reference_", None)
        if reference is None:
            raise ModelError(
                f"this {type(self).__name__} was saved by an aelab that did not score anomalies: train it again "
                "to score, threshold and flag samples"
            )
        return reference

    def _raw_scores(self, X, kinds) -> dict[str, np.ndarray]:
        parts: dict[str, list[np.ndarray]] = {k: [] for k in kinds}
        for part in _chunks(X):
            terms, codes, kl, blurred = self._score_pass(part, blur="blurred" in kinds)
            reconstruction = terms.sum(1, dtype=np.float64)
            if "reconstruction" in kinds:
                parts["reconstruction"].append(reconstruction)
            if "blurred" in kinds:
                parts["blurred"].append(blurred)
            if "elbo" in kinds:
                parts["elbo"].append(reconstruction + kl)
            if "density" in kinds:
                parts["density"].append(-self.anomaly_density_.score_samples(np.asarray(codes, np.float64)))
        return {k: np.concatenate(v) for k, v in parts.items()}

    def _anomaly_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """What ``save`` keeps of the scoring (JSON, tensors); empty for a model without it."""
        if getattr(self, "anomaly_reference_", None) is None:
            return {}, {}
        g = self.anomaly_density_
        tensors = {"weights": g.weights_, "means": g.means_, "covariances": g.covariances_}
        return {"anomaly_reference_": self.anomaly_reference_}, {
            DENSITY_PREFIX + k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64)) for k, v in tensors.items()
        }

    def _restore_anomaly_state(self, reference: dict | None, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`_anomaly_state` (the arrays checked against each other and the code size)."""
        self.anomaly_reference_ = reference
        if reference is None:
            return
        if set(reference["centre"]) != set(reference["kinds"]) or set(reference["spread"]) != set(reference["kinds"]):
            raise ModelError("its anomaly reference does not give a centre and a spread for each kind")
        if np.any(np.diff(reference["quantiles"]) < 0):
            raise ModelError("its anomaly reference's quantiles are not in order")
        arrays = {k[len(DENSITY_PREFIX) :]: v.numpy() for k, v in tensors.items() if k.startswith(DENSITY_PREFIX)}
        self.anomaly_density_ = density_from(arrays, self.code_size)


def threshold(quantiles, contamination) -> float:
    """The anomaly score above which a sample is flagged, from the ``quantiles`` of the training
    scores (evenly spaced from the least to the greatest): the ``1 - contamination`` quantile, or for
    "auto" Tukey's fence, ``TUKEY_FENCE`` interquartile ranges above the upper quartile."""
    CONTAMINATION.check(contamination)
    quantiles = np.asarray(quantiles, dtype=np.float64)
    levels = np.linspace(0, 1, len(quantiles))
    if contamination == "auto":
        q1, q3 = np.interp([0.25, 0.75], levels, quantiles)
        return float(q3 + TUKEY_FENCE * (q3 - q1))
    return float(np.interp(1 - float(contamination), levels, quantiles))


def training_quantiles(scores) -> np.ndarray:
    """The ``QUANTILES`` quantiles of training scores that :func:`threshold` reads."""
    return np.quantile(np.asarray(scores, dtype=np.float64), np.linspace(0, 1, QUANTILES))


def density_from(arrays: dict[str, np.ndarray], dims: int):
    """A fitted GaussianMixture from its weights, means and covariances (full: one matrix per
    component; diagonal: one row per component)."""
    from scipy.linalg import solve_triangular
    from sklearn.mixture import GaussianMixture

    weights, means, covariances = (arrays.get(k) for k in ("weights", "means", "covariances"))
    if weights is None or means is None or covariances is None:
        raise ModelError("its code density is incomplete (weights, means and covariances are needed)")
    k = len(weights)
    full = covariances.ndim == 3
    if (
        k < 1
        or weights.shape != (k,)
        or means.shape != (k, dims)
        or covariances.shape not in ((k, dims, dims), (k, dims))
    ):
        raise ModelError(f"its code density's arrays do not make {k} Gaussians over {dims}-D codes")
    g = GaussianMixture(n_components=k, covariance_type="full" if full else "diag")
    g.weights_, g.means_, g.covariances_ = weights, means, covariances
    if full:
        try:
            cholesky = np.linalg.cholesky(covariances)
        except np.linalg.LinAlgError:
            raise ModelError("its code density holds a covariance that is not positive definite") from None
        g.precisions_cholesky_ = np.stack([solve_triangular(c, np.eye(dims), lower=True).T for c in cholesky])
        g.precisions_ = g.precisions_cholesky_ @ np.transpose(g.precisions_cholesky_, (0, 2, 1))
    else:
        if not np.all(covariances > 0):
            raise ModelError("its code density holds a variance that is not positive")
        g.precisions_cholesky_ = 1 / np.sqrt(covariances)
        g.precisions_ = 1 / covariances
    g.converged_, g.n_iter_, g.n_features_in_ = True, 0, dims
    return g


def reference_sample(X, seed: int = 0):
    """An even sample of up to ``REFERENCE_ROWS`` rows of ``X``, in their order."""
    return X[reference_rows(np.arange(X.shape[0]), seed)]


def reference_rows(positions, seed: int = 0) -> np.ndarray:
    """Up to ``REFERENCE_ROWS`` of ``positions``, drawn by ``seed``, in order."""
    positions = np.asarray(positions)
    return np.sort(positions[np.random.default_rng(seed).permutation(len(positions))[:REFERENCE_ROWS]])


def _chunks(X):
    """``X`` a chunk of rows at a time (sparse rows stay sparse)."""
    for start in range(0, X.shape[0], SCORE_CHUNK):
        yield X[start : start + SCORE_CHUNK]


def _spread(scores: np.ndarray) -> float:
    """The interquartile range of ``scores`` (their standard deviation where that is 0; 1 if both are)."""
    q1, q3 = np.percentile(scores, [25, 75])
    return float(q3 - q1) or float(np.std(scores)) or 1.0
