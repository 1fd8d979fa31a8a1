"""Jobs over a trained model and a collection: encode it (``aelab encode``), draw its
reconstructions (``aelab reconstruct``), evaluate it beside PCA (``aelab evaluate``); and train a
classifier whose layers come from an auto-encoder or from pre-training (``aelab classify``)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets import Dataset, keep_labels
from ..errors import AelabError, DataError, require
from ..models import Classifier, CodeModel, fit_to_folder, squared_error
from ..models import load as load_model
from ..report import confusion_matrix_figure, evaluate_model, reconstruction_figure, save_figure
from ..storage import atomic_path, check_output
from .data import DataOptions


def code_model(path) -> CodeModel:
    """The model of a folder, which must have codes (an auto-encoder, PCA, ...)."""
    model = load_model(path)
    if not isinstance(model, CodeModel):
        raise DataError(f"{path} holds a {type(model).__name__}, not a model with codes (an auto-encoder or PCA)")
    return model


def code_model_and_data(path, data: DataOptions) -> tuple[CodeModel, Dataset]:
    """The model of a folder and the data set of ``data``, checked to fit each other (a data set
    of rows takes the model's image shape)."""
    model = code_model(path)
    ds = data.load()
    model.check_n_features(ds.n_features, f"--data {data.data}")
    if ds.image_shape is None:
        ds.image_shape = model.image_shape_
    return model, ds


# --- aelab encode --------------------------------------------------------------------------------
@dataclass
class EncodeRequest:
    """The codes of a split of ``data`` under the model of ``model``, saved to ``out``: a ``.npy``
    array, or a ``.parquet`` table with each item's id, label and path (see
    :mod:`aelab.search.parquet`), written a batch at a time; ``stream`` reads the whole collection
    (a ``.npy`` file, an image folder, shards) a batch at a time instead of loading a split."""

    model: str | os.PathLike
    data: DataOptions
    out: str | os.PathLike
    split: str = "test"
    overwrite: bool = False
    stream: bool = False
    batch_size: int = 8192

    def __post_init__(self):
        if self.stream and not self.parquet:
            raise AelabError("--stream writes the codes a batch at a time into a table: give --out FILE.parquet")

    @property
    def parquet(self) -> bool:
        return Path(self.out).suffix.lower() == ".parquet"


@dataclass
class EncodeResult:
    out: Path
    n: int
    code_size: int


def encode(request: EncodeRequest) -> EncodeResult:
    """Write the codes atomically."""
    check_output(request.out, request.overwrite)
    if request.parquet:
        return _encode_table(request)
    model, ds = code_model_and_data(request.model, request.data)
    codes = model.transform(ds.split(request.split).X)
    with atomic_path(request.out, request.overwrite) as tmp, open(tmp, "wb") as fh:
        np.save(fh, codes)
    return EncodeResult(Path(request.out), len(codes), codes.shape[1])


def _encode_table(request: EncodeRequest) -> EncodeResult:
    from ..search import item_prefix
    from ..search.collection import item_batches, progress_bar
    from ..search.parquet import CodeBatch, write_codes

    require("pyarrow", "export")
    model = code_model(request.model)
    source = request.data.open(request.split, request.stream)
    model.check_n_features(source.n_features, f"--data {request.data.data}")
    prefix = item_prefix("all" if request.stream else request.split, request.stream)

    def batches():
        with contextlib.closing(progress_bar(source.n, "encoding")) as bar:
            for X, ids, paths, labels in item_batches(source, prefix, request.batch_size):
                bar.update(len(X))
                yield CodeBatch(model.transform(X), ids, labels, paths)

    about = {"model": type(model).__name__, "data": request.data.data, "split": request.split}
    binary = bool(getattr(model, "binary", False))
    n = write_codes(request.out, batches(), binary=binary, about=about, overwrite=request.overwrite)
    return EncodeResult(Path(request.out), n, model.code_size)


# --- aelab export --------------------------------------------------------------------------------
EXPORT_FORMATS = ("onnx",)


@dataclass
class ExportRequest:
    """The model of the folder ``model`` as graphs for other runtimes, written to the folder ``out``."""

    model: str | os.PathLike
    out: str | os.PathLike
    format: str = "onnx"
    overwrite: bool = False


def export(request: ExportRequest) -> Path:
    """Write the export (checked against the model before it appears); returns its folder."""
    if request.format not in EXPORT_FORMATS:
        raise AelabError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not {request.format!r}")
    check_output(request.out, request.overwrite)
    model = load_model(request.model)
    if not hasattr(model, "export_onnx"):
        raise AelabError(
            f"{request.model} holds a {type(model).__name__}; ONNX export takes a trained auto-encoder "
            "(aelab train --model autoencoder or conv)"
        )
    return model.export_onnx(request.out, request.overwrite)


# --- aelab reconstruct ---------------------------------------------------------------------------
@dataclass
class ReconstructRequest:
    """A figure of ``n`` items of a split beside their reconstructions; ``noise`` (``kind:level``)
    corrupts them first (None: the noise a denoising model trained with, else none)."""

    model: str | os.PathLike
    data: DataOptions
    out: str | os.PathLike
    split: str = "test"
    n: int = 10
    noise: str | None = None
    seed: int = 0
    overwrite: bool = False


@dataclass
class ReconstructResult:
    out: Path
    noise: str | None
    noisy_error: float | None = None  # squared error per sample of the noisy inputs, against the clean ones
    error: float | None = None  # the same of their reconstructions


def reconstruct(request: ReconstructRequest) -> ReconstructResult:
    check_output(request.out, request.overwrite)
    model, ds = code_model_and_data(request.model, request.data)
    X = ds.split(request.split).X[: max(1, request.n)]
    trained_with = getattr(getattr(model, "regularization_", None), "denoise", None)  # "auto" resolved
    noise = request.noise if request.noise is not None else (str(trained_with) if trained_with else None)
    name = Path(request.model).name
    result = ReconstructResult(Path(request.out), noise)
    if noise in (None, "", "none"):
        rows = {name: model.reconstruct(X)}
        result.noise = None
    else:
        if not hasattr(model, "denoise_reconstruct"):
            raise AelabError(f"--noise needs an auto-encoder; {request.model} holds a {type(model).__name__}")
        noisy, recon = model.denoise_reconstruct(X, noise, seed=request.seed)
        rows = {f"noisy ({noise})": noisy, name: recon}
        result.noisy_error, result.error = squared_error(noisy, X), squared_error(recon, X)
    save_figure(reconstruction_figure(X, rows, ds.image_shape), request.out, request.overwrite)
    return result


# --- aelab evaluate ------------------------------------------------------------------------------
@dataclass
class EvaluateRequest:
    """The model beside PCA of its code size on the same data: ``metrics.json``, figures and an
    HTML report in ``out`` (None: ``MODEL-evaluation``)."""

    model: str | os.PathLike
    data: DataOptions
    out: str | os.PathLike | None = None
    overwrite: bool = False


@dataclass
class EvaluateResult:
    data: str  # the data set, in a line
    table: str
    sentences: list[str]
    out: Path


def evaluate(request: EvaluateRequest) -> EvaluateResult:
    if request.out:
        check_output(request.out, request.overwrite)
    model, ds = code_model_and_data(request.model, request.data)
    found = evaluate_model(model, ds, str(request.model), request.out, request.overwrite)
    return EvaluateResult(repr(ds), found["table"], found["sentences"], Path(found["out"]))


# --- aelab classify ------------------------------------------------------------------------------
@dataclass
class ClassifyRequest:
    """Train ``model`` (a :class:`aelab.Classifier`) on the labelled training split of ``data``
    (``n_labels``: only that many labels, the other samples unlabelled, which greedy pre-training
    still uses) into ``out``, with its test accuracy and confusion matrix."""

    model: Classifier
    data: DataOptions
    out: str | os.PathLike
    n_labels: int | None = None
    resume: bool = False
    overwrite: bool = False


@dataclass
class ClassifyResult:
    model: Classifier
    out: Path
    n_labelled: int
    n_unlabelled: int | None
    accuracy: float
    n_test: int
    start: str  # where the hidden layers came from


def classify(request: ClassifyRequest, log=None) -> ClassifyResult:
    """Run ``request``; ``log`` hears what is read before training starts."""
    out = check_output(request.out, request.overwrite)
    model = request.model
    model.validate_params()
    ds = request.data.load()
    if ds.train.y is None or ds.test.y is None:
        raise AelabError(f"--data {request.data.data} has no labels; classify needs labelled training and test samples")
    X, y, unlabelled = ds.train.X, ds.train.y, None
    if request.n_labels is not None:
        X, y, unlabelled = keep_labels(X, y, request.n_labels, model.random_state)
    if log is not None:
        log(
            f"data: {ds!r}; {len(X)} labelled training samples"
            + (f", {len(unlabelled)} unlabelled" if unlabelled is not None else "")
        )
    fit_to_folder(
        model,
        out,
        X,
        y,
        X_unlabelled=unlabelled if model.pretrain else None,
        resume=request.resume,
        overwrite=request.overwrite,
    )
    predicted = model.predict(ds.test.X)
    accuracy = float((predicted == ds.test.y).mean())
    start = "random weights"
    if model.init or model.pretrain:
        start = f"the encoder of {model.init}" if model.init else "greedy pre-training"
    figure = confusion_matrix_figure(
        ds.test.y, predicted, ds.classes, title=f"{ds.name}: test accuracy {accuracy:.4f} ({start})"
    )
    save_figure(figure, out / "confusion-matrix.png", overwrite=True)
    n_unlabelled = None if unlabelled is None else len(unlabelled)
    return ClassifyResult(model, Path(out), len(X), n_unlabelled, accuracy, len(predicted), start)
