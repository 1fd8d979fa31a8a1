"""Training with several processes (DistributedDataParallel) on this machine's CPU: two Gloo ranks
under PyTorch's launcher, as ``torchrun`` or ``aelab train --nproc-per-node`` start them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import aelab
import aelab.datasets
from aelab.cli import main
from conftest import run_cli


def low_rank_table(path: Path, n: int = 400, features: int = 24, seed: int = 0) -> Path:
    """Rows near a 4-D subspace (not images, not MNIST), as a .npy file."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) @ rng.normal(size=(4, features)) + 0.1 * rng.normal(size=(n, features))
    np.save(path, X.astype(np.float32))
    return path


def torchrun(script: Path, *args, nproc: int = 2, restarts: int = 0, **kw) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node NPROC SCRIPT ARGS`` (one thread per rank)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    command += [f"--max-restarts={restarts}", str(script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, **kw)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return aelab.load(folder).module_.state_dict()


_RANKS_BATCHNORM = """
import sys
import numpy as np, torch, torch.distributed as dist
from torch import nn
from aelab.training.distributed import RanksBatchNorm
dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
x = torch.randn(8, 3, 5, 2) * 3 + 1   # the global batch, as conv feature maps
one = nn.BatchNorm2d(3)
mine = RanksBatchNorm.convert(nn.BatchNorm2d(3))
for bn in (one, mine):
    bn.weight.data = torch.tensor([0.5, 1.0, 2.0]); bn.bias.data = torch.tensor([0.1, -0.2, 0.3])
xa = x.clone().requires_grad_(True); ya = one(xa); (ya * torch.arange(ya.numel()).reshape(ya.shape)).sum().backward()
xb = x[rank * 4:(rank + 1) * 4].clone().requires_grad_(True); yb = mine(xb)
(yb * torch.arange(ya.numel()).reshape(ya.shape)[rank * 4:(rank + 1) * 4]).sum().backward()
for p in mine.parameters():   # what DDP does (it averages; the loss here is a sum, so add)
    dist.all_reduce(p.grad)
if rank == 0:
    np.savez(sys.argv[1], y=ya.detach()[:4], my_y=yb.detach(), gx=xa.grad[:4], my_gx=xb.grad,
             mean=one.running_mean, my_mean=mine.running_mean, var=one.running_var, my_var=mine.running_var,
             gw=one.weight.grad, my_gw=mine.weight.grad, gb=one.bias.grad, my_gb=mine.bias.grad)
dist.destroy_process_group()
"""


def test_ranks_batchnorm_is_batchnorm_over_the_global_batch(tmp_path):
    """PyTorch's SyncBatchNorm runs on GPUs only; on CPU ranks RanksBatchNorm sums the statistics
    over the ranks: each rank's half of a batch gets the output, gradients and running statistics
    of one BatchNorm over the whole batch."""
    script = tmp_path / "bn.py"
    script.write_text(_RANKS_BATCHNORM)
    done = torchrun(script, tmp_path / "out.npz")
    assert done.returncode == 0, done.stderr[-2000:]
    out = np.load(tmp_path / "out.npz")
    for name in ("y", "gx", "mean", "var", "gw", "gb"):
        np.testing.assert_allclose(out[f"my_{name}"], out[name], rtol=1e-4, atol=1e-4, err_msg=name)


def train_args(data: Path, out: Path, *extra) -> list[str]:
    args = ["train", "--data", data, "--out", out, "--epochs", "3", "--batch-size", "32", "--seed", "3", *extra]
    return list(map(str, args))


@pytest.mark.slow
def test_two_ranks_train_the_model_of_one_process(tmp_path):
    """Without BatchNorm, two ranks that each take half of every batch train the weights one
    process trains with the same global batch: the same sums, in another order (float tolerance).
    The distance-keeping term compares every pair of the global batch, across the ranks, as one
    process does; validation (which picks the epoch kept) is left out, since there each rank
    compares the pairs of its own share. The neighbour-keeping term is left out too: each rank
    draws the samples it pushes away from its own share of the batch."""
    data = low_rank_table(tmp_path / "table.npy")
    same = [
        "--normalization",
        "none",
        "--validation-fraction",
        "0",
        "--keep-distances",
        "auto",
        "--keep-neighbours",
        "0",
    ]
    assert main(train_args(data, tmp_path / "one", *same)) == 0
    done = run_cli(*train_args(data, tmp_path / "two", *same, "--nproc-per-node", "2"))
    assert done.returncode == 0, done.stderr[-2000:]
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert one.keys() == two.keys()
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-4, atol=1e-5, msg=k)
    assert "Warning" not in done.stderr
    assert "batches of 32" in done.stdout  # rank 0 reported, once
    assert done.stdout.count("model saved") == 1


