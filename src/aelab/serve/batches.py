"""The explorer's work off the event loop, on one worker thread, with the requests that arrive
while it is busy run together.

The event loop goes on reading requests and writing answers while the worker computes (torch and
FAISS release the GIL), so a request's HTTP work and another's computing share the cores; the
model and the indexes are only ever used by the worker; and a batch of rows goes through the
model in one pass, which reads its weights once for all of them (one row at a time, a small
model's forward pass is bound by reading its weights). A batch forms only while the worker is
busy, so a lone request waits for nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class Worker:
    """One thread for the explorer's computing; ``await worker.batch(fn, argument, *options)`` runs
    ``fn([argument, ...], *options)`` (which answers a list, one result per argument) over every
    argument that waits with the same ``fn`` and options, and ``await worker.run(fn, *args)`` runs
    one call as it is."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="aelab-explorer")
        self._waiting: dict[tuple, list[tuple[Any, asyncio.Future]]] = {}
        self._draining: asyncio.Task | None = None

    async def run(self, fn: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def batch(self, fn: Callable, argument, *options):
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((fn, *options), []).append((argument, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        """Answer the waiting batches, oldest first, until none waits (new ones gather meanwhile)."""
        try:
            while self._waiting:
                key = next(iter(self._waiting))
                await self._answer(key[0], key[1:], self._waiting.pop(key))
        finally:
            self._draining = None

    async def _answer(self, fn: Callable, options: tuple, calls: list[tuple[Any, asyncio.Future]]) -> None:
        try:
            results = await self.run(fn, [argument for argument, _ in calls], *options)
        except Exception as exc:
            if len(calls) > 1:  # one bad argument must not fail the others: each alone
                for call in calls:
                    await self._answer(fn, options, [call])
            elif not calls[0][1].done():
                calls[0][1].set_exception(exc)
            return
        for (_, future), result in zip(calls, results, strict=True):
            if not future.done():  # else its request went away
                future.set_result(result)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
