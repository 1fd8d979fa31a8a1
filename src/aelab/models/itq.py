"""Binary codes from PCA, the baselines of learned binary codes (semantic hashing): PCAH, the signs
of the principal component scores, and ITQ (iterative quantization; Gong & Lazebnik, CVPR 2011),
which first rotates the scores so that they lie as near as they can to the corners of the cube,
where their signs lose the least.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ..errors import DataError, ParameterError
from ..params import ARCHITECTURE, CONTAMINATION, TABLE
from .anomaly import reference_sample
from .base import CodeModel
from .pca import PCA


class ITQ(CodeModel):
    """Codes of ``n_components`` bits: the signs of ``X``'s first principal component scores, turned
    by the rotation that ITQ learns in ``n_iter`` alternations (``n_iter=0``: no rotation, PCAH).

    :meth:`transform` answers the bits as 0.0 and 1.0 (an index over them ranks by Hamming
    distance); :attr:`quantization_loss_` holds ``||B - V R||^2`` (scores ``V``, rotation ``R``,
    their signs ``B``) after each iteration, which ITQ never raises. ``contamination``: the share of
    training samples that ``predict`` flags as anomalies, or "auto" (see :mod:`aelab.models.anomaly`).

    Examples
    --------
    >>> from aelab import datasets
    >>> from aelab.models.itq import ITQ
    >>> ds = datasets.load("digits")
    >>> ITQ(n_components=16, random_state=0).fit(ds.train.X).transform(ds.test.X[:2]).shape
    (2, 16)
    """

    binary = True  # its codes are bits

    def __init__(self, n_components=32, n_iter=50, random_state=0, contamination="auto"):
        self.contamination = contamination
        self.n_components = n_components
        self.n_iter = n_iter
        self.random_state = random_state

    def _check_params(self) -> None:
        ARCHITECTURE["n_components"].check(self.n_components)
        TABLE["random_state"].check(self.random_state)
        CONTAMINATION.check(self.contamination)
        if not isinstance(self.n_iter, numbers.Integral) or isinstance(self.n_iter, bool) or self.n_iter < 0:
            raise ParameterError(f"n_iter must be a whole number >= 0, not {self.n_iter!r}")

    def fit(self, X, y=None, *, image_shape=None):
        """Fit PCA and the rotation on ``X`` (samples in rows). Returns self."""
        self._check_params()
        self._set_image_shape(X, image_shape)
        X = self._check_X(X, fitting=True)
        self.pca_ = PCA(n_components=self.n_components, random_state=self.random_state)._fit(X)
        V = self.pca_.transform(X).astype(np.float64)
        bits = V.shape[1]
        rng = np.random.default_rng(self.random_state)
        R = np.linalg.qr(rng.standard_normal((bits, bits)))[0] if self.n_iter else np.eye(bits)
        VR, self.quantization_loss_ = V @ R, []
        B = np.where(VR >= 0, 1.0, -1.0)
        for _ in range(int(self.n_iter)):
            U, _, Wt = np.linalg.svd(V.T @ B)  # the rotation taking V nearest the signs B
            R = U @ Wt
            VR = V @ R
            B = np.where(VR >= 0, 1.0, -1.0)  # the next signs, which the loss measures too
            self.quantization_loss_.append(float(np.square(B - VR).sum()))
        self.rotation_ = R.astype(np.float32)
        self.scale_ = np.abs(VR).mean(0).astype(np.float32)  # a bit's typical magnitude, to decode
        self._fit_anomaly_reference(reference_sample(X))
        return self

    def transform(self, X) -> np.ndarray:
        """The bits of ``X``'s codes, as 0.0 and 1.0."""
        X = self._check_X(X)
        return (self.pca_.transform(X) @ self.rotation_ >= 0).astype(np.float32)

    def inverse_transform(self, Z) -> np.ndarray:
        """Reconstructions from bits: each bit taken as its sign times its typical magnitude."""
        Z = self._check_codes(Z)
        if ((Z != 0) & (Z != 1)).any():
            raise DataError("ITQ's codes are bits: give 0s and 1s")
        return self.pca_.inverse_transform(((2 * Z - 1) * self.scale_) @ self.rotation_.T)

    def _saved_state(self):
        pca_fitted, pca_tensors = self.pca_._saved_state()
        tensors = {f"pca.{k}": v for k, v in pca_tensors.items()}
        tensors.update(rotation=torch.from_numpy(self.rotation_), scale=torch.from_numpy(self.scale_))
        return {"pca": pca_fitted, "quantization_loss_": self.quantization_loss_}, tensors

    def _restore_state(self, fitted, tensors):
        pca = PCA(n_components=self.n_components, random_state=self.random_state)
        pca.n_features_in_ = self.n_features_in_
        pca._restore_state(fitted["pca"], {k[4:]: v for k, v in tensors.items() if k.startswith("pca.")})
        self.pca_ = pca
        self.rotation_, self.scale_ = tensors["rotation"].numpy(), tensors["scale"].numpy()
        bits = int(self.n_components)
        if self.rotation_.shape != (bits, bits) or self.scale_.shape != (bits,):
            raise DataError(f"ITQ's rotation is {tuple(self.rotation_.shape)}, not {bits} x {bits}")
        self.quantization_loss_ = list(fitted.get("quantization_loss_", []))
