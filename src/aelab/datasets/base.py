"""The in-memory data set every loader returns, and the helpers that split it or keep part of its labels."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import train_test_split

from ..errors import DataError


@dataclass
class Split:
    """One part of a data set: samples ``X`` (float32, one row each), labels ``y`` or None, and
    ``ids`` naming each sample in its source (file paths, or row numbers in the file)."""

    X: np.ndarray
    y: np.ndarray | None = None
    ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.X)


@dataclass
class Dataset:
    """A data set with its ``train`` and ``test`` splits.

    ``image_shape`` is ``(height, width)`` for grey images, ``(height, width, channels)`` for
    colour images, and None for plain feature vectors; each row of ``X`` is an image flattened in
    that order. Labels that came from names (folder names, CSV text, a named data set's classes)
    are those names, and ``classes`` lists them in natural order (s1, s2, ..., s10).
    """

    name: str
    train: Split
    test: Split
    image_shape: tuple[int, ...] | None = None
    classes: list[str] | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return self.train.X.shape[1]

    def split(self, which: str) -> Split:
        """``"train"``, ``"test"`` or ``"all"`` (train followed by test)."""
        if which in ("train", "test"):
            return getattr(self, which)
        if which == "all":

            def both(a, b):
                return None if a is None or b is None else np.concatenate([a, b])

            return Split(
                np.concatenate([self.train.X, self.test.X]),
                both(self.train.y, self.test.y),
                both(self.train.ids, self.test.ids),
            )
        raise ValueError(f"split must be 'train', 'test' or 'all', not {which!r}")

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.image_shape)) if self.image_shape else f"{self.n_features} features"
        labels = "labelled" if self.train.y is not None else "unlabelled"
        return f"Dataset({self.name!r}: {len(self.train)} train, {len(self.test)} test, {shape}, {labels})"


def scale_images(X: np.ndarray) -> np.ndarray:
    """Integer pixels to [0, 1]; float pixels are taken as they are."""
    if np.issubdtype(X.dtype, np.integer):
        top = 255.0 if X.max(initial=0) <= 255 else float(np.iinfo(X.dtype).max)
        return X.astype(np.float32) / top
    return X.astype(np.float32, copy=False)


def hold_out(
    name: str, X: np.ndarray, y: np.ndarray | None, test_size: float, seed: int, ids: np.ndarray | None = None, **kw
) -> Dataset:
    """Make a seeded train/test split for data that has no split of its own.

    Each sample keeps its id (by default its row number in the source) so it can be traced back.
    """
    if len(X) < 2:
        raise DataError(f"{name} has {len(X)} sample; at least 2 are needed to hold out a test set")
    if not 0 < test_size < 1:
        raise DataError(f"test_size must be between 0 and 1, not {test_size}")
    idx_train, idx_test = split_rows(len(X), y, seed, test_size=test_size)
    ids = np.arange(len(X)) if ids is None else np.asarray(ids)

    def part(idx):
        return Split(X[idx], None if y is None else y[idx], ids[idx])

    info = dict(kw.pop("info", {}), split=f"seeded hold-out: test_size={test_size}, seed={seed}")
    return Dataset(name, part(idx_train), part(idx_test), info=info, **kw)


def split_rows(n: int, y=None, seed: int = 0, *, test_size: float | None = None, train_size: int | None = None):
    """Row numbers ``(first, second)`` of a seeded split of ``n`` rows: ``train_size`` rows (or all
    but a ``test_size`` share) in the first part, the rest in the second. With labels ``y`` the
    split is stratified when every class can be in both parts, and plain random otherwise."""
    rows = np.arange(n)
    stratify = None
    if y is not None:
        _, counts = np.unique(np.asarray(y), return_counts=True)
        n_second = n - int(train_size) if train_size is not None else int(np.ceil(test_size * n))
        if counts.min() >= 2 and len(counts) <= n_second <= n - len(counts):
            stratify = y
    return train_test_split(rows, test_size=test_size, train_size=train_size, random_state=seed, stratify=stratify)


def natural_key(label) -> list:
    """A sort key that orders names as people do: s1, s2, ..., s10 (digit runs compare as numbers)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(label))]


def natural_sorted(labels) -> list:
    """The distinct ``labels`` in natural order (numbers as numbers, names as :func:`natural_key`)."""
    values = list(dict.fromkeys(np.asarray(labels).tolist()))
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return sorted(values)
    return sorted(values, key=natural_key)


def keep_labels(X: np.ndarray, y: np.ndarray, n_labels: int, seed: int = 0):
    """Keep the labels of ``n_labels`` samples, stratified by class, for learning with few labels.

    Returns ``(X_labelled, y_labelled, X_unlabelled)``: the kept samples with their labels, and the
    other samples without theirs.
    """
    if not 0 < n_labels < len(X):
        raise DataError(f"the number of labels to keep must be between 1 and {len(X) - 1}, not {n_labels}")
    keep, rest = split_rows(len(X), y, seed, train_size=int(n_labels))
    return X[keep], y[keep], X[rest]
