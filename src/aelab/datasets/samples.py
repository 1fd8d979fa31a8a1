"""One sample read from a file, for a query or a generation end point: an image file or a ``.npy``
array, checked against what the model or index that will take it expects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataError
from .images import _GREY_MODES, is_image_file, read_images


def read_sample(
    path: str | Path,
    shape: tuple[int, ...] | None,
    n_features: int,
    holder: str = "the index holds",
    other: str = "or an item id of the index",
) -> np.ndarray:
    """One sample (a 1-row array) from an image file or a ``.npy`` array, checked against what
    ``holder`` (e.g. "the model takes") expects: ``n_features`` values, images of ``shape``.
    ``other`` names what else the caller would take instead of a file, for the error message."""
    path = Path(path)
    if path.suffix == ".npy":
        try:
            X = np.load(path, allow_pickle=False).astype(np.float32)
        except (ValueError, OSError) as exc:
            raise DataError(f"{path} is not a readable .npy array ({exc})") from None
        X = X.reshape(1, -1)
    elif is_image_file(path):
        X = _read_image(path, shape, holder)
    else:
        raise DataError(f"{path} is neither an image file nor a .npy array; give an image, a .npy file {other}")
    if X.shape[1] != n_features:
        where = f" ({'x'.join(map(str, shape))} images)" if shape else ""
        raise DataError(f"the query {path} has {X.shape[1]} values but {holder} samples of {n_features}{where}")
    return X


def _read_image(path: Path, shape, holder: str) -> np.ndarray:
    try:
        with Image.open(path) as img:
            mode, (width, height) = img.mode, img.size
    except (UnidentifiedImageError, OSError):
        raise DataError(f"{path} cannot be read as an image; give an image file, a .npy file or an item id") from None
    if shape is not None:
        channels = shape[2] if len(shape) == 3 else 1
        colour = mode not in _GREY_MODES  # the same rule as the image-folder loader
        if (height, width) != tuple(shape[:2]):
            raise DataError(
                f"the query image {path} is {height}x{width} but {holder} {shape[0]}x{shape[1]} images; resize it first"
            )
        if colour != (channels == 3):
            raise DataError(
                f"the query image {path} is {'colour' if colour else 'grey'} but {holder} "
                f"{'colour' if channels == 3 else 'grey'} images"
            )
        return read_images([path], colour=channels == 3)[0]
    return read_images([path])[0]
