"""The training job (``aelab train``): one job for runs in memory and streamed, fresh and resumed,
in one process or in each rank of a distributed run. It decides how the data is read (in memory,
a memory-mapped ``.npy``, an image folder or WebDataset shards decoded a batch at a time), trains
into a model folder, and measures the model beside PCA of its code size."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AelabError, ParameterError
from ..models import PCA, CodeModel, fit_to_folder, torch_base
from ..report import pca_twin, twin_note
from ..storage import check_output
from ..training.distributed import on_main, world
from .data import DataOptions

STREAM_REPORT_ROWS = 10_000  # the training rows a streamed run reports its error on, beside PCA's


@dataclass
class TrainRequest:
    """Train ``model`` (an unfitted :class:`aelab.AutoEncoder`, :class:`aelab.ConvAutoEncoder` or
    :class:`aelab.PCA`) on the training split of ``data`` into the model folder ``out``.

    ``stream``: read the data a batch at a time (a ``.npy`` file, memory-mapped; an image folder;
    WebDataset shards, which always stream); None streams shards, and a ``.npy`` file larger than
    the in-memory budget as float32. ``workers``: processes decoding streamed images (None: by the
    machine's cores). ``resume`` continues from the checkpoint of an interrupted run."""

    model: CodeModel
    data: DataOptions
    out: str | os.PathLike
    resume: bool = False
    overwrite: bool = False
    stream: bool | None = None
    workers: int | None = None

    def __post_init__(self):
        """Checked when made, before any data is read or any process started: the output, and
        every setting of the model."""
        on_main(check_output, self.out, self.overwrite)
        self.model.validate_params()


@dataclass
class TrainResult:
    model: CodeModel
    out: Path
    streamed: bool
    lines: list[str] = field(default_factory=list)  # what training chose and did, and the error beside PCA's


def train(request: TrainRequest, log: Callable[[str], None] | None = None) -> TrainResult:
    """Run ``request``; ``log`` hears what is read before training starts (rank 0 only). On every
    rank of a distributed run this trains the same model; rank 0 alone writes and measures."""
    say = log if log is not None and world().is_main else (lambda line: None)
    model = request.model
    if request.stream or (request.stream is None and not isinstance(model, PCA) and _streams_by_itself(request, say)):
        return _train_streamed(request, say)
    if request.workers is not None:
        raise ParameterError(
            "--workers has no meaning for data read into memory (they decode streamed images: --stream); leave it out"
        )
    ds = request.data.load()
    say(f"data: {ds!r}")
    fit_kw = {} if isinstance(model, PCA) else {"y": ds.train.y}
    fit_to_folder(
        model,
        request.out,
        ds.train.X,
        image_shape=ds.image_shape,
        resume=request.resume,
        overwrite=request.overwrite,
        **fit_kw,
    )
    result = TrainResult(model, Path(request.out), streamed=False)
    if not world().is_main:
        return result
    if not isinstance(model, PCA):
        result.lines += training_report(model, len(ds.train))
    line = f"test reconstruction error: {model.reconstruction_error(ds.test.X):.4f} per sample"
    if not isinstance(model, PCA):
        twin = pca_twin(model, ds)
        note = twin_note(model, twin)
        line += f" (PCA-{twin.code_size}: {twin.reconstruction_error(ds.test.X):.4f}{'; ' + note if note else ''})"
    result.lines.append(line)
    return result


def _streams_by_itself(request: TrainRequest, say) -> bool:
    """Whether the data trains streamed without being asked: WebDataset shards always do, and a .npy
    file that would take more than the in-memory budget as float32 (read from its header)."""
    from ..datasets import is_shards, open_memmap

    data = request.data.data
    if is_shards(data):
        return True
    if not (data.endswith(".npy") and Path(data).is_file()):
        return False
    X = open_memmap(data)
    if not torch_base.over_memory_budget(X):
        return False
    say(
        f"data: {data} would take {X.size * 4 / 2**30:.1f} GiB in memory as float32 (more than "
        f"{torch_base.STREAM_ABOVE_BYTES / 2**30:.0f} GiB): streaming it, as --stream does"
    )
    return True


def _train_streamed(request: TrainRequest, say) -> TrainResult:
    """Every row of a memory-mapped .npy, or every sample of an image folder or of WebDataset
    shards, trains (the validation share inside training is the hold-out); the error is reported
    on a seeded sample of training rows, beside PCA fitted on them."""
    from ..datasets import ImageRows, ShardRows, is_shards, open_memmap

    model, data = request.model, request.data.data
    if isinstance(model, PCA):
        raise AelabError("PCA reads its data in memory; drop --stream, or stream an auto-encoder")
    if is_shards(data) or Path(data).is_dir():
        shards = is_shards(data)
        X = (ShardRows if shards else ImageRows)(data, image_size=request.data.image_size, workers=request.workers)
        where = f" in {len(X.shards)} WebDataset shard{'s' if len(X.shards) != 1 else ''}" if shards else ""
        decoders = (
            f"{X.workers} worker process{'es' if X.workers != 1 else ''}" if X.workers else "the training process"
        )
        what = f"{X.describe()}{where}, decoded in {decoders}"
    else:
        if request.workers is not None:
            raise ParameterError(
                "--workers has no meaning for a memory-mapped .npy file (its rows need no decoding); leave it out"
            )
        X = open_memmap(data)
        if np.issubdtype(X.dtype, np.integer) and X.dtype != np.uint8:
            raise AelabError(f"--stream reads uint8 pixels or real numbers, not {X.dtype}; convert {data} first")
        what = f"{len(X)} samples of shape {X.shape[1:]} ({X.dtype}), memory-mapped"
    say(f"data: {data}: {what}")
    fit_to_folder(model, request.out, X, stream=True, resume=request.resume, overwrite=request.overwrite)
    result = TrainResult(model, Path(request.out), streamed=True)
    if not world().is_main:
        return result
    result.lines += training_report(model, len(X))
    rows = np.sort(np.random.default_rng(0).permutation(len(X))[:STREAM_REPORT_ROWS])
    sample = np.asarray(X[rows])  # uint8 pixels are scaled by the models as the loaders scale them
    size = min(model.code_size, len(sample), model.n_features_in_)
    twin = PCA(n_components=size).fit(sample, image_shape=model.image_shape_)
    result.lines.append(
        f"reconstruction error on {len(rows)} training samples: {model.reconstruction_error(sample):.4f} per sample "
        f"(PCA-{twin.code_size} fitted on them: {twin.reconstruction_error(sample):.4f})"
    )
    return result


def training_report(model, n_train: int) -> list[str]:
    """What a training run chose and did, and a warning when it could hardly learn."""
    stop = " (stopped early)" if model.stopped_early_ else ""
    chosen = [
        f"{n} {v}"
        for n, v, given in (
            ("epochs", model.epochs_, model.epochs),
            ("batch size", model.batch_size_, model.batch_size),
            ("patience", model.patience_, model.patience),
            (
                "hidden layers",
                "-".join(map(str, getattr(model, "hidden_layer_sizes_", []))),
                getattr(model, "hidden_layer_sizes", None),
            ),
        )
        if given == "auto"
    ]
    chosen = f" ({', '.join(chosen)}: chosen for {n_train} training samples)" if chosen else ""
    lines = [
        f"trained {model.n_epochs_} epochs{stop} of {model.steps_per_epoch_} batches of {model.batch_size_} in "
        f"{model.training_seconds_:.0f} s{chosen}; best validation epoch: {model.best_epoch_}",
        terms_line(model.history_[-1]),
    ]
    if warning := model.training_warning():
        lines.append(f"warning: {warning}")
    return lines


def terms_line(record: dict) -> str:
    """The last epoch's loss split into its terms: ``loss 80.1 = reconstruction 79.9 + sparse 0.2``."""
    terms = [k for k in record if k not in ("epoch", "loss", "val_loss", "seconds", "samples_per_s", "lr")]
    line = f"last epoch: training loss {record['loss']:.4g}"
    if terms:
        line += " (" + ", ".join(f"{k} {record[k]:.4g}" for k in terms) + ")"
    if "val_loss" in record:
        line += f"; validation loss {record['val_loss']:.4g}"
    return line
