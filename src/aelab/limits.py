"""Limits on what data from elsewhere may make aelab do: allocate (a file that claims billions of
pixels or bytes, a request for billions of images, a model of billions of weights) or read (a link
out of a collection). Each is refused in one line that names the limit and how to raise it, before
any memory is taken or any file outside the collection is opened.

From Python, :func:`set_limits` changes them for the process and :func:`limits` for a block (as
``sklearn.config_context``); the CLI's ``--max-image-pixels``, ``--max-file-bytes``,
``--max-images``, ``--max-model-bytes`` and ``--follow-links`` set them for one command. Worker
processes get their parent's limits (:func:`current` is what to hand them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace

from .errors import DataError, ParameterError


@dataclass(frozen=True)
class Limits:
    #: pixels of one image (height x width): a 100-megapixel photo is read, a decompression bomb is not
    image_pixels: int = 100_000_000
    #: bytes that one data file may expand to in memory (a gzipped IDX file's contents, a .npy array,
    #: a text archive inflated), counted while it is read
    file_bytes: int = 16 * 2**30
    #: images that one request makes (a generated grid, samples, decoded codes)
    images: int = 100_000
    #: bytes of one model's weights (float32), checked before they are allocated
    model_bytes: int = 4 * 2**30
    #: whether a link inside a collection that leads outside it is followed (off: refused)
    follow_links: bool = False


OPTIONS = {
    "image_pixels": "--max-image-pixels",
    "file_bytes": "--max-file-bytes",
    "images": "--max-images",
    "model_bytes": "--max-model-bytes",
    "follow_links": "--follow-links",
}
_current = [Limits()]


def current() -> Limits:
    """The limits in force."""
    return _current[-1]


def set_limits(**values) -> Limits:
    """Change the limits for the rest of the process (``image_pixels=``, ``file_bytes=``,
    ``images=``, ``model_bytes=``, ``follow_links=``)."""
    _current[-1] = _checked(values)
    return _current[-1]


@contextlib.contextmanager
def limits(**values) -> Iterator[Limits]:
    """The limits changed within a ``with`` block."""
    _current.append(_checked(values))
    try:
        yield _current[-1]
    finally:
        _current.pop()


def as_dict(found: Limits | None = None) -> dict:
    """The limits (by default those in force) as keywords of :func:`limits`, for a worker process."""
    found = found or current()
    return {f.name: getattr(found, f.name) for f in fields(Limits)}


def _checked(values: dict) -> Limits:
    known = {f.name for f in fields(Limits)}
    for name, value in values.items():
        if name not in known:
            raise ParameterError(f"no limit named {name!r}; the limits are {', '.join(sorted(known))}")
        if name == "follow_links":
            if not isinstance(value, bool):
                raise ParameterError(f"follow_links must be True or False, not {value!r}")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ParameterError(f"{OPTIONS[name]} must be a whole number >= 1, not {value!r}")
    return replace(current(), **values)


class Metered:
    """A file object's ``read`` that counts what it gives and refuses, in one line, the read that
    would take it past the ``file_bytes`` limit: a compressed stream is inflated up to the limit
    and no further, however much more it holds."""

    def __init__(self, fh, what: str):
        self.fh, self.what, self.count = fh, what, 0

    def read(self, size: int = -1) -> bytes:
        room = current().file_bytes - self.count + 1  # one byte more than allowed shows a file is over
        data = self.fh.read(room if size is None or size < 0 else min(size, room))
        self.count += len(data)
        check("file_bytes", self.count, self.what)
        return data


def check(name: str, amount: int, what: str) -> None:
    """Refuse ``amount`` of the limit ``name`` when it is over the limit, saying what asked for it."""
    limit = getattr(current(), name)
    if amount > limit:
        raise DataError(
            f"{what}: {amount:,} is over the limit of {limit:,} ({OPTIONS[name]} raises it, if you mean it)"
        )
