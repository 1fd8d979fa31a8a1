"""What the training loop feeds on: the training rows as batches on the training device, read
from memory or streamed from a file or a folder (read ahead in worker processes where rows cost
decoding), with memory-map advice that keeps a pass over a file larger than memory small, and the
fingerprint of the data that keeps a checkpoint from resuming on other data."""

from __future__ import annotations

import functools
import hashlib
import mmap
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch

from ..errors import AelabError
from ..workers import loader_worker_init

FINGERPRINT_ROWS = 256


def data_fingerprint(X: np.ndarray) -> str:
    """A cheap fingerprint of a training set, part of a run's identity so that a checkpoint is never
    resumed on other data: its shape and a hash of a seeded sample of its rows (in their order, so
    another split of the same rows differs too)."""
    rows = np.sort(np.random.default_rng(0).choice(len(X), size=min(len(X), FINGERPRINT_ROWS), replace=False))
    digest = hashlib.sha256(repr((X.shape, str(X.dtype), rows.tolist())).encode())
    digest.update(np.ascontiguousarray(X[rows]).tobytes())
    return digest.hexdigest()[:32]


def advise_mapped(X, advice: str) -> None:
    """``madvise`` the mapping under a memory-mapped array (``"MADV_DONTNEED"``, ``"MADV_RANDOM"``...);
    other arrays, or systems without that advice: nothing to do."""
    while X is not None and not isinstance(X, mmap.mmap):
        X = getattr(X, "base", None)
    if X is not None and hasattr(mmap, advice):
        X.madvise(getattr(mmap, advice))


def release_mapped_pages(X) -> None:
    """Let go of the pages of a memory-mapped array that this process has read: they stay in the
    system's file cache, but stop counting as this process's memory, so that a pass over a file
    larger than memory leaves the process small."""
    advise_mapped(X, "MADV_DONTNEED")


