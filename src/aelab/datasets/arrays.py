"""NumPy arrays (.npy, .npz), single IDX files and CSV tables of numbers."""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path

import numpy as np

from .. import limits
from ..errors import DataError
from ..validation import as_samples
from .base import Dataset, Split, hold_out, natural_sorted, scale_images
from .idx import read_idx

_X_KEYS = ("X", "x", "data", "images", "features")
_Y_KEYS = ("y", "labels", "label", "targets", "target")
_LABEL_NAMES = ("label", "labels", "target", "class", "y")


def array_image_shape(arr: np.ndarray) -> tuple[int, ...] | None:
    """(N, H, W) and (N, H, W, C) arrays are images; (N, D) arrays are feature vectors."""
    if arr.ndim == 3:
        return tuple(arr.shape[1:])
    if arr.ndim == 4:
        if arr.shape[-1] in (1, 3, 4):
            return tuple(arr.shape[1:3]) if arr.shape[-1] == 1 else tuple(arr.shape[1:])
        raise DataError(
            f"4-D array of shape {arr.shape}: images must be (N, height, width, channels) with 1, 3 or 4 channels last"
        )
    if arr.ndim > 4:
        raise DataError(f"array of shape {arr.shape} has too many dimensions; use (N, features) or (N, H, W[, C])")
    return None


def rows_and_shape(arr, what: str) -> tuple[np.ndarray, tuple[int, ...] | None]:
    """Rows of float32; uint8 arrays and integer image stacks are pixels, scaled to [0, 1]."""
    arr = np.asarray(arr)
    shape = array_image_shape(arr)
    if arr.dtype == np.uint8 or (shape is not None and np.issubdtype(arr.dtype, np.integer)):
        arr = scale_images(arr)
    return as_samples(arr, what), shape