@pytest.mark.slow
def test_two_ranks_with_batchnorm_reach_the_test_error_of_one_process(tmp_path):
    """With BatchNorm (synchronised over the ranks) the weights agree up to directions BatchNorm
    cannot see (a bias before it drifts with float noise), so the measure is the test error."""
    data = low_rank_table(tmp_path / "table.npy", seed=1)
    test = aelab.datasets.load(data).test.X  # the split the command holds out
    assert main(train_args(data, tmp_path / "one")) == 0
    done = run_cli(*train_args(data, tmp_path / "two", "--nproc-per-node", "2"))
    assert done.returncode == 0, done.stderr[-2000:]
    one, two = aelab.load(tmp_path / "one"), aelab.load(tmp_path / "two")
    e1, e2 = one.reconstruction_error(test), two.reconstruction_error(test)
    assert abs(e2 - e1) <= 0.02 * e1, (e1, e2)


# without the distance-keeping term, whose validation value compares the pairs of each rank's own share
_FIT_SETTINGS = dict(
    n_components=2, hidden_layer_sizes=(8,), epochs=2, batch_size=4, random_state=0, verbose=False, keep_distances=0.0
)
_FIT_SCRIPT = f"""
import sys
import numpy as np, torch, aelab
X = np.load(sys.argv[1])
model = aelab.AutoEncoder(**{_FIT_SETTINGS!r}).fit(X)
if torch.distributed.get_rank() == 0:
    np.save(sys.argv[2], [h["val_loss"] for h in model.history_])
"""


@pytest.mark.slow
def test_a_rank_without_validation_rows_still_takes_part_in_the_validation_loss(tmp_path):
    """11 rows hold out 1 for validation: rank 1 has none of it, and adds nothing to the sum
    (through the Python API under torchrun, as a user's script runs)."""
    X = np.random.default_rng(0).random((11, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    script = tmp_path / "fit.py"
    script.write_text(_FIT_SCRIPT)
    done = torchrun(script, tmp_path / "x.npy", tmp_path / "val.npy")
    assert done.returncode == 0, done.stderr[-2000:]
    one = aelab.AutoEncoder(**_FIT_SETTINGS).fit(X)
    # two ranks average their gradients in another order than one process sums them: the weights,
    # and so the losses, differ in the fourth digit (1.7e-4 here); a rank left out would differ by far more
    np.testing.assert_allclose(np.load(tmp_path / "val.npy"), [h["val_loss"] for h in one.history_], rtol=1e-3)


_KILL_RANK = """
import os, signal, sys
import aelab.training.feed as feed
from aelab.cli import main
marker, kill_at = sys.argv[1], int(sys.argv[2])
if kill_at and os.environ["RANK"] == "1" and os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0":
    take, taken = feed.Rows.take, [0]
    def take_then_die(self, positions):
        taken[0] += 1
        if taken[0] == kill_at:   # in the middle of an epoch
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return take(self, positions)
    feed.Rows.take = take_then_die
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.slow
def test_a_rank_killed_mid_epoch_restarts_to_the_same_weights(tmp_path):
    """SIGKILL one rank in its third epoch: torchrun restarts both (--max-restarts), they resume
    from the checkpoint of epoch 2 (with every rank's noise generator) and end with the weights of
    an uninterrupted run, bit for bit."""
    data = low_rank_table(tmp_path / "table.npy")
    script = tmp_path / "kill.py"
    script.write_text(_KILL_RANK)
    args = ["--denoise", "gaussian:0.2", "--epochs", "4"]
    marker = tmp_path / "rank-1-was-killed"
    whole = torchrun(script, marker, 0, *train_args(data, tmp_path / "whole", *args))
    assert whole.returncode == 0, whole.stderr[-2000:]
    # 320 training rows less 10% for validation: 9 batches of 32 and a validation read an epoch
    killed = torchrun(script, marker, 2 * (9 + 1) + 3, *train_args(data, tmp_path / "killed", *args), restarts=1)
    assert killed.returncode == 0, killed.stderr[-2000:]
    assert marker.exists()  # it was killed, and restarted
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "killed")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert aelab.load(tmp_path / "killed").n_epochs_ == 4


@pytest.mark.slow
def test_more_processes_than_training_samples_is_one_line(tmp_path):
    data = tmp_path / "few.npy"
    np.save(data, np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32))  # 3 train, 1 test
    done = run_cli("train", "--data", data, "--out", tmp_path / "m", "--nproc-per-node", "4", "--epochs", "2")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "aelab: error: 4 processes, but only 3 training samples; start at most 3 processes (--nproc-per-node)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few.npy"]  # no model, checkpoint or lock left


@pytest.mark.slow
def test_cuda_graphs_in_several_processes_is_one_line(tmp_path):
    data = low_rank_table(tmp_path / "data.npy", n=60)
    done = run_cli(*train_args(data, tmp_path / "m", "--nproc-per-node", "2", "--cuda-graphs"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "aelab: error: --cuda-graphs trains in one process, not 2; leave it out"
    ]


def test_launch_options_are_checked_before_any_process_starts(tmp_path, capsys):
    data = low_rank_table(tmp_path / "table.npy", n=20)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--nproc-per-node", "0"]) == 1
    assert "--nproc-per-node: give a whole number of at least 1, not 0" in capsys.readouterr().err
    assert (
        main(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--nnodes", "2", "--nproc-per-node", "1"])
        == 1
    )
    assert "--nnodes above 1 needs --rdzv-endpoint" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
