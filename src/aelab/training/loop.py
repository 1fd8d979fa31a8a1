"""The training loop: plain PyTorch, top to bottom, with checkpoints that make runs resumable.

It trains a ``torch.nn.Module`` on arrays and knows nothing of estimators: the objective is a
``batch_loss`` function that calls the module (its ``forward``).

Batches are slices of one in-memory tensor, taken through a seeded permutation each epoch (no
per-sample Python). After every epoch the whole training state (weights, optimizer, schedule,
random generator, early-stopping record) is written atomically, so a run killed at any moment
resumes from its last epoch and ends exactly where an uninterrupted run with the same seed ends.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import mmap
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import AelabError
from ..params import AUTO_EPOCHS, AUTO_MAX_BATCH, AUTO_STEPS, TABLE, auto_batch_size, auto_epochs, auto_patience
from ..workers import loader_worker_init
from .checkpoints import has_checkpoint, load_checkpoint, save_checkpoint
from .distributed import World, barrier, every_rank, gather_objects, join, on_main, sum_over_ranks, wrap
from .feed import NeighbourGraph

#: ``batch_loss(module, batch, epoch) -> (loss, {term name: value})``: the objective of one batch.
#: ``batch`` holds the batch's rows of X (and of y, when there are targets); ``epoch`` counts the
#: epochs done so far, with fractions (for warm-ups), and is ``inf`` for validation.
BatchLoss = Callable[[nn.Module, tuple[torch.Tensor, ...], float], tuple[torch.Tensor, dict[str, torch.Tensor]]]


class TrainingError(AelabError, RuntimeError):
    """Training cannot go on (the loss diverged, a checkpoint does not fit this run)."""


@dataclass
class TrainConfig:
    """How to train: the training parameters of :mod:`aelab.params` (whose defaults are the default
    recipe), with a definite ``seed`` and ``device``."""

    epochs: int = AUTO_EPOCHS
    batch_size: int = AUTO_MAX_BATCH
    learning_rate: float = TABLE["learning_rate"].default
    lr_schedule: str = TABLE["lr_schedule"].default
    weight_decay: float = TABLE["weight_decay"].default
    validation_fraction: float = TABLE["validation_fraction"].default
    patience: int | str | None = TABLE["patience"].default
    precision: str = TABLE["precision"].default
    compile: bool = False
    seed: int = 0
    device: str = "cpu"
    #: how far "auto" epochs shrink for a net whose steps cost more (:func:`aelab.params.auto_epochs`)
    effort: float = 1.0
    #: the least "auto" epochs and the steps they make at least (:func:`aelab.params.auto_epochs`)
    auto_at_least: int = AUTO_EPOCHS
    auto_steps: int = AUTO_STEPS

    def n_train(self, n_samples: int) -> int:
        """How many of ``n_samples`` rows train (the rest validate)."""
        return max(1, n_samples - (int(round(self.validation_fraction * n_samples)) if n_samples > 1 else 0))

    def steps_per_epoch(self, n_samples: int) -> int:
        """Optimizer steps in an epoch over ``n_samples`` rows (a last partial batch is dropped)."""
        n_train = self.n_train(n_samples)
        return max(1, n_train // min(int(self.batch_size), n_train))

    def resolved(self, n_samples: int) -> TrainConfig:
        """This configuration with ``"auto"`` epochs and batch size chosen for ``n_samples``
        (:func:`aelab.params.auto_batch_size`, :func:`aelab.params.auto_epochs`)."""
        config = self
        if config.batch_size == "auto":
            config = replace(config, batch_size=auto_batch_size(config.n_train(n_samples)))
        if config.epochs == "auto":
            epochs = auto_epochs(
                config.steps_per_epoch(n_samples), config.effort, config.auto_at_least, config.auto_steps
            )
            config = replace(config, epochs=epochs)
        if config.patience == "auto":
            config = replace(config, patience=auto_patience(config.epochs))
        return config

    def check(self) -> None:
        """One-line ParameterErrors for values the table of :mod:`aelab.params` does not allow."""
        for name in (
            "epochs",
            "batch_size",
            "learning_rate",
            "lr_schedule",
            "weight_decay",
            "validation_fraction",
            "patience",
            "precision",
            "compile",
        ):
            TABLE[name].check(getattr(self, name))


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    resumed_from: int | None = None
    #: the global batch and the steps of an epoch (several ranks round the batch to a multiple of them)
    batch_size: int | None = None
    steps_per_epoch: int | None = None

    @property
    def seconds(self) -> float:
        return float(sum(h["seconds"] for h in self.history))


def fit_module(
    module: nn.Module,
    X: np.ndarray,
    batch_loss: BatchLoss,
    config: TrainConfig,
    *,
    y: np.ndarray | None = None,
    param_groups: list[dict] | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    fingerprint: dict | None = None,
    progress: bool = True,
    stream: bool = False,
    prepare: Callable[[np.ndarray], np.ndarray] | None = None,
    neighbours: int | None = None,
    neighbour_words: bool = False,
) -> TrainResult:
    """Train ``module`` on the rows of ``X`` (and targets ``y``, if given) to minimise ``batch_loss``.

    With ``stream``, ``X`` (a memory-mapped ``.npy``, say) is never copied whole: each batch's rows
    are read from it when they are needed and passed through ``prepare`` (scaling, e.g. uint8 to
    [0, 1]; float32 by default). The batches, their order and so the trained weights are those of
    the same data in memory (:class:`Rows`).

    A ``validation_fraction`` of the rows (chosen by the seed) is held out: its loss is reported
    every epoch, drives early stopping after ``patience`` epochs without improvement, and picks the
    weights kept at the end. ``param_groups`` (optimizer groups) may give parts of the module their
    own weight decay. With ``checkpoint_dir`` the state is saved after every epoch, and ``resume``
    continues from it; ``fingerprint`` (the settings that define the run) must match.

    Random draws inside ``batch_loss`` (input noise, variational samples) come from torch's global
    generator, seeded here and saved in every checkpoint; the caller's generator is left untouched.

    With ``neighbours`` (k), each training batch holds beside its rows one of each row's k nearest
    training rows (:class:`aelab.training.feed.NeighbourGraph`, drawn anew each epoch from the seed):
    ``batch_loss`` gets ``(x, x_partner)``; validation batches hold the rows alone. With
    ``neighbour_words`` the rows are word counts, compared by their words.
    """
    config.check()
    config = config.resolved(len(X))
    ranks = join()
    device = ranks.device(config.device)
    precision = torch.get_float32_matmul_precision()
    if device.type == "cuda":  # TF32 matmuls on Ampere and later (float32 range, 10-bit mantissa)
        torch.set_float32_matmul_precision("high")
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(config.seed + 2 + RANK_SEED_STRIDE * ranks.rank)  # each rank its own noise
            rows = Rows(X, y, device, stream, prepare)
            try:
                return _fit(
                    module,
                    rows,
                    batch_loss,
                    config,
                    device,
                    ranks,
                    param_groups,
                    checkpoint_dir,
                    resume,
                    fingerprint,
                    progress,
                    neighbours,
                    neighbour_words,
                )
            finally:
                rows.close()
    finally:
        torch.set_float32_matmul_precision(precision)


RANK_SEED_STRIDE = 7919  # rank r draws its noise from seed + 2 + r * this (rank 0: a one-process run's)
PARTNER_STREAM = 3  # the stream of the seed that draws each epoch's neighbour partners
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
            if block is None:
                release_mapped_pages(self.X)  # the last batch's pages: the process stays small
                block = self._read(positions)
            x = rows_to(torch.from_numpy(block), self.device)
        else:
            x = self.memory[positions.to(self.device)]
        return (x,) if self.y is None else (x, self.y[positions.to(self.device)])

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
        kept for the run (:class:`ReadAhead`; :meth:`close` ends them)."""
        if partners is not None:  # both read as one batch, then split
            joined = [torch.cat([p, q]) for p, q in zip(positions, partners)]
            return ((x[: len(p)], x[len(p) :]) for (x, *_), p in zip(self.batches(joined), positions))
        workers = getattr(self.X, "workers", 0) if self.stream else 0
        if not workers:
            return map(self.take, positions)
        if self._reader is None:
            self._reader = ReadAhead(self._read, workers)
        # the workers are sent arrays: a tensor would go through shared memory, a round trip a batch
        return map(self.take, positions, self._reader([p.numpy() for p in positions]))

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


