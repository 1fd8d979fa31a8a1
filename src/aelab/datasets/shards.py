"""WebDataset shards: tar files whose members are grouped into samples by a shared key
(``000000012.png`` and ``000000012.cls`` are one sample), the common format of image collections
spread over many files and machines.

:func:`pack_shards` writes them with the ``webdataset`` package. :class:`ShardRows` reads them as
rows, each sample decoded when it is asked for: one pass over the tars' headers finds where every
sample's bytes lie, so training can read its batches at random, the batches and order of an
in-memory run, and a resumed run reads exactly what an uninterrupted one reads.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np

from .. import limits
from ..errors import DataError
from ..params import SAMPLES_PER_SHARD
from .arrays import check_npy_header, open_memmap
from .images import IMAGE_SUFFIXES, collect_images, image_format, image_header, read_image
from .rows import DecodedRows
from .walk import collection_entry, collection_files

SHARD_SUFFIX = ".tar"
LABELS_FILE = "labels.json"  # the label names, in the order of the samples' .cls numbers
_IMAGE_EXTS = {s.lstrip(".") for s in IMAGE_SUFFIXES}
_NPY = "npy"
PACK_CHUNK = 4096  # rows of a .npy file read (and checked) at a time while packing
_RECORD = tarfile.RECORDSIZE  # tars are padded with zeros to a multiple of this


def is_shards(spec) -> bool:
    """Whether ``spec`` names WebDataset shards: a ``.tar`` file, or a folder that holds them."""
    path = Path(spec)
    if path.is_file():
        return path.suffix == SHARD_SUFFIX
    return path.is_dir() and any(p.suffix == SHARD_SUFFIX for p in path.iterdir() if p.is_file())


def _shard_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    files = [p for p in collection_files(source, recursive=False) if p.suffix == SHARD_SUFFIX]
    if not files:
        raise DataError(f"{source} holds no {SHARD_SUFFIX} shards; pack data into shards with 'aelab pack'")
    return files


def _split_name(name: str) -> tuple[str, str]:
    """WebDataset's key and extension of a member: the key runs to the first dot of the file name."""
    folder, _, base = name.rpartition("/")
    key, dot, ext = base.partition(".")
    return (f"{folder}/{key}" if folder else key), ext.lower() if dot else ""


def _members(shard: Path) -> list[tuple[str, str, int, int]]:
    """(key, extension, data offset, size) of each file in ``shard``, from its headers; a file that
    is not a tar, or that was cut short (Python's tarfile takes a broken header after the first as
    the archive's end: a whole tar ends in two zero blocks), is refused in one line."""
    length = shard.stat().st_size
    found = []
    try:
        with tarfile.open(shard, "r:") as tar:
            for member in tar:
                if member.offset_data + member.size > length:
                    raise tarfile.ReadError("unexpected end of data")
                if member.isfile():
                    limits.check("file_bytes", member.size, f"{shard}: {member.name} is {member.size:,} bytes")
                    found.append((*_split_name(member.name), member.offset_data, member.size))
            end = tar.offset
        with open(shard, "rb") as f:
            rest = os.pread(f.fileno(), min(length - end, 2 * _RECORD), end)
        if len(rest) < 2 * tarfile.BLOCKSIZE or rest.strip(b"\0"):
            raise tarfile.ReadError("it ends without the end-of-archive blocks")
    except (tarfile.TarError, EOFError) as exc:
        raise DataError(
            f"{shard} is not a readable tar shard ({str(exc) or type(exc).__name__}); it may be truncated or another "
            "kind of file: pack it again with 'aelab pack', or remove it"
        ) from None
    return found


def _npy_header(data: bytes, where: str) -> tuple[tuple[tuple[int, ...], bool, np.dtype], int]:
    """A ``.npy`` file's (shape, Fortran order, type), and the length of its header."""
    f = io.BytesIO(data)
    shape, fortran, dtype = check_npy_header(f, where, len(data))
    if dtype.hasobject or not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        raise DataError(f"{where} holds {dtype} values, not numbers; pack numeric data")
    if len(data) - f.tell() != int(np.prod(shape)) * dtype.itemsize:
        raise DataError(f"{where} holds fewer or more bytes than its header says; pack the data again")
    return (shape, fortran, dtype), f.tell()


