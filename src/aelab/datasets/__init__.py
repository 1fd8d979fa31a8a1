"""Loading a user's data: one entry point, :func:`load`, for every source aelab reads; streams of
data larger than memory (:func:`open_stream`); one sample of a query (:func:`read_sample`).

>>> from aelab import datasets
>>> ds = datasets.load("digits")
>>> ds.train.X.shape, ds.image_shape
((1437, 64), (8, 8))
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from ..validation import as_samples
from .arrays import load_csv, load_idx_file, load_npy, load_npz, open_memmap
from .base import Dataset, Split, hold_out, keep_labels, natural_key, natural_sorted, split_rows
from .idx import find_idx_files, read_idx
from .images import collect_images, is_image_file, load_image_folder, read_image, read_images
from .named import NAMES, load_idx_folder, load_named
from .samples import read_sample
from .shards import ShardRows, is_shards, load_shards, pack_shards
from .stream import ImageRows, Stream, open_stream
from .walk import collection_entry, collection_files

__all__ = [
    "NAMES",
    "Dataset",
    "Split",
    "Stream",
    "as_samples",
    "collect_images",
    "collection_entry",
    "collection_files",
    "hold_out",
    "keep_labels",
    "load",
    "natural_key",
    "natural_sorted",
    "open_memmap",
    "open_stream",
    "ImageRows",
    "ShardRows",
    "is_shards",
    "pack_shards",
    "parse_image_size",
    "read_idx",
    "read_image",
    "read_images",
    "read_sample",
    "split_rows",
]

SPEC_HELP = (
    "digits (built in), mnist, fashion-mnist, a folder of IDX files, a folder of images (one "
    "sub-folder per label), WebDataset shards (a folder of .tar files, or one), or a .npy, .npz, .csv or IDX file"
)


def load(
    spec: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    *,
    test_size: float = 0.2,
    seed: int = 0,
    label_column: str | int | None = None,
    image_size: tuple[int, int] | None = None,
    download: bool = True,
) -> Dataset:
    """Load a data set with its train and test splits.

    Parameters
    ----------
    spec : a named data set (``digits``, ``mnist``, ``fashion-mnist``) or a path: a folder of IDX
        files, a folder of images (sub-folder name = label), WebDataset shards (a folder of ``.tar``
        files, or one; :class:`ShardRows`), or a ``.npy``, ``.npz``, ``.csv`` or IDX file.
    data_dir : where the files of ``mnist`` / ``fashion-mnist`` are; by default the cache folder,
        downloading into it when they are missing.
    test_size, seed : the seeded hold-out used when the data has no split of its own.
    label_column : for CSV tables, the label column's name or index.
    image_size : ``(height, width)`` to resize every image of an image folder to.
    download : whether ``mnist`` / ``fashion-mnist`` may be downloaded when they are not in the
        cache folder. False where the name came from a folder someone else made (an index's
        header): nothing read from such a folder may make aelab reach the network.

    Returns
    -------
    Dataset with ``train`` and ``test`` splits (``X`` float32 in rows, ``y`` labels or None) and
    ``image_shape``.

    Examples
    --------
    >>> load("mnist", data_dir="../shared/data/mnist").train.X.shape  # doctest: +SKIP
    (60000, 784)
    """
    text = str(spec)
    if text.lower() in NAMES:
        return load_named(text.lower(), data_dir, test_size, seed, download)
    path = Path(text).expanduser()
    if not path.exists():
        raise DataError(f"no data at {text!r}: give {SPEC_HELP}")
    if is_shards(path):
        return load_shards(path, test_size, seed, image_size)
    if path.is_dir():
        if any(k.endswith("images") for k in find_idx_files(path)):
            return load_idx_folder(path)
        return load_image_folder(path, test_size, seed, image_size)
    name = path.name.lower()
    if name.endswith(".npy"):
        return load_npy(path, test_size, seed)
    if name.endswith(".npz"):
        return load_npz(path, test_size, seed)
    if name.endswith((".csv", ".tsv", ".txt")):
        return load_csv(path, test_size, seed, label_column)
    if "ubyte" in name or name.endswith((".idx", ".idx.gz")):
        return load_idx_file(path, test_size, seed)
    if is_image_file(path):
        raise DataError(f"{text} is a single image; give the folder that holds the images")
    raise DataError(f"cannot tell what kind of data {text!r} is; give {SPEC_HELP}")


def parse_image_size(text: str | None) -> tuple[int, int] | None:
    """``"28x28"`` or ``"28"`` to ``(28, 28)``."""
    if text is None:
        return None
    try:
        parts = [int(p) for p in str(text).lower().replace("*", "x").split("x")]
        if len(parts) == 1:
            parts *= 2
        if len(parts) != 2 or min(parts) < 1:
            raise ValueError
    except ValueError:
        raise DataError(f"image size {text!r} is not HEIGHTxWIDTH, e.g. 28x28") from None
    return parts[0], parts[1]
