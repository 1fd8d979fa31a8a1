"""Training from data that never sits in memory whole: the training loop reads each batch's rows
from a memory-mapped array when it needs them, and trains the weights that the same data in memory
trains (same rows, same order, same noise)."""

import numpy as np
import pytest
import torch
from torch import nn

from aelab import datasets
from aelab.training import TrainConfig, fit_module
from aelab.training.feed import Rows


def _pixels_scaled(a):
    return np.asarray(a, dtype=np.float32) / np.float32(255)


def _train(X, y=None, device="cpu", **kw):
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

    config = TrainConfig(epochs=3, batch_size=32, validation_fraction=0.1, seed=0, device=device)
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


def _watched(X: np.ndarray, reads: list) -> np.ndarray:
    """``X`` that notes each index it is read at in ``reads``."""

    class Watched(np.ndarray):
        def __getitem__(self, index):
            reads.append(np.asarray(index).tolist())
            return np.asarray(self).__getitem__(index)

    return X.view(Watched)


def test_streamed_rows_are_read_when_asked_for_not_copied():
    X = np.arange(40, dtype=np.uint8).reshape(10, 4)
    reads = []
    rows = Rows(_watched(X, reads), None, torch.device("cpu"), stream=True, prepare=_pixels_scaled)
    assert not hasattr(rows, "memory") and reads == []
    (x,) = rows.take(torch.tensor([7, 2]))
    assert reads == [[7, 2]] and x.dtype == torch.float32
    assert torch.equal(x, torch.from_numpy(_pixels_scaled(X[[7, 2]])))


def test_streamed_batches_are_read_one_by_one_as_training_takes_them():
    X = np.arange(40, dtype=np.uint8).reshape(10, 4)
    reads = []
    rows = Rows(_watched(X, reads), np.arange(10), torch.device("cpu"), stream=True, prepare=_pixels_scaled)
    batches = rows.batches([torch.tensor([3, 1]), torch.tensor([0, 9]), torch.tensor([5])])
    assert reads == []
    x, y = next(batches)
    assert reads == [[3, 1]] and y.tolist() == [3, 1]
    assert torch.equal(x, torch.from_numpy(_pixels_scaled(X[[3, 1]])))
    assert [y.tolist() for _, y in batches] == [[0, 9], [5]] and reads == [[3, 1], [0, 9], [5]]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_rows_streamed_to_cuda_a_batch_ahead_train_the_in_memory_weights(tmp_path):
    ds = datasets.load("digits")
    pixels = np.round(ds.train.X * 255).astype(np.uint8)
    np.save(tmp_path / "pixels.npy", pixels)
    mapped = np.load(tmp_path / "pixels.npy", mmap_mode="r")
    in_memory, a = _train(_pixels_scaled(pixels), device="cuda")
    streamed, b = _train(mapped, device="cuda", stream=True, prepare=_pixels_scaled)
    for p, q in zip(in_memory.state_dict().values(), streamed.state_dict().values()):
        torch.testing.assert_close(p, q)


def test_an_auto_encoder_fitted_on_a_memory_mapped_npy_streams_it_and_matches_the_in_memory_fit(tmp_path):
    import aelab

    ds = datasets.load("digits")
    pixels = np.round(ds.train.X * 255).astype(np.uint8).reshape(-1, 8, 8)
    np.save(tmp_path / "pixels.npy", pixels)
    mapped = np.load(tmp_path / "pixels.npy", mmap_mode="r")
    settings = dict(n_components=4, hidden_layer_sizes=(32,), epochs=3, batch_size=64, random_state=0)
    in_memory = aelab.AutoEncoder(**settings).fit(pixels)
    streamed = aelab.AutoEncoder(**settings).fit(mapped, stream=True)
    assert streamed.image_shape_ == (8, 8) and streamed.output_activation_ == in_memory.output_activation_ == "sigmoid"
    for p, q in zip(in_memory.module_.state_dict().values(), streamed.module_.state_dict().values()):
        assert torch.equal(p, q)
    np.testing.assert_array_equal(in_memory.code_sample_, streamed.code_sample_)


