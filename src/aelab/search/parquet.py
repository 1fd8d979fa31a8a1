"""Codes as a Parquet table, for pandas, polars, DuckDB or Spark: one row per item with its ``id``,
``label``, source ``path`` and ``code`` (a fixed-size list of float32; for binary codes the bits
packed into bytes, 8 a byte, most significant first as ``numpy.packbits`` packs them).

The table is written a row group per batch as the collection streams, into a temporary file that
takes its name only once complete. What made the codes is in the schema's metadata under
``aelab`` (JSON): the model's class, the code size, whether the codes are bits.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, require
from ..storage import atomic_path

COLUMNS = ("id", "label", "path", "code")
METADATA_KEY = b"aelab"


@dataclass
class CodeBatch:
    """One batch of items: codes (rows of floats, or of 0s and 1s) with their ids, labels and paths."""

    codes: np.ndarray
    ids: list[str]
    labels: list | None
    paths: list[str | None] | None


def write_codes(
    path: str | os.PathLike, batches: Iterable[CodeBatch], *, binary: bool, about: dict, overwrite: bool = False
) -> int:
    """Write ``batches`` as the Parquet table ``path`` (see the module docstring), a row group each;
    returns the number of rows. ``about`` goes into the metadata."""
    pa = require("pyarrow", "export")
    pq = require("pyarrow.parquet", "export")
    writer, rows = None, 0
    with atomic_path(path, overwrite) as tmp:
        try:
            for batch in batches:
                table = _table(pa, batch, binary)
                if writer is None:
                    meta = dict(about, binary=binary, code_size=int(batch.codes.shape[1]))
                    schema = table.schema.with_metadata({METADATA_KEY: json.dumps(meta).encode()})
                    writer = pq.ParquetWriter(str(tmp), schema)
                writer.write_table(_as_first(pa, table, writer.schema, batch))
                rows += len(batch.ids)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise DataError("nothing to write: the collection holds no items")
    return rows


def _as_first(pa, table, schema, batch: CodeBatch):
    """A later batch's table in the first batch's types: labels that were class numbers there must
    be numbers here too (text after numbers is refused in one line; numbers after text become text)."""
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        text = next((v for v in batch.labels or [] if v is not None and not isinstance(v, (int, np.integer))), None)
        if text is None:
            raise
        raise DataError(
            f"the label {text!r} is text, but the first items' labels were class numbers; a table's labels "
            "are of one kind: give every item a class number, or every item a name"
        ) from None


def _table(pa, batch: CodeBatch, binary: bool):
    n, size = batch.codes.shape
    if binary:
        packed = np.packbits(batch.codes.astype(bool), axis=1)
        code = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(packed.shape[1]), n, [None, pa.py_buffer(packed.tobytes())]
        )
    else:
        flat = pa.array(np.ascontiguousarray(batch.codes, np.float32).ravel(), pa.float32())
        code = pa.FixedSizeListArray.from_arrays(flat, size)
    labels = [None] * n if batch.labels is None else list(batch.labels)
    whole = all(isinstance(v, (int, np.integer)) for v in labels if v is not None)  # class numbers stay numbers
    if not whole:
        labels = [None if v is None else str(v) for v in labels]
    return pa.table(
        {
            "id": pa.array(batch.ids, pa.string()),
            "label": pa.array(labels, pa.int64() if whole else pa.string()),
            "path": pa.array([None] * n if batch.paths is None else batch.paths, pa.string()),
            "code": code,
        }
    )


@dataclass
class CodesFile:
    """A Parquet table of codes as :func:`write_codes` writes it (or anything with its columns)."""

    path: Path
    n: int
    code_size: int
    binary: bool
    about: dict

    @classmethod
    def open(cls, path: str | os.PathLike) -> CodesFile:
        """Check the file's columns and types before anything is read (one line for what is missing)."""
        pa = require("pyarrow", "export")
        pq = require("pyarrow.parquet", "export")
        path = Path(path)
        try:
            found = pq.ParquetFile(str(path))
        except FileNotFoundError:
            raise DataError(f"{path} does not exist") from None
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{path} is not a Parquet file ({str(exc).splitlines()[0][:120]})") from None
        schema = found.schema_arrow
        missing = [c for c in ("id", "code") if c not in schema.names]
        if missing:
            raise DataError(
                f"{path} has no column {missing[0]!r}; a table of codes has the columns id, code (a fixed-size list "
                "of floats, or fixed-size bytes of bits) and, optionally, label and path (as aelab encode writes it)"
            )
        code = schema.field("code").type
        if pa.types.is_fixed_size_binary(code):
            binary, size = True, code.byte_width * 8
        elif pa.types.is_fixed_size_list(code) and pa.types.is_floating(code.value_type):
            binary, size = False, code.list_size
        else:
            raise DataError(
                f"{path}'s column 'code' holds {code}; it must be a fixed-size list of floats, or fixed-size bytes"
            )
        try:
            about = json.loads((schema.metadata or {}).get(METADATA_KEY, b"{}"))
        except ValueError:
            about = {}
        return cls(path, found.metadata.num_rows, int(size), binary, about if isinstance(about, dict) else {})

    def batches(self, size: int = 65_536) -> Iterator[CodeBatch]:
        """The items, ``size`` rows at a time (never the whole file in memory)."""
        pq = require("pyarrow.parquet", "export")
        found = pq.ParquetFile(str(self.path))
        names = [c for c in COLUMNS if c in found.schema_arrow.names]
        for part in found.iter_batches(batch_size=size, columns=names):
            column = part.column(names.index("code"))
            if column.null_count:
                raise DataError(f"{self.path} has items without a code; every row needs one")
            if self.binary:
                packed = np.frombuffer(
                    column.buffers()[1],
                    np.uint8,
                    count=len(part) * self.code_size // 8,
                    offset=column.offset * self.code_size // 8,
                )
                codes = np.unpackbits(packed.reshape(len(part), -1), axis=1).astype(np.float32)
            else:
                codes = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(part), -1)
            ids = part.column(names.index("id")).to_pylist()
            if any(i is None for i in ids):
                raise DataError(f"{self.path} has items without an id; every row needs one")
            labels = part.column(names.index("label")).to_pylist() if "label" in names else None
            paths = part.column(names.index("path")).to_pylist() if "path" in names else None
            yield CodeBatch(codes, [str(i) for i in ids], labels, paths)
