"""Limits on what one file or request may make aelab allocate: a file that claims billions of pixels
or bytes, or a request for billions of images, is refused in one line that names the limit and how
to raise it, before any memory is taken.

From Python, :func:`set_limits` changes them for the process and :func:`limits` for a block (as
``sklearn.config_context``); the CLI's ``--max-image-pixels``, ``--max-file-bytes`` and
``--max-images`` set them for one command.
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
    #: bytes that one data file may expand to in memory (a gzipped IDX file's contents, a .npy array)
    file_bytes: int = 16 * 2**30
    #: images that one request makes (a generated grid, samples, decoded codes)
    images: int = 100_000


OPTIONS = {"image_pixels": "--max-image-pixels", "file_bytes": "--max-file-bytes", "images": "--max-images"}
_current = [Limits()]


def current() -> Limits:
    """The limits in force."""
    return _current[-1]


def set_limits(**values: int) -> Limits:
    """Change the limits for the rest of the process (``image_pixels=``, ``file_bytes=``, ``images=``)."""
    _current[-1] = _checked(values)
    return _current[-1]


@contextlib.contextmanager
def limits(**values: int) -> Iterator[Limits]:
    """The limits changed within a ``with`` block."""
    _current.append(_checked(values))
    try:
        yield _current[-1]
    finally:
        _current.pop()


def _checked(values: dict) -> Limits:
    known = {f.name for f in fields(Limits)}
    for name, value in values.items():
        if name not in known:
            raise ParameterError(f"no limit named {name!r}; the limits are {', '.join(sorted(known))}")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ParameterError(f"{OPTIONS[name]} must be a whole number >= 1, not {value!r}")
    return replace(current(), **values)


def check(name: str, amount: int, what: str) -> None:
    """Refuse ``amount`` of the limit ``name`` when it is over the limit, saying what asked for it."""
    limit = getattr(current(), name)
    if amount > limit:
        raise DataError(
            f"{what}: {amount:,} is over the limit of {limit:,} ({OPTIONS[name]} raises it, if you mean it)"
        )