def test_streamed_standardisation_matches_the_in_memory_statistics(tmp_path):
    import aelab

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(300, 5)) * [1, 10, 100, 0.1, 5] + [0, 5, -50, 2, 1]).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    settings = dict(n_components=2, hidden_layer_sizes=(8,), epochs=2, random_state=0)
    in_memory = aelab.AutoEncoder(**settings).fit(X)
    from aelab.models import torch_base

    scan_rows = torch_base.SCAN_ROWS
    torch_base.SCAN_ROWS = 64  # several chunks, merged
    try:
        streamed = aelab.AutoEncoder(**settings).fit(np.load(tmp_path / "x.npy", mmap_mode="r"), stream=True)
    finally:
        torch_base.SCAN_ROWS = scan_rows
    assert streamed.output_activation_ == "linear"
    np.testing.assert_allclose(streamed.mean_, in_memory.mean_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(streamed.scale_, in_memory.scale_, rtol=1e-6)
    assert abs(
        streamed.reconstruction_error(X) - in_memory.reconstruction_error(X)
    ) < 1e-3 * in_memory.reconstruction_error(X)


def test_greedy_pre_training_streams_too_and_learns_the_in_memory_layers(tmp_path):
    """Streamed, no layer's inputs are stored: each batch goes through the fixed layers below on
    the fly, which gives the inputs an in-memory run stores (to float rounding: a row's product
    may round otherwise within another batch)."""
    import aelab

    pixels = np.round(datasets.load("digits").train.X * 255).astype(np.uint8)
    np.save(tmp_path / "pixels.npy", pixels)
    settings = dict(
        n_components=4, hidden_layer_sizes=(32, 16), pretrain="greedy", pretrain_epochs=2, epochs=2, batch_size=64,
        random_state=0,
    )  # fmt: skip
    in_memory = aelab.AutoEncoder(**settings).fit(pixels)
    streamed = aelab.AutoEncoder(**settings).fit(np.load(tmp_path / "pixels.npy", mmap_mode="r"), stream=True)
    assert len(streamed.pretrain_history_) == 3  # 64-32, 32-16, 16-4
    for a, b in zip(in_memory.pretrain_history_, streamed.pretrain_history_):
        np.testing.assert_allclose([h["loss"] for h in a], [h["loss"] for h in b], rtol=1e-5)
    for k, v in in_memory.module_.state_dict().items():
        torch.testing.assert_close(streamed.module_.state_dict()[k], v, rtol=1e-4, atol=1e-5)


def test_a_memory_mapped_array_over_the_budget_is_streamed_by_default(tmp_path, monkeypatch):
    import aelab
    from aelab.models import torch_base

    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((64, 4), dtype=np.float32))
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    scans = []
    real = torch_base.ColumnSummary.scan
    monkeypatch.setattr(torch_base.ColumnSummary, "scan", classmethod(lambda cls, *a: scans.append(1) or real(*a)))
    aelab.AutoEncoder(n_components=2, hidden_layer_sizes=(8,), epochs=1).fit(mapped)
    assert scans == []  # 1 KiB: copied into memory
    monkeypatch.setattr(torch_base, "STREAM_ABOVE_BYTES", 100)
    aelab.AutoEncoder(n_components=2, hidden_layer_sizes=(8,), epochs=1).fit(mapped)
    assert scans == [1]


def test_a_conv_auto_encoder_streams_images_from_a_memory_mapped_npy(tmp_path):
    import aelab

    pixels = np.round(datasets.load("digits").train.X[:300] * 255).astype(np.uint8).reshape(-1, 8, 8)
    np.save(tmp_path / "pixels.npy", pixels)
    settings = dict(n_components=3, channels=(4,), epochs=2, batch_size=32, random_state=0)
    in_memory = aelab.ConvAutoEncoder(**settings).fit(pixels)
    streamed = aelab.ConvAutoEncoder(**settings).fit(np.load(tmp_path / "pixels.npy", mmap_mode="r"), stream=True)
    for p, q in zip(in_memory.module_.state_dict().values(), streamed.module_.state_dict().values()):
        assert torch.equal(p, q)


