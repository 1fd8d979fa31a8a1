"""The training step keeps the host out of the way: nothing inside an epoch waits for the device
(no .item(), no float(tensor), no copy back), so a GPU is never idle between steps. On the CPU a
stand-in counts the calls that would synchronize; on CUDA, torch's sync debug mode refuses them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aelab
from aelab.training import loop

#: Tensor methods that make the host wait for the device (read a value, or copy back)
SYNCING = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__")

TERMS = [
    {},  # the defaults: the neighbour-keeping term on
    {"denoise": "gaussian:0.2", "sparse": "l1:1e-3", "contractive": 0.01, "keep_neighbours": 0},
    {"variational": True, "beta_warmup": 2},
    {"binary": True, "n_components": 8},
]


def _syncs_in_an_epoch(monkeypatch, n_samples: int, terms: dict, device: str = "cpu") -> int:
    """The syncing calls made while ``_train_epoch`` runs one epoch of an auto-encoder."""
    counted = {"n": 0}
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def counting(self, *a, _original=original, **kw):
            counted["n"] += 1
            return _original(self, *a, **kw)

        monkeypatch.setattr(torch.Tensor, name, counting)
    train_epoch = loop._train_epoch

    def measured(*args, **kw):
        counted["n"] = 0
        out = train_epoch(*args, **kw)
        measured.counts.append(counted["n"])
        return out

    measured.counts = []
    monkeypatch.setattr(loop, "_train_epoch", measured)
    X = np.random.default_rng(0).random((n_samples, 20), dtype=np.float32)
    params = dict(n_components=3, hidden_layer_sizes=(16,), batch_size=16, epochs=1, random_state=0, device=device)
    aelab.AutoEncoder(**{**params, **terms}).fit(X)
    monkeypatch.undo()
    return measured.counts[0]


@pytest.mark.parametrize("terms", TERMS, ids=["defaults", "regularized", "variational", "binary"])
def test_no_step_waits_for_the_device(monkeypatch, terms):
    """An epoch of 4 steps and one of 32 make the same syncing calls: none of them is in a step
    (the epoch's losses are read once, at its end)."""
    few = _syncs_in_an_epoch(monkeypatch, 80, terms)
    many = _syncs_in_an_epoch(monkeypatch, 580, terms)
    assert few == many


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("terms", TERMS, ids=["defaults", "regularized", "variational", "binary"])
def test_no_step_synchronizes_with_the_gpu(monkeypatch, terms):
    """torch refuses every synchronizing call inside the epoch's steps."""
    step = loop._Stepper.step

    def strict(self, loss):
        torch.cuda.set_sync_debug_mode("error")
        try:
            step(self, loss)
        finally:
            torch.cuda.set_sync_debug_mode("default")

    monkeypatch.setattr(loop._Stepper, "step", strict)
    X = np.random.default_rng(0).random((320, 20), dtype=np.float32)
    params = dict(n_components=3, hidden_layer_sizes=(16,), batch_size=16, epochs=1, random_state=0, device="cuda")
    aelab.AutoEncoder(**{**params, **terms}).fit(X)


def test_a_memory_mapped_array_encodes_without_a_warning(tmp_path):
    """Codes of a read-only memory-mapped .npy (as aelab encode and index read big files): the same
    as of the array in memory, and no warning from torch about arrays it cannot write."""
    import warnings

    X = np.random.default_rng(0).random((300, 20), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    model = aelab.AutoEncoder(n_components=3, hidden_layer_sizes=(16,), epochs=1, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codes = model.transform(mapped)
    np.testing.assert_array_equal(codes, model.transform(X))