def _fit(
    module,
    rows,
    batch_loss,
    config,
    device,
    ranks: World,
    param_groups,
    checkpoint_dir,
    resume,
    fingerprint,
    progress,
    neighbours=None,
    neighbour_words=False,
):
    module.to(device)
    n = rows.n
    split = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(n, generator=split)
    n_val = int(round(config.validation_fraction * n)) if n > 1 else 0
    val_positions, train_positions = order[:n_val], order[n_val:]
    n_train = n - n_val
    if ranks.size > n_train:
        raise every_rank(
            TrainingError(
                f"{ranks.size} processes, but only {n_train} training samples; start at most {n_train} processes "
                "(--nproc-per-node)"
            )
        )
    # Every rank takes its own equal part of each global batch (the batch size, rounded down to a
    # multiple of the ranks): rank r the r-th part of the batch a one-process run would take.
    part = max(1, min(int(config.batch_size), n_train) // ranks.size)
    batch = part * ranks.size
    per_epoch = max(1, n_train // batch)  # the remainder is dropped: BatchNorm needs full batches
    mine = slice(ranks.rank * part, (ranks.rank + 1) * part)
    graph = None
    if neighbours:
        graph = NeighbourGraph.build(rows.read, train_positions.numpy(), neighbours, words=neighbour_words)
    half = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(config.precision)
    autocast = torch.autocast(device.type, dtype=half or torch.bfloat16, enabled=half is not None)
    # float16's narrow range: the loss is scaled up so that small gradients do not vanish, and a
    # step whose gradients overflowed is skipped (the scale then shrinks)
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "float16")

    # With several ranks the module trains as DistributedDataParallel (its BatchNorm synchronised);
    # ``net`` is the module inside, whose weights are checkpointed and copied back at the end.
    trained = wrap(module, device) if ranks.size > 1 else module
    net = trained.module if ranks.size > 1 else module
    if config.compile:  # the training steps run compiled; validation and the saved weights use ``net``
        trained = torch.compile(trained)
    if param_groups and net is not module:  # the same groups, of the copy's parameters
        own = dict(zip(map(id, module.parameters()), net.parameters()))
        param_groups = [dict(g, params=[own[id(p)] for p in g["params"]]) for g in param_groups]
    optimizer = torch.optim.AdamW(
        param_groups or net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, fused=True
    )
    scheduler = _schedule(optimizer, config, per_epoch * int(config.epochs))
    shuffle = torch.Generator().manual_seed(config.seed + 1)  # the same on every rank: one order
    state = {"epoch": 0, "history": [], "best_val": math.inf, "best_epoch": None, "bad_epochs": 0}
    best_weights: dict[str, torch.Tensor] | None = None
    result = TrainResult(batch_size=batch, steps_per_epoch=per_epoch)

    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    run_id = dict(fingerprint or {}, train=asdict(config), n_samples=n, n_features=rows.n_features)
    run_id["data"] = data_fingerprint(rows.X)
    release_mapped_pages(rows.X)
    run_id["train"].pop("device")  # a run may resume on another device, compiled or not
    run_id["train"].pop("compile")
    if ranks.size > 1:
        run_id["ranks"] = ranks.size  # another number of ranks splits the batches otherwise
    saved = on_main(_resumed, checkpoint_dir, run_id, resume)  # rank 0 reads it, every rank goes on from it
    if saved is not None:
        net.load_state_dict(saved["module"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if "scaler" in saved:
            scaler.load_state_dict(saved["scaler"])
        shuffle.set_state(saved["shuffle"])
        rng = saved.get("rank_rng") or []
        if len(rng) == ranks.size:
            torch.set_rng_state(rng[ranks.rank])
        elif "rng" in saved:
            torch.set_rng_state(saved["rng"])
        if device.type == "cuda" and ranks.size > 1 and len(saved.get("rank_cuda_rng") or []) == ranks.size:
            torch.cuda.set_rng_state(saved["rank_cuda_rng"][ranks.rank], device)
        elif device.type == "cuda" and len(saved.get("cuda_rng") or []) == torch.cuda.device_count():  # GPU noise
            torch.cuda.set_rng_state_all(list(saved["cuda_rng"]))
        best_weights = saved["best_weights"]
        state = saved["state"]
        result.stopped_early = state.pop("stopped_early", False)
        result.resumed_from = state["epoch"]

    total = int(config.epochs)
    bar = tqdm(
        total=total * per_epoch * batch,
        initial=state["epoch"] * per_epoch * batch,
        unit="samples",
        unit_scale=True,
        dynamic_ncols=True,
        disable=None if progress and ranks.is_main else True,
    )
    with contextlib.closing(bar):
        while state["epoch"] < total and not result.stopped_early:
            epoch = state["epoch"] + 1
            bar.set_description(f"epoch {epoch}/{total}")
            trained.train()
            started = time.perf_counter()
            sums: dict[str, torch.Tensor] = {}
            perm = torch.randperm(n_train, generator=shuffle)
            picked = [perm[b * batch : (b + 1) * batch][mine] for b in range(per_epoch)]  # of the training rows
            epoch_batches = [train_positions[p] for p in picked]
            partners = None
            if graph is not None:  # drawn from the seed and the epoch alone: a resumed run draws the same
                drawn = torch.from_numpy(graph.partners(np.random.default_rng([config.seed, PARTNER_STREAM, epoch])))
                partners = [drawn[p] for p in picked]
            for b, data in enumerate(rows.batches(epoch_batches, partners)):
                with autocast:
                    loss, terms = batch_loss(trained, data, epoch - 1 + b / per_epoch)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                for name, value in {"loss": loss, **terms}.items():
                    sums[name] = sums.get(name, 0.0) + value.detach().float()
                bar.update(batch)
            seconds = time.perf_counter() - started
            means = sum_over_ranks(torch.stack([torch.as_tensor(v).cpu() for v in sums.values()])) / ranks.size
            record = {"epoch": epoch, **{k: float(v) / per_epoch for k, v in zip(sums, means)}}
            if not math.isfinite(record["loss"]):  # the same on every rank (summed over them)
                raise every_rank(
                    TrainingError(
                        f"the training loss became {record['loss']} in epoch {epoch}; lower the learning rate "
                        f"(now {config.learning_rate}) and train again"
                    )
                )
            if n_val:  # each rank its share of the validation rows (maybe none), summed over the ranks
                with autocast:
                    val_total = loss_total(net, rows, val_positions[ranks.rank :: ranks.size], batch_loss)
                record["val_loss"] = float(sum_over_ranks(torch.tensor(val_total, dtype=torch.float64))) / n_val
            record.update(
                seconds=seconds, samples_per_s=per_epoch * batch / seconds, lr=float(scheduler.get_last_lr()[0])
            )
            state["history"].append(record)
            state["epoch"] = epoch
            if n_val and record["val_loss"] < state["best_val"]:
                state.update(best_val=record["val_loss"], best_epoch=epoch, bad_epochs=0)
                best_weights = {k: v.detach().clone() for k, v in net.state_dict().items()}
            elif n_val:
                state["bad_epochs"] += 1
            if config.patience and n_val and state["bad_epochs"] >= config.patience:
                result.stopped_early = True
            shown = [k for k in record if k not in ("epoch", "seconds", "samples_per_s", "lr")]
            shown.sort(key=lambda k: k not in ("loss", "val_loss"))  # the losses first: a narrow terminal cuts the end
            bar.set_postfix({k: f"{record[k]:.4g}" for k in shown}, refresh=False)
            if checkpoint_dir is not None:
                extra = _rank_generators(device, ranks)
                if scaler.is_enabled():
                    extra["scaler"] = scaler.state_dict()
                if ranks.is_main:
                    save_checkpoint(
                        checkpoint_dir,
                        run_id,
                        net,
                        optimizer,
                        scheduler,
                        shuffle,
                        best_weights,
                        dict(state, stopped_early=result.stopped_early),
                        extra,
                    )
                barrier()  # no rank goes on before the epoch's checkpoint is whole

    module.load_state_dict(best_weights if best_weights is not None else net.state_dict())
    module.eval()
    result.history = state["history"]
    result.best_epoch = state["best_epoch"]
    return result


def _resumed(checkpoint_dir, run_id, resume):
    """The checkpoint to go on from (None: start afresh)."""
    if not has_checkpoint(checkpoint_dir):
        return None
    if not resume:
        raise TrainingError(
            f"{checkpoint_dir} holds the checkpoint of an unfinished run; pass --resume to continue it, "
            "or delete that folder to start over"
        )
    return load_checkpoint(checkpoint_dir, run_id)


def _rank_generators(device, ranks: World) -> dict:
    """The random generators of every rank (their noise), for a checkpoint written by rank 0."""
    if ranks.size == 1:
        return {}
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    states = gather_objects((torch.get_rng_state(), cuda))
    return {"rank_rng": [s[0] for s in states], "rank_cuda_rng": [s[1] for s in states if s[1] is not None]}


def rows_to(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor of rows on ``device``: on CUDA sent from pinned memory without blocking."""
    return x.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else x.to(device)


def apply_in_batches(fn, A: np.ndarray, chunk: int = 8192, device="cpu") -> np.ndarray:
    """``fn`` (torch in, torch out; a module in evaluation mode) over the rows of ``A`` in chunks on
    ``device`` (the module's), without gradients: bounded memory, few Python steps. On CUDA each
    chunk goes up from pinned memory without blocking. Returns float32 rows, on the CPU."""
    device = torch.device(device)
    parts = []
    with torch.no_grad():
        for i in range(0, len(A), chunk):
            x = rows_to(torch.from_numpy(np.ascontiguousarray(A[i : i + chunk], dtype=np.float32)), device)
            parts.append(fn(x).float().cpu().numpy())
    return np.concatenate(parts).astype(np.float32, copy=False)


def evaluate_loss(
    module: nn.Module, rows: Rows, positions: torch.Tensor, batch_loss: BatchLoss, chunk: int = 4096
) -> float:
    """Mean loss over the rows at ``positions`` (see :func:`loss_total`)."""
    return loss_total(module, rows, positions, batch_loss, chunk) / len(positions)


def loss_total(
    module: nn.Module, rows: Rows, positions: torch.Tensor, batch_loss: BatchLoss, chunk: int = 4096
) -> float:
    """The loss summed over the rows at ``positions`` (0 for none) in evaluation mode (no gradient,
    BatchNorm on running statistics), with every warm-up finished (``epoch=inf``), so that
    validation losses of all epochs compare; the module is left in training mode."""
    module.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(positions), chunk):
            part = rows.take(positions[start : start + chunk])
            total += float(batch_loss(module, part, math.inf)[0]) * len(part[0])
    module.train()
    return total


def _schedule(optimizer, config: TrainConfig, steps: int):
    if config.lr_schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=max(steps, 2))
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(steps, 1))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
