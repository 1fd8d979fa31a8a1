"""One sample read from a file, for a query or a generation end point, the way its collection was
read: an image file through the image-folder loader (grey or colour as the collection, resized to
its size), a ``.npy`` array through the array loader (integer pixels scaled to [0, 1]), checked
against what the model or index that will take it expects."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import DataError
from .arrays import check_npy_file, rows_and_shape
from .images import GREY_MODES, image_header, is_image_file, read_images, resize_pixels


def read_sample(
    path: str | Path,
    shape: tuple[int, ...] | None,
    n_features: int,
    holder: str = "the index holds",
    other: str = "or an item id of the index",
    resize: bool = True,
) -> tuple[np.ndarray, str]:
    """One sample (a 1-row array) from an image file or a ``.npy`` array, read as a collection of
    images of ``shape`` (or of ``n_features`` values) is read, and what was done to it in words
    ("" when nothing was). Grey and colour are converted; a different image size is resized when
    ``resize``, else refused. ``holder`` (e.g. "the model takes") and ``other`` (what else the
    caller would take instead of a file) word the errors."""
    path = Path(path)
    if path.suffix == ".npy":
        X, notes = _npy_sample(path, shape, n_features, resize, holder)
    elif is_image_file(path):
        X, notes = _image_sample(path, shape, resize, holder)
    else:
        raise DataError(f"{path} is neither an image file nor a .npy array; give an image, a .npy file {other}")
    if X.shape[1] != n_features:
        where = f" ({'x'.join(map(str, shape))} images)" if shape else ""
        raise DataError(f"the query {path} has {X.shape[1]} values but {holder} samples of {n_features}{where}")
    return X, ", ".join(notes)


def _image_sample(path: Path, shape, resize: bool, holder: str):
    mode, (width, height) = image_header(path, "give an image file, a .npy file or an item id")
    if shape is None:
        return read_images([path])[0], []
    colour = len(shape) == 3
    notes = _resize_note((height, width), shape, resize, path, holder)
    if (mode not in GREY_MODES) != colour:  # the same rule as the image-folder loader
        notes.append(f"converted from {'grey' if colour else 'colour'} to {'colour' if colour else 'grey'}")
    return read_images([path], image_size=tuple(shape[:2]), colour=colour)[0], notes


def _npy_sample(path: Path, shape, n_features: int, resize: bool, holder: str):
    try:
        check_npy_file(path)
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path} is not a readable .npy array ({exc})") from None
    if arr.ndim >= 2 and arr.shape[0] > 1 and math.prod(arr.shape[1:]) == n_features:
        raise DataError(f"{path} holds {arr.shape[0]} samples; a query is one sample (save one row)")
    while arr.ndim > 1 and arr.shape[0] == 1:  # one sample, saved as a batch of one
        arr = arr[0]
    if arr.ndim <= 1:
        return rows_and_shape(arr.reshape(1, -1), str(path))[0], []
    X, own_shape = rows_and_shape(arr[None], str(path))  # one image: integer pixels scaled as in a collection
    if shape is None or own_shape is None or tuple(own_shape) == tuple(shape):
        return X, []
    image = X[0].reshape(own_shape)
    notes = _resize_note(own_shape[:2], shape, resize, path, holder)
    if image.ndim != len(shape):
        colour = len(shape) == 3
        image = np.repeat(image[..., None], 3, -1) if colour else image[..., :3] @ _LUMA
        notes.append(f"converted from {'grey' if colour else 'colour'} to {'colour' if colour else 'grey'}")
    if image.shape[:2] != tuple(shape[:2]):
        image = resize_pixels(image, tuple(shape[:2]))
    return image.reshape(1, -1).astype(np.float32), notes


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601-2, as Pillow's convert("L")


def _resize_note(size, shape, resize: bool, path: Path, holder: str) -> list[str]:
    if tuple(size) == tuple(shape[:2]):
        return []
    if not resize:
        raise DataError(
            f"the query image {path} is {size[0]}x{size[1]} but {holder} {shape[0]}x{shape[1]} images; "
            "leave out --no-resize to resize it"
        )
    return [f"resized from {size[0]}x{size[1]} to {shape[0]}x{shape[1]}"]
