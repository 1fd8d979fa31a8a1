"""What every trained auto-encoder shares, whatever its architecture: the choice of scaling,
output and loss, the objective's terms, codes and reconstructions, and saving.

An architecture is a net of :mod:`aelab.nn` (``encode``, ``decode``, and ``forward``, which the
objective goes through). Subclasses build it in ``_build`` and check their own parameters in
``_check_params`` and, against the data, in ``_check_architecture``.
"""

from __future__ import annotations

import dataclasses
import weakref
from copy import deepcopy as copy_module

import numpy as np
import torch

from ..errors import DataError, ModelError, ParameterError
from ..nn import binarize
from ..objectives import (
    Corruption,
    Regularization,
    apply_output,
    blurred_divergence,
    objective,
    reconstruction_divergence,
    reconstruction_loss,
)
from ..params import (
    AUTO_BINARY_STEPS,
    AUTOENCODER_PARAMS,
    BINARY_NOISE,
    NEIGHBOUR_BINARY_NOISE,
    REGULARIZATION,
    auto_n_neighbours,
    check_bits,
    parameters_doc,
)
from ..storage import json_value
from ..training import TrainConfig
from .anomaly import reference_rows
from .base import CodeModel, check_shapes
from .torch_base import ColumnSummary, TorchEstimator, over_memory_budget

CODE_SAMPLE = 10_000  # training codes kept with a model, for generation
_FLOAT64_NETS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # trained module -> its scoring copy

#: The docs of the arguments every auto-encoder takes (made from the table of :mod:`aelab.params`).
COMMON_PARAMETERS_DOC = parameters_doc(AUTOENCODER_PARAMS)


