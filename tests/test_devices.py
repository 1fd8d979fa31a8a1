"""Where a fitted model computes: on the device it trained on, in batches, for every computation
(encode, decode, reconstruct, classify, pre-train); resume draws the same noise there. The GPU tests
skip without CUDA; benchmarks/gpu_check.sh runs them on a GPU machine."""

import numpy as np
import pytest
import torch

import aelab
from aelab.training import apply_in_batches
from conftest import fit_killed_after_epoch

gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_batches_run_on_the_given_device_and_come_back_as_float32_rows():
    seen = []

    def fn(x):
        seen.append((x.device.type, len(x)))
        return x * 2

    out = apply_in_batches(fn, np.arange(10, dtype=np.float64).reshape(5, 2), chunk=2, device="cpu")
    assert out.dtype == np.float32 and out.tolist() == (np.arange(10).reshape(5, 2) * 2).tolist()
    assert seen == [("cpu", 2), ("cpu", 2), ("cpu", 1)]


@gpu
@needs_cuda
def test_chunks_sent_to_cuda_ahead_of_use_come_back_whole_and_in_order():
    A = np.random.default_rng(0).random((1000, 7))
    out = apply_in_batches(lambda x: x * 2 + 1, A, chunk=64, device="cuda")
    np.testing.assert_allclose(out, (A * 2 + 1).astype(np.float32), rtol=1e-6)


def test_a_fitted_model_computes_where_it_trained():
    X = aelab.datasets.load("digits").train.X[:200]
    model = aelab.AutoEncoder(n_components=2, hidden_layer_sizes=(8,), epochs=1, device="cpu", random_state=0).fit(X)
    assert model.device_.type == "cpu"
    assert model.transform(X).shape == (200, 2)


@gpu
@needs_cuda
def test_every_computation_of_a_cuda_model_runs_on_cuda_and_matches_its_cpu_copy(tmp_path):
    ds = aelab.datasets.load("digits")
    model = aelab.AutoEncoder(n_components=4, hidden_layer_sizes=(32,), epochs=3, device="cuda", random_state=0)
    model.fit(ds.train.X, ds.train.y, image_shape=ds.image_shape)
    assert model.device_.type == "cuda"
    model.save(tmp_path / "m")
    on_cpu = aelab.load(tmp_path / "m")
    assert on_cpu.device_.type == "cpu"
    for method in ("transform", "reconstruct"):
        np.testing.assert_allclose(getattr(model, method)(ds.test.X), getattr(on_cpu, method)(ds.test.X), atol=1e-4)
    Z = model.transform(ds.test.X)
    np.testing.assert_allclose(model.inverse_transform(Z), on_cpu.inverse_transform(Z), atol=1e-4)
    judge = aelab.Classifier(hidden_layer_sizes=(32,), epochs=3, device="cuda", random_state=0)
    assert judge.fit(ds.train.X, ds.train.y).predict(ds.test.X).shape == (360,)


@gpu
@needs_cuda
def test_a_denoising_run_killed_on_cuda_resumes_to_the_same_weights(tmp_path):
    settings = dict(
        n_components=4, hidden_layer_sizes=(32,), denoise="gaussian:0.3", epochs=4, batch_size=64, device="cuda",
        random_state=0,
    )  # fmt: skip
    X = aelab.datasets.load("digits").train.X
    np.save(tmp_path / "digits.npy", X)
    assert fit_killed_after_epoch(tmp_path / "digits.npy", tmp_path / "ckpt", settings, epoch=2) == -9
    resumed = aelab.AutoEncoder(**settings).fit(X, checkpoint_dir=tmp_path / "ckpt", resume=True)
    whole = aelab.AutoEncoder(**settings).fit(X)
    for a, b in zip(resumed.module_.state_dict().values(), whole.module_.state_dict().values()):
        assert torch.equal(a, b)
