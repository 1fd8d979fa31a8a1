"""What every aelab model shares: codes in, codes out, a reconstruction error, a folder on disk.

An auto-encoder and PCA answer the same calls (``fit``, ``transform``, ``inverse_transform``,
``reconstruction_error``, ``save``), so they can stand side by side in any comparison and inside a
scikit-learn ``Pipeline``.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .. import schemas
from ..errors import AelabError, DataError, ModelError
from ..storage import (
    atomic_path,
    check_digests,
    folder_file,
    read_tagged_folder,
    record_digests,
    save_json,
    save_tensors,
)
from ..validation import as_samples
from .anomaly import DENSITY_PREFIX, AnomalyScoring

FORMAT = "aelab-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

_REGISTRY: dict[str, type[SavedModel]] = {}


class SavedModel(BaseEstimator):
    """An estimator that saves itself as a folder (``config.json`` + ``model.safetensors``) and comes
    back through :func:`load`. Subclasses implement the ``_saved_state`` / ``_restore_state`` pair."""

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        _REGISTRY[cls.__name__] = cls

    def validate_params(self) -> None:
        """Check every parameter now, before any data is read (``fit`` checks them too)."""
        self._check_params()

    def _check_params(self) -> None:
        """One-line ParameterErrors for the parameters this estimator does not allow."""

    @classmethod
    def _upgraded(cls, params: dict) -> dict:
        """The parameters of a saved config as this version reads them (a parameter added since
        takes the value that the model was trained with)."""
        return params

    def _init_params(self, values: dict[str, Any]) -> None:
        """Store ``__init__``'s arguments (pass ``locals()``) unchanged, as scikit-learn expects."""
        for name in self._get_param_names():
            setattr(self, name, values[name])

    def _check_X(self, X, fitting: bool = False, what: str = "X") -> np.ndarray:
        uint8 = getattr(X, "dtype", None) == np.uint8
        if uint8:  # pixels: scaled to [0, 1] as the data loaders read them
            X = np.asarray(X, dtype=np.float32) / np.float32(255)
        X = as_samples(X, what)
        if fitting:
            self.n_features_in_ = X.shape[1]
            self._note_pixels(uint8, X.min(), X.max())
        else:
            self.check_n_features(X.shape[1], what)
            if getattr(self, "pixels_", False) and not uint8:
                check_pixel_units(X, what, type(self).__name__)
        return X

    def _note_pixels(self, uint8: bool, low: float, high: float) -> None:
        """Whether the training data were pixels scaled to [0, 1] (uint8, or images in [0, 1]): such
        a model refuses the same pixels given in 0..255 (:func:`check_pixel_units`)."""
        images = getattr(self, "image_shape_", None) is not None
        self.pixels_ = bool((uint8 or images) and low >= 0 and high <= 1)

    def check_n_features(self, n_features: int, what: str = "X") -> None:
        """Raise a one-line DataError unless data of ``n_features`` fits this fitted model."""
        check_is_fitted(self)
        if n_features != self.n_features_in_:
            raise DataError(
                f"{what} has {n_features} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                f"features as input{self._shape_hint()}; use data like the training data"
            )

    def _shape_hint(self) -> str:
        shape = getattr(self, "image_shape_", None)
        return f" (images of {'x'.join(map(str, shape))})" if shape else ""

    def _set_image_shape(self, X, image_shape) -> None:
        """``image_shape_`` from, in turn: ``image_shape`` (fit's argument, else the estimator's own
        parameter, where it has one), the data's ``image_shape`` attribute, or the data's own
        dimensions (n, height, width[, channels]). One side may be -1, inferred from the features
        as numpy's reshape does: ``(1, -1)`` makes each row of features a one-pixel-high strip."""
        arr_shape = X.shape if getattr(X, "read_in_batches", False) else np.asarray(X).shape
        if image_shape is None:
            image_shape = getattr(self, "image_shape", None)
        image_shape = image_shape if image_shape is not None else getattr(X, "image_shape", None)
        if image_shape is None and len(arr_shape) in (3, 4):
            image_shape = tuple(arr_shape[1:])
        n_features = int(np.prod(arr_shape[1:]))
        if image_shape is not None:
            check_image_shape(image_shape)
            image_shape = resolved_image_shape(image_shape, n_features)
        if image_shape is not None and int(np.prod(image_shape)) != n_features:
            raise DataError(f"image_shape {tuple(image_shape)} does not match {n_features} features")
        self.image_shape_ = tuple(int(s) for s in image_shape) if image_shape is not None else None

    # --- saving --------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the fitted model to the folder ``path`` (``config.json`` + ``model.safetensors``).

        The folder appears only once complete; an existing one is replaced only with ``overwrite``.
        """
        config, tensors = self.stored()
        with atomic_path(path, overwrite) as tmp:
            tmp.mkdir()
            save_tensors({k: torch.as_tensor(v).contiguous() for k, v in tensors.items()}, tmp / WEIGHTS_FILE)
            save_json(tmp / CONFIG_FILE, dict(config, files=record_digests(tmp, [WEIGHTS_FILE])))
        return Path(path)

    def stored(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """What ``save`` writes: the config (JSON) and the tensors; :func:`restore` inverts it."""
        check_is_fitted(self)
        fitted, tensors = self._saved_state()
        if isinstance(self, AnomalyScoring):
            scoring, density = self._anomaly_state()
            fitted, tensors = dict(fitted, **scoring), dict(tensors, **density)
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "class": type(self).__name__,
            "params": self.get_params(deep=False),
            "fitted": dict(
                fitted,
                n_features_in_=self.n_features_in_,
                image_shape_=getattr(self, "image_shape_", None),
                pixels_=getattr(self, "pixels_", False),
            ),
        }
        return config, tensors

    def _saved_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Plain fitted values (JSON) and arrays (safetensors) that bring the model back."""
        raise NotImplementedError

    def _restore_state(self, fitted: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError


class CodeModel(ClassNamePrefixFeaturesOutMixin, TransformerMixin, AnomalyScoring, SavedModel):
    """A model that maps samples to codes and back. Subclasses implement ``fit``, ``transform``
    and ``inverse_transform``; the code size is ``n_components_`` once fitted (or ``n_components``).
    Each scores anomalies too (:mod:`aelab.models.anomaly`), with what its ``fit`` kept."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # codes and reconstructions are float32
        return tags

    @property
    def code_size(self) -> int:
        """Numbers per code."""
        return int(getattr(self, "n_components_", None) or self.n_components)

    @property
    def _n_features_out(self) -> int:
        return self.code_size

    def reconstruct(self, X) -> np.ndarray:
        """Encode and decode ``X``: its reconstruction, in the units of ``X``."""
        return self.inverse_transform(self.transform(X))

    def reconstruction_error(self, X) -> float:
        """Mean over samples of the squared error summed over features.

        This is the measure of Hinton & Salakhutdinov (2006): PCA with 30 components gives 13.87
        on the MNIST test images (pixels in [0, 1]).
        """
        X = self._check_X(X)
        return squared_error(self.reconstruct(X), X)

    def score(self, X, y=None) -> float:
        """Negative reconstruction error, so that greater is better (scikit-learn's convention)."""
        return -self.reconstruction_error(X)

    def _check_codes(self, Z) -> np.ndarray:
        check_is_fitted(self)
        Z = as_samples(Z, "codes")
        if Z.shape[1] != self.code_size:
            raise DataError(f"codes have {Z.shape[1]} dimensions but the model's code size is {self.code_size}")
        return Z


def check_pixel_units(X: np.ndarray, what: str, model: str) -> None:
    """One line for pixels given in 0..255 (as whole numbers) to a model trained on pixels in [0, 1]:
    its codes would be meaningless. uint8 pixels are scaled for the caller; other types are taken as
    given, so this says what to pass."""
    top = float(X.max())
    if top > 1 and bool(np.all(X >= 0)) and bool(np.all(X == np.round(X))):
        raise DataError(
            f"{what} holds whole numbers up to {top:g}, but this {model} was trained on pixels in [0, 1]: pass "
            "pixels as uint8 (they are scaled for you), or divided by 255"
        )


def check_shapes(arrays: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> None:
    """A one-line ModelError unless each of ``arrays`` (by name) has the shape of ``shapes`` (a
    restored model's arrays against its config, which a tampered folder may contradict)."""
    for name, shape in shapes.items():
        found = tuple(arrays[name].shape) if name in arrays else None
        if found != tuple(shape):
            raise ModelError(f"{name} holds {'nothing' if found is None else found}, its config makes {tuple(shape)}")


def is_image_shape(shape, inferred: bool = False) -> bool:
    try:
        sides = tuple(shape)
    except TypeError:
        return False
    whole = all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in sides)
    if not (len(sides) in (2, 3) and whole):
        return False
    if inferred and sides.count(-1) == 1:
        sides = tuple(s for s in sides if s != -1)
    return all(s >= 1 for s in sides)


def check_image_shape(shape) -> None:
    """One line unless ``shape`` is (height, width[, channels]) of whole numbers >= 1, one of which
    may be -1 (inferred from the number of features)."""
    if not is_image_shape(shape, inferred=True):
        raise DataError(
            "image_shape must be (height, width) or (height, width, channels), whole numbers >= 1 (one of "
            f"them may be -1, inferred from the number of features), not {shape!r}"
        )


def resolved_image_shape(shape, n_features: int) -> tuple[int, ...]:
    """``shape`` with its -1 (if any) replaced by what ``n_features`` leaves for it."""
    sides = tuple(int(s) for s in shape)
    if -1 not in sides:
        return sides
    known = math.prod(s for s in sides if s != -1)
    if n_features % known:
        raise DataError(f"image_shape {sides} does not divide {n_features} features")
    return tuple(n_features // known if s == -1 else s for s in sides)


def squared_error(A: np.ndarray, B: np.ndarray) -> float:
    """Mean over rows of the squared difference summed over features: aelab's reconstruction error."""
    return float(np.mean(np.sum((A - B) ** 2, axis=1, dtype=np.float64)))


def load(path: str | os.PathLike) -> SavedModel:
    """Bring back a model saved by ``save``, whatever its class (among those imported: ``aelab.load``
    knows them all). No code is executed: the class comes from a registry, by name. The folder is
    untrusted data: its config is checked against :data:`aelab.schemas.MODEL_CONFIG`, its weights
    against their recorded checksum, and each tensor against the one the model expects."""
    path = Path(path)
    config = read_tagged_folder(path, CONFIG_FILE, FORMAT, FORMAT_VERSION, "model", schemas.MODEL_CONFIG)
    weights = folder_file(path, WEIGHTS_FILE)
    check_digests(path, config.get("files"))
    try:
        tensors = load_file(str(weights))
    except FileNotFoundError:
        raise ModelError(f"{weights} is missing; the model folder is incomplete") from None
    except Exception as exc:  # safetensors' own error types
        raise ModelError(f"{path} is damaged: {WEIGHTS_FILE} cannot be read ({exc})") from None
    return restore(config, tensors, path)


def restore(config: dict, tensors: dict[str, torch.Tensor], where) -> SavedModel:
    """A model from its stored config (class, params, fitted values) and tensors; anything in them
    that does not fit together is one ModelError, "WHERE is damaged: ..."."""
    schemas.check(config, schemas.MODEL_CONFIG, str(where))  # a nested model's config too
    cls = _REGISTRY.get(config.get("class"))
    if cls is None:
        raise ModelError(f"{where} holds a {config.get('class')!r}, which this version of aelab does not know")
    params = cls._upgraded({k: tuple(v) if isinstance(v, list) else v for k, v in config["params"].items()})
    unknown = sorted(set(params) - set(cls._get_param_names()))
    if unknown:
        raise ModelError(f"{where} is damaged: {cls.__name__} has no parameter {unknown[0]!r}")
    fitted = dict(config["fitted"])
    shape = fitted.pop("image_shape_", None)
    n_features = fitted.pop("n_features_in_")
    pixels = fitted.pop("pixels_", False)  # older models: not known, not checked
    anomaly_reference = fitted.pop("anomaly_reference_", None)  # older models: no anomaly scores
    density = {name: tensors.pop(name) for name in [n for n in tensors if n.startswith(DENSITY_PREFIX)]}
    if shape and math.prod(shape) != n_features:
        raise ModelError(f"{where} is damaged: image_shape_ {shape} does not hold {n_features} features")
    for name, tensor in tensors.items():
        if not (tensor.is_floating_point() or name.endswith("num_batches_tracked")):
            raise ModelError(f"{where} is damaged: the tensor {name} holds {tensor.dtype}, not floating-point numbers")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"{where} is damaged: the tensor {name} holds NaN or infinite values")
    try:
        model = cls(**params)
        if hasattr(model, "_check_params"):
            model._check_params()
        model.n_features_in_ = n_features
        model.image_shape_ = tuple(shape) if shape else None
        model.pixels_ = pixels
        model._restore_state(fitted, tensors)
        if isinstance(model, AnomalyScoring):
            model._restore_anomaly_state(anomaly_reference, density)
    except AelabError as exc:
        raise ModelError(f"{where} is damaged: {exc}") from None
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        raise ModelError(f"{where} is damaged: it does not match its config ({type(exc).__name__}: {exc})") from None
    return model
