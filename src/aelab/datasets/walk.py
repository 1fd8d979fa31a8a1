"""The files of a collection (a folder given as data), found the one way every reader finds them.

A collection may come from someone else, so a link inside it is followed only while it leads to
another place inside the collection: a link out of it (to ``/etc/passwd``, to another user's
folder) is refused in one line before anything is opened, unless the limits say to follow links
(``--follow-links``; :mod:`aelab.limits`). Hidden entries (``.DS_Store``, macOS's ``._name``
copies) are left out, and so is anything that is not a regular file (a pipe, a device): reading
one could hang or never end.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import limits
from ..errors import DataError


def collection_files(root: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """The regular files under the folder ``root`` (only its own, unless ``recursive``), in the
    order of their paths, each path as it lies under ``root`` (links not resolved)."""
    root = Path(root)
    real_root = root.resolve()
    found: list[Path] = []

    def visit(folder: Path, above: frozenset) -> None:  # above: the real folders it lies in (a link up loops)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise DataError(f"{folder} cannot be read ({exc.strerror or exc})") from None
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                _check_link(root, real_root, path)
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()
            except OSError:  # a link to nowhere, or a name the system will not stat
                continue
            if is_dir and recursive:
                real = path.resolve()
                if real not in above:
                    visit(path, above | {real})
            elif is_file:
                found.append(path)

    visit(root, frozenset({real_root}))
    return found


def collection_entry(root: str | os.PathLike, name: str) -> Path:
    """The entry ``name`` of the collection ``root`` (a list of label names beside shards, its
    ``train/`` part), refused as :func:`collection_files` refuses a link that leads outside ``root``."""
    root = Path(root)
    path = root / name
    if path.is_symlink():
        _check_link(root, root.resolve(), path)
    return path


def _check_link(root: Path, real_root: Path, path: Path) -> None:
    target = path.resolve()
    if target.is_relative_to(real_root) or limits.current().follow_links:
        return
    raise DataError(
        f"{root} holds a link that leads outside it ({path.relative_to(root)} -> {target}); aelab does not "
        "follow links out of a collection: pass --follow-links to follow them (from Python: "
        "aelab.limits.limits(follow_links=True))"
    )