def _labels(y, n: int, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{what} has shape {y.shape}, expected one label per sample ({n},)")
    return y


def check_npy_header(fh, what: str, file_size: int | None = None) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Read a ``.npy`` header from ``fh`` and refuse, before any value is read, an array that the
    file cannot hold (truncated) or that :mod:`aelab.limits` does not allow in memory. Returns the
    header's shape, Fortran order and type; ``fh`` is left where the values begin."""
    try:
        version = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(fh)
    except (ValueError, OSError, SyntaxError) as exc:
        raise DataError(f"{what} is not a readable .npy array ({exc})") from None
    claimed = math.prod(shape) * dtype.itemsize
    if file_size is not None and fh.tell() + claimed > file_size:
        raise DataError(
            f"{what} is truncated: its header claims shape {shape} ({claimed:,} bytes), the file has "
            f"{file_size - fh.tell():,}"
        )
    limits.check("file_bytes", claimed, f"{what} claims an array of shape {shape}, {claimed:,} bytes")
    return tuple(shape), bool(fortran), dtype


def check_npy_file(path: Path) -> None:
    """:func:`check_npy_header` of the ``.npy`` file ``path``, held to the file's own size."""
    with open(path, "rb") as fh:
        check_npy_header(fh, str(path), path.stat().st_size)


def open_memmap(path: str | Path) -> np.memmap:
    """A ``.npy`` file memory-mapped (nothing read yet but its header), one sample per row."""
    path = Path(path)
    if path.suffix != ".npy" or not path.is_file():
        raise DataError(f"{path} is not a .npy file; streaming reads a .npy array, memory-mapped")
    check_npy_file(path)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{path} cannot be memory-mapped ({exc}); save a plain numeric array") from None
    if arr.ndim < 2 or len(arr) == 0 or arr.size == 0:
        raise DataError(f"{path} holds an array of shape {arr.shape}; expected one sample per row")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
        raise DataError(f"{path} holds {arr.dtype} values; expected real numbers")
    return arr


def load_npy(path: Path, test_size: float, seed: int) -> Dataset:
    try:
        check_npy_file(path)
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{path} cannot be read without pickle ({exc}); save a plain numeric array") from None
    except OSError as exc:
        raise DataError(f"{path} is not a readable .npy file ({exc})") from None
    X, shape = rows_and_shape(arr, str(path))
    return hold_out(path.name, X, None, test_size, seed, image_shape=shape)


def load_idx_file(path: Path, test_size: float, seed: int) -> Dataset:
    """A single IDX file of images (no labels): the samples alone."""
    X, shape = rows_and_shape(read_idx(path), str(path))
    return hold_out(path.name, X, None, test_size, seed, image_shape=shape)


def load_npz(path: Path, test_size: float, seed: int) -> Dataset:
    try:
        archive = np.load(path, allow_pickle=False)
        for member in archive.zip.namelist():  # each member's claim, before it is inflated
            with archive.zip.open(member) as fh:
                check_npy_header(fh, f"{path}:{member}")
        arrays = {k: archive[k] for k in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is not a readable .npz file ({exc})") from None
    if {"x_train", "x_test"} <= arrays.keys():  # Keras layout: the file has its own split
        Xtr, shape = rows_and_shape(arrays["x_train"], f"{path}:x_train")
        Xte, _ = rows_and_shape(arrays["x_test"], f"{path}:x_test")
        if Xtr.shape[1] != Xte.shape[1]:
            raise DataError(f"{path}: x_train has {Xtr.shape[1]} features per sample but x_test has {Xte.shape[1]}")
        ytr = _labels(arrays["y_train"], len(Xtr), f"{path}:y_train") if "y_train" in arrays else None
        yte = _labels(arrays["y_test"], len(Xte), f"{path}:y_test") if "y_test" in arrays else None
        return Dataset(
            path.name,
            Split(Xtr, ytr),
            Split(Xte, yte),
            image_shape=shape,
            info={"split": "the file's own x_train / x_test"},
        )
    xkey = next((k for k in _X_KEYS if k in arrays), None)
    if xkey is None:
        if len(arrays) != 1:
            raise DataError(
                f"{path} holds arrays {sorted(arrays)}; name the samples 'X' (and labels 'y'), "
                "or use x_train/y_train/x_test/y_test"
            )
        xkey = next(iter(arrays))
    X, shape = rows_and_shape(arrays[xkey], f"{path}:{xkey}")
    ykey = next((k for k in _Y_KEYS if k in arrays), None)
    y = _labels(arrays[ykey], len(X), f"{path}:{ykey}") if ykey else None
    return hold_out(path.name, X, y, test_size, seed, image_shape=shape)


def load_csv(path: Path, test_size: float, seed: int, label_column: str | int | None = None) -> Dataset:
    """A table of numbers, with an optional header and an optional label column.

    The label column is ``label_column`` (a header name or a 0-based index) or, when not given, a
    column whose header is one of label, labels, target, class, y, or else the only text column.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if any(cell.strip() for cell in r)]
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a UTF-8 text file; save the table as UTF-8 CSV") from None
    if not rows:
        raise DataError(f"{path} is empty; give at least one row of numbers")
    header = None
    if not all(_is_number(c) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise DataError(f"{path} has a header but no rows of data")
    width = len(header) if header else len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            line = i + 1 + (header is not None)
            raise DataError(f"{path}, line {line}: {len(r)} values where the table has {width} columns")

    label_idx = _label_index(label_column, header, width, path, rows)
    y = None
    if label_idx is not None:
        labels = [r[label_idx].strip() for r in rows]
        rows = [r[:label_idx] + r[label_idx + 1 :] for r in rows]
        y = np.array(labels)
        if all(_is_int(v) for v in labels):
            y = y.astype(np.int64)
    if not rows[0]:
        raise DataError(f"{path} has no feature columns besides the label")
    try:
        X = np.array([[float(c) for c in r] for r in rows], dtype=np.float32)
    except ValueError:
        for i, r in enumerate(rows):
            for c in r:
                if not _is_number(c):
                    line = i + 1 + (header is not None)
                    raise DataError(
                        f"{path}, line {line}: {c!r} is not a number; every column but the label must be "
                        "numeric (name a text label column with --label-column)"
                    ) from None
        raise
    X = as_samples(X, str(path))
    classes = natural_sorted(y) if y is not None and y.dtype.kind == "U" else None
    return hold_out(path.name, X, y, test_size, seed, classes=classes)


def _label_index(label_column, header, width, path, rows) -> int | None:
    if label_column is None:
        if header:
            for i, name in enumerate(header):
                if name.lower() in _LABEL_NAMES:
                    return i
        # a single column of names (no value a number) can only be the label
        text = [j for j in range(width) if not any(_is_number(r[j]) for r in rows)]
        return text[0] if len(text) == 1 else None
    if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
        if not header or label_column not in header:
            raise DataError(f"{path} has no column named {label_column!r}; columns: {header or 'no header'}")
        return header.index(label_column)
    idx = int(label_column)
    if not -width <= idx < width:
        raise DataError(f"label column {idx} is out of range; {path} has {width} columns")
    return idx % width


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _is_int(s: str) -> bool:
    return s.lstrip("-").isdigit()
