"""Collections read in batches, for data sets larger than memory: a memory-mapped .npy array, a
folder of images or WebDataset shards, read a batch of rows (or files) at a time. :class:`ImageRows`
offers a folder of images to training as an array of rows that are decoded when they are asked
for (as :class:`aelab.datasets.ShardRows` offers shards).

Unlike :func:`aelab.datasets.load`, a stream has no train/test split: it is every sample, in
order, as ``aelab index --stream`` indexes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from .arrays import array_image_shape, open_memmap
from .images import collect_images, image_format, image_header, read_images
from .rows import DecodedRows
from .shards import ShardRows, is_shards


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
    """A stream over a ``.npy`` file (memory-mapped), an image folder (labels from sub-folders) or
    WebDataset shards."""
    path = Path(spec)
    if path.suffix == ".npy" and path.is_file():
        return _npy_stream(path)
    if is_shards(path):
        return _rows_stream(ShardRows(path, image_size))
    if path.is_dir():
        return _rows_stream(ImageRows(path, image_size))
    raise DataError(
        f"--stream reads a .npy file, a folder of images or WebDataset shards, not {spec!r}; drop --stream to load "
        "other data into memory"
    )


def _npy_stream(path: Path) -> Stream:
    arr = open_memmap(path)
    shape = array_image_shape(arr)
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


def _rows_stream(rows: DecodedRows) -> Stream:
    files = getattr(rows, "files", None)
    return Stream(
        rows.name,
        len(rows),
        rows.shape[1],
        rows.image_shape,
        labels=rows.labels,
        paths=None if files is None else [str(f) for f in files],
        _read=lambda start, stop: rows[start:stop],
    )


class ImageRows(DecodedRows):
    """The images of a folder (``collect_images``'s order: sub-folder by sub-folder) as rows in [0, 1],
    decoded as the in-memory loader decodes them, so training from it sees the pixels and batches
    an in-memory run sees."""

    def __init__(self, folder, image_size: tuple[int, int] | None = None, workers: int | None = None):
        folder = Path(folder)
        self.files, self.labels = collect_images(folder)
        if not self.files:
            raise DataError(f"{folder} holds no image files")
        self.name = folder.name
        sizes = [image_header(f) for f in self.files]
        self.image_size, self.colour, self.image_shape = image_format(folder, sizes, image_size)
        self.shape = (len(self.files), int(np.prod(self.image_shape)))
        self.workers = self.default_workers(workers)

    def _decode(self, index: np.ndarray) -> np.ndarray:
        return read_images([self.files[i] for i in index], image_size=self.image_size, colour=self.colour)[0]
