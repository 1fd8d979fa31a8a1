"""Collections read in batches, for data sets larger than memory: a memory-mapped .npy array or a
folder of images, read a batch of rows (or files) at a time.

Unlike :func:`aelab.datasets.load`, a stream has no train/test split: it is every sample, in
order, as ``aelab index --stream`` indexes it.
"""

from __future__ import annotations

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
    files, labels = _collect(folder)
    if not files:
        raise DataError(f"{folder} holds no image files")
    modes, sizes = set(), set()
    for f in files:  # headers only: cheap, and every file is checked before anything is indexed
        mode, size = image_header(f)
        modes.add(mode)
        sizes.add(size)
    if image_size is None:
        if len(sizes) > 1:
            raise DataError(f"the images of {folder} differ in size; pass --image-size HxW to resize them all")
        width, height = next(iter(sizes))
        image_size = (height, width)
    colour = any(mode not in _GREY_MODES for mode in modes)
    shape = (*image_size, 3) if colour else tuple(image_size)

    def read(start: int, stop: int) -> np.ndarray:
        return read_images(files[start:stop], image_size=image_size, colour=colour)[0]

    return Stream(
        folder.name, len(files), int(np.prod(shape)), shape, labels=labels, paths=[str(f) for f in files], _read=read
    )
