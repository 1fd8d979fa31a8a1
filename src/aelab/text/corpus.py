"""Text collections: one document per file (the sub-folder name is the label), read from a folder
or straight from a ``.tar.gz``; or a CSV / JSON-lines table with a text column.

Real-world text is read without ever failing on it: UTF-8, else Latin-1 (which decodes any bytes);
NUL bytes and other control characters of binary junk are dropped; empty documents are kept (as
empty strings), so that ids and labels stay aligned. E-mail headers, quoted replies and
signatures can be stripped (scikit-learn's 20 Newsgroups rules).

A source with ``train`` and ``test`` parts (folders or archive members whose name ends in
``-train`` / ``-test`` or is ``train`` / ``test``, as in 20news-bydate) keeps its own split;
others get a seeded, label-stratified hold-out.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import gzip
import io
import json
import lzma
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import limits
from ..datasets import collection_files, split_rows
from ..errors import DataError, ParameterError
from ..params import STRIP_CHOICES

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TEXT_COLUMNS = ("text", "document", "body", "content", "message")
_LABEL_COLUMNS = ("label", "labels", "topic", "category", "class", "target", "y")


@dataclass
class Documents:
    """Texts with their ids (file paths or row numbers) and labels (or None)."""

    texts: list[str]
    ids: list[str]
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows) -> Documents:
        return Documents(
            [self.texts[i] for i in rows],
            [self.ids[i] for i in rows],
            None if self.labels is None else self.labels[rows],
        )


@dataclass
class Corpus:
    """A named text collection with a train and a test part."""

    name: str
    train: Documents
    test: Documents
    info: dict = field(default_factory=dict)

    @property
    def classes(self) -> list[str] | None:
        labels = self.train.labels
        return None if labels is None else sorted(set(labels.tolist()) | set(self.test.labels.tolist()))

    def split(self, which: str) -> Documents:
        if which == "train":
            return self.train
        if which == "test":
            return self.test
        both = Documents(
            self.train.texts + self.test.texts,
            self.train.ids + self.test.ids,
            None if self.train.labels is None else np.concatenate([self.train.labels, self.test.labels]),
        )
        return both

    def __repr__(self) -> str:
        labelled = f", {len(self.classes)} labels" if self.classes else ""
        return f"Corpus({self.name!r}: {len(self.train)} train, {len(self.test)} test documents{labelled})"


def decode(raw: bytes) -> str:
    """Bytes to text that never fails: UTF-8 (with or without BOM), else Latin-1; control
    characters (binary junk) dropped."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return _CONTROL.sub("", text)


def strip(text: str, parts: tuple[str, ...]) -> str:
    """Remove e-mail ``headers``, ``quotes`` (quoted replies) and ``signatures`` from a message."""
    from sklearn.datasets._twenty_newsgroups import (
        strip_newsgroup_footer,
        strip_newsgroup_header,
        strip_newsgroup_quoting,
    )

    if "headers" in parts:
        text = strip_newsgroup_header(text)
    if "quotes" in parts:
        text = strip_newsgroup_quoting(text)
    if "signatures" in parts:
        text = strip_newsgroup_footer(text)
    return text


def parse_strip(spec: str | None) -> tuple[str, ...]:
    """``"headers,quotes"`` -> ("headers", "quotes"); ``"all"``; ``None`` or ``"none"`` -> ()."""
    if spec in (None, "", "none"):
        return ()
    parts = STRIP_CHOICES if spec == "all" else tuple(p.strip() for p in spec.split(",") if p.strip())
    bad = [p for p in parts if p not in STRIP_CHOICES]
    if bad:
        raise ParameterError(f"cannot strip {bad[0]!r}: choose from {', '.join(STRIP_CHOICES)}, 'all' or 'none'")
    return parts


def load_text(
    spec: str,
    *,
    strip_parts: tuple[str, ...] = (),
    text_column: str | None = None,
    label_column: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
) -> Corpus:
    """Read a text collection: a folder, a ``.tar.gz`` / ``.tgz`` of one, a ``.csv`` or a ``.jsonl``."""
    path = Path(spec)
    if not path.exists():
        raise DataError(
            f"no text collection at {spec!r}: give a folder of text files (one sub-folder per "
            "label), a .tar.gz of one, or a .csv / .jsonl file with a text column"
        )
    name = path.name
    for suffix in (".tar.gz", ".tgz", ".csv", ".jsonl", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if path.is_dir():
        docs = _folder_files(path)
    elif path.name.endswith((".tar.gz", ".tgz", ".tar")):
        docs = _from_files(_tar_members(path))
    elif path.suffix == ".csv":
        return _hold_out(
            name, _from_table(_csv_rows(path), text_column, label_column, path), strip_parts, test_size, seed
        )
    elif path.suffix in (".jsonl", ".json"):
        return _hold_out(
            name, _from_table(_jsonl_rows(path), text_column, label_column, path), strip_parts, test_size, seed
        )
    else:
        raise DataError(f"{spec} is not a folder, .tar.gz, .csv or .jsonl text collection")
    if not docs:
        raise DataError(f"{spec} holds no text files")
    parts = {}
    for rel, raw in docs:
        pieces = rel.split("/")
        split = next((s for s in ("train", "test") for p in pieces[:-1] if p == s or p.endswith("-" + s)), None)
        label_dirs = [p for p in pieces[:-1] if not (p in ("train", "test") or p.endswith(("-train", "-test")))]
        parts.setdefault(split, []).append((rel, label_dirs[-1] if label_dirs else None, raw))
    if set(parts) == {"train", "test"}:
        train, test = (_documents(parts[s], strip_parts) for s in ("train", "test"))
        return Corpus(name, train, test, {"split": "the collection's own train/test parts"})
    everything = [d for p in parts.values() for d in p]
    return _hold_out(name, _documents(everything, strip_parts), (), test_size, seed)


def _from_files(files) -> list[tuple[str, bytes]]:
    return [(rel.replace("\\", "/"), raw) for rel, raw in files]


def _folder_files(folder: Path) -> list[tuple[str, bytes]]:
    """The folder's files (:func:`aelab.datasets.collection_files`: no link out of it is
    followed), each read whole, all of them together held to the ``file_bytes`` limit."""
    files, total = [], 0
    for f in collection_files(folder):
        total += f.stat().st_size
        limits.check("file_bytes", total, f"the text files of {folder} (up to {f.relative_to(folder)}) hold more bytes")
        files.append((str(f.relative_to(folder)), f.read_bytes()))
    return _from_files(files)


_COMPRESSED = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}


