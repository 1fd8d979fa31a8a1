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
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import AelabError, ParameterError
from ..params import AUTO_EPOCHS, AUTO_MAX_BATCH, AUTO_STEPS, TABLE, auto_batch_size, auto_epochs, auto_patience
from .checkpoints import has_checkpoint, load_checkpoint, save_checkpoint
from .distributed import World, barrier, every_rank, gather_objects, join, on_main, sum_over_ranks, wrap
from .feed import Rows, data_fingerprint, release_mapped_pages, sent_ahead
from .graphed import GraphedStep
from .neighbours import NeighbourGraph

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
    cuda_graphs: bool = False
    seed: int = 0
    device: str = "cpu"
    #: where each epoch's record goes as TensorBoard scalars (None: nowhere)
    log_dir: str | None = None
    #: how far "auto" epochs shrink for a net whose steps cost more (:func:`aelab.params.auto_epochs`)
    effort: float = 1.0
    #: the least "auto" epochs and the steps they make at least (:func:`aelab.params.auto_epochs`)
    auto_at_least: int = AUTO_EPOCHS
    auto_steps: int = AUTO_STEPS

    def n_train(self, n_samples: int) -> int:
        """How many of ``n_samples`` rows train (the rest validate)."""
        return max(1, n_samples - n_held_out(n_samples, self.validation_fraction))

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
            "cuda_graphs",
        ):
            TABLE[name].check(getattr(self, name))
        if self.cuda_graphs and self.precision == "float16":
            raise ParameterError(
                "cuda_graphs cannot replay float16's gradient scaler (it skips steps as it goes); "
                "train with precision bfloat16 or float32"
            )
        if self.cuda_graphs and self.compile:
            raise ParameterError("cuda_graphs takes the training step over, as compiling does; train with one of them")


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    resumed_from: int | None = None
    #: the global batch and the steps of an epoch (several ranks round the batch to a multiple of them)
    batch_size: int | None = None
    steps_per_epoch: int | None = None
    #: the settings the run trained with, every "auto" chosen for its data (the one place they are)
    config: TrainConfig | None = None
    #: the positions of the rows held out for validation (in order), which no step trained on
    held_out: np.ndarray | None = None

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
    every epoch, drives early stopping after ``patience`` epochs without improvement (epochs at a
    higher learning rate than the best epoch's do not count), and picks the
    weights kept at the end. ``param_groups`` (optimizer groups) may give parts of the module their
    own weight decay. With ``checkpoint_dir`` the state is saved after every epoch, and ``resume``
    continues from it; ``fingerprint`` (the settings that define the run) must match.

    Random draws inside ``batch_loss`` (input noise, variational samples) come from torch's global
    generator, seeded here and saved in every checkpoint; the caller's generator is left untouched.

    With ``neighbours`` (k), each training batch holds beside its rows one of each row's k nearest
    training rows (:class:`aelab.training.neighbours.NeighbourGraph`, drawn anew each epoch from the seed):
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
                    device=device,
                    ranks=ranks,
                    param_groups=param_groups,
                    checkpoint_dir=checkpoint_dir,
                    resume=resume,
                    fingerprint=fingerprint,
                    progress=progress,
                    neighbours=neighbours,
                    neighbour_words=neighbour_words,
                )
            finally:
                rows.close()
    finally:
        torch.set_float32_matmul_precision(precision)


def n_held_out(n: int, validation_fraction: float) -> int:
    """How many of ``n`` rows a run holds out for validation (none of a single row)."""
    return int(round(validation_fraction * n)) if n > 1 else 0


