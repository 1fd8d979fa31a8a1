"""IDX files, the format of MNIST and Fashion-MNIST (gzipped or not).

Layout: two zero bytes, a type code, the number of dimensions, one big-endian uint32 per dimension,
then the values in C order. See http://yann.lecun.com/exdb/mnist/.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file into a NumPy array, checking its header against its length."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a readable gzip file ({exc}); download it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise DataError(
            f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'none'}); "
            "expected the MNIST format, e.g. train-images-idx3-ubyte"
        )
    dtype, ndim = _TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path} has a truncated IDX header; download it again")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(
            f"{path} is {state}: {len(raw)} bytes for shape {shape}, expected {expected}; download it again"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx_files(folder: Path) -> dict[str, Path]:
    """Find the four MNIST-style files in a folder: keys train_images, train_labels, test_images, test_labels."""
    found: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
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
