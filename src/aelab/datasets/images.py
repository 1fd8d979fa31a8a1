"""Folders of images: one sub-folder per label (or none, for unlabelled images).

Grey images stay one channel; if any image has colour, all become RGB. Every image must have the
same size unless ``image_size`` asks for them to be resized. A folder with ``train/`` and ``test/``
sub-folders is taken as its own split.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import limits
from ..errors import DataError
from ..validation import as_samples
from .base import Dataset, Split, hold_out, natural_sorted

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pbm", ".pnm", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _collect(folder: Path) -> tuple[list[Path], list[str] | None]:
    """Image files, and their labels (sub-folder names) when the folder has sub-folders."""
    subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    top = sorted(f for f in folder.iterdir() if f.is_file() and is_image_file(f))
    if not subdirs:
        return top, None
    if top:
        raise DataError(
            f"{folder} has images both at its top level ({top[0].name}) and in sub-folders; put every "
            "image in a sub-folder named after its label, or all of them at the top level"
        )
    files, labels = [], []
    for d in subdirs:
        for f in sorted(p for p in d.rglob("*") if p.is_file() and is_image_file(p)):
            files.append(f)
            labels.append(d.name)
    return files, labels


@contextlib.contextmanager
def _opened(path: Path | str, what: str = "remove or replace it", data: bytes | None = None) -> Iterator[Image.Image]:
    """An image file opened (its header read), refused in one line when it cannot be read or when
    it has more pixels than :mod:`aelab.limits` allows (before any pixel is decoded). ``data``: the
    file's bytes, read already (a member of a shard, ``path`` naming it in messages)."""
    limit = limits.current().image_pixels
    pil_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, limit  # PIL's own bomb check, at our limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path if data is None else io.BytesIO(data))
    except Image.DecompressionBombError:
        img = None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path} cannot be read as an image ({exc.__class__.__name__}); {what}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pil_limit
    if img is None:
        limits.check("image_pixels", limit + 1, f"{path} has more pixels than an image may have")
    with img:
        limits.check("image_pixels", img.size[0] * img.size[1], f"{path} is {img.size[1]}x{img.size[0]} pixels")
        yield img


def image_header(
    path: Path | str, what: str = "remove or replace it", data: bytes | None = None
) -> tuple[str, tuple[int, int]]:
    """An image file's mode and (width, height), read from its header alone (see :func:`_opened`)."""
    with _opened(path, what, data) as img:
        return img.mode, img.size


def _read(path: Path | str, colour: bool, size: tuple[int, int] | None, data: bytes | None = None) -> np.ndarray:
    with _opened(path, data=data) as img:
        try:
            img.load()
        except (OSError, ValueError) as exc:
            raise DataError(
                f"{path} cannot be read as an image ({exc.__class__.__name__}); remove or replace it"
            ) from None
        return _pixels(img, colour, size)


def _pixels(img: Image.Image, colour: bool, size: tuple[int, int] | None) -> np.ndarray:
    if colour:
        img = img.convert("RGB")
    elif img.mode.startswith("I") or img.mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        img = Image.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.uint8))
    else:
        img = img.convert("L")
    if size is not None and img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0


def image_format(source, headers: list[tuple[str, tuple[int, int]]], image_size: tuple[int, int] | None):
    """The size, colour and shape every image is read in, from their headers (mode, (width,
    height)) alone: cheap, and every image is checked before any pixel is decoded."""
    modes = {mode for mode, _ in headers}
    sizes = {size for _, size in headers}
    if image_size is None:
        if len(sizes) > 1:
            raise DataError(f"the images of {source} differ in size; pass --image-size HxW to resize them all")
        width, height = next(iter(sizes))
        image_size = (height, width)
    colour = any(mode not in _GREY_MODES for mode in modes)
    return image_size, colour, ((*image_size, 3) if colour else tuple(image_size))


def resize_pixels(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An image of float pixels (height x width [x channels]) resized to ``size`` with the filter
    the image loader uses (bilinear), channel by channel, in float precision."""
    channels = image[..., None] if image.ndim == 2 else image
    out = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(channels[..., c], np.float32), mode="F").resize(
                (size[1], size[0]), Image.Resampling.BILINEAR
            )
        )
        for c in range(channels.shape[-1])
    ]
    return out[0] if image.ndim == 2 else np.stack(out, -1)


def read_images(
    files: list[Path], image_size: tuple[int, int] | None = None, colour: bool | None = None
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Read image files into rows of float32 in [0, 1], and return them with the image shape."""
    if not files:
        raise DataError("no images to read")
    headers = [image_header(f) for f in files]
    if colour is None:
        colour = any(mode not in _GREY_MODES for mode, _ in headers)
    if image_size is None:
        sizes = {size for _, size in headers}
        if len(sizes) > 1:
            first = headers[0][1]
            other = next(i for i, (_, s) in enumerate(headers) if s != first)
            raise DataError(
                f"images differ in size ({first[0]}x{first[1]} in {files[0].name}, "
                f"{headers[other][1][0]}x{headers[other][1][1]} in {files[other].name}); "
                "pass --image-size HxW to resize them all to one size"
            )
        w, h = headers[0][1]
        image_size = (h, w)
    X = np.stack([_read(f, colour, image_size) for f in files])
    shape = tuple(X.shape[1:])
    return as_samples(X.reshape(len(X), -1), "images"), shape


def load_image_folder(folder: Path, test_size: float, seed: int, image_size: tuple[int, int] | None = None) -> Dataset:
    parts = {p: folder / p for p in ("train", "test")}
    if all(d.is_dir() for d in parts.values()):
        found = {p: _collect(d) for p, d in parts.items()}
        for p, (files, _) in found.items():
            if not files:
                raise DataError(f"{parts[p]} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        all_files = found["train"][0] + found["test"][0]
        X, shape = read_images(all_files, image_size)
        n_train = len(found["train"][0])
        labelled = found["train"][1] is not None and found["test"][1] is not None
        classes = natural_sorted(found["train"][1] + found["test"][1]) if labelled else None
        y = np.array(found["train"][1] + found["test"][1]) if labelled else None
        ids = np.array([str(f) for f in all_files])
        return Dataset(
            folder.name,
            Split(X[:n_train], None if y is None else y[:n_train], ids[:n_train]),
            Split(X[n_train:], None if y is None else y[n_train:], ids[n_train:]),
            image_shape=shape,
            classes=classes,
            info={"split": "the folder's own train/ and test/"},
        )
    files, labels = _collect(folder)
    if not files:
        raise DataError(
            f"{folder} holds no images or data files; expected image files ({', '.join(sorted(IMAGE_SUFFIXES))}) "
            "in sub-folders named after their labels, or the four MNIST IDX files"
        )
    X, shape = read_images(files, image_size)
    classes = y = None
    if labels is not None:
        classes, y = natural_sorted(labels), np.array(labels)
    return hold_out(
        folder.name, X, y, test_size, seed, ids=np.array([str(f) for f in files]), image_shape=shape, classes=classes
    )
