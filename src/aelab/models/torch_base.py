"""What the trained estimators (the auto-encoders and the classifier) share: a torch module
``module_`` trained by :mod:`aelab.training`, the settings of that training, input scaling,
batched inference, and the training record they save with their weights."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from .. import limits
from ..errors import ModelError, ParameterError, require
from ..params import AUTO_EPOCHS, AUTO_STEPS, check_params
from ..training import TrainConfig, apply_in_batches, fit_module
from ..training.feed import read_ahead, release_mapped_pages
from .base import SavedModel

INFERENCE_CHUNK = 8192  # samples per forward pass at inference: bounded memory, few Python steps


def standard_scaling(X) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation (1 for constant features), as float32, of an array
    or of the :class:`ColumnSummary` of one read in a streaming pass."""
    if isinstance(X, ColumnSummary):
        mean, std = X.mean.astype(np.float32), np.sqrt(X.m2 / X.n).astype(np.float32)
    else:
        mean, std = X.mean(0, dtype=np.float64).astype(np.float32), X.std(0, dtype=np.float64).astype(np.float32)
    return mean, np.where(std > 1e-8, std, 1.0).astype(np.float32)


#: Training data above this many bytes (as float32) is streamed from its array (a memory-mapped
#: ``.npy``) a batch at a time instead of being copied into memory whole.
STREAM_ABOVE_BYTES = 2 * 2**30


def over_memory_budget(X) -> bool:
    """Whether ``X`` is a memory-mapped array that would take more than ``STREAM_ABOVE_BYTES`` in
    memory as float32: it is then streamed rather than copied in (by ``fit`` and ``aelab train``)."""
    return isinstance(X, np.memmap) and X.size * 4 > STREAM_ABOVE_BYTES


SCAN_ROWS = 16_384  # rows per chunk of a streaming pass (float64 working copies stay small)
SCAN_IMAGES = 512  # images per chunk, when workers decode them: enough chunks to share out


@dataclass
class ColumnSummary:
    """What fitting needs to know of data that is not held in memory, from one streaming pass:
    the row count and, per feature, the minimum, maximum, mean and sum of squared deviations
    (merged chunk by chunk as Chan et al. merge variances, in float64)."""

    n: int
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def scan(cls, X, prepare) -> ColumnSummary:
        """The summary of ``prepare(chunk)`` over the chunks of ``SCAN_ROWS`` rows of ``X`` (read in
        ``X.workers`` processes, for images to decode)."""
        workers = getattr(X, "workers", 0)
        size = SCAN_IMAGES if workers else SCAN_ROWS
        chunks = [slice(start, start + size) for start in range(0, len(X), size)]
        summary = None
        for chunk in read_ahead(lambda rows: prepare(X[rows]), chunks, workers):
            chunk = chunk.astype(np.float64)
            part = cls(len(chunk), chunk.min(0), chunk.max(0), chunk.mean(0), ((chunk - chunk.mean(0)) ** 2).sum(0))
            summary = part if summary is None else summary.merged(part)
            release_mapped_pages(X)  # a pass over a file larger than memory leaves the process small
        return summary

    def merged(self, other: ColumnSummary) -> ColumnSummary:
        n = self.n + other.n
        delta = other.mean - self.mean
        return ColumnSummary(
            n,
            np.minimum(self.low, other.low),
            np.maximum(self.high, other.high),
            self.mean + delta * other.n / n,
            self.m2 + other.m2 + delta**2 * self.n * other.n / n,
        )

    def scaled(self, mean, scale) -> ColumnSummary:
        """The summary of ``(X - mean) / scale`` (a positive scale keeps each feature's order)."""
        if mean is None:
            return self
        return ColumnSummary(
            self.n,
            (self.low - mean) / scale,
            (self.high - mean) / scale,
            (self.mean - mean) / scale,
            self.m2 / scale**2,
        )

    def __len__(self) -> int:
        return self.n

    def min(self) -> float:
        return float(self.low.min())

    def max(self) -> float:
        return float(self.high.max())


