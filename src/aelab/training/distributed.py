"""Many processes: one run of the training loop on every rank that ``torchrun`` starts, joined by
PyTorch's own engine (``torch.distributed`` and DistributedDataParallel).

A process learns its place from the environment torchrun gives it (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``); without torchrun it is the one rank of a world of one and nothing here changes
what it does. The backend is NCCL for CUDA and Gloo for the CPU, so the whole path runs on a
laptop with two CPU processes as it runs on a cluster of GPUs.

What the loop does with the ranks lives in :mod:`aelab.training.loop`: each rank trains on its
own part of every global batch, gradients are averaged by DDP, validation losses are summed over
ranks, and only rank 0 writes.
"""

from __future__ import annotations

import datetime
import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..errors import AelabError

#: How long a rank waits for the others (to join, or inside a collective) before it gives up.
TIMEOUT = datetime.timedelta(minutes=30)


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a run (``size`` 1: a plain single-process run)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this rank is the one that writes (checkpoints, the model, reports, progress)."""
        return self.rank == 0

    def device(self, device: str | torch.device) -> torch.device:
        """The device of this rank: with several ranks, ``cuda`` is the GPU of its local rank."""
        device = torch.device(device)
        if self.size > 1 and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device


def world() -> World:
    """The world torchrun (or any launcher that sets ``RANK`` and ``WORLD_SIZE``) placed this process in."""
    try:
        return World(
            int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))
        )
    except ValueError:
        raise AelabError(
            "RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers; start several processes with torchrun"
        ) from None


def join() -> World:
    """Join the process group of this run (once per process): Gloo for CPU tensors and, where there
    are GPUs, NCCL for CUDA tensors, each rank on the GPU of its local rank."""
    here = world()
    if here.size > 1 and not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(here.local_rank)
        # The ranks meet in the store torchrun gives them, under a prefix of their own per restart:
        # torchrun's store keeps the keys of the attempt before, whose addresses are gone.
        store, rank, size = next(dist.rendezvous("env://", timeout=TIMEOUT))
        store = dist.PrefixStore(f"aelab/attempt-{_restarts()}", store)
        dist.init_process_group(
            "cpu:gloo,cuda:nccl" if cuda else "gloo", store=store, rank=rank, world_size=size, timeout=TIMEOUT
        )
    return here


def on_main(fn, *args, **kw):
    """``fn(*args, **kw)`` run by rank 0 alone (a check or a read of shared files), its result on
    every rank; when it fails, every rank raises its error (told once, by rank 0: :func:`told_by_main`)."""
    here = join()
    out = None
    if here.is_main:
        try:
            out = fn(*args, **kw)
        except AelabError as exc:
            out = exc
    out = from_main(out)
    if isinstance(out, AelabError):
        raise every_rank(out)
    return out


def every_rank(exc: AelabError) -> AelabError:
    """Mark ``exc`` as raised alike by every rank (from the same checks on the same data), so that
    rank 0 alone tells it."""
    exc.every_rank = True
    return exc


def told_by_main(exc: BaseException) -> bool:
    """Whether this rank should keep ``exc`` to itself: rank 0 tells the errors every rank raised."""
    return world().size > 1 and not world().is_main and getattr(exc, "every_rank", False)


def _several() -> bool:
    """Whether this process is one of several ranks joined in a process group (else collectives
    have nothing to do)."""
    return dist.is_initialized() and dist.get_world_size() > 1


def leave() -> None:
    """Leave the process group, if this process joined one (at the end of a command)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def restarted() -> bool:
    """Whether torchrun restarted this run after a rank failed (``--max-restarts``): it resumes."""
    return _restarts() > 0


def _restarts() -> int:
    """How many times torchrun has restarted this run's ranks."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", 0) or 0)


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """``values`` summed over every rank (as float64 on the CPU; unchanged with one rank)."""
    values = values.detach().double().cpu()
    if _several():
        dist.all_reduce(values)
    return values


def from_main(obj):
    """Rank 0's ``obj`` on every rank (for a few small things: a loaded checkpoint, an error)."""
    if not _several():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj) -> list:
    """``obj`` of every rank, in rank order, on every rank."""
    if not _several():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if _several():
        dist.barrier()


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` as DistributedDataParallel, its BatchNorm layers synchronised over the ranks.

    On CUDA that is PyTorch's ``SyncBatchNorm``. PyTorch's runs on GPUs only, so on the CPU each
    BatchNorm layer becomes a :class:`RanksBatchNorm`, which sums its statistics over the ranks
    (:class:`_SumOverRanks`). ``module`` itself is left as it was; train the
    returned module's ``.module`` and copy its ``state_dict`` back (the names are the same).
    """
    import copy

    net = copy.deepcopy(module)
    # The running statistics are the same on every rank (computed from the same global sums), so
    # DDP need not broadcast rank 0's buffers before every step (torch 2.13 renamed that switch).
    ddp = nn.parallel.DistributedDataParallel
    no_sync = (
        "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(ddp).parameters else "broadcast_buffers"
    )
    if device.type == "cuda":
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        return ddp(net, device_ids=[device.index], **{no_sync: False})
    return ddp(RanksBatchNorm.convert(net), **{no_sync: False})


class RanksBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the whole global batch, summed over the
    ranks (for CPU ranks, where PyTorch's ``SyncBatchNorm`` does not run). The gradient flows
    through the sum over the ranks, as it does in SyncBatchNorm.
    In evaluation it is plain BatchNorm on the running statistics."""

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input (got {input.dim()}-D)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not _several():
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        count = x.new_full((1,), x.numel() / x.shape[1])
        totals = _SumOverRanks.apply(torch.cat([x.sum(dims), x.square().sum(dims), count]))
        c = x.shape[1]
        n = totals[-1]
        mean = totals[:c] / n
        var = (totals[c : 2 * c] / n - mean.square()).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), m)
                self.running_var.lerp_(var.detach() * n / (n - 1).clamp_min(1), m)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y

    @classmethod
    def convert(cls, module: nn.Module) -> nn.Module:
        """``module`` with every BatchNorm layer replaced by one of these (sharing its tensors)."""
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, cls):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            if module.track_running_stats:
                out.running_mean, out.running_var = module.running_mean, module.running_var
                out.num_batches_tracked = module.num_batches_tracked
            return out
        for name, child in module.named_children():
            module.add_module(name, cls.convert(child))
        return module


class _SumOverRanks(torch.autograd.Function):
    """``all_reduce`` (sum) with its gradient: the gradient of a sum over the ranks is the sum over
    the ranks of the gradients (torch's own differentiable all_reduce is deprecated)."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad
