"""Training from data that never sits in memory whole: the training loop reads each batch's rows
from a memory-mapped array when it needs them, and trains the weights that the same data in memory
trains (same rows, same order, same noise)."""

import numpy as np
import torch
from torch import nn

from aelab import datasets
from aelab.training import TrainConfig, fit_module
from aelab.training.loop import Rows


def _pixels_scaled(a):
    return np.asarray(a, dtype=np.float32) / np.float32(255)


def _train(X, y=None, **kw):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16), nn.GELU(), nn.Linear(16, 64 if y is None else 10))

    def loss(module, batch, epoch):
        x = batch[0]
        noisy = x + 0.1 * torch.randn_like(x)  # noise from the global generator, as denoising draws it
        out = module(noisy)
        if len(batch) == 2:
            return nn.functional.cross_entropy(out, batch[1]), {}
        return nn.functional.mse_loss(out, x), {}

    config = TrainConfig(epochs=3, batch_size=32, validation_fraction=0.1, seed=0)
    result = fit_module(net, X, loss, config, y=y, progress=False, **kw)
    return net, result


def test_training_streamed_from_a_memory_mapped_npy_gives_the_in_memory_weights(tmp_path):
    ds = datasets.load("digits")
    pixels = np.round(ds.train.X * 255).astype(np.uint8)
    np.save(tmp_path / "pixels.npy", pixels)
    mapped = np.load(tmp_path / "pixels.npy", mmap_mode="r")
    labels = np.unique(ds.train.y, return_inverse=True)[1]
    for y in (None, labels):
        in_memory, a = _train(_pixels_scaled(pixels), y)
        streamed, b = _train(mapped, y, stream=True, prepare=_pixels_scaled)
        assert [h["val_loss"] for h in a.history] == [h["val_loss"] for h in b.history]
        for (name, p), q in zip(in_memory.state_dict().items(), streamed.state_dict().values()):
            assert torch.equal(p, q), name


def test_streamed_rows_are_read_when_asked_for_not_copied():
    X = np.arange(40, dtype=np.uint8).reshape(10, 4)
    reads = []

    class Watched(np.ndarray):
        def __getitem__(self, index):
            reads.append(np.asarray(index).tolist())
            return np.asarray(self).__getitem__(index)

    rows = Rows(X.view(Watched), None, torch.device("cpu"), stream=True, prepare=_pixels_scaled)
    assert not hasattr(rows, "memory") and reads == []
    (x,) = rows.take(torch.tensor([7, 2]))
    assert reads == [[7, 2]] and x.dtype == torch.float32
    assert torch.equal(x, torch.from_numpy(_pixels_scaled(X[[7, 2]])))
