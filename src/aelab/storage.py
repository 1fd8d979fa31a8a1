"""Writing results so that nothing is lost: atomic files and folders, and safe tensor state.

A result only appears under its final name once it is complete, so an interrupted run leaves the
previous result (or nothing) in place, never a half-written one. State that mixes tensors and plain
values (optimizer and scheduler state, RNG state) is stored as safetensors plus JSON, never pickle.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import glob
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from . import limits, schemas
from .errors import AelabError, ModelError, OutputBusyError, OutputExistsError


def check_output(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Fail early, before any work, if ``path`` exists and may not be replaced (after putting back
    what an interrupted replace of ``path`` left aside, see :func:`recover`)."""
    path = Path(path)
    recover(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; choose another output path or pass --overwrite to replace it")
    return path


def fresh_path(base: str | os.PathLike) -> Path:
    """``base``, or ``base-2``, ``base-3``... whichever does not exist yet, so nothing is overwritten."""
    path, n = Path(base), 1
    while path.exists():
        n += 1
        path = path.with_name(f"{Path(base).name}-{n}")
    return path


# --- replacing a result: the old one or the new one, at every instant ------------------------------
# A result is written into a hidden sibling folder ``.NAME.XXXX.tmp`` (locked by its writer while it
# works) and swapped in with one atomic exchange of names where the system has one (Linux), else with
# two renames, the old result first moved aside into that folder. Whatever a kill leaves, the next
# run that writes or reads NAME puts back an old result that was moved aside and removes the rest.
STALE_SECONDS = 600  # a temporary folder without a lock file is a leftover once it is this old
_LOCK = ".lock"


def _leftovers(path: Path) -> list[Path]:
    """The temporary folders of replaces of ``path`` whose writer is gone."""
    found = []
    for tmp_dir in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        lock = tmp_dir / _LOCK
        if lock.exists():
            try:
                with open(lock, "a") as fh:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is still at work
            except OSError:
                pass
        elif time.time() - tmp_dir.stat().st_mtime < STALE_SECONDS:
            continue  # just made: its writer is about to lock it
        found.append(tmp_dir)
    return found


def recover(path: str | os.PathLike) -> None:
    """Put back a result that an interrupted replace of ``path`` moved aside, and remove the
    temporary folders that interrupted writers left."""
    path = Path(path)
    if not path.parent.is_dir():
        return
    for tmp_dir in _leftovers(path):
        aside = tmp_dir / (path.name + ".old")
        if not os.path.lexists(path) and os.path.lexists(aside):
            os.replace(aside, path)
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` in one atomic step (Linux ``renameat2`` with
    ``RENAME_EXCHANGE``); False where the system or the file system cannot."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


@functools.cache
def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


@contextlib.contextmanager
def output_lock(path: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of the output ``path`` for a long job (training into it): a second aelab run
    that wants the same output is refused at once instead of at its end. The lock is the file
    ``.NAME.lock`` beside ``path``; the system releases it when the process ends, however it ends."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_file = path.with_name(f".{path.name}.lock")
    while True:
        lock = open(lock_file, "a+")  # noqa: SIM115 (closed below, or by the with block)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "?"
            lock.close()
            raise OutputBusyError(
                f"another aelab run (process {owner}) is writing {path}; wait for it to end or choose another output"
            ) from None
        if _same_file(lock, lock_file):
            break
        lock.close()  # its last holder removed it as we opened it: take the new one
    with lock:
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield path
        finally:
            lock_file.unlink(missing_ok=True)


def _same_file(handle, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; move it to ``path`` only if the block succeeds.

    Works for files and folders alike: the block creates whatever it likes at the yielded path.
    An existing ``path`` is replaced only when ``overwrite`` is true, and only after the new
    result is complete; a kill at any moment leaves the old result or the new one (see above).
    """
    path = check_output(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp = tmp_dir / path.name
    with open(tmp_dir / _LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield tmp
            if not tmp.exists():
                raise RuntimeError(f"nothing was written for {path}")
            _fsync_tree(tmp)
            if tmp.is_dir() and path.exists():
                check_output(path, overwrite)
                if not _exchange(tmp, path):
                    # no atomic exchange: move the old one aside (a kill here is undone by recover)
                    os.replace(path, tmp_dir / (path.name + ".old"))
                    os.replace(tmp, path)
            else:
                os.replace(tmp, path)  # for a file this replaces any old one atomically
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)


def _fsync_tree(path: Path) -> None:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for f in files:
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def save_json(path: Path, obj: Any) -> None:
    """JSON with NumPy scalars and arrays written as plain numbers and lists."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_numpy_to_json) + "\n")


def json_value(value: Any) -> Any:
    """A NumPy scalar as the plain Python value JSON takes (others unchanged)."""
    return value.item() if isinstance(value, np.generic) else value


def _numpy_to_json(obj: Any) -> Any:
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} cannot be written as JSON")


def read_tagged_folder(
    path: str | os.PathLike, file: str, fmt: str, version: int, what: str, schema: dict | None = None
) -> dict:
    """The JSON header ``file`` of an aelab folder (a model, an index), checked for its format tag
    and version, then against ``schema`` (:mod:`aelab.schemas`); one-line errors for a missing
    folder, a foreign file, a newer format or a damaged file."""
    path = Path(path)
    if not path.is_dir():
        recover(path)
    if not path.is_dir():
        raise ModelError(f"no {what} at {path}: expected a folder written by aelab")
    meta = read_json(folder_file(path, file))
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise ModelError(f"{path / file} is not an aelab {what}")
    if not isinstance(meta.get("format_version"), int) or meta["format_version"] > version:
        raise ModelError(f"{path} was saved by a newer aelab (format {meta.get('format_version')!r}); upgrade aelab")
    return meta if schema is None else schemas.check(meta, schema, str(path / file))


def folder_file(folder: Path, name: str) -> Path:
    """The entry ``name`` of an aelab folder, refused when it leads outside the folder (a link to
    elsewhere): a folder from someone else must not make aelab read other files."""
    path = Path(folder) / name
    if path.is_symlink() or (os.path.lexists(path) and not path.resolve().is_relative_to(Path(folder).resolve())):
        raise ModelError(
            f"{folder} is damaged: {name} is a link that leads outside the folder; aelab will not follow it"
        )
    return path


def read_json(path: Path, schema: dict | None = None) -> Any:
    """A JSON file, checked against ``schema`` when one is given; one line for a missing, damaged,
    oversized or too deeply nested file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        limits.check("file_bytes", size, f"{path} is {size:,} bytes")
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path} is missing; is {path.parent} a folder written by aelab?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is damaged: not valid JSON ({exc})") from None
    except ValueError:  # Python refuses to read a number of thousands of digits
        raise ModelError(f"{path} is damaged: it holds a number too long to be one aelab wrote") from None
    except RecursionError:
        raise ModelError(f"{path} is damaged: its values are nested too deeply") from None
    return obj if schema is None else schemas.check(obj, schema, str(path))


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, as hex."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def record_digests(folder: Path, names) -> dict[str, str]:
    """The digests of the files ``names`` of ``folder``, to be saved in its header (see :func:`check_digests`)."""
    return {name: file_digest(Path(folder) / name) for name in names}


def check_digests(folder: Path, digests: dict[str, str] | None) -> None:
    """Refuse a folder whose files differ from the digests recorded when it was saved (damage on a
    disk or in a transfer); folders saved before digests were recorded have none to check."""
    for name, digest in (digests or {}).items():
        path = folder_file(folder, name)
        if not path.is_file():
            raise ModelError(f"{folder} is damaged: {name} is missing")
        if file_digest(path) != digest:
            raise ModelError(f"{folder} is damaged: {name} differs from the file that was saved (its checksum)")


# --- nested state (dicts of tensors and plain values) as safetensors + JSON -----------------------


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """A safetensors file, with the permissions of the other files aelab writes (safetensors itself
    writes 0600); a write that fails (a full disk) is one line."""
    try:
        save_file(tensors, str(path))
    except Exception as exc:  # safetensors wraps the system's error in its own type
        text = str(exc)
        reason = text.split('message: "', 1)[1].split('"', 1)[0] if 'message: "' in text else text[:200]
        raise AelabError(
            f"cannot write {path} ({reason}); nothing was replaced: free some space and run again"
        ) from None
    os.chmod(path, 0o666 & ~_umask())


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_state(state: Any, folder: Path, name: str) -> None:
    """Store a nested structure of tensors and plain values as ``name.safetensors`` + ``name.json``."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _encode(state, tensors)
    save_tensors({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, folder / f"{name}.safetensors")
    save_json(folder / f"{name}.json", skeleton)


def load_state(folder: Path, name: str) -> Any:
    """Inverse of :func:`save_state`."""
    try:
        tensors = load_file(str(folder / f"{name}.safetensors"))
    except FileNotFoundError:
        raise ModelError(f"{folder / (name + '.safetensors')} is missing") from None
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise ModelError(f"{folder / (name + '.safetensors')} cannot be read ({exc})") from None
    return _decode(read_json(folder / f"{name}.json"), tensors)


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = obj
        return {"$tensor": key}
    if isinstance(obj, dict):
        return {"$dict": [[k, _encode(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"$tuple" if isinstance(obj, tuple) else "$list": [_encode(v, tensors) for v in obj]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a state file")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "$tensor" in obj:
            return tensors[obj["$tensor"]]
        if "$dict" in obj:
            return {k: _decode(v, tensors) for k, v in obj["$dict"]}
        if "$list" in obj:
            return [_decode(v, tensors) for v in obj["$list"]]
        if "$tuple" in obj:
            return tuple(_decode(v, tensors) for v in obj["$tuple"])
    return obj
