"""Worker processes that end with the process that started them.

A process that aelab starts (a shard builder, an image decoder of training, a rank that the
launcher of several processes starts) calls :func:`die_with_parent` first: when its parent ends,
however it ends (``kill -9`` included, which gives the parent no chance to stop its workers), the
worker ends within a second, and so does whatever waited on it (a resource tracker, the pipe of a
calling script). On Linux the kernel kills it at once (``PR_SET_PDEATHSIG``); everywhere, a thread
of the worker watches for its parent to be gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PARENT_CHECK_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> None:
    """End this process when the process ``parent`` (by default its parent now) ends. Pass the
    parent's pid from the parent where a worker might start after the parent is gone."""
    parent = os.getppid() if parent is None else int(parent)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # the watching thread below still ends it
    if os.getppid() != parent:  # the parent ended before the signal was asked for
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="aelab-parent-watch", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def start_worker(parent: int, settings: dict) -> None:
    """A process pool's ``initializer`` (``initargs=(os.getpid(), aelab.limits.as_dict())``): the
    worker ends with its parent and reads under its parent's limits. It lives here, in a module
    that imports nothing heavy, so that it runs a moment after the worker starts, not after torch
    has loaded (a parent killed in that time would otherwise leave the worker to load it)."""
    from . import limits

    die_with_parent(parent)
    limits.set_limits(**settings)


def loader_worker_init(parent: int, worker_id: int) -> None:
    """A DataLoader's ``worker_init_fn`` (with ``functools.partial(loader_worker_init, os.getpid())``)."""
    die_with_parent(parent)
