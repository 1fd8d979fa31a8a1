"""An MLP classifier whose lower layers come from an auto-encoder: the lecture's use of
pre-training when labels are few.

The hidden layers start from a trained auto-encoder's encoder (``init``: its hidden layers; the
code layer is dropped, since its target differs), from greedy layer-wise pre-training on the
inputs, labelled and unlabelled (``pretrain="greedy"``), or at random. A new top layer, randomly
initialised, maps the last hidden layer to the classes; then everything is fine-tuned by
back-propagation on the labelled samples.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from torch import nn

from ..errors import DataError, ModelError
from ..train import PRECISIONS, TrainConfig, train_estimator
from .base import SavedModel, check_choices, module_tensors, restore_module, standard_scaling
from .mlp import ACTIVATIONS, NORMALIZATIONS, PRETRAINING, mlp


class Classifier(ClassifierMixin, SavedModel):
    """An MLP classifier ``n_features - hidden - n_classes``.

    Parameters
    ----------
    hidden_layer_sizes : hidden widths (ignored with ``init``, which brings its own).
    activation, normalization : as for :class:`aelab.AutoEncoder`.
    init : folder of a trained :class:`aelab.AutoEncoder` whose encoder gives the hidden layers.
    pretrain : "greedy" for greedy layer-wise pre-training of the hidden layers, or None.
    pretrain_epochs : epochs of each pre-trained layer.
    pretrain_denoise : input noise of each pre-trained layer (a ``denoise`` spec such as "mask:0.5"):
        stacked denoising auto-encoders, which pre-train better than plain ones.
    epochs, batch_size, learning_rate, lr_schedule, weight_decay, validation_fraction, patience,
    precision, random_state, device, verbose : training, as for the auto-encoders.

    Examples
    --------
    >>> from aelab import datasets
    >>> from aelab.models.classifier import Classifier
    >>> ds = datasets.load("digits")
    >>> clf = Classifier(hidden_layer_sizes=(64,), epochs=5, random_state=0).fit(ds.train.X, ds.train.y)
    >>> clf.score(ds.test.X, ds.test.y) > 0.5
    True
    """

    def __init__(self, hidden_layer_sizes=(500, 500, 2000), activation="gelu", normalization="batch", init=None,
                 pretrain=None, pretrain_epochs=10, pretrain_denoise=None, epochs=50, batch_size=128,
                 learning_rate=1e-3, lr_schedule="onecycle", weight_decay=0.1, validation_fraction=0.1, patience=20,
                 precision="float32", random_state=None, device=None, verbose=False):
        self._init_params(locals())

    def fit(self, X, y, X_unlabelled=None, *, checkpoint_dir=None, resume=False):
        """Train on labelled ``X, y``; greedy pre-training also uses ``X_unlabelled``. Returns self."""
        self._check_params()
        X = self._check_X(X, fitting=True)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise DataError(f"y must hold one label per sample: {len(X)} samples, labels of shape {y.shape}")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise DataError("classification needs at least two classes in y")
        extra = None if X_unlabelled is None else self._check_X(X_unlabelled, what="X_unlabelled")
        config = TrainConfig.of(self)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            body = self._body(X, extra, config)
            self.module_ = nn.Sequential(body, nn.Linear(self.hidden_sizes_[-1], len(self.classes_)))
        Xs = self._scale(X)
        train_estimator(self, Xs, _cross_entropy, config, y=y_idx.astype(np.int64), checkpoint_dir=checkpoint_dir,
                        resume=resume)
        return self

    def _check_params(self):
        check_choices(("activation", self.activation, ACTIVATIONS), ("pretrain", self.pretrain, PRETRAINING),
                      ("normalization", self.normalization, NORMALIZATIONS), ("precision", self.precision, PRECISIONS))
        if self.init is not None and self.pretrain is not None:
            raise DataError("choose one start for the hidden layers: init (a trained encoder) or pretrain='greedy'")

    def _body(self, X, extra, config) -> nn.Sequential:
        """The hidden layers, from the chosen start; sets ``hidden_sizes_`` and the input scaling."""
        if self.init is not None:
            from .base import load
            from .mlp import AutoEncoder

            ae = load(self.init) if isinstance(self.init, (str, os.PathLike)) else self.init
            if not isinstance(ae, AutoEncoder):
                raise ModelError(f"init must be the folder of a trained AutoEncoder (MLP), not a {type(ae).__name__}")
            ae.check_n_features(X.shape[1], "the classifier's data")
            if ae.log_input:
                raise ModelError("init from an auto-encoder with log_input=True is not supported; "
                                 "use pretrain='greedy' or random initialisation")
            self.mean_, self.scale_ = ae.mean_, ae.scale_
            self.hidden_sizes_ = [int(h) for h in ae.hidden_layer_sizes]
            self.activation_, self.normalization_ = ae.activation, ae.normalization
            return copy.deepcopy(ae.module_.encoder[:-1])  # every layer but the code layer
        self.activation_, self.normalization_ = self.activation, self.normalization
        self.hidden_sizes_ = [int(h) for h in self.hidden_layer_sizes]
        if not self.hidden_sizes_ or min(self.hidden_sizes_) < 1:
            raise DataError(f"hidden_layer_sizes must be positive sizes, not {self.hidden_layer_sizes!r}")
        both = X if extra is None else np.concatenate([X, extra])
        in_unit = both.min() >= 0 and both.max() <= 1
        if in_unit:
            self.mean_ = self.scale_ = None
        else:
            self.mean_, self.scale_ = standard_scaling(both)
        body = mlp([X.shape[1], *self.hidden_sizes_], self.activation, self.normalization, last_plain=False)
        if self.pretrain == "greedy":
            from ..objectives import reconstruction_loss
            from ..pretrain import greedy_layerwise, load_stack
            from ..regularizers import Corruption

            first = "bce" if in_unit else "mse"

            def first_loss(logits, target):
                return reconstruction_loss(first, logits, target, "sigmoid" if in_unit else "linear")

            stack = greedy_layerwise(self._scale(both), [X.shape[1], *self.hidden_sizes_], self.activation,
                                     self.normalization, first_loss, config, int(self.pretrain_epochs),
                                     code_layer=False, corruption=Corruption.parse(self.pretrain_denoise),
                                     progress=self.verbose)
            load_stack(body, stack)
            self.pretrain_history_ = [s.history for s in stack]
        return body

    def _scale(self, X):
        return X if self.mean_ is None else ((X - self.mean_) / self.scale_).astype(np.float32)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        X = self._scale(self._check_X(X))
        self.module_.eval()
        with torch.no_grad():
            parts = [torch.softmax(self.module_(torch.from_numpy(np.ascontiguousarray(X[i:i + 8192]))), 1).numpy()
                     for i in range(0, len(X), 8192)]
        return np.concatenate(parts)

    def features(self, X) -> np.ndarray:
        """The last hidden layer's activations: the classifier's feature space (for a Frechet
        distance between sets of samples)."""
        X = self._scale(self._check_X(X))
        self.module_.eval()
        with torch.no_grad():
            parts = [self.module_[0](torch.from_numpy(np.ascontiguousarray(X[i:i + 8192]))).numpy()
                     for i in range(0, len(X), 8192)]
        return np.concatenate(parts)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]

    # --- saving ----------------------------------------------------------------------------------
    def get_params(self, deep=True):
        params = super().get_params(deep)
        if params.get("init") is not None and not isinstance(params["init"], (str, os.PathLike)):
            params["init"] = None  # an in-memory encoder: its weights are in the saved model anyway
        elif params.get("init") is not None:
            params["init"] = str(params["init"])
        return params

    def _saved_state(self):
        fitted = {"classes_": self.classes_.tolist(), "hidden_sizes_": self.hidden_sizes_,
                  "activation_": self.activation_, "normalization_": self.normalization_,
                  "history_": self.history_, "best_epoch_": self.best_epoch_, "n_epochs_": self.n_epochs_,
                  "stopped_early_": self.stopped_early_, "training_seconds_": self.training_seconds_}
        return fitted, module_tensors(self.module_, self.mean_, self.scale_)

    def _restore_state(self, fitted, tensors):
        for k, v in fitted.items():
            setattr(self, k, v)
        self.classes_ = np.asarray(self.classes_)
        body = mlp([self.n_features_in_, *self.hidden_sizes_], self.activation_, self.normalization_,
                   last_plain=False)
        self.module_ = nn.Sequential(body, nn.Linear(self.hidden_sizes_[-1], len(self.classes_)))
        self.mean_, self.scale_ = restore_module(self.module_, tensors)


def _cross_entropy(module, batch, epoch):
    x, y = batch
    return F.cross_entropy(module(x).float(), y), {}
