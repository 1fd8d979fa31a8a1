"""Generation jobs: decode codes into new samples (``aelab generate``: a grid, samples from a
density of the training codes, or the line between two inputs), and judge what a model draws
(``aelab evaluate-samples``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets import read_sample
from ..errors import AelabError
from ..generate import draw, evaluate_samples, interpolate, parse_box, parse_dims
from ..models import load as load_model
from ..models.autoencoder import NeuralAutoEncoder
from ..report import generated_figure, save_figure
from ..storage import atomic_path, check_output
from .data import DataOptions


def decoder_model(path) -> NeuralAutoEncoder:
    """The model of a folder, which must be a trained auto-encoder (it has a decoder)."""
    model = load_model(path)
    if not isinstance(model, NeuralAutoEncoder):
        raise AelabError(f"{path} holds a {type(model).__name__}; generating needs a trained auto-encoder's decoder")
    return model


@dataclass
class GenerateRequest:
    """Decode codes of the model of ``model`` into a figure ``out`` (and the samples into ``npy``):
    a ``grid`` of that many points a side over ``box`` (``auto``, ``zero`` or ``x0,x1,y0,y1``) of
    the code dimensions ``dims``; or ``sample`` codes drawn from ``density`` (``gaussian``, ``gmm``
    or ``prior``) with ``seed``; or the ``steps`` codes on the line between the two inputs of
    ``interpolate`` (files, or ids like ``test:0`` of ``data``). The training codes come from
    ``data`` when given, else from those the model kept."""

    model: str | os.PathLike
    out: str | os.PathLike
    grid: int | None = None
    sample: int | None = None
    interpolate: tuple[str, str] | None = None
    box: str = "auto"
    dims: str | None = None
    density: str = "gaussian"
    seed: int = 0
    steps: int = 10
    data: DataOptions | None = None
    npy: str | os.PathLike | None = None
    overwrite: bool = False

    def __post_init__(self):
        check_output(self.out, self.overwrite)
        if self.npy:
            check_output(self.npy, self.overwrite)


@dataclass
class GenerateResult:
    images: np.ndarray
    what: str  # what was drawn, in words
    notes: list[str] = field(default_factory=list)  # how the inputs of an interpolation were read


def generate(request: GenerateRequest) -> GenerateResult:
    model = decoder_model(request.model)
    if model.image_shape_ is None:
        raise AelabError(f"{request.model} was not trained on images; generated samples are drawn as images")
    notes: list[str] = []
    if request.interpolate:
        loaded = {}  # the data set, read once for both ends
        ends = [_endpoint(model, request, spec, loaded, notes) for spec in request.interpolate]
        images, _ = interpolate(model, ends[0], ends[1], request.steps)
        cols, extra = len(images), {}
        what = f"{request.steps} steps from {request.interpolate[0]} to {request.interpolate[1]}"
    else:
        codes = labels = None
        if request.data is not None:
            ds = request.data.load()
            model.check_n_features(ds.n_features, f"--data {request.data.data}")
            codes, labels = model.transform(ds.train.X), ds.train.y
        images, cols, extra, what = draw(
            model,
            grid_size=request.grid,
            n_samples=request.sample,
            box=parse_box(request.box),
            dims=parse_dims(request.dims),
            density=request.density,
            seed=request.seed,
            codes=codes,
            labels=labels,
        )
    figure = generated_figure(images, model.image_shape_, cols, title=f"{Path(request.model).name}: {what}", **extra)
    save_figure(figure, request.out, request.overwrite)
    if request.npy:
        with atomic_path(request.npy, request.overwrite) as tmp, open(tmp, "wb") as fh:
            np.save(fh, images)
    return GenerateResult(images, what, notes)


def _endpoint(model, request: GenerateRequest, spec: str, loaded: dict, notes: list[str]):
    path = Path(spec)
    if path.exists():
        sample, note = read_sample(path, model.image_shape_, model.n_features_in_, "the model takes", "or an id")
        if note:
            notes.append(f"{path}: {note}, as the model's training images")
        return sample
    split, _, number = spec.partition(":")
    if split not in ("train", "test") or not number.isdigit():
        raise AelabError(f"{spec!r} is neither a file nor an id like test:0 or train:12")
    if request.data is None:
        raise AelabError(f"the id {spec} names a sample of --data: give --data SPEC too")
    if "ds" not in loaded:
        loaded["ds"] = request.data.load()
    X = loaded["ds"].split(split).X
    if int(number) >= len(X):
        raise AelabError(f"{spec}: the {split} split has {len(X)} samples")
    model.check_n_features(X.shape[1], f"--data {request.data.data}")
    return X[int(number)]


@dataclass
class EvaluateSamplesRequest:
    """Judge what the model of ``model`` draws (a ``grid``, or ``sample`` codes from ``density``)
    with a classifier of ``data`` (trained here, or the one in ``classifier``): the confident share,
    the entropy of the classes drawn, and the Frechet distance to the test samples. With neither
    ``grid`` nor ``sample``: a 20 x 20 grid for 2-D codes, else 1,000 samples."""

    model: str | os.PathLike
    data: DataOptions
    grid: int | None = None
    sample: int | None = None
    box: str = "auto"
    dims: str | None = None
    density: str = "gaussian"
    seed: int = 0
    classifier: str | os.PathLike | None = None
    verbose: bool = True


def judge_samples(request: EvaluateSamplesRequest) -> dict:
    """The figures of :func:`aelab.generate.evaluate_samples`, with the model's folder."""
    model = decoder_model(request.model)
    ds = request.data.load()
    grid = request.grid
    if grid is None and request.sample is None and model.code_size == 2:
        grid = 20
    figures = evaluate_samples(
        model,
        ds,
        grid_size=grid,
        n_samples=request.sample if request.sample is not None else 1000,
        box=parse_box(request.box),
        dims=parse_dims(request.dims),
        density=request.density,
        seed=request.seed,
        classifier=request.classifier,
        verbose=request.verbose,
    )
    figures["model"] = str(request.model)
    return figures
