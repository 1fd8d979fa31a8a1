"""What several jobs read the same way (the collection that the data options name, as a data set in
memory; the text collection that the text options name), and the job that packs a collection into
WebDataset shards (``aelab pack``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..params import SAMPLES_PER_SHARD


@dataclass
class DataOptions:
    """A collection and how to split it: ``data`` is any spec of :func:`aelab.datasets.load`
    (``digits``, ``mnist``, a folder, a file), ``image_size`` (height, width) resizes images of
    several sizes, data without a split of its own gets a seeded hold-out of ``test_size``."""

    data: str
    data_dir: str | os.PathLike | None = None
    test_size: float = 0.2
    split_seed: int = 0
    label_column: str | None = None
    image_size: tuple[int, int] | None = None

    def load(self):
        """The data set, in memory."""
        from .. import datasets

        return datasets.load(
            self.data,
            self.data_dir,
            test_size=self.test_size,
            seed=self.split_seed,
            label_column=self.label_column,
            image_size=self.image_size,
        )

    def collection(self, split: str = "train", stream: bool = False) -> dict:
        """The arguments of :func:`aelab.search.open_collection` for this collection: the ``split``
        of the data set in memory, or (``stream``) every sample read a batch at a time."""
        return dict(
            spec=self.data,
            data_dir=self.data_dir,
            split=split,
            stream=stream,
            image_size=self.image_size,
            test_size=self.test_size,
            seed=self.split_seed,
            label_column=self.label_column,
        )

    def open(self, split: str = "train", stream: bool = False):
        """The collection as a :class:`aelab.datasets.Stream` (see :meth:`collection`)."""
        from ..search import open_collection

        return open_collection(**self.collection(split, stream))


@dataclass
class TextOptions:
    """A text collection and how to read it: ``data`` is a folder of text files (one sub-folder per
    label), a ``.tar.gz`` of one, or a ``.csv`` / ``.jsonl`` table (``text_column``,
    ``label_column``); ``strip`` removes e-mail parts (``headers``, ``quotes``, ``signatures``,
    ``all`` or ``none``; None: as the model was trained, where there is one); data without a split
    of its own gets a seeded hold-out of ``test_size``."""

    data: str
    strip: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    test_size: float = 0.2
    split_seed: int = 0

    def load(self, trained_strip: str = "none"):
        """The corpus, with ``strip``'s parts removed (``trained_strip`` where ``strip`` is None)."""
        from ..text import load_text, parse_strip

        return load_text(
            self.data,
            strip_parts=parse_strip(self.strip if self.strip is not None else trained_strip),
            text_column=self.text_column,
            label_column=self.label_column,
            test_size=self.test_size,
            seed=self.split_seed,
        )


@dataclass
class PackRequest:
    """The samples of an image folder (each file as it is, its sub-folder as its class) or of a
    ``.npy`` file (a row a sample) written as WebDataset shards of ``samples_per_shard`` into ``out``."""

    data: str
    out: str | os.PathLike
    samples_per_shard: int = SAMPLES_PER_SHARD
    overwrite: bool = False


def pack(request: PackRequest):
    """Write the shards atomically; returns them read back (:class:`aelab.datasets.ShardRows`) and
    their files."""
    from ..datasets import ShardRows, pack_shards
    from ..storage import check_output

    check_output(request.out, request.overwrite)
    shards = pack_shards(request.data, request.out, request.samples_per_shard, overwrite=request.overwrite)
    return ShardRows(request.out, workers=0), shards
