"""IDX files, the format of MNIST and Fashion-MNIST (gzipped or not).

Layout: two zero bytes, a type code, the number of dimensions, one big-endian uint32 per dimension,
then the values in C order. See http://yann.lecun.com/exdb/mnist/.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from .. import limits
from ..errors import DataError
from .walk import collection_files

_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file into a NumPy array, checking its header before reading its values: no more
    than the header claims is ever read or inflated, and that claim is held to :mod:`aelab.limits`."""
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        with (gzip.open if gzipped else open)(path, "rb") as fh:
            return _read_idx(fh, path, None if gzipped else path.stat().st_size)
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a readable gzip file ({exc}); download it again") from None


def _read_idx(fh, path: Path, file_size: int | None) -> np.ndarray:
    magic = fh.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _TYPES:
        raise DataError(
            f"{path} is not an IDX file (bad magic number {magic.hex() or 'none'}); "
            "expected the MNIST format, e.g. train-images-idx3-ubyte"
        )
    dtype, ndim = _TYPES[magic[2]], magic[3]
    dims = fh.read(4 * ndim)
    if ndim == 0 or len(dims) < 4 * ndim:
        raise DataError(f"{path} has a truncated IDX header; download it again")
    shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    if shape[0] == 0:
        raise DataError(f"{path} holds no samples (its header says shape {shape})")
    expected = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
    if file_size is not None and file_size != 4 + 4 * ndim + expected:
        state = "truncated" if file_size < 4 + 4 * ndim + expected else "longer than its header says"
        raise DataError(
            f"{path} is {state}: {file_size} bytes for shape {shape}, expected {4 + 4 * ndim + expected}; "
            "download it again"
        )
    limits.check("file_bytes", expected, f"{path} claims values of shape {shape}, {expected:,} bytes")
    values = fh.read(expected + 1)
    if len(values) != expected:
        state = "truncated" if len(values) < expected else "longer than its header says"
        raise DataError(
            f"{path} is {state}: {len(values)} bytes of values for shape {shape}, expected {expected}; "
            "download it again"
        )
    return np.frombuffer(values, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx_files(folder: Path) -> dict[str, Path]:
    """Find the four MNIST-style files in a folder: keys train_images, train_labels, test_images, test_labels."""
    found: dict[str, Path] = {}
    for f in collection_files(folder, recursive=False):
        name = f.name.lower()
        if "ubyte" not in name and not name.endswith((".idx", ".idx.gz")):
            continue
        split = "train" if name.startswith("train") else "test" if name.startswith(("t10k", "test")) else None
        kind = (
            "images"
            if ("images" in name or "idx3" in name)
            else "labels"
            if ("labels" in name or "idx1" in name)
            else None
        )
        if split and kind:
            key = f"{split}_{kind}"
            # prefer an uncompressed file over its .gz twin only if both exist: either is fine
            found.setdefault(key, f)
    return found
