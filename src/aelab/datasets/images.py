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
from .walk import collection_entry, collection_files

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pbm", ".pnm", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
#: Pillow modes of grey images (any other mode makes a collection colour)
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def collect_images(folder: Path) -> tuple[list[Path], list[str] | None]:
    """Image files, and their labels (the names of the sub-folders they are in) when the folder
    has sub-folders of images; found by :func:`aelab.datasets.walk.collection_files`."""
    files = [f for f in collection_files(folder) if is_image_file(f)]
    top = [f for f in files if f.parent == folder]
    if len(top) == len(files):
        return top, None
    if top:
        raise DataError(
            f"{folder} has images both at its top level ({top[0].name}) and in sub-folders; put every "
            "image in a sub-folder named after its label, or all of them at the top level"
        )
    return files, [f.relative_to(folder).parts[0] for f in files]


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


def read_image(path: Path | str, colour: bool, size: tuple[int, int] | None, data: bytes | None = None) -> np.ndarray:
    """One image file (or its bytes, ``data``) as float32 pixels in [0, 1], grey or ``colour``,
    resized to ``size``; refused in one line unless it decodes whole and every pixel is a number."""
    with _opened(path, data=data) as img:
        try:
            img.load()
        except (OSError, ValueError) as exc:
            raise DataError(
                f"{path} cannot be read as an image ({exc.__class__.__name__}); remove or replace it"
            ) from None
        if img.format == "PNG":
            _check_png_complete(path, data, img.size)
        return _pixels(img, colour, size, path)


#: channels of each PNG colour type (grey, RGB, palette, grey + alpha, RGBA)
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _check_png_complete(path, data: bytes | None, size: tuple[int, int]) -> None:
    """Refuse a PNG whose image data end before its last row: Pillow fills the missing rows with
    zeros and says nothing (a header that claims 10000 x 5000 pixels over data for 50 rows), so
    the rows are counted here, by inflating its data no further than the header's size."""
    import zlib

    raw = data if data is not None else Path(path).read_bytes()
    pos, header, inflate, got = 8, None, zlib.decompressobj(), 0
    while pos + 8 <= len(raw):
        length, kind = int.from_bytes(raw[pos : pos + 4], "big"), raw[pos + 4 : pos + 8]
        body = raw[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR" and len(body) >= 13:
            header = body[8], body[9], body[12]  # bit depth, colour type, interlace
        elif kind == b"IDAT" and header is not None:
            try:
                got += len(inflate.decompress(body, _png_bytes(size, *header) + 1 - got))
            except zlib.error:
                break
        elif kind == b"IEND":
            break
    if header is None or got < _png_bytes(size, *header):
        raise DataError(f"{path} cannot be read as an image (its image data end before its last row); replace it")


def _png_bytes(size: tuple[int, int], depth: int, colour_type: int, interlace: int) -> int:
    """The inflated size of a PNG's image data: each row of each pass, and its filter byte."""
    width, height = size
    bits = depth * _PNG_CHANNELS.get(colour_type, 4)
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        w, h = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if w > 0 and h > 0:
            total += h * (1 + -(-w * bits // 8))
    return total


def _pixels(img: Image.Image, colour: bool, size: tuple[int, int] | None, path="the image") -> np.ndarray:
    if img.mode in ("F", "I", "I;16", "I;16B", "I;16L") and not np.isfinite(np.asarray(img, dtype=np.float32)).all():
        raise DataError(f"{path} holds pixels that are not numbers (NaN or infinite); replace it")
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
    colour = any(mode not in GREY_MODES for mode in modes)
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
        colour = any(mode not in GREY_MODES for mode, _ in headers)
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
    X = np.stack([read_image(f, colour, image_size) for f in files])
    shape = tuple(X.shape[1:])
    return as_samples(X.reshape(len(X), -1), "images"), shape


def load_image_folder(folder: Path, test_size: float, seed: int, image_size: tuple[int, int] | None = None) -> Dataset:
    parts = {p: collection_entry(folder, p) for p in ("train", "test")}
    if all(d.is_dir() for d in parts.values()):
        found = {p: collect_images(d) for p, d in parts.items()}
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
    files, labels = collect_images(folder)
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