def test_aelab_train_stream_trains_on_every_row_of_a_memory_mapped_npy(tmp_path, capsys):
    import aelab
    from aelab.cli import main

    pixels = np.round(datasets.load("digits").train.X * 255).astype(np.uint8).reshape(-1, 8, 8)
    np.save(tmp_path / "d.npy", pixels)
    argv = ["train", "--data", str(tmp_path / "d.npy"), "--stream", "--out", str(tmp_path / "m")]
    assert main([*argv, "--epochs", "2", "--hidden", "16", "--n-components", "3", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "1437 samples of shape (8, 8) (uint8), memory-mapped" in out
    assert "reconstruction error on 1437 training samples" in out and "PCA-3 fitted on them" in out
    streamed = aelab.load(tmp_path / "m")
    in_memory = aelab.AutoEncoder(n_components=3, hidden_layer_sizes=(16,), epochs=2, random_state=0).fit(pixels)
    for p, q in zip(in_memory.module_.state_dict().values(), streamed.module_.state_dict().values()):
        assert torch.equal(p, q)
    assert streamed.image_shape_ == (8, 8)


def test_aelab_train_streams_a_npy_over_the_memory_budget_without_being_asked(tmp_path, capsys, monkeypatch):
    from aelab.cli import main
    from aelab.models import torch_base

    np.save(tmp_path / "d.npy", np.random.default_rng(0).random((120, 6), dtype=np.float32))
    argv = ["train", "--data", str(tmp_path / "d.npy"), "--epochs", "1", "--hidden", "8", "--n-components", "2"]
    assert main([*argv, "--out", str(tmp_path / "small")]) == 0
    assert "Dataset('d.npy': 96 train, 24 test" in capsys.readouterr().out  # 2.8 KiB: in memory, split
    monkeypatch.setattr(torch_base, "STREAM_ABOVE_BYTES", 1000)
    assert main([*argv, "--out", str(tmp_path / "big")]) == 0
    out = capsys.readouterr().out
    assert "would take 0.0 GiB in memory as float32 (more than 0 GiB): streaming it, as --stream does" in out
    assert "120 samples of shape (6,) (float32), memory-mapped" in out


def test_aelab_train_stream_refuses_what_it_cannot_stream(tmp_path, capsys):
    from aelab.cli import main

    np.save(tmp_path / "ints.npy", np.zeros((10, 4), np.int16))
    (tmp_path / "t.csv").write_text("1,2\n3,4\n")
    for data, extra, message in [
        (tmp_path / "t.csv", [], "is not a .npy file"),
        (tmp_path / "ints.npy", [], "uint8 pixels or real numbers"),
        (tmp_path / "ints.npy", ["--model", "pca"], "PCA reads its data in memory"),
    ]:
        assert main(["train", "--data", str(data), "--stream", "--out", str(tmp_path / "m"), *extra]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def _rss_file_bytes() -> int:
    from pathlib import Path

    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1]) * 1024
    return -1


def test_pages_read_from_a_mapped_file_stop_counting_as_the_process_s_memory(tmp_path):
    import pytest

    from aelab.training.feed import release_mapped_pages

    if _rss_file_bytes() < 0:
        pytest.skip("needs /proc/self/status")
    np.save(tmp_path / "big.npy", np.ones((64, 2**20), np.uint8))  # 64 MiB
    X = np.load(tmp_path / "big.npy", mmap_mode="r").reshape(64, -1)
    before = _rss_file_bytes()
    assert int(X.sum(dtype=np.int64)) == 64 * 2**20  # every page read
    assert _rss_file_bytes() - before > 48 * 2**20
    release_mapped_pages(X)
    assert _rss_file_bytes() - before < 16 * 2**20
    assert int(X[63].sum()) == 2**20  # still readable: the pages come back from the file


@pytest.mark.slow
def test_a_streamed_run_killed_mid_training_resumes_to_the_same_weights(tmp_path):
    import aelab
    from conftest import fit_killed_after_epoch

    pixels = np.round(datasets.load("digits").train.X * 255).astype(np.uint8)
    np.save(tmp_path / "d.npy", pixels)
    settings = dict(n_components=3, hidden_layer_sizes=(16,), denoise="gaussian:0.2", epochs=4, random_state=0)
    assert fit_killed_after_epoch(tmp_path / "d.npy", tmp_path / "ckpt", settings, epoch=2, stream=True) == -9
    mapped = np.load(tmp_path / "d.npy", mmap_mode="r")
    resumed = aelab.AutoEncoder(**settings).fit(mapped, checkpoint_dir=tmp_path / "ckpt", resume=True, stream=True)
    whole = aelab.AutoEncoder(**settings).fit(mapped, stream=True)
    assert resumed.n_epochs_ == whole.n_epochs_ == 4
    for p, q in zip(resumed.module_.state_dict().values(), whole.module_.state_dict().values()):
        assert torch.equal(p, q)


def _image_folder(root, n: int = 40, size=(13, 11)):
    """A labelled folder of odd-sized images: grey in one sub-folder, colour in another."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, mode in (("grey", "L"), ("colour", "RGB")):
        (root / label).mkdir(parents=True)
        for i in range(n):
            shape = size if mode == "L" else (*size, 3)
            Image.fromarray((rng.random(shape) * 255).astype(np.uint8), mode).save(root / label / f"{i}.png")
    return root


def test_an_image_folder_streamed_through_worker_processes_gives_the_in_memory_weights(tmp_path):
    """ImageRows decodes each batch's images in DataLoader workers, as the in-memory loader
    decodes them: the same pixels in the same batches, so the same weights, bit for bit."""
    from aelab import AutoEncoder
    from aelab.datasets import ImageRows
    from aelab.datasets.images import read_images

    rows = ImageRows(_image_folder(tmp_path / "pictures"), workers=2)
    assert rows.shape == (80, 13 * 11 * 3) and rows.image_shape == (13, 11, 3)
    X, shape = read_images(rows.files)
    settings = dict(n_components=4, hidden_layer_sizes=(32,), epochs=2, batch_size=16, random_state=0, verbose=False)
    streamed = AutoEncoder(**settings).fit(rows)  # an ImageRows is streamed by default
    in_memory = AutoEncoder(**settings).fit(X, image_shape=shape)
    assert streamed.image_shape_ == in_memory.image_shape_ == (13, 11, 3)
    assert streamed.mean_ is None and in_memory.mean_ is None  # pixels in [0, 1] are not standardised
    for k, v in in_memory.module_.state_dict().items():
        assert torch.equal(streamed.module_.state_dict()[k], v), k


def test_an_image_that_will_not_decode_in_a_worker_is_one_line(tmp_path):
    from conftest import run_cli

    folder = _image_folder(tmp_path / "pictures", n=10)
    good = (folder / "grey" / "0.png").read_bytes()
    (folder / "grey" / "3.png").write_bytes(good[:100])  # its header reads; its pixels do not decode
    done = run_cli("train", "--data", folder, "--stream", "--workers", "1", "--out", tmp_path / "m", "--epochs", "2")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"aelab: error: {folder / 'grey' / '3.png'} cannot be read as an image (OSError); remove or replace it"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pictures"]
