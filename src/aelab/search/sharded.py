"""An IVF-PQ index built in shards, for collections whose vectors one process should not hold, in
the way FAISS documents for indexes that do not fit in memory: the coarse quantizer and the
product quantizer are trained once on a sample spread over the collection; each shard of the
collection is then encoded and added to a copy of that trained, empty index in a process of its
own; and the shards' inverted lists are merged into one index folder.

Each step is atomic and resumable: its result appears whole or not at all, in the work folder
``OUT.building`` beside ``OUT``, so a rerun of the same command skips what is done, rebuilds a
shard that was killed, and never sees half a shard; ``OUT`` itself is written (atomically) only
by the merge, after every shard is complete.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .. import limits
from ..errors import DataError, ParameterError
from ..models import load as load_model
from ..storage import atomic_path, check_output, save_json
from ..workers import start_worker
from .collection import FITTED_SPACES, open_collection, space_model, spread_sample
from .index import EXACT_FILE, Index, default_metric

TRAIN_SAMPLES = 100_000  # vectors the quantizers are trained on, spread over the collection
TRAINED, SETTINGS, MODEL = "trained.faiss", "settings.json", "model"


def build_sharded(
    collection: dict,
    out,
    *,
    shards: int,
    workers: int = 1,
    model=None,
    space: str = "code",
    metric: str | None = None,
    n_components: int | None = None,
    info: dict | None = None,
    batch_size: int = 8192,
    train_samples: int = TRAIN_SAMPLES,
    overwrite: bool = False,
    **params,
) -> Index:
    """Build the ``kind="ivfpq"`` index folder ``out`` of the collection that
    ``open_collection(**collection)`` opens, in ``shards`` shards added by ``workers`` processes.
    ``model``, ``space``, ``metric``, ``n_components`` and ``info`` are those of
    :func:`aelab.search.index_collection`; ``params``, the index's (``ivf_lists``, ``pq_groups``...)."""
    if int(shards) < 1 or int(workers) < 1:
        raise ParameterError(f"shards and workers must be at least 1, not {shards} and {workers}")
    out = check_output(out, overwrite)
    work = out.with_name(out.name + ".building")
    work.mkdir(parents=True, exist_ok=True)
    source = open_collection(**collection)
    if source.n < int(shards):
        raise DataError(f"{source.name} has {source.n} items: fewer than {shards} shards")
    info = dict(info or {})
    if not (work / TRAINED).exists():
        _train(source, work, model, space, metric, n_components, int(train_samples), params)
    bounds = np.linspace(0, source.n, int(shards) + 1).astype(int).tolist()
    prefix = "row:" if info.get("stream") else f"{info.get('split', 'all')}:"
    todo = [s for s in range(int(shards)) if not _shard_folder(work, s).exists()]
    jobs = [(collection, str(work), s, bounds[s], bounds[s + 1], prefix, int(batch_size)) for s in todo]
    if int(workers) > 1 and len(jobs) > 1:
        # each worker ends with this process, however it ends, and reads under this process's limits
        start = (os.getpid(), limits.as_dict())
        with ProcessPoolExecutor(
            min(int(workers), len(jobs)), mp_context=get_context("spawn"), initializer=start_worker, initargs=start
        ) as pool:
            list(pool.map(_build_shard, *zip(*jobs)))
    else:
        for job in jobs:
            _build_shard(*job)
    index = _merge(work, int(shards))
    index.info = dict(info, image_shape=list(source.image_shape) if source.image_shape else None, shards=int(shards))
    index.save(out, overwrite=overwrite)
    shutil.rmtree(work, ignore_errors=True)
    return index


def _train(source, work: Path, model, space, metric, n_components, samples: int, params: dict) -> None:
    """The trained, empty index (and the model that encodes the collection), written once."""
    import faiss

    sample = spread_sample(source, samples)
    encoder = space_model(space, model, n_components)
    if space in FITTED_SPACES:
        encoder.fit(sample, image_shape=source.image_shape)
    metric = metric or default_metric(encoder)
    index = Index(metric=metric, kind="ivfpq", space=space, **params)
    index.faiss_index = index.new_faiss_index(index.prepared(sample if encoder is None else encoder.transform(sample)))
    settings = {"metric": metric, "space": space, "params": params}
    if encoder is not None:
        encoder.save(work / MODEL, overwrite=True)  # itself atomic; the trained index comes last
    save_json(work / SETTINGS, settings)
    with atomic_path(work / TRAINED, overwrite=True) as tmp:
        faiss.write_index(index.faiss_index, str(tmp))


def _trained(work: Path) -> Index:
    import faiss

    settings = json.loads((work / SETTINGS).read_text())
    index = Index(metric=settings["metric"], kind="ivfpq", space=settings["space"], **settings["params"])
    index.kind_ = "ivfpq"
    index.faiss_index = faiss.read_index(str(work / TRAINED))
    index.model = load_model(work / MODEL) if (work / MODEL).exists() else None
    return index


def _shard_folder(work: Path, s: int) -> Path:
    return work / f"shard-{s:05d}"


def _build_shard(collection: dict, work, s: int, start: int, stop: int, prefix: str, batch_size: int) -> None:
    """Shard ``s``: the collection's rows ``start`` to ``stop`` encoded and added, by their
    positions, to a copy of the trained index; written whole or not at all."""
    import faiss

    work = Path(work)
    source, index = open_collection(**collection), _trained(work)
    exact = []
    for a in range(start, stop, batch_size):
        b = min(stop, a + batch_size)
        V = index.prepared(index.encode(source.rows(a, b)))
        index.faiss_index.add_with_ids(V, np.arange(a, b, dtype=np.int64))
        exact.append(V)
    with atomic_path(_shard_folder(work, s)) as tmp:
        tmp.mkdir()
        faiss.write_index(index.faiss_index, str(tmp / "codes.faiss"))
        np.save(tmp / EXACT_FILE, np.concatenate(exact), allow_pickle=False)
        items = {
            "ids": [f"{prefix}{n}" for n in range(start, stop)],
            "paths": [None] * (stop - start) if source.paths is None else source.paths[start:stop],
            "labels": None if source.labels is None else source.labels[start:stop],
        }
        save_json(tmp / "items.json", items)


def _merge(work: Path, shards: int) -> Index:
    """The trained index with every shard's inverted lists moved in (then converted for fast
    scanning), and their items in order."""
    import faiss

    index = _trained(work)
    parts, ids, paths, labels = [], [], [], []
    for s in range(shards):
        folder = _shard_folder(work, s)
        index.faiss_index.merge_from(faiss.read_index(str(folder / "codes.faiss")), 0)
        parts.append(np.load(folder / EXACT_FILE, mmap_mode="r"))
        items = json.loads((folder / "items.json").read_text())
        ids += items["ids"]
        paths += items["paths"]
        labels = None if items["labels"] is None else [*(labels or []), *items["labels"]]
    index.faiss_index = index.fast_scan(index.faiss_index)
    index.exact_parts, index.ids, index.paths, index.labels = parts, ids, paths, labels
    return index
