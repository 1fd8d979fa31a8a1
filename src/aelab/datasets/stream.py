"""Collections read in batches, for data sets larger than memory: a memory-mapped .npy array or a
folder of images, read a batch of rows (or files) at a time. :class:`ImageRows` offers a folder
of images to training as an array of rows that are decoded when they are asked for.

Unlike :func:`aelab.datasets.load`, a stream has no train/test split: it is every sample, in
order, as ``aelab index --stream`` indexes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from .arrays import _image_shape, open_memmap
from .images import _GREY_MODES, _collect, image_header, read_images


@dataclass
class Stream:
    """``n`` samples of ``n_features`` values, read ``rows(start, stop)`` at a time as float32."""

    name: str
    n: int
    n_features: int
    image_shape: tuple[int, ...] | None
    labels: list | None = None
    paths: list[str] | None = None
    _read: object = field(default=None, repr=False)

    def rows(self, start: int, stop: int) -> np.ndarray:
        X = self._read(start, min(stop, self.n))
        if not np.isfinite(X).all():
            raise DataError(f"{self.name} has NaN or infinite values in rows {start}-{stop - 1}; clean the data")
        return X

    def batches(self, size: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, rows)`` for consecutive batches of ``size``."""
        for start in range(0, self.n, size):
            yield start, self.rows(start, start + size)


def open_stream(spec: str, image_size: tuple[int, int] | None = None) -> Stream:
    """A stream over a ``.npy`` file (memory-mapped) or an image folder (labels from sub-folders)."""
    path = Path(spec)
    if path.suffix == ".npy" and path.is_file():
        return _npy_stream(path)
    if path.is_dir():
        return _image_stream(path, image_size)
    raise DataError(
        f"--stream reads a .npy file or a folder of images, not {spec!r}; drop --stream to load other data into memory"
    )


def _npy_stream(path: Path) -> Stream:
    arr = open_memmap(path)
    shape = _image_shape(arr)
    top = None
    if np.issubdtype(arr.dtype, np.integer):  # pixels, scaled to [0, 1] as the in-memory loader does
        top = (
            255.0
            if arr.dtype == np.uint8
            else max((float(arr[i : i + 65536].max()) for i in range(0, len(arr), 65536)), default=0.0)
        )
        top = 255.0 if top <= 255 else float(np.iinfo(arr.dtype).max)
    n_features = int(np.prod(arr.shape[1:]))

    def read(start: int, stop: int) -> np.ndarray:
        X = np.asarray(arr[start:stop], dtype=np.float32).reshape(stop - start, n_features)
        return X / top if top else X

    return Stream(path.name, len(arr), n_features, shape, _read=read)


def _image_stream(folder: Path, image_size: tuple[int, int] | None) -> Stream:
    images = ImageRows(folder, image_size)
    return Stream(
        images.name,
        len(images),
        images.shape[1],
        images.image_shape,
        labels=images.labels,
        paths=[str(f) for f in images.files],
        _read=lambda start, stop: images[start:stop],
    )


def _image_format(folder: Path, files: list[Path], image_size: tuple[int, int] | None):
    """The size, colour and shape every image of ``files`` is read in, from their headers alone
    (cheap, and every file is checked before any pixel is decoded)."""
    modes, sizes = set(), set()
    for f in files:
        mode, size = image_header(f)
        modes.add(mode)
        sizes.add(size)
    if image_size is None:
        if len(sizes) > 1:
            raise DataError(f"the images of {folder} differ in size; pass --image-size HxW to resize them all")
        width, height = next(iter(sizes))
        image_size = (height, width)
    colour = any(mode not in _GREY_MODES for mode in modes)
    return image_size, colour, ((*image_size, 3) if colour else tuple(image_size))


class ImageRows:
    """The images of a folder (``_collect``'s order: sub-folder by sub-folder) as an array of
    float32 rows in [0, 1] that is never in memory whole: ``rows[i]``, ``rows[a:b]`` or
    ``rows[[i, j, ...]]`` decode those images, as the in-memory loader decodes them, so training
    from it sees the pixels and batches an in-memory run sees. Training decodes its batches in
    ``workers`` DataLoader processes (:class:`aelab.training.loop.Rows`)."""

    read_in_batches = True  # estimators stream it (:meth:`aelab.models.AutoEncoder.fit`)
    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, folder, image_size: tuple[int, int] | None = None, workers: int | None = None):
        folder = Path(folder)
        self.files, self.labels = _collect(folder)
        if not self.files:
            raise DataError(f"{folder} holds no image files")
        self.name = folder.name
        self.image_size, self.colour, self.image_shape = _image_format(folder, self.files, image_size)
        self.shape = (len(self.files), int(np.prod(self.image_shape)))
        self.workers = min(4, max(1, (os.cpu_count() or 2) - 1)) if workers is None else workers

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            picked = self.files[key]
        else:
            index = np.asarray(key)
            picked = [self.files[i] for i in index.reshape(-1)]
        if not picked:
            return np.zeros((0, self.shape[1]), np.float32)
        X = read_images(picked, image_size=self.image_size, colour=self.colour)[0]
        return X[0] if not isinstance(key, slice) and np.ndim(key) == 0 else X

    def reshape(self, *shape):
        """Itself, for ``reshape(len(rows), -1)`` (it is rows already)."""
        if tuple(shape) not in ((len(self), -1), self.shape):
            raise ValueError(f"ImageRows are rows of {self.shape[1]} values; they do not reshape to {shape}")
        return self

    def __repr__(self) -> str:
        return f"ImageRows({self.name!r}: {len(self)} images of {'x'.join(map(str, self.image_shape))})"
