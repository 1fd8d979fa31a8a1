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
from sklearn.base import ClassifierMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d
from torch import nn

from ..errors import DataError, ModelError, ParameterError
from ..nn import mlp
from ..objectives import Corruption, reconstruction_loss
from ..params import (
    CLASSIFIER_DEFAULTS,
    TRAINING_PARAMS,
    parameters_doc,
)
from ..training import greedy_layerwise, load_stack
from .base import load, restore
from .mlp import AutoEncoder, check_layer_options
from .torch_base import TorchEstimator

_INIT = "init."  # prefix of a nested in-memory init model's tensors in the saved file


class Classifier(ClassifierMixin, TorchEstimator):
    __doc__ = f"""An MLP classifier ``n_features - hidden - n_classes``.

    Parameters
    ----------
    hidden_layer_sizes : hidden widths (ignored with ``init``, which brings its own).
    activation, normalization : as for :class:`aelab.AutoEncoder`.
    init : a trained :class:`aelab.AutoEncoder` (or the folder of a saved one) whose encoder gives
        the hidden layers. ``clone`` keeps it: a clone starts from the same trained encoder.
    pretrain : "greedy" for greedy layer-wise pre-training of the hidden layers, or None.
    pretrain_epochs : epochs of each pre-trained layer.
    pretrain_denoise : input noise of each pre-trained layer (a ``denoise`` spec such as "mask:0.5"):
        stacked denoising auto-encoders, which pre-train better than plain ones.
{parameters_doc(TRAINING_PARAMS)}
    Examples
    --------
    >>> from aelab import Classifier, datasets
    >>> ds = datasets.load("digits")
    >>> clf = Classifier(hidden_layer_sizes=(64,), epochs=5, random_state=0).fit(ds.train.X, ds.train.y)
    >>> clf.score(ds.test.X, ds.test.y) > 0.5
    True
    """

    # the arguments from epochs on are the table of aelab.params, with the classifier's own defaults
    # for epochs, batch_size and learning_rate (a test holds them to it)
    DEFAULT_OVERRIDES = CLASSIFIER_DEFAULTS

    def __init__(
        self,
        hidden_layer_sizes=(500, 500, 2000),
        activation="gelu",
        normalization="batch",
        init=None,
        pretrain=None,
        pretrain_epochs=10,
        pretrain_denoise=None,
        epochs=50,
        batch_size=128,
        learning_rate=1e-3,
        lr_schedule="onecycle",
        weight_decay=0.1,
        validation_fraction=0.1,
        patience="auto",
        precision="float32",
        compile=False,
        cuda_graphs=False,
        random_state=None,
        device=None,
        verbose=False,
        log_dir=None,
    ):
        self._init_params(locals())

    def __sklearn_clone__(self):
        """A clone with the same ``init``: the trained encoder, not an untrained copy of it (``init``
        is only read, so sharing it is safe)."""
        params = {k: clone(v, safe=False) for k, v in self.get_params(deep=False).items() if k != "init"}
        return type(self)(init=self.init, **params)

    def fit(self, X, y, X_unlabelled=None, *, checkpoint_dir=None, resume=False):
        """Train on labelled ``X, y``; greedy pre-training also uses ``X_unlabelled``. Returns self."""
        self._check_params()
        X = self._check_X(X, fitting=True)
        if y is None:
            raise DataError("Classifier requires y to be passed, but the target y is None")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim != 1 or len(y) != len(X):
            raise DataError(f"y must hold one label per sample: {len(X)} samples, labels of shape {y.shape}")
        try:
            check_classification_targets(y)
        except ValueError as exc:
            raise DataError(f"{exc}; y must hold class labels") from None
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise DataError("classification needs at least two classes in y, which holds one class")
        extra = None if X_unlabelled is None else self._check_X(X_unlabelled, what="X_unlabelled")
        config = self._train_config()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            body = self._body(X, extra, config)
            self.module_ = nn.Sequential(body, nn.Linear(self.hidden_sizes_[-1], len(self.classes_)))
        self._train(
            self._scale(X),
            _cross_entropy,
            config,
            y=y_idx.astype(np.int64),
            checkpoint_dir=checkpoint_dir,
            resume=resume,
        )
        return self

    def _check_params(self):
        super()._check_params()
        if self.hidden_layer_sizes == "auto":
            raise ParameterError("hidden_layer_sizes of a Classifier must be a list of whole numbers >= 1, not 'auto'")
        check_layer_options(self)
        if self.init is not None and self.pretrain is not None:
            raise ParameterError(
                "choose one start for the hidden layers: init (a trained encoder) or pretrain='greedy'"
            )

    def _init_encoder(self) -> AutoEncoder:
        """The trained auto-encoder of ``init`` (loaded from its folder, or given), checked."""
        ae = load(self.init) if isinstance(self.init, (str, os.PathLike)) else self.init
        if not isinstance(ae, AutoEncoder):
            raise ModelError(f"init must be a trained AutoEncoder (MLP) or its folder, not a {type(ae).__name__}")
        if not hasattr(ae, "module_"):
            raise ModelError(
                "init is an AutoEncoder that was never trained; fit it first, or give the folder of a saved one"
            )
        if ae.log_input:
            raise ModelError(
                "init from an auto-encoder with log_input=True is not supported; "
                "use pretrain='greedy' or random initialisation"
            )
        return ae

    def _body(self, X, extra, config) -> nn.Sequential:
        """The hidden layers, from the chosen start; sets ``hidden_sizes_`` and the input scaling."""
        if self.init is not None:
            ae = self._init_encoder()
            ae.check_n_features(X.shape[1], "the classifier's data")
            self.mean_, self.scale_ = ae.mean_, ae.scale_
            self.hidden_sizes_ = [int(h) for h in ae.hidden_layer_sizes_]
            self.activation_, self.normalization_ = ae.activation, ae.normalization
            return copy.deepcopy(ae.module_.encoder[:-1])  # every layer but the code layer
        self.activation_, self.normalization_ = self.activation, self.normalization
        self.hidden_sizes_ = [int(h) for h in self.hidden_layer_sizes]
        both = X if extra is None else np.concatenate([X, extra])
        in_unit = both.min() >= 0 and both.max() <= 1
        self._set_scaling(both, standard=not in_unit)
        body = self._sized(
            lambda: mlp([X.shape[1], *self.hidden_sizes_], self.activation, self.normalization, last_plain=False)
        )
        if self.pretrain == "greedy":
            first = "bce" if in_unit else "mse"

            def first_loss(logits, target):
                return reconstruction_loss(first, logits, target, "sigmoid" if in_unit else "linear")

            stack = greedy_layerwise(
                self._scale(both),
                [X.shape[1], *self.hidden_sizes_],
                self.activation,
                self.normalization,
                first_loss,
                config,
                int(self.pretrain_epochs),
                code_layer=False,
                corruption=Corruption.parse(self.pretrain_denoise),
                progress=self.verbose,
            )
            load_stack(body, stack)
            self.pretrain_history_ = [s.history for s in stack]
        return body

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return self._run(lambda x: torch.softmax(self.module_(x), 1), self._scale(self._check_X(X)))

    def features(self, X) -> np.ndarray:
        """The last hidden layer's activations: the classifier's feature space (for a Frechet
        distance between sets of samples)."""
        return self._run(self.module_[0], self._scale(self._check_X(X)))

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(1)]

    # --- saving ----------------------------------------------------------------------------------
    def stored(self):
        """As :meth:`SavedModel.stored`; an in-memory ``init`` model is stored inside this one, so
        that the loaded classifier's ``get_params`` (and its clones) still hold the trained encoder."""
        config, tensors = super().stored()
        if isinstance(self.init, os.PathLike):
            config["params"]["init"] = str(self.init)
        elif self.init is not None and not isinstance(self.init, str):
            nested_config, nested_tensors = self.init.stored()
            config["params"]["init"] = None
            config["fitted"]["init_model"] = nested_config
            tensors.update({_INIT + k: v for k, v in nested_tensors.items()})
        return config, tensors

    def _saved_state(self):
        fitted = {
            "classes_": self.classes_.tolist(),
            "hidden_sizes_": self.hidden_sizes_,
            "activation_": self.activation_,
            "normalization_": self.normalization_,
            **self._training_record(),
        }
        return fitted, self._module_tensors()

    def _restore_state(self, fitted, tensors):
        nested = fitted.pop("init_model", None)
        if nested is not None:
            self.init = restore(
                nested,
                {k[len(_INIT) :]: v for k, v in tensors.items() if k.startswith(_INIT)},
                "the classifier's init model",
            )
        for k, v in fitted.items():
            setattr(self, k, v)
        self.classes_ = np.asarray(self.classes_)

        def build():
            sizes = [self.n_features_in_, *self.hidden_sizes_]
            body = mlp(sizes, self.activation_, self.normalization_, last_plain=False)
            return nn.Sequential(body, nn.Linear(self.hidden_sizes_[-1], len(self.classes_)))

        self.module_ = self._sized(build, tensors)
        self._restore_module(tensors)


def _cross_entropy(module, batch, epoch):
    x, y = batch
    return F.cross_entropy(module(x).float(), y), {}
