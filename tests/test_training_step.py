"""The training step keeps the host out of the way: nothing inside an epoch waits for the device
(no .item(), no float(tensor), no copy back), so a GPU is never idle between steps. On the CPU a
stand-in counts the calls that would synchronize; on CUDA, torch's sync debug mode refuses them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aelab
from aelab.training import loop
from conftest import fit_killed_after_epoch

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


@pytest.mark.parametrize("graphs", [False, True], ids=["plain", "made-for-cuda-graphs"])
@pytest.mark.parametrize("terms", TERMS, ids=["defaults", "regularized", "variational", "binary"])
def test_no_step_waits_for_the_device(monkeypatch, terms, graphs):
    """An epoch of 4 steps and one of 32 make the same syncing calls: none of them is in a step
    (the epoch's losses are read once, at its end), the step made for CUDA graphs included."""
    terms = {**terms, "cuda_graphs": graphs}
    few = _syncs_in_an_epoch(monkeypatch, 80, terms)
    many = _syncs_in_an_epoch(monkeypatch, 580, terms)
    assert few == many


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("terms", TERMS, ids=["defaults", "regularized", "variational", "binary"])
def test_no_step_synchronizes_with_the_gpu(monkeypatch, terms):
    """torch refuses every synchronizing call inside the epoch's steps."""
    step = loop._Stepper.step

    def strict(self, *args):
        torch.cuda.set_sync_debug_mode("error")
        try:
            return step(self, *args)
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


def _fitted(terms: dict, device: str = "cpu", **training):
    X = np.random.default_rng(1).random((200, 20), dtype=np.float32)
    params = dict(n_components=3, hidden_layer_sizes=(16,), batch_size=16, epochs=3, random_state=0, device=device)
    return aelab.AutoEncoder(**{**params, **terms, **training}).fit(X)


def _weights(model) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy() for k, v in model.module_.state_dict().items()}


@pytest.mark.parametrize("terms", TERMS, ids=["defaults", "regularized", "variational", "binary"])
def test_the_step_made_for_cuda_graphs_trains_the_plain_steps_weights(terms):
    """With cuda_graphs off CUDA the step runs as it would be captured (each batch copied into the
    same input tensors, the epoch's progress a tensor, the gradients written, not added), uncaptured:
    the weights, losses and terms are the plain step's, bit for bit (the variational warm-up read
    from a tensor included)."""
    plain = _fitted({**terms, "beta_warmup": 2} if terms.get("variational") else terms)
    graphed = _fitted({**terms, "beta_warmup": 2} if terms.get("variational") else terms, cuda_graphs=True)
    for name, value in _weights(plain).items():
        np.testing.assert_array_equal(_weights(graphed)[name], value, err_msg=name)
    timings = ("seconds", "samples_per_s")
    assert [{k: v for k, v in h.items() if k not in timings} for h in graphed.history_] == [
        {k: v for k, v in h.items() if k not in timings} for h in plain.history_
    ]


def test_a_run_made_for_cuda_graphs_killed_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """Killed after its second epoch and resumed, a cuda_graphs run ends bit for bit where the same
    run ends uninterrupted (the step's static inputs and warm-up are not part of the state)."""
    settings = dict(
        n_components=3, hidden_layer_sizes=(16,), denoise="gaussian:0.3", batch_size=16, epochs=4, random_state=0,
        cuda_graphs=True,
    )  # fmt: skip
    X = np.random.default_rng(2).random((160, 12), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    assert fit_killed_after_epoch(tmp_path / "x.npy", tmp_path / "ckpt", settings, epoch=2) == -9
    trained, train_epoch = [], loop._train_epoch
    monkeypatch.setattr(loop, "_train_epoch", lambda *a, **kw: trained.append(a[6]) or train_epoch(*a, **kw))
    resumed = aelab.AutoEncoder(**settings).fit(X, checkpoint_dir=tmp_path / "ckpt", resume=True)
    assert trained == [3, 4] and resumed.n_epochs_ == 4
    whole = aelab.AutoEncoder(**settings).fit(X)
    for name, value in _weights(whole).items():
        np.testing.assert_array_equal(_weights(resumed)[name], value, err_msg=name)


def test_the_warm_up_weight_from_a_tensor_is_the_numbers():
    """The KL weight of a step read from a 0-d tensor (a replayed step's epoch) is the one a
    plain number gives, before, during and after the warm-up."""
    from aelab.objectives import Regularization

    reg = Regularization.from_params(variational=True, beta=0.5, beta_warmup=3)
    for done in (0.0, 0.1, 1.37, 2.999, 3.0, 7.5):
        expected = torch.tensor(reg.beta_at(done), dtype=torch.float32)
        assert reg.beta_at(torch.tensor(done, dtype=torch.float64)) == expected


@pytest.mark.parametrize(
    "training, message",
    [({"precision": "float16"}, "float16's gradient scaler"), ({"compile": True}, "as compiling does")],
)
def test_cuda_graphs_refuses_what_it_cannot_replay_in_one_line(training, message):
    with pytest.raises(aelab.errors.ParameterError, match=message) as raised:
        _fitted({}, cuda_graphs=True, **training)
    assert "\n" not in str(raised.value)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_captured_step_replays_the_uncaptured_steps_weights():
    """On CUDA the captured and replayed step (no random draws in it: no noise, no neighbour term)
    ends at the uncaptured step's weights, to the rounding of kernels that may differ in the graph."""
    terms = {"denoise": None, "keep_neighbours": 0}
    eager, graphed = _fitted(terms, "cuda"), _fitted(terms, "cuda", cuda_graphs=True)
    assert graphed.history_[-1]["samples_per_s"] > 0
    for name, value in _weights(eager).items():
        np.testing.assert_allclose(_weights(graphed)[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("terms", TERMS, ids=["defaults", "regularized", "variational", "binary"])
def test_a_captured_step_with_every_term_learns_as_the_uncaptured(terms):
    """With random draws in the step (noise, negatives, samples) the replayed graph draws its own
    numbers, so the weights differ; the validation loss it reaches is the uncaptured step's, near."""
    eager, graphed = _fitted(terms, "cuda"), _fitted(terms, "cuda", cuda_graphs=True)
    assert graphed.history_[-1]["val_loss"] == pytest.approx(eager.history_[-1]["val_loss"], rel=0.1)