class TorchEstimator(SavedModel):
    """Base of the estimators whose fitted state is a torch module (see the module docstring)."""

    #: Fitted attributes that record the training run, saved with the model.
    TRAINING_RECORD = (
        "history_",
        "best_epoch_",
        "n_epochs_",
        "stopped_early_",
        "training_seconds_",
        "epochs_",
        "batch_size_",
        "steps_per_epoch_",
    )
    MIN_STEPS = 500  # fewer optimizer steps than this hardly train a deep auto-encoder
    _MAY_BE_NONE: tuple[str, ...] = ()  # declared parameters (aelab.params) that this estimator also takes as None

    # --- training --------------------------------------------------------------------------------
    def _check_params(self) -> None:
        """One-line ParameterErrors for the table parameters (:mod:`aelab.params`) this estimator takes,
        and for a device this machine does not have."""
        params = self.get_params(deep=False)
        check_params({name: v for name, v in params.items() if not (v is None and name in self._MAY_BE_NONE)})
        if getattr(self, "log_dir", None) is not None:
            require("tensorboard", "tensorboard")
        kind = str(self.device or "cpu").split(":")[0]
        if kind == "cuda" and not torch.cuda.is_available() or kind == "mps" and not torch.backends.mps.is_available():
            raise ParameterError(
                f"device={self.device!r}, but this machine (or this torch build) has no {kind}; use cpu"
            )

    def _train_config(self) -> TrainConfig:
        """The training settings of this estimator's parameters (``random_state`` None draws a fresh
        seed; ``device`` None means cuda when available; "auto" epochs and batch size are chosen
        when the data's size is known, in :meth:`_train`)."""
        seed = (
            int(np.random.SeedSequence().generate_state(1)[0] >> 1)
            if self.random_state is None
            else int(self.random_state)
        )
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        at_least, steps = self._auto_training()
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=float(self.learning_rate),
            lr_schedule=self.lr_schedule,
            weight_decay=float(self.weight_decay),
            validation_fraction=float(self.validation_fraction),
            patience=self.patience,
            precision=self.precision,
            compile=bool(self.compile),
            cuda_graphs=bool(self.cuda_graphs),
            seed=seed,
            device=device,
            log_dir=None if getattr(self, "log_dir", None) is None else str(self.log_dir),
            effort=self._auto_effort(),
            auto_at_least=at_least,
            auto_steps=steps,
        )

    def _auto_effort(self) -> float:
        """How far "auto" epochs shrink for this net's costlier steps (see :func:`aelab.params.auto_epochs`)."""
        return 1.0

    def _auto_training(self) -> tuple[int, int]:
        """The least "auto" epochs of this model and the steps they make at least (see
        :func:`aelab.params.auto_epochs`)."""
        return AUTO_EPOCHS, AUTO_STEPS

    def _train(self, X: np.ndarray, batch_loss, config: TrainConfig, **kw):
        """Train ``module_`` on ``X`` with :func:`aelab.training.fit_module` (``kw`` are its keyword
        arguments), with this estimator's settings as the run's fingerprint, and record the run.
        The module stays on the device it trained on, where inference then runs (:meth:`_run`)."""
        fingerprint = {
            "model": type(self).__name__,
            "params": {
                k: _plain_value(v)
                for k, v in self.get_params(deep=False).items()
                if k not in ("verbose", "device", "compile", "cuda_graphs", "log_dir")
            },
        }
        result = fit_module(self.module_, X, batch_loss, config, fingerprint=fingerprint, progress=self.verbose, **kw)
        # what the run trained with, "auto" resolved once, by the loop, for this data and these ranks
        self.epochs_, self.patience_ = result.config.epochs, result.config.patience
        self.batch_size_, self.steps_per_epoch_ = result.batch_size, result.steps_per_epoch
        self.module_.eval()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.n_epochs_ = len(result.history)
        self.stopped_early_ = result.stopped_early
        self.training_seconds_ = result.seconds
        return result

    def training_warning(self) -> str:
        """One line when this run could hardly learn (too few optimizer steps, or a training loss
        that barely moved), with what to try; "" when it looks fine."""
        history = getattr(self, "history_", None) or []
        steps = len(history) * int(getattr(self, "steps_per_epoch_", 0) or 0)
        if history and steps and steps < self.MIN_STEPS and not self.stopped_early_:
            return (
                f"only {steps} optimizer steps ({len(history)} epochs of {self.steps_per_epoch_} batches of "
                f"{self.batch_size_}): too few to learn; give more epochs or smaller batches (--epochs, "
                "--batch-size, or leave both at auto)"
            )
        # the reconstruction's loss, where there are other terms: some draw at random (neighbours, noise)
        moved = [r.get("reconstruction", r["loss"]) for r in history[:1] + history[-1:]]
        if len(history) >= 2 and moved[1] > 0.98 * moved[0]:
            first, last = moved
            return (
                f"the training loss barely moved ({first:.4g} -> {last:.4g}); try "
                "smaller batches (--batch-size), more epochs (--epochs) or another learning rate (--lr)"
            )
        return ""

    def _sized(self, build, saved: dict[str, torch.Tensor] | None = None) -> torch.nn.Module:
        """``build()``, once it was made on the meta device (no memory taken) and its weights were
        held to the ``model_bytes`` limit (:mod:`aelab.limits`) and, for a model being restored, to
        the shapes of the ``saved`` tensors: sizes from a user or from a config someone else wrote
        are refused in one line before anything is allocated."""
        with torch.device("meta"):
            state = build().state_dict()
        if saved is not None:
            for name, tensor in state.items():
                found = saved.get(f"module.{name}")
                if found is None or tuple(found.shape) != tuple(tensor.shape):
                    raise ModelError(
                        f"its config makes the weight {name} of shape {tuple(tensor.shape)}, its weights hold "
                        f"{'none' if found is None else tuple(found.shape)}"
                    )
        count = sum(tensor.numel() for tensor in state.values())
        limits.check(
            "model_bytes", 4 * count, f"these sizes give the {type(self).__name__} {count:,} weights, in float32 bytes"
        )
        return build()

    # --- input scaling ---------------------------------------------------------------------------
    def _set_scaling(self, X: np.ndarray, standard: bool) -> None:
        """Standardise inputs per feature (``mean_``, ``scale_``), or leave them as they are."""
        if standard:
            self.mean_, self.scale_ = standard_scaling(X)
        else:
            self.mean_ = self.scale_ = None

    def _scale(self, X: np.ndarray) -> np.ndarray:
        if isinstance(X, ColumnSummary):
            return X.scaled(self.mean_, self.scale_)
        return X if self.mean_ is None else ((X - self.mean_) / self.scale_).astype(np.float32, copy=False)

    def _unscale(self, X: np.ndarray) -> np.ndarray:
        return X if self.mean_ is None else X * self.scale_ + self.mean_

    # --- batched inference -----------------------------------------------------------------------
    def _run(self, fn, A: np.ndarray, chunk: int = INFERENCE_CHUNK) -> np.ndarray:
        """``fn`` (torch in, torch out) over the rows of ``A`` in chunks, in evaluation mode."""
        self.module_.eval()
        return apply_in_batches(fn, A, chunk, self.device_)

    @property
    def device_(self) -> torch.device:
        """Where the fitted module is, and so where its computations run."""
        return next(self.module_.parameters()).device

    # --- saving ----------------------------------------------------------------------------------
    def _training_record(self) -> dict:
        return {k: getattr(self, k) for k in self.TRAINING_RECORD}

    def _module_tensors(self) -> dict[str, torch.Tensor]:
        """The module's weights, and the input scaling if there is one, as the tensors of a model file."""
        tensors = {f"module.{k}": v.cpu() for k, v in self.module_.state_dict().items()}
        if self.mean_ is not None:
            tensors.update(
                scaling_mean=torch.from_numpy(np.asarray(self.mean_)),
                scaling_scale=torch.from_numpy(np.asarray(self.scale_)),
            )
        return tensors

    def _restore_module(self, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`_module_tensors`, into the freshly built ``module_`` (left in evaluation mode)."""
        self.module_.load_state_dict({k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")})
        self.module_.eval()
        if "scaling_mean" in tensors:
            self.mean_, self.scale_ = tensors["scaling_mean"].numpy(), tensors["scaling_scale"].numpy()
        else:
            self.mean_ = self.scale_ = None


def _plain_value(value):
    """A parameter as the JSON of a run's fingerprint: an estimator by its class, a path as text."""
    if hasattr(value, "get_params"):
        return type(value).__name__
    return str(value) if isinstance(value, os.PathLike) else value


def fit_to_folder(model: SavedModel, out, *fit_args, resume: bool = False, overwrite: bool = False, **fit_kw):
    """Fit ``model`` (``fit_args``/``fit_kw`` go to its ``fit``) and save it as the folder ``out``.

    A torch estimator keeps a checkpoint in ``out.checkpoint`` after every epoch, so that an
    interrupted run continues with ``resume`` (and a run that torchrun restarted, always); it is
    removed once the model is saved. ``out`` is checked before any work: an existing folder is
    replaced only with ``overwrite``; while this run holds ``out``, a second run into it is refused
    at once (:func:`aelab.storage.output_lock`). With several ranks, rank 0 alone does the writing.
    """
    import contextlib
    import shutil

    from ..storage import check_output, output_lock
    from ..training import checkpoint_path
    from ..training.distributed import on_main, restarted, world

    def hold(stack):
        stack.enter_context(output_lock(out))
        check_output(out, overwrite)

    with contextlib.ExitStack() as stack:
        on_main(hold, stack)
        if isinstance(model, TorchEstimator):
            fit_kw.update(checkpoint_dir=checkpoint_path(out), resume=resume or restarted())
        model.fit(*fit_args, **fit_kw)
        if world().is_main:
            model.save(out, overwrite=overwrite)
            if isinstance(model, TorchEstimator):
                shutil.rmtree(checkpoint_path(out), ignore_errors=True)
    return model
