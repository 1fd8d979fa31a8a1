"""``aelab train --nproc-per-node N``: the same command on N processes (and ``--nnodes`` machines),
started by PyTorch's own launcher (``torch.distributed.run``, what ``torchrun`` runs) rather than a
home-made one. Each process is a rank of one DistributedDataParallel run (:mod:`aelab.training.distributed`).

The ranks run this very command line; inside a launched run (``WORLD_SIZE`` is set) these options
do nothing. A rank that fails leaves its one-line error in torchrun's error file instead of
printing it, and the launcher tells each different error once (the same bad input fails every
rank alike), or which rank died without telling (a signal: stopped, or out of memory).
"""

from __future__ import annotations

import os
import signal
import sys

from ..errors import AelabError
from .common import whole

#: Set for the ranks of :func:`launched`: they leave their errors to it.
LAUNCHED = "AELAB_LAUNCHED"
#: What a rank says when another rank stopped under it (that rank tells why, or was killed).
LOST_PEER = "another process of this run stopped (its own error, or a signal, says why); this one stopped too"


def in_ranks() -> bool:
    """Whether this process is one rank of several (torchrun set ``WORLD_SIZE``), told without
    importing torch."""
    return int(os.environ.get("WORLD_SIZE", 1) or 1) > 1


def lost_peer(exc: BaseException) -> bool:
    """Whether ``exc`` is a rank's collective failing because another rank is gone."""
    if not in_ranks():
        return False
    import torch.distributed as dist

    return isinstance(exc, dist.DistError) or "gloo/transport" in str(exc) or "NCCL" in str(exc)


def add_launch_args(g) -> None:
    g.add_argument(
        "--nproc-per-node",
        type=whole(1),
        default=None,
        metavar="N",
        help="train with N processes on this machine (DistributedDataParallel: one per GPU, or CPU processes with "
        "Gloo); the same as 'torchrun --nproc-per-node N -m aelab train ...'",
    )
    g.add_argument(
        "--nnodes", default="1", metavar="N", help="machines taking part (with --rdzv-endpoint; run on each of them)"
    )
    g.add_argument(
        "--rdzv-endpoint",
        default=None,
        metavar="HOST:PORT",
        help="where the machines of a multi-machine run meet (a port on one of them)",
    )
    g.add_argument("--rdzv-id", default="aelab", metavar="ID", help="the name of a multi-machine run (the same on all)")
    g.add_argument(
        "--max-restarts",
        type=whole(0),
        default=0,
        metavar="N",
        help="restart all processes up to N times when one fails; they resume from the last checkpoint",
    )


def launched(args, argv: list[str]) -> bool:
    """Start this command (``argv``) on the processes ``args`` ask for and wait for them; False
    when there is nothing to launch (one process, or already a rank of a launched run)."""
    n = getattr(args, "nproc_per_node", None)
    if n is None or "WORLD_SIZE" in os.environ:
        return False
    if str(args.nnodes) != "1" and not args.rdzv_endpoint:
        raise AelabError("--nnodes above 1 needs --rdzv-endpoint HOST:PORT, the same on every machine")

    import logging

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    where = (
        ["--rdzv-backend", "c10d", "--rdzv-endpoint", args.rdzv_endpoint, "--rdzv-id", args.rdzv_id]
        if args.rdzv_endpoint
        else ["--standalone"]
    )
    config = get_args_parser().parse_args(
        [f"--nproc-per-node={n}", f"--nnodes={args.nnodes}", f"--max-restarts={args.max_restarts}", *where]
        + ["-m", "aelab", *argv]
    )
    # torchrun's own notes (thread counts, each failed rank's report) would bury the ranks' one line
    logging.getLogger("torch.distributed").setLevel(logging.CRITICAL)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // n)))
    os.environ[LAUNCHED] = "1"
    try:
        run(config)
    except ChildFailedError as exc:
        told, killed = {}, {}
        for rank, failure in sorted(exc.failures.items()):
            if failure.exitcode < 0:  # killed before it could tell why (or stopped, as another rank failed)
                killed.setdefault(signal.Signals(-failure.exitcode).name, rank)
            elif isinstance(failure.error_file_data.get("message"), str):
                told.setdefault(failure.message, rank)
            else:
                told.setdefault(f"rank {rank} failed (exit status {failure.exitcode}); see the output above", rank)
        cause = {k: r for k, r in killed.items() if k != "SIGTERM"}  # SIGTERM: stopped as another failed
        if cause or not told:
            name, rank = next(iter((cause or killed).items()))
            told.pop(LOST_PEER, None)  # the ranks that lost the killed one
            told[
                f"rank {rank} was killed by {name} (out of memory, or stopped); run the same command with --resume "
                "to go on from the last checkpoint"
            ] = rank
        elif len(told) > 1:
            told.pop(LOST_PEER, None)
        for why in told:
            print(f"aelab: error: {why}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        del os.environ[LAUNCHED]
    return True