class NeuralAutoEncoder(CodeModel, TorchEstimator):
    """Base class of the trained auto-encoders (see the module docstring)."""

    # --- fitting -------------------------------------------------------------------------------
    def fit(self, X, y=None, *, image_shape=None, checkpoint_dir=None, resume=False, stream=None):
        """Train on ``X`` (samples in rows, or images). Returns self.

        ``y`` (optional labels) does not take part in training; it labels the sample of training
        codes that the model keeps for generation (``code_sample_``). ``checkpoint_dir`` keeps the
        training state after every epoch; ``resume`` continues from it.

        ``stream``: read ``X`` (a memory-mapped ``.npy``: ``np.load(path, mmap_mode="r")``, or the
        images of a folder: :class:`aelab.datasets.ImageRows`) a chunk at a time instead of copying
        it into memory: one pass for the checks and the scaling statistics, then each batch's rows
        when training needs them (images decoded in DataLoader workers). None (the default)
        streams ImageRows, and a memory-mapped array larger than ``STREAM_ABOVE_BYTES`` as float32
        (2 GiB).
        """
        self._check_params()
        self._set_image_shape(X, image_shape)
        rows = None
        if stream or (stream is None and (over_memory_budget(X) or getattr(X, "read_in_batches", False))):
            rows = X.reshape(len(X), -1)  # a view: nothing is read yet
            self.n_features_in_, self.pixels_ = rows.shape[1], False  # known after the pass
            X = ColumnSummary.scan(rows, self._check_X)  # checked and summarised chunk by chunk
            self._note_pixels(getattr(rows, "dtype", None) == np.uint8, X.min(), X.max())
        else:
            X = self._check_X(X, fitting=True)
        if len(X) < 2:
            raise DataError(f"an auto-encoder needs at least 2 samples to train on, not {len(X)} sample")
        self.regularization_ = self._regularization(self.n_features_in_)
        y = None if y is None else np.asarray(y)
        if y is not None and len(y) != len(X):
            raise DataError(f"y must hold one label per sample: {len(X)} samples, {len(y)} labels")
        self._check_architecture()
        self._choose_scaling(X)
        Xs = self._scale(X)
        self.output_activation_ = self._choose_output(Xs)
        self.loss_ = (
            self.loss
            if self.loss != "auto"
            else {"sigmoid": "bce", "softmax": "multinomial"}.get(self.output_activation_, "mse")
        )
        if (self.loss_ == "multinomial") != (self.output_activation_ == "softmax") or (
            self.loss_ == "multinomial" and (self.mean_ is not None or X.min() < 0)
        ):
            raise DataError(
                "loss='multinomial' and output_activation='softmax' go together, on non-negative data "
                "(word counts or frequencies) with scaling='none'"
            )
        if self.loss_ == "bce" and (self.output_activation_ != "sigmoid" or Xs.min() < 0 or Xs.max() > 1):
            raise DataError("loss='bce' needs data in [0, 1] and a sigmoid output; use loss='mse' for other data")

        config = self._train_config()
        reg = self.regularization_ = self._neighbours_for(config.n_train(len(X)))
        self._choose_architecture(config.n_train(len(X)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.module_ = self._sized(lambda: self._build(self.n_features_in_))
        streamed = {} if rows is None else {"stream": True, "prepare": lambda a: self._scale(self._check_X(a))}
        self._pretrain(Xs if rows is None else rows, config, **streamed)
        result = self._train(
            Xs if rows is None else rows,
            self._batch_loss,
            config,
            param_groups=self._param_groups(),
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            neighbours=reg.n_neighbours if reg.keep_neighbours else None,
            neighbour_words=self._neighbours_by_words(),
            **streamed,
        )
        self._keep_code_sample(X if rows is None else rows, y, config.seed, result.held_out)
        return self

    def _keep_code_sample(self, X, y, seed: int, held_out=None) -> None:
        """Keep the codes of up to ``CODE_SAMPLE`` training samples (and their labels), so that the
        model alone knows where its codes lie: the box of a generated grid, a fitted code density;
        and the anomaly scores' reference, its spreads measured on the rows at ``held_out``."""
        rows = np.sort(np.random.default_rng(seed).permutation(len(X))[:CODE_SAMPLE])
        sample = self._check_X(X[rows])
        self.code_sample_ = self.transform(sample)
        labels = None if y is None else np.asarray(y)
        self.code_sample_labels_ = None if labels is None else [json_value(v) for v in labels[rows]]
        unseen = None if held_out is None or not len(held_out) else self._check_X(X[reference_rows(held_out, seed)])
        self._fit_anomaly_reference(sample, self.code_sample_, held_out=unseen)

    def _check_params(self) -> None:
        """The table's checks, and the objective's terms parsed and checked together (a bad spec,
        or a code both binary and variational), so that ``validate_params`` refuses them before
        any data is read."""
        super()._check_params()
        self._regularization()  # kept by fit; a model is not fitted before
        if self.binary and self.n_components is not None:
            check_bits(self.n_components)

    def _auto_training(self) -> tuple[int, int]:
        return (1, AUTO_BINARY_STEPS) if self.binary else super()._auto_training()

    def _neighbours_for(self, n_train: int) -> Regularization:
        """The objective's terms with the neighbours of its graph counted for ``n_train`` training
        samples: "auto" is N_NEIGHBOURS or as many as there are other samples; more is refused."""
        reg = self.regularization_
        if not reg.keep_neighbours:
            return reg
        k = reg.n_neighbours
        if k == "auto":
            k = auto_n_neighbours(n_train)
        elif k >= n_train:
            raise ParameterError(
                f"n_neighbours={k}, but there are {n_train} training samples (the rest validate): keep fewer "
                "neighbours than that, or keep_neighbours=0"
            )
        if k < 1:
            return dataclasses.replace(reg, keep_neighbours=0.0)  # one training sample has no neighbour
        return dataclasses.replace(reg, n_neighbours=int(k))

    def _regularization(self, n_features: int | None = None) -> Regularization:
        values = {name: getattr(self, name) for name in REGULARIZATION}
        return Regularization.from_params(n_features=n_features, **values)

    def _neighbours_by_words(self) -> bool:
        """Whether the neighbour graph compares training rows by their words (word counts, which
        ``log_input`` takes) rather than as they are."""
        return bool(getattr(self, "log_input", False))

    def _binary_noise(self) -> float:
        """The noise before a binary code's sigmoid: "auto" is less where the neighbour-keeping term
        shapes the bits."""
        if self.binary_noise != "auto":
            return float(self.binary_noise)
        reg = getattr(self, "regularization_", None) or self._regularization()
        return NEIGHBOUR_BINARY_NOISE if reg.keep_neighbours else BINARY_NOISE

    @classmethod
    def _upgraded(cls, params: dict) -> dict:
        """A model saved before keep_neighbours existed was trained without it."""
        return params if "keep_neighbours" in params else dict(params, keep_neighbours=0.0)

    def _choose_architecture(self, n_train: int) -> None:
        """Resolve "auto" architecture parameters for ``n_train`` training samples (in subclasses)."""

    def _check_architecture(self) -> None:
        """Check the architecture's own parameters against the data (``n_features_in_`` is set)."""

    def _build(self, n_features: int) -> torch.nn.Module:
        raise NotImplementedError

    def _pretrain(self, Xs: np.ndarray, config: TrainConfig, stream: bool = False, prepare=None) -> None:
        """Initialise ``module_`` before training (greedy pre-training, in subclasses that offer it);
        ``stream``: ``Xs`` are rows to read a batch at a time through ``prepare`` (see ``fit``)."""

    def _param_groups(self):
        if self.decoder_weight_decay is None:
            return None
        decoder = {id(p) for p in self.module_.decoder_parameters()}
        rest = [p for p in self.module_.parameters() if id(p) not in decoder]
        return [
            {"params": rest},
            {"params": list(self.module_.decoder_parameters()), "weight_decay": float(self.decoder_weight_decay)},
        ]

    def _reconstruction(self, logits, target):
        return reconstruction_loss(self.loss_, logits, target, self.output_activation_)

    def _batch_loss(self, module, batch, epoch):
        partner = batch[1] if len(batch) > 1 else None  # a training batch of the neighbour-keeping term
        return objective(module, batch[0], epoch, self.regularization_, self._reconstruction, partner)

    @property
    def terms_(self) -> dict:
        """The regularization terms this model was trained with."""
        return self.regularization_.describe()

    # --- scaling -------------------------------------------------------------------------------
    def _choose_scaling(self, X):
        in_unit = X.min() >= 0 and X.max() <= 1
        words = self.output_activation == "softmax" or self.loss == "multinomial"  # counts stay counts
        scaling = self.scaling if self.scaling != "auto" else ("none" if in_unit or words else "standard")
        self._set_scaling(X, scaling == "standard")

    def _choose_output(self, Xs) -> str:
        if self.output_activation != "auto":
            return self.output_activation
        return "sigmoid" if Xs.min() >= 0 and Xs.max() <= 1 else "linear"

    # --- codes and reconstructions ---------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Codes of ``X`` (the mean code, for a variational model; 0s and 1s, for a binary one)."""
        X = self._scale(self._check_X(X))
        return self._run(lambda x: self._code(self.module_.encode(x)[0]), X)

    def inverse_transform(self, Z) -> np.ndarray:
        """Reconstructions decoded from codes ``Z``, in the input's units (for a softmax output,
        distributions over the features: a code does not hold its document's length)."""
        Z = self._check_codes(Z)
        return self._unscale(self._run(lambda z: self._output(self.module_.decode(z, None)), Z))

    def reconstruct(self, X) -> np.ndarray:
        """Encode and decode ``X`` in one pass, so that the decoder may use what the encoder kept
        (the max-pooling switches of a convolutional model). A softmax output is scaled by each
        row's own total, so that reconstructions of word counts are expected counts."""
        X = self._check_X(X)

        def run(x):
            stats, aux = self.module_.encode(x)
            return self._output(self.module_.decode(self._code(stats), aux))

        out = self._unscale(self._run(run, self._scale(X)))
        return out * X.sum(1, keepdims=True) if self.output_activation_ == "softmax" else out

    def denoise_reconstruct(self, X, noise: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Corrupt ``X`` with ``noise`` (a ``denoise`` spec such as "gaussian:0.3") and reconstruct it.

        Returns the noisy input and its reconstruction, both in the input's units.
        """
        corruption = Corruption.parse(noise)
        X = self._check_X(X)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            noisy = corruption(torch.from_numpy(np.ascontiguousarray(X))).numpy()
        return noisy, self.reconstruct(noisy)

    def _score_pass(self, X, blur: bool = True):
        """Per feature what the model's own loss charges above a perfect reconstruction
        (:func:`aelab.objectives.reconstruction_divergence`), the codes, a variational model's KL
        divergence from the prior, and for images (with ``blur``) the same charge once image and
        reconstruction are blurred, in one pass of a float64 copy of the net: so that a sample's
        score does not depend, even in its last digits, on the samples it comes with (float32
        products do, by the way they are split)."""
        net = self._float64_net()
        with torch.no_grad():
            x = torch.from_numpy(np.asarray(self._scale(X), dtype=np.float64)).to(self.device_)
            stats, aux = net.encode(x)
            code = self._code(stats)
            logits = net.decode(code, aux)
            terms = reconstruction_divergence(self.loss_, logits, x, self.output_activation_)
            kl = blurred = None
            if self.variational:
                mu, logvar = stats.chunk(2, dim=1)
                kl = (0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(1)).cpu().numpy()
            shape = self._blur_shape() if blur else None
            if shape is not None:
                blurred = blurred_divergence(self.loss_, logits, x, self.output_activation_, shape).cpu().numpy()
        return terms.cpu().numpy(), code.cpu().numpy(), kl, blurred

    def _float64_net(self) -> torch.nn.Module:
        """A float64 copy of ``module_`` for scoring, made once per trained module (kept aside, so
        that scoring leaves the estimator as it was)."""
        if self.module_ not in _FLOAT64_NETS:
            _FLOAT64_NETS[self.module_] = copy_module(self.module_).double().eval()
        return _FLOAT64_NETS[self.module_]

    def _code(self, stats: torch.Tensor) -> torch.Tensor:
        if self.binary:
            return binarize(stats, training=False)
        return stats.chunk(2, dim=1)[0] if self.variational else stats

    def _output(self, logits: torch.Tensor) -> torch.Tensor:
        return apply_output(logits, self.output_activation_)

    def export_onnx(self, path, overwrite: bool = False):
        """Write the encoder and the decoder as ONNX graphs in the folder ``path`` (see
        :mod:`aelab.models.export`: raw rows in, the codes of ``transform`` out; codes in, the
        rows of ``inverse_transform`` out). Needs ``pip install 'aelab[export]'``."""
        from .export import export_onnx

        return export_onnx(self, path, overwrite)

    # --- saving ----------------------------------------------------------------------------------
    _FITTED = ("output_activation_", "loss_")

    def _saved_state(self):
        fitted = {k: getattr(self, k) for k in self._FITTED}
        fitted.update(self._training_record(), terms_=self.terms_)
        tensors = self._module_tensors()
        if getattr(self, "code_sample_", None) is not None:
            fitted["code_sample_labels_"] = self.code_sample_labels_
            tensors["code_sample"] = torch.from_numpy(np.ascontiguousarray(self.code_sample_))
        return fitted, tensors

    def _restore_state(self, fitted, tensors):
        fitted.pop("terms_", None)  # written for readers of config.json; rebuilt from the params
        for k, v in fitted.items():
            setattr(self, k, v)
        self.regularization_ = self._regularization(self.n_features_in_)
        self.module_ = self._sized(lambda: self._build(self.n_features_in_), tensors)
        self._restore_module(tensors)
        self.code_sample_ = tensors["code_sample"].numpy() if "code_sample" in tensors else None  # older models
        self.code_sample_labels_ = fitted.get("code_sample_labels_")
        if self.code_sample_ is not None:
            rows = min(len(self.code_sample_), CODE_SAMPLE)
            check_shapes(tensors, {"code_sample": (rows, self.code_size)})
            labels = self.code_sample_labels_
            if labels is not None and len(labels) != rows:
                raise ModelError(f"code_sample_labels_ holds {len(labels)} labels for {rows} codes")
        scaled = ("scaling_mean", "scaling_scale")
        if "scaling_mean" in tensors:
            check_shapes(tensors, dict.fromkeys(scaled, (self.n_features_in_,)))
