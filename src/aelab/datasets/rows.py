"""Samples that cost decoding, offered to training as an array of rows (see :class:`DecodedRows`)."""

from __future__ import annotations

import os

import numpy as np


class DecodedRows:
    """Samples that must be decoded (images, the members of shards) as an array of float32 rows
    that is never in memory whole: ``rows[i]``, ``rows[a:b]`` or ``rows[[i, j, ...]]`` decode those
    samples (:meth:`_decode`). Estimators stream it, and training decodes its batches in
    ``workers`` DataLoader processes (:class:`aelab.training.feed.Rows`)."""

    read_in_batches = True  # estimators stream it (:meth:`aelab.models.AutoEncoder.fit`)
    dtype = np.dtype(np.float32)
    ndim = 2
    name: str
    shape: tuple[int, int]
    image_shape: tuple[int, ...] | None
    labels: list | None

    def _decode(self, index: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def default_workers(workers: int | None) -> int:
        """``workers``, or by default up to 4 with a core left to training; none on a machine of two
        cores or fewer, where a worker contends with training's threads for the same cores and
        decoding in the training process is faster (``benchmarks/streaming.py``)."""
        if workers is not None:
            return workers
        cores = os.cpu_count() or 1
        return 0 if cores <= 2 else min(4, cores - 1)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        index = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key)
        if index.size == 0:
            return np.zeros((0, self.shape[1]), np.float32)
        X = self._decode(index.reshape(-1))
        return X[0] if index.ndim == 0 else X

    def reshape(self, *shape):
        """Itself, for ``reshape(len(rows), -1)`` (it is rows already)."""
        if tuple(shape) not in ((len(self), -1), self.shape):
            raise ValueError(
                f"{type(self).__name__} are rows of {self.shape[1]} values; they do not reshape to {shape}"
            )
        return self

    def describe(self) -> str:
        """What the rows are, in a few words."""
        shape = "x".join(map(str, self.image_shape)) if self.image_shape else f"{self.shape[1]} values"
        return f"{len(self)} samples of {shape}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}: {self.describe()})"