class ShardRows(DecodedRows):
    """The samples of WebDataset shards (a folder of ``.tar`` files, in name order, or one file) as
    rows: images (any of :data:`IMAGE_SUFFIXES`, decoded as an image folder's, ``image_size``
    resizing them) or ``.npy`` arrays (uint8 scaled to [0, 1], as the loaders scale pixels), one per
    sample, with an optional ``.cls`` label (named by ``labels.json`` beside the shards)."""

    def __init__(self, source, image_size: tuple[int, int] | None = None, workers: int | None = None):
        source = Path(source)
        self.name = source.name
        self.shards = _shard_files(source)
        kinds, shard_no, offsets, sizes, classes = [], [], [], [], []
        for s, shard in enumerate(self.shards):
            samples: dict[str, dict[str, tuple[int, int]]] = {}
            for key, ext, offset, size in _members(shard):
                samples.setdefault(key, {})[ext] = (offset, size)
            with open(shard, "rb") as handle:
                labels = {key: self._label(handle, shard, key, files.get("cls")) for key, files in samples.items()}
            for key, files in samples.items():
                data = [ext for ext in files if ext in _IMAGE_EXTS or ext == _NPY]
                if len(data) != 1:
                    what = "no image or .npy" if not data else f"{len(data)} data files ({', '.join(data)})"
                    raise DataError(f"sample {key!r} of {shard} has {what}; each sample needs exactly one")
                kinds.append(data[0])
                shard_no.append(s)
                offsets.append(files[data[0]][0])
                sizes.append(files[data[0]][1])
                classes.append(labels[key])
        if not kinds:
            raise DataError(f"{source} holds no samples; pack data into shards with 'aelab pack'")
        # where each sample's bytes lie, in arrays (20 bytes a sample): a long list of Python objects
        # would be copied into every worker process as their reference counts change
        self._shard = np.asarray(shard_no, np.int32)
        self._offset = np.asarray(offsets, np.int64)
        self._size = np.asarray(sizes, np.int64)
        self._exts = sorted(set(kinds))  # the kinds of data file; each sample's as a number into them
        self._kind = np.asarray([self._exts.index(k) for k in kinds], np.int8)
        self.labels = self._named(source, classes)
        if kinds.count(_NPY) not in (0, len(kinds)):
            raise DataError(f"{source} mixes .npy samples with images; pack one kind of data")
        self.image_size = self.colour = self.npy_dtype = None
        with self._opened_shards() as opened:
            self._read_format(kinds, source, image_size, opened)
        # .npy samples cost no decoding: read in the training process, as a memory-mapped array's
        self.workers = 0 if self.npy_dtype is not None and workers is None else self.default_workers(workers)

    def _read_format(self, kinds: list[str], source: Path, image_size, opened: dict) -> None:
        """The shape (and type, or size and colour) the samples are read in, from their headers."""
        if kinds[0] == _NPY:
            shapes = set()
            for i in range(len(kinds)):  # each sample's bytes are then its array's, read without a header
                layout, header = _npy_header(self._bytes(i, opened), self._where(i))
                shapes.add(layout)
                self._offset[i] += header
                self._size[i] -= header
            if len(shapes) > 1:
                raise DataError(f"the .npy samples of {source} differ in shape or type; pack data of one shape")
            self.npy_shape, self.npy_fortran, self.npy_dtype = next(iter(shapes))
            self.image_shape = self.npy_shape if len(self.npy_shape) in (2, 3) else None
            self.shape = (len(kinds), int(np.prod(self.npy_shape)))
        else:
            headers = [image_header(self._where(i), data=self._bytes(i, opened)) for i in range(len(kinds))]
            self.image_size, self.colour, self.image_shape = image_format(source, headers, image_size)
            self.shape = (len(kinds), int(np.prod(self.image_shape)))

    @staticmethod
    def _label(handle, shard: Path, key: str, where: tuple[int, int] | None) -> int | None:
        if where is None:
            return None
        offset, size = where
        text = os.pread(handle.fileno(), min(size, 64), offset).decode("utf-8", "replace").strip()
        if not text.isdigit():
            raise DataError(f"the .cls label of sample {key!r} of {shard} is {text[:20]!r}, not a class number")
        return int(text)

    @staticmethod
    def _named(source: Path, classes: list) -> list | None:
        if all(c is None for c in classes):
            return None
        if any(c is None for c in classes):
            raise DataError(f"some samples of {source} have a .cls label and some do not; label all or none")
        names_file = collection_entry(source if source.is_dir() else source.parent, LABELS_FILE)
        if names_file.is_file():
            size = names_file.stat().st_size
            limits.check("file_bytes", size, f"{names_file} is {size:,} bytes")
        try:
            names = json.loads(names_file.read_text()) if names_file.is_file() else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            names = {}
        if names is None:
            return [str(c) for c in classes]
        if not isinstance(names, list) or max(classes) >= len(names):
            raise DataError(f"{names_file} does not name every class of {source}; pack the data again")
        return [str(names[c]) for c in classes]

    def _where(self, i: int) -> str:
        return f"{self.shards[self._shard[i]].name}:sample {i}.{self._exts[self._kind[i]]}"

    @contextlib.contextmanager
    def _opened_shards(self):
        """A dict for :meth:`_bytes` to keep the shards it opens in; they are closed at the end."""
        opened: dict = {}
        try:
            yield opened
        finally:
            for f in opened.values():
                f.close()

    def _bytes(self, i: int, opened: dict) -> bytes:
        """Sample ``i``'s data file; ``opened``: the shards' open files, kept for the next samples."""
        shard = int(self._shard[i])
        if shard not in opened:
            opened[shard] = open(self.shards[shard], "rb")  # noqa: SIM115 (closed by _decode)
        return os.pread(opened[shard].fileno(), int(self._size[i]), int(self._offset[i]))

    def _decode(self, index: np.ndarray) -> np.ndarray:
        if self.npy_dtype is not None:
            rows = self._gather(index)
        else:
            rows = np.empty((len(index), self.shape[1]), np.float32)
            with self._opened_shards() as opened:
                for row, i in enumerate(index):
                    data = self._bytes(int(i), opened)
                    rows[row] = read_image(self._where(int(i)), self.colour, self.image_size, data=data).reshape(-1)
        if not np.isfinite(rows).all():
            raise DataError(f"{self.name} has NaN or infinite values; clean the data and pack it again")
        return rows

    def _gather(self, index: np.ndarray) -> np.ndarray:
        """``.npy`` samples: their bytes are their values (the header was found when indexing)."""
        nbytes = self.shape[1] * self.npy_dtype.itemsize
        raw = np.empty((len(index), nbytes), np.uint8)
        with self._opened_shards() as opened:
            for row, i in enumerate(index):
                data = self._bytes(int(i), opened)
                if len(data) != nbytes:  # the shard changed since it was indexed
                    raise DataError(f"{self._where(int(i))} cannot be read whole; pack the data again")
                raw[row] = np.frombuffer(data, np.uint8)
        values = raw.view(self.npy_dtype)
        if self.npy_fortran:
            values = np.stack([v.reshape(self.npy_shape, order="F").reshape(-1) for v in values])
        return values.astype(np.float32) / np.float32(255) if values.dtype == np.uint8 else values.astype(np.float32)