class Rows:
    """The training data as ``take(positions) -> (X rows[, y rows])`` on the training device: one
    tensor indexed in memory, or (``stream``) rows read from the array when asked for and passed
    through ``prepare``. Either way a batch holds the same rows in the same order, so a streamed
    run trains the weights an in-memory run trains."""

    def __init__(self, X, y, device: torch.device, stream: bool = False, prepare=None):
        self.X, self.device, self.stream = X, device, stream
        self._reader: ReadAhead | None = None  # decoding workers, started by the first epoch's batches
        if stream:  # batches read rows at random: no read-ahead around each one (it would read it all)
            advise_mapped(X, "MADV_RANDOM")
        self.prepare = prepare or (lambda a: np.asarray(a, dtype=np.float32))
        self.n, self.n_features = len(X), int(np.prod(X.shape[1:]))
        if not stream:
            data = np.ascontiguousarray(self.prepare(X), dtype=np.float32)
            self.memory = torch.from_numpy(data if data.flags.writeable else data.copy()).to(device)
        self.y = None if y is None else torch.as_tensor(np.asarray(y)).to(device)

    def take(self, positions: torch.Tensor, block: np.ndarray | None = None) -> tuple[torch.Tensor, ...]:
        """The rows at ``positions`` (and their targets) on the device; ``block``: those rows,
        streamed and read already (by a worker of :meth:`batches`)."""
        if self.stream:
            x = rows_to(torch.from_numpy(self._host_rows(positions, block)), self.device)
        else:
            x = self.memory[positions.to(self.device)]
        return self._with_targets(x, positions)

    def _with_targets(self, x: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (x,) if self.y is None else (x, self.y[positions.to(self.device)])

    def _host_rows(self, positions: torch.Tensor, block: np.ndarray | None = None) -> np.ndarray:
        if block is None:
            release_mapped_pages(self.X)  # the last batch's pages: the process stays small
            block = self._read(positions)
        return block

    def _read(self, positions: torch.Tensor | np.ndarray) -> np.ndarray:
        index = positions.cpu().numpy() if isinstance(positions, torch.Tensor) else positions
        return np.ascontiguousarray(self.prepare(self.X[index]), dtype=np.float32).reshape(len(index), -1)

    def read(self, positions: np.ndarray) -> np.ndarray:
        """The rows at ``positions`` as float32 on the CPU, prepared as training takes them."""
        if self.stream:
            return self._read(positions)
        return self.memory[torch.from_numpy(np.asarray(positions)).to(self.memory.device)].cpu().numpy()

    def batches(self, positions: list[torch.Tensor], partners: list[torch.Tensor] | None = None):
        """``take`` of each of ``positions``, in order; with ``partners`` (rows, one per position),
        each batch is ``(x, x_partner)``. Data whose rows cost decoding (an image folder, shards:
        ``X.workers``) is read ahead in that many worker processes, started at the first epoch and
        kept for the run (:class:`ReadAhead`; :meth:`close` ends them). Streamed rows go to a
        CUDA device one batch ahead of use, on a side stream (:func:`sent_ahead`)."""
        if partners is not None:  # both read as one batch, then split
            joined = [torch.cat([p, q]) for p, q in zip(positions, partners)]
            return ((x[: len(p)], x[len(p) :]) for (x, *_), p in zip(self.batches(joined), positions))
        if not self.stream and positions and self.device.type != "cpu":  # the epoch's rows sent in one copy
            on_device = torch.cat(positions).to(self.device, non_blocking=True)
            positions = list(torch.split(on_device, [len(p) for p in positions]))
        if not self.stream:
            return map(self.take, positions)
        workers = getattr(self.X, "workers", 0)
        if not workers:
            blocks = map(self._host_rows, positions)
        else:
            if self._reader is None:
                self._reader = ReadAhead(self._read, workers)
            # the workers are sent arrays: a tensor would go through shared memory, a round trip a batch
            blocks = self._reader([p.numpy() for p in positions])
        sent = sent_ahead((torch.from_numpy(b) for b in blocks), self.device)
        return map(self._with_targets, sent, positions)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class ReadAhead:
    """``read(block)`` for the blocks of each call, in order, in ``workers`` DataLoader worker
    processes that read ahead of use (decoding images while the model trains). The workers start
    once and serve every later call: on a GPU an epoch can take less time than starting them. A
    worker's error (an image that will not decode) is raised here as itself, in one line, not as a
    worker's traceback. Blocks come back as numpy arrays, through a pipe (measured faster than as
    tensors in shared memory, whose file descriptors cost a round trip to the worker per batch)."""

    def __init__(self, read: Callable, workers: int):
        self._blocks = _Blocks()
        self._loader = torch.utils.data.DataLoader(
            _Reads(read),
            batch_size=None,
            sampler=self._blocks,  # each "index" is a block itself, sent to a worker
            num_workers=workers,
            collate_fn=_as_it_is,
            persistent_workers=True,
            multiprocessing_context="fork" if "fork" in mp.get_all_start_methods() else None,
            worker_init_fn=functools.partial(loader_worker_init, os.getpid()),  # they end with this process
            # its own generator for the workers' seeds: one drawn from torch's global generator
            # when the workers start would shift the training noise of a resumed run
            generator=torch.Generator().manual_seed(0),
        )

    def __call__(self, blocks: list):
        self._blocks.blocks = list(blocks)
        for out in self._loader:
            if isinstance(out, AelabError):
                raise out
            yield out

    def close(self) -> None:
        """End the worker processes now (the loader's iterator ends them when it goes)."""
        self._loader = None


def read_ahead(read: Callable, blocks: list, workers: int = 0):
    """``read(block)`` for each of ``blocks``, in order; with ``workers``, in that many worker
    processes ahead of use (:class:`ReadAhead`)."""
    if not workers:
        yield from map(read, blocks)
        return
    reader = ReadAhead(read, min(workers, len(blocks)) or 1)
    try:
        yield from reader(blocks)
    finally:
        reader.close()


class _Blocks(torch.utils.data.Sampler):
    """The blocks that a :class:`ReadAhead` reads now; set before each pass."""

    def __init__(self):
        self.blocks: list = []

    def __len__(self) -> int:
        return len(self.blocks)

    def __iter__(self):
        return iter(self.blocks)


class _Reads(torch.utils.data.Dataset):
    """``read`` of a block; errors come back as values, raised by the reader."""

    def __init__(self, read: Callable):
        self.read = read

    def __getitem__(self, block):
        try:
            return self.read(block)
        except AelabError as exc:
            return exc


def _as_it_is(out):
    return out


def sent_ahead(blocks: Iterable[torch.Tensor], device: torch.device) -> Iterator[torch.Tensor]:
    """CPU tensors on ``device``, in order. On CUDA each goes up from pinned memory on a side stream,
    issued before the one ahead of it is handed out: the copy of the next batch runs while this one
    computes, and the next is read from disk meanwhile. Elsewhere each is :func:`rows_to` as it comes."""
    if device.type != "cuda":
        yield from (rows_to(block, device) for block in blocks)
        return
    side = torch.cuda.Stream(device)
    waiting = None
    for block in blocks:
        host = block.pin_memory()
        with torch.cuda.stream(side):
            sent = host.to(device, non_blocking=True)
        copied = side.record_event()
        if waiting is not None:
            yield _arrived(*waiting)
        waiting = sent, copied
    if waiting is not None:
        yield _arrived(*waiting)


def _arrived(sent: torch.Tensor, copied: torch.cuda.Event) -> torch.Tensor:
    """``sent`` for the current stream, once its copy is done; its memory is not reused while that
    stream may still read it (the allocator knows it only on the side stream)."""
    stream = torch.cuda.current_stream(sent.device)
    stream.wait_event(copied)
    sent.record_stream(stream)
    return sent


def rows_to(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor of rows on ``device``: on CUDA sent from pinned memory without blocking."""
    return x.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else x.to(device)