def split_rows(n: int, validation_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The positions of the ``n`` rows that a run of ``seed`` trains on and those it holds out for
    validation (:func:`n_held_out` of them), in the seed's order."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = n_held_out(n, validation_fraction)
    return order[n_val:], order[:n_val]


RANK_SEED_STRIDE = 7919  # rank r draws its noise from seed + 2 + r * this (rank 0: a one-process run's)
PARTNER_STREAM = 3  # the stream of the seed that draws each epoch's neighbour partners


@dataclass
class _Batches:
    """How the rows are cut: the validation rows held out by the seed, and each epoch's global
    batches of the training rows, of which every rank takes its own equal part (the batch size
    rounded down to a multiple of the ranks; rank r the r-th part of the batch a one-process run
    would take). The remainder of an epoch is dropped: BatchNorm needs full batches."""

    train: torch.Tensor  # positions of the training rows
    val: torch.Tensor  # positions of the validation rows
    batch: int
    per_epoch: int
    mine: slice

    @classmethod
    def plan(cls, n: int, config: TrainConfig, ranks: World) -> _Batches:
        train, val = split_rows(n, config.validation_fraction, config.seed)
        n_train = len(train)
        if ranks.size > n_train:
            raise every_rank(
                TrainingError(
                    f"{ranks.size} processes, but only {n_train} training samples; start at most {n_train} "
                    "processes (--nproc-per-node)"
                )
            )
        part = max(1, min(int(config.batch_size), n_train) // ranks.size)
        batch = part * ranks.size
        mine = slice(ranks.rank * part, (ranks.rank + 1) * part)
        return cls(train, val, batch, max(1, n_train // batch), mine)

    def epoch(self, shuffle: torch.Generator) -> list[torch.Tensor]:
        """This rank's part of each batch of an epoch, as places among the training rows."""
        perm = torch.randperm(len(self.train), generator=shuffle)
        return [perm[b * self.batch : (b + 1) * self.batch][self.mine] for b in range(self.per_epoch)]


@dataclass
class _Stepper:
    """What takes the optimizer steps: the module as trained (DistributedDataParallel with several
    ranks, compiled on request) and ``net``, the module inside, whose weights are checkpointed; the
    optimizer, its schedule, the float16 gradient scaler, mixed precision, the shuffling generator;
    and, with ``cuda_graphs``, the step that replays the forward and backward pass (``graphed``)."""

    trained: nn.Module
    net: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    autocast: object
    shuffle: torch.Generator
    graphed: GraphedStep | None = None

    @classmethod
    def build(cls, module, config: TrainConfig, device, ranks: World, param_groups, steps: int) -> _Stepper:
        half = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(config.precision)
        # a captured graph must not hold autocast's cache of casted weights (they change every step)
        autocast = torch.autocast(
            device.type, dtype=half or torch.bfloat16, enabled=half is not None, cache_enabled=not config.cuda_graphs
        )
        # float16's narrow range: the loss is scaled up so that small gradients do not vanish, and a
        # step whose gradients overflowed is skipped (the scale then shrinks)
        scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "float16")
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
        scheduler = _schedule(optimizer, config, steps)
        shuffle = torch.Generator().manual_seed(config.seed + 1)  # the same on every rank: one order
        return cls(trained, net, optimizer, scheduler, scaler, autocast, shuffle)

    def step(self, batch_loss, data: tuple[torch.Tensor, ...], epochs_done) -> tuple[torch.Tensor, dict]:
        """One optimizer step on a batch: its loss and terms (detached)."""
        loss, terms = self.forward_backward(batch_loss, data, epochs_done)
        self.optimizer_step()
        return loss, terms

    def forward_backward(self, batch_loss, data: tuple[torch.Tensor, ...], epochs_done) -> tuple[torch.Tensor, dict]:
        """The batch's loss and terms (detached), and its gradients, written anew (not added to the
        last step's: a step replayed from a CUDA graph writes them too)."""
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast:
            loss, terms = batch_loss(self.trained, data, epochs_done)
        self.scaler.scale(loss).backward()
        return loss.detach(), {name: value.detach() for name, value in terms.items()}

    def optimizer_step(self) -> None:
        """The step of the gradients in place: the optimizer's, the scaler's and the schedule's."""
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()

    def restore(self, saved: dict, device, ranks: World) -> None:
        """The weights, optimizer, schedule, scaler and every generator of a checkpoint."""
        self.net.load_state_dict(saved["module"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        if "scaler" in saved:
            self.scaler.load_state_dict(saved["scaler"])
        self.shuffle.set_state(saved["shuffle"])
        rng = saved.get("rank_rng") or []
        if len(rng) == ranks.size:
            torch.set_rng_state(rng[ranks.rank])
        elif "rng" in saved:
            torch.set_rng_state(saved["rng"])
        if device.type == "cuda" and ranks.size > 1 and len(saved.get("rank_cuda_rng") or []) == ranks.size:
            torch.cuda.set_rng_state(saved["rank_cuda_rng"][ranks.rank], device)
        elif device.type == "cuda" and len(saved.get("cuda_rng") or []) == torch.cuda.device_count():  # GPU noise
            torch.cuda.set_rng_state_all(list(saved["cuda_rng"]))


def _fit(
    module,
    rows: Rows,
    batch_loss: BatchLoss,
    config: TrainConfig,
    *,
    device,
    ranks: World,
    param_groups=None,
    checkpoint_dir=None,
    resume: bool = False,
    fingerprint: dict | None = None,
    progress: bool = True,
    neighbours: int | None = None,
    neighbour_words: bool = False,
) -> TrainResult:
    """The loop of :func:`fit_module`: epochs of steps, each epoch validated, recorded and
    checkpointed, until the epochs are done or early stopping ends them."""
    module.to(device)
    cut = _Batches.plan(rows.n, config, ranks)
    graph = None
    if neighbours:
        graph = NeighbourGraph.build(rows.read, cut.train.numpy(), neighbours, words=neighbour_words)
    stepper = _Stepper.build(module, config, device, ranks, param_groups, cut.per_epoch * int(config.epochs))
    if config.cuda_graphs:
        if ranks.size > 1:
            raise every_rank(ParameterError(f"cuda_graphs trains in one process, not {ranks.size}; leave it out"))
        stepper.graphed = GraphedStep(stepper, batch_loss, capture=device.type == "cuda")
    state = {"epoch": 0, "history": [], "best_val": math.inf, "best_epoch": None, "bad_epochs": 0}
    best_weights: dict[str, torch.Tensor] | None = None
    result = TrainResult(
        batch_size=cut.batch, steps_per_epoch=cut.per_epoch, config=config, held_out=np.sort(cut.val.numpy())
    )

    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    run_id = _run_id(rows, config, fingerprint, ranks)
    saved = on_main(_resumed, checkpoint_dir, run_id, resume)  # rank 0 reads it, every rank goes on from it
    if saved is not None:
        stepper.restore(saved, device, ranks)
        best_weights, state = saved["best_weights"], saved["state"]
        result.stopped_early = state.pop("stopped_early", False)
        result.resumed_from = state["epoch"]

    total = int(config.epochs)
    bar = tqdm(
        total=total * cut.per_epoch * cut.batch,
        initial=state["epoch"] * cut.per_epoch * cut.batch,
        unit="samples",
        unit_scale=True,
        dynamic_ncols=True,
        disable=None if progress and ranks.is_main else True,
    )
    with contextlib.ExitStack() as opened:
        opened.enter_context(contextlib.closing(bar))
        log = None
        if config.log_dir and ranks.is_main:
            log = opened.enter_context(contextlib.closing(_EpochLog(config.log_dir)))
        while state["epoch"] < total and not result.stopped_early:
            epoch = state["epoch"] + 1
            bar.set_description(f"epoch {epoch}/{total}")
            record, seconds = _train_epoch(stepper, rows, batch_loss, cut, graph, config, epoch, ranks, bar)
            if _close_epoch(stepper, rows, batch_loss, cut, ranks, record, seconds, state):
                best_weights = {k: v.detach().clone() for k, v in stepper.net.state_dict().items()}
            result.stopped_early = bool(config.patience and len(cut.val) and state["bad_epochs"] >= config.patience)
            _show(bar, record)
            if log is not None:
                log.write(record)
            if checkpoint_dir is not None:
                _checkpoint(
                    checkpoint_dir,
                    run_id,
                    stepper,
                    best_weights,
                    dict(state, stopped_early=result.stopped_early),
                    device,
                    ranks,
                )

    module.load_state_dict(best_weights if best_weights is not None else stepper.net.state_dict())
    module.eval()
    result.history = state["history"]
    result.best_epoch = state["best_epoch"]
    return result


def _close_epoch(stepper: _Stepper, rows: Rows, batch_loss, cut: _Batches, ranks, record, seconds, state) -> bool:
    """Validate the epoch just trained and add its record to the history (``state``); whether its
    validation loss is the best so far (its weights are then the ones to keep)."""
    if len(cut.val):  # each rank its share of the validation rows (maybe none), summed over the ranks
        with stepper.autocast:
            val_total = loss_total(stepper.net, rows, cut.val[ranks.rank :: ranks.size], batch_loss)
        record["val_loss"] = float(sum_over_ranks(torch.tensor(val_total, dtype=torch.float64))) / len(cut.val)
    record.update(
        seconds=seconds, samples_per_s=cut.per_epoch * cut.batch / seconds, lr=float(stepper.scheduler.get_last_lr()[0])
    )
    state["history"].append(record)
    state["epoch"] = record["epoch"]
    if not len(cut.val):
        return False
    if record["val_loss"] < state["best_val"]:
        state.update(best_val=record["val_loss"], best_epoch=record["epoch"], best_lr=record["lr"], bad_epochs=0)
        return True
    # a worse loss at a higher learning rate than the best epoch's is the schedule's doing (a one-cycle
    # schedule's warm-up and peak, where the loss is noisy and falls only as the rate comes down),
    # not over-fitting: only epochs at the best epoch's rate or below count against the patience
    if record["lr"] <= state.get("best_lr", math.inf):
        state["bad_epochs"] += 1
    return False


class _EpochLog:
    """Each epoch's record as TensorBoard scalars: the losses under ``loss/`` (train, validation),
    the objective's terms under ``terms/``, and the learning rate and speed, stepped by epoch."""

    def __init__(self, folder: str):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=folder)

    def write(self, record: dict) -> None:
        epoch = int(record["epoch"])
        for name, value in record.items():
            if name == "epoch":
                continue
            tag = {"loss": "loss/train", "val_loss": "loss/validation", "lr": "learning_rate"}.get(name)
            if tag is None:
                tag = f"speed/{name}" if name in ("seconds", "samples_per_s") else f"terms/{name}"
            self.writer.add_scalar(tag, float(value), epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _show(bar, record: dict) -> None:
    shown = [k for k in record if k not in ("epoch", "seconds", "samples_per_s", "lr")]
    shown.sort(key=lambda k: k not in ("loss", "val_loss"))  # the losses first: a narrow terminal cuts the end
    bar.set_postfix({k: f"{record[k]:.4g}" for k in shown}, refresh=False)


def _train_epoch(
    stepper: _Stepper, rows: Rows, batch_loss, cut: _Batches, graph, config, epoch: int, ranks, bar
) -> tuple[dict, float]:
    """One epoch of optimizer steps: its record (the mean loss and terms over the ranks) and its seconds."""
    stepper.trained.train()
    started = time.perf_counter()
    sums: dict[str, torch.Tensor] = {}
    picked = cut.epoch(stepper.shuffle)
    partners = None
    if graph is not None:  # drawn from the seed and the epoch alone: a resumed run draws the same
        drawn = torch.from_numpy(graph.partners(np.random.default_rng([config.seed, PARTNER_STREAM, epoch])))
        partners = [drawn[p] for p in picked]
    step = stepper.graphed or functools.partial(stepper.step, batch_loss)  # either: (data, epochs done) -> losses
    for b, data in enumerate(rows.batches([cut.train[p] for p in picked], partners)):
        loss, terms = step(data, epoch - 1 + b / cut.per_epoch)
        for name, value in {"loss": loss, **terms}.items():
            sums[name] = sums.get(name, 0.0) + value.float()
        bar.update(cut.batch)
    seconds = time.perf_counter() - started
    means = sum_over_ranks(torch.stack([torch.as_tensor(v).cpu() for v in sums.values()])) / ranks.size
    record = {"epoch": epoch, **{k: float(v) / cut.per_epoch for k, v in zip(sums, means)}}
    if not math.isfinite(record["loss"]):  # the same on every rank (summed over them)
        raise every_rank(
            TrainingError(
                f"the training loss became {record['loss']} in epoch {epoch}; lower the learning rate "
                f"(now {config.learning_rate}) and train again"
            )
        )
    return record, seconds


def _run_id(rows: Rows, config: TrainConfig, fingerprint: dict | None, ranks: World) -> dict:
    """What a checkpoint must match to be resumed: the settings, the data, the number of ranks."""
    run_id = dict(fingerprint or {}, train=asdict(config), n_samples=rows.n, n_features=rows.n_features)
    run_id["data"] = data_fingerprint(rows.X)
    release_mapped_pages(rows.X)
    run_id["train"].pop("device")  # a run may resume on another device, compiled or not
    run_id["train"].pop("compile")
    run_id["train"].pop("cuda_graphs")
    run_id["train"].pop("log_dir")  # and log elsewhere
    if ranks.size > 1:
        run_id["ranks"] = ranks.size  # another number of ranks splits the batches otherwise
    return run_id


def _checkpoint(checkpoint_dir, run_id, stepper: _Stepper, best_weights, state: dict, device, ranks: World) -> None:
    """The whole training state, written atomically by rank 0; no rank goes on before it is whole."""
    extra = _rank_generators(device, ranks)
    if stepper.scaler.is_enabled():
        extra["scaler"] = stepper.scaler.state_dict()
    if ranks.is_main:
        save_checkpoint(
            checkpoint_dir,
            run_id,
            stepper.net,
            stepper.optimizer,
            stepper.scheduler,
            stepper.shuffle,
            best_weights,
            state,
            extra,
        )
    barrier()


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


def apply_in_batches(fn, A: np.ndarray, chunk: int = 8192, device="cpu") -> np.ndarray:
    """``fn`` (torch in, torch out; a module in evaluation mode) over the rows of ``A`` in chunks on
    ``device`` (the module's), without gradients: bounded memory, few Python steps. On CUDA the
    next chunk is read and sent up (:func:`sent_ahead`) while this one computes, and each result
    comes back without blocking, waited for one chunk later. Returns float32 rows, on the CPU."""
    device = torch.device(device)
    blocks = (torch.from_numpy(_writable_rows(A[i : i + chunk])) for i in range(0, len(A), chunk))
    parts, waiting = [], None
    with torch.no_grad():
        for x in sent_ahead(blocks, device):
            out, copied = fn(x).float(), None
            if device.type == "cuda":
                out = out.to("cpu", non_blocking=True)
                copied = torch.cuda.current_stream(device).record_event()
            if waiting is not None:
                parts.append(_arrived_home(*waiting))
            waiting = out, copied
        if waiting is not None:
            parts.append(_arrived_home(*waiting))
    return np.concatenate(parts).astype(np.float32, copy=False)


def _writable_rows(block) -> np.ndarray:
    block = np.ascontiguousarray(block, dtype=np.float32)
    # a read-only memory map's rows: torch takes a copy it may write
    return block if block.flags.writeable else block.copy()


def _arrived_home(out: torch.Tensor, copied) -> np.ndarray:
    if copied is not None:
        copied.synchronize()
    return out.numpy()


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