def load_shards(source: Path, test_size: float, seed: int, image_size: tuple[int, int] | None = None):
    """Shards read into memory, with a seeded hold-out (as an image folder)."""
    from .base import hold_out, natural_sorted

    rows = ShardRows(source, image_size, workers=0)
    y = None if rows.labels is None else np.array(rows.labels)
    classes = None if y is None else natural_sorted(rows.labels)
    return hold_out(rows.name, rows[:], y, test_size, seed, image_shape=rows.image_shape, classes=classes)


def pack_shards(spec, out, samples_per_shard: int = SAMPLES_PER_SHARD, overwrite: bool = False) -> list[Path]:
    """Pack an image folder (each file's own bytes, its sub-folder as the ``.cls`` label, named in
    ``labels.json``) or a ``.npy`` array (one ``.npy`` member per row, in its own type) into
    WebDataset shards of ``samples_per_shard`` samples in the folder ``out``, written whole or not
    at all. Returns the shards' paths."""
    import webdataset as wds

    from ..storage import atomic_path

    source = Path(spec)
    if samples_per_shard < 1:
        raise DataError(f"--samples-per-shard must be at least 1, not {samples_per_shard}")
    if source.is_dir():
        files, labels = collect_images(source)
        if not files:
            raise DataError(f"{source} holds no image files to pack")
        names = sorted(set(labels), key=labels.index) if labels else None

        def samples():
            for i, f in enumerate(files):
                sample = {"__key__": f"{i:09d}", f.suffix.lower().lstrip("."): f.read_bytes()}
                if names:
                    sample["cls"] = str(names.index(labels[i])).encode()
                yield sample
    elif source.suffix == ".npy" and source.is_file():
        array, names = open_memmap(source), None

        def samples():
            for start in range(0, len(array), PACK_CHUNK):
                chunk = np.ascontiguousarray(array[start : start + PACK_CHUNK])
                if chunk.dtype.kind == "f" and not np.isfinite(chunk).all():
                    row = start + int(np.argwhere(~np.isfinite(chunk.reshape(len(chunk), -1)))[0][0])
                    raise DataError(f"{source} has NaN or infinite values (first in row {row}); clean the data first")
                for i, row in enumerate(chunk, start):
                    buffer = io.BytesIO()
                    np.save(buffer, row, allow_pickle=False)
                    yield {"__key__": f"{i:09d}", _NPY: buffer.getvalue()}
    else:
        raise DataError(f"'aelab pack' packs an image folder or a .npy file, not {spec!r}")
    with atomic_path(out, overwrite) as tmp:
        tmp.mkdir()
        pattern = str(tmp / f"shard-%06d{SHARD_SUFFIX}")
        with wds.ShardWriter(pattern, maxcount=samples_per_shard, maxsize=float("inf"), verbose=0) as sink:
            for sample in samples():
                sink.write(sample)
        if names:
            (tmp / LABELS_FILE).write_text(json.dumps(names))
    return sorted(Path(out).glob(f"*{SHARD_SUFFIX}"))