def _tar_members(path: Path) -> list[tuple[str, bytes]]:
    """The archive's files, named relative to its single top folder when it has one (unless that
    folder is a train/test part). The archive is read as a stream, inflated no further than the
    ``file_bytes`` limit (:class:`aelab.limits.Metered`): a member that the limit cannot hold is
    refused from its header, before it is inflated."""
    files, total = [], 0
    try:
        with open(path, "rb") as raw:
            head = raw.read(6)
            raw.seek(0)
            opener = next((op for magic, op in _COMPRESSED.items() if head.startswith(magic)), None)
            with contextlib.ExitStack() as stack:
                inner = stack.enter_context(opener(raw)) if opener else raw
                stream = limits.Metered(inner, f"the inflated contents of {path}")
                archive = stack.enter_context(tarfile.open(fileobj=stream, mode="r|"))
                for member in archive:
                    if not member.isfile() or Path(member.name).name.startswith("."):
                        continue
                    total += member.size
                    limits.check("file_bytes", total, f"the files of {path} (up to {member.name}) hold more bytes")
                    files.append((member.name, archive.extractfile(member).read()))
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise DataError(f"{path} is not a readable tar archive ({exc}); is the download complete?") from None
    tops = {name.split("/", 1)[0] for name, _ in files}
    if len(tops) == 1 and all("/" in name for name, _ in files):
        top = next(iter(tops))
        if not (top in ("train", "test") or top.endswith(("-train", "-test"))):
            files = [(name.split("/", 1)[1], raw) for name, raw in files]
    return files


def _documents(items, strip_parts) -> Documents:
    labels = [label for _, label, _ in items]
    texts = [strip(decode(raw), strip_parts) for _, _, raw in items]
    return Documents(texts, [rel for rel, _, _ in items], None if None in labels else np.asarray(labels))


def _table_text(path: Path) -> str:
    size = path.stat().st_size
    limits.check("file_bytes", size, f"{path} is {size:,} bytes")
    return decode(path.read_bytes())


def _csv_rows(path: Path) -> list[dict]:
    text = _table_text(path)
    try:
        return list(csv.DictReader(io.StringIO(text)))
    except csv.Error as exc:
        raise DataError(f"{path} is not a readable CSV table ({exc})") from None


def _jsonl_rows(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(_table_text(path).splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise DataError(f"{path} line {number} is not JSON; each line must be one JSON object") from None
            if not isinstance(row, dict):
                raise DataError(f"{path} line {number} is not a JSON object with a text field")
            rows.append(row)
    return rows


def _from_table(rows: list[dict], text_column, label_column, path) -> Documents:
    if not rows:
        raise DataError(f"{path} has no rows")
    columns = list(rows[0])
    text_column = text_column or next((c for c in columns if c.lower() in _TEXT_COLUMNS), None)
    if text_column not in columns:
        raise DataError(f"{path} has no text column ({', '.join(columns)}); name it with --text-column")
    if label_column is not None and label_column not in columns:
        raise DataError(f"{path} has no column {label_column!r} ({', '.join(columns)})")
    label_column = label_column or next((c for c in columns if c.lower() in _LABEL_COLUMNS), None)
    texts = [_CONTROL.sub("", str(r.get(text_column) or "")) for r in rows]
    labels = None if label_column is None else np.asarray([str(r.get(label_column)) for r in rows])
    return Documents(texts, [str(i) for i in range(len(rows))], labels)


def _hold_out(name: str, docs: Documents, strip_parts, test_size: float, seed: int) -> Corpus:
    if strip_parts:
        docs = Documents([strip(t, strip_parts) for t in docs.texts], docs.ids, docs.labels)
    if len(docs) < 2:
        raise DataError(f"{name} has {len(docs)} document; at least 2 are needed to hold out a test set")
    train, test = split_rows(len(docs), docs.labels, seed, test_size=test_size)
    return Corpus(
        name, docs.subset(np.sort(train)), docs.subset(np.sort(test)), {"split": f"seeded hold-out of {test_size:.0%}"}
    )
