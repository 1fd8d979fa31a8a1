import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import aelab
from aelab import AutoEncoder, ConvAutoEncoder, datasets
from aelab.errors import ModelError
from aelab.storage import atomic_path, load_state, save_state
from aelab.training import TrainConfig, TrainingError, fit_module
from conftest import FAST_AE, stop_after_epoch


def test_early_stopping_stops_and_keeps_the_best_epoch():
    X = np.random.default_rng(0).random((200, 20)).astype(np.float32)  # noise: validation loss soon rises
    ae = AutoEncoder(
        n_components=15,
        hidden_layer_sizes=(256,),
        epochs=300,
        batch_size=16,
        learning_rate=1e-2,
        lr_schedule="constant",
        patience=5,
        random_state=0,
    ).fit(X)
    assert ae.stopped_early_ and ae.n_epochs_ < 300
    assert ae.n_epochs_ == ae.best_epoch_ + 5
    best = min(h["val_loss"] for h in ae.history_)
    assert ae.history_[ae.best_epoch_ - 1]["val_loss"] == best


def test_the_rows_held_out_are_the_ones_no_step_trained_on():
    X = np.arange(50, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)  # each row knows its place
    trained_on = set()

    def loss(m, batch, epoch):
        if torch.is_grad_enabled():  # a training step, not a validation pass
            trained_on.update(batch[0][:, 0].long().tolist())
        return m(batch[0]).square().mean(), {}

    result = fit_module(torch.nn.Linear(3, 3), X, loss, TrainConfig(epochs=3, batch_size=4, seed=5), progress=False)
    assert len(result.held_out) == 5 and list(result.held_out) == sorted(result.held_out)
    assert trained_on.isdisjoint(result.held_out.tolist())
    assert trained_on | set(result.held_out.tolist()) == set(range(50))  # every other row trained (4 x 11 of 45)


@pytest.mark.parametrize("schedule, stops_at", [("onecycle", None), ("constant", 6)])
def test_a_worse_validation_loss_at_a_higher_learning_rate_does_not_stop_training(schedule, stops_at):
    # the validation loss of each epoch, scripted: best at epoch 3, worse while a one-cycle schedule
    # warms up and peaks (epochs 4 to 9: more than the patience), best again as the rate comes down
    script = [5, 4, 3, 6, 6, 6, 6, 6, 6, 2.5, 2, 1.5, 1.2, 1.1, 1.0]
    seen = {"epoch": 0}

    def loss(m, batch, epoch):
        if math.isinf(epoch):  # validation
            return torch.tensor(script[seen["epoch"]]), {}
        seen["epoch"] = int(epoch)
        return m(batch[0]).square().mean(), {}

    config = TrainConfig(epochs=15, batch_size=8, patience=3, lr_schedule=schedule)
    result = fit_module(torch.nn.Linear(2, 2), np.ones((40, 2), np.float32), loss, config, progress=False)
    lrs = [h["lr"] for h in result.history]
    if stops_at is None:  # onecycle: epochs 4-9 ran at a higher rate than epoch 3
        assert max(lrs[3:9]) > lrs[2] and not result.stopped_early
        assert len(result.history) == 15 and result.best_epoch == 15
    else:  # a constant rate: three worse epochs after the best stop it
        assert result.stopped_early and len(result.history) == stops_at and result.best_epoch == 3


def test_diverging_loss_is_reported_as_a_training_error():
    module = torch.nn.Linear(4, 4)
    X = np.ones((32, 4), np.float32)

    def exploding(m, batch, epoch):
        return m(batch[0]).sum() * float("inf"), {}

    with pytest.raises(TrainingError, match="lower the learning rate"):
        fit_module(module, X, exploding, TrainConfig(epochs=2, batch_size=8), progress=False)


def test_state_files_round_trip_without_pickle(tmp_path):
    opt = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    state = {"a": torch.arange(4.0), "nested": {0: [1, 2.5, None], "t": (torch.ones(2), "x")}, "opt": opt.state_dict()}
    save_state(state, tmp_path, "s")
    back = load_state(tmp_path, "s")
    assert torch.equal(back["a"], state["a"]) and back["nested"][0] == [1, 2.5, None]
    assert torch.equal(back["nested"]["t"][0], torch.ones(2)) and back["nested"]["t"][1] == "x"
    assert back["opt"]["param_groups"][0]["betas"] == (0.9, 0.999)


def test_atomic_path_keeps_the_old_result_when_writing_fails(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target, overwrite=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["result.txt"]
    with atomic_path(target, overwrite=True) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and sorted(os.listdir(tmp_path)) == ["result.txt"]


def _train_cmd(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "aelab.cli",
        "train",
        "--data",
        "digits",
        "--out",
        str(out),
        "--n-components",
        "2",
        "--hidden",
        "48-24",
        "--epochs",
        "25",
        "--batch-size",
        "8",
        "--seed",
        "3",
        "--quiet",
        *extra,
    ]


def _weights(folder: Path) -> dict:
    return load_file(str(folder / "model.safetensors"))


@pytest.mark.slow
def test_resume_after_sigkill_reaches_the_uninterrupted_result(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(_train_cmd(tmp_path / "whole"), check=True, env=env, capture_output=True)

    out = tmp_path / "killed"
    pointer = tmp_path / "killed.checkpoint" / "checkpoint.json"
    proc = subprocess.Popen(_train_cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if pointer.exists() and '"epoch": 3,' in pointer.read_text():
            break
        time.sleep(0.01)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # no half-written model

    refused = subprocess.run(_train_cmd(out), env=env, capture_output=True, text=True)
    assert refused.returncode == 1 and "--resume" in refused.stderr

    resumed = subprocess.run(_train_cmd(out, "--resume"), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert not pointer.parent.exists()  # the checkpoint is cleared once the model is saved
    whole, again = _weights(tmp_path / "whole"), _weights(out)
    assert whole.keys() == again.keys()
    for key in whole:
        assert torch.equal(whole[key], again[key]), key


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path):
    ds = datasets.load("digits")
    ckpt = tmp_path / "ckpt"
    AutoEncoder(n_components=2, **dict(FAST_AE, epochs=2)).fit(ds.train.X, checkpoint_dir=ckpt)
    with pytest.raises(ModelError, match="other settings"):
        AutoEncoder(n_components=3, **dict(FAST_AE, epochs=2)).fit(ds.train.X, checkpoint_dir=ckpt, resume=True)
    with pytest.raises(TrainingError, match="pass --resume"):
        AutoEncoder(n_components=2, **dict(FAST_AE, epochs=2)).fit(ds.train.X, checkpoint_dir=ckpt)


def test_auto_epochs_and_batch_size_follow_the_data_and_keep_the_mnist_recipe():
    config = TrainConfig(epochs="auto", batch_size="auto", validation_fraction=0.1)
    mnist = config.resolved(60000)
    assert (mnist.batch_size, mnist.epochs, mnist.patience) == (256, 100, 20)  # the recipe chosen on MNIST
    faces = config.resolved(320)  # 288 training images: two steps an epoch at batch 256
    assert faces.batch_size == 16 and faces.steps_per_epoch(320) == 18 and faces.epochs == 278
    assert faces.patience == 55  # a fifth of the epochs: a long one-cycle run still warms up at epoch 20
    assert config.resolved(3000).batch_size == 64 and config.resolved(3000).epochs == 120
    given = TrainConfig(epochs=7, batch_size=32, patience=3)
    assert given.resolved(320) == given  # what is given wins


def test_conv_auto_training_shrinks_with_the_image_s_pixels_but_not_on_small_images():
    from aelab.params import auto_conv_effort

    assert auto_conv_effort((28, 28)) == auto_conv_effort((56, 56)) == 1.0
    assert auto_conv_effort((112, 92)) == pytest.approx(3136 / 10304)
    config = TrainConfig(epochs="auto", batch_size="auto", validation_fraction=0.1)
    full, shrunk = config.resolved(2400), replace(config, effort=auto_conv_effort((112, 92))).resolved(2400)
    assert (full.batch_size, full.epochs) == (64, 152) and (shrunk.batch_size, shrunk.epochs) == (64, 47)
    big = replace(config, effort=auto_conv_effort((112, 92))).resolved(60000)
    assert big.epochs == 31  # the floor of 100 epochs shrinks too
    conv = ConvAutoEncoder(epochs="auto")
    conv.image_shape_ = (112, 92)  # as fit sets it, before it asks for the training settings
    assert conv._train_config().effort == pytest.approx(3136 / 10304)
    conv.image_shape_ = (28, 28)
    assert conv._train_config().effort == 1.0 and AutoEncoder()._train_config().effort == 1.0


def test_a_binary_code_trains_2500_steps_not_at_least_100_epochs():
    binary = AutoEncoder(binary=True)._train_config()
    assert (binary.auto_at_least, binary.auto_steps) == (1, 2500)
    plain = AutoEncoder()._train_config()
    assert (plain.auto_at_least, plain.auto_steps) == (100, 5000)
    mnist = binary.resolved(60000)  # 210 steps an epoch: 12 epochs make the 2,500 steps
    assert (mnist.batch_size, mnist.epochs, mnist.patience) == (256, 12, 20)
    assert binary.resolved(3000).epochs == 60 and plain.resolved(3000).epochs == 120
    assert replace(binary, epochs=7).resolved(60000).epochs == 7


def test_a_run_that_cannot_learn_says_so():
    X = datasets.load("digits").train.X[:100]
    starved = AutoEncoder(n_components=2, hidden_layer_sizes=(16,), epochs=2, batch_size=256, random_state=0).fit(X)
    assert starved.batch_size_ == 90 and starved.n_epochs_ * starved.steps_per_epoch_ == 2
    assert starved.training_warning().startswith("only 2 optimizer steps")
    frozen = AutoEncoder(
        n_components=2, hidden_layer_sizes=(16,), epochs=50, batch_size=8, learning_rate=1e-9, random_state=0
    ).fit(X)
    assert "barely moved" in frozen.training_warning()
    fine = AutoEncoder(n_components=2, hidden_layer_sizes=(16,), epochs=60, batch_size=8, random_state=0).fit(X)
    assert fine.training_warning() == "" and fine.batch_size_ == 8


def test_auto_hidden_layers_follow_the_number_of_training_samples(tmp_path):
    from aelab.params import auto_hidden_sizes

    assert auto_hidden_sizes(216) == (256, 128) and auto_hidden_sizes(2160) == (512, 256)
    assert auto_hidden_sizes(54000) == (1000, 500, 250)  # the recipe chosen on MNIST
    X = datasets.load("digits").train.X[:300]
    ae = AutoEncoder(n_components=2, epochs=1, random_state=0).fit(X)
    assert ae.hidden_layer_sizes == "auto" and ae.hidden_layer_sizes_ == [256, 128]
    assert ae.module_.encoder[0].out_features == 256
    ae.save(tmp_path / "m")
    from aelab import load

    assert load(tmp_path / "m").hidden_layer_sizes_ == [256, 128]


def test_document_auto_training_keeps_the_20_newsgroups_recipe_and_feeds_small_collections():
    from aelab.params import auto_document_training

    assert auto_document_training(11314) == (128, 40)  # 20 Newsgroups: the recipe, unchanged
    assert auto_document_training(1000) == (16, 49)  # 62 steps an epoch, 3,038 in all
    assert auto_document_training(4000) == (64, 49)


def test_float16_trains_with_a_gradient_scaler_that_resumes_exactly(tmp_path, monkeypatch):
    """float16 autocast with a gradient scaler learns what float32 learns, and the scaler's state
    is in the checkpoint: a run stopped after epoch 2 resumes to the weights of a whole run."""

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(300, 3)) @ rng.normal(size=(3, 20))).astype(np.float32)
    settings = dict(n_components=3, hidden_layer_sizes=(64,), epochs=4, batch_size=32, random_state=0, verbose=False)
    half = AutoEncoder(precision="float16", **settings).fit(X)
    full = AutoEncoder(precision="float32", **settings).fit(X)
    assert half.history_[-1]["loss"] < 0.5 * half.history_[0]["loss"]
    assert half.reconstruction_error(X) < 1.1 * full.reconstruction_error(X)

    stop_after_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        AutoEncoder(precision="float16", **settings).fit(X, checkpoint_dir=tmp_path / "ckpt")
    monkeypatch.undo()
    saved = load_state(tmp_path / "ckpt", "epoch-00002")
    assert saved["scaler"]["scale"] > 0
    resumed = AutoEncoder(precision="float16", **settings).fit(X, checkpoint_dir=tmp_path / "ckpt", resume=True)
    for k, v in half.module_.state_dict().items():
        assert torch.equal(resumed.module_.state_dict()[k], v), k


@pytest.mark.slow
def test_a_compiled_run_learns_the_uncompiled_weights_and_saves_plain_ones(tmp_path):
    """--compile runs the training steps through torch.compile, whose fused kernels round otherwise:
    the outputs agree to float tolerance. (With BatchNorm they agree less closely: the bias before
    it gets a gradient of rounding noise alone, which AdamW's normalised step turns into a drift
    that moves BatchNorm's running mean.) The saved model and checkpoints hold the plain module's
    weights, so a compiled run's checkpoint resumes without compiling, and its model loads anywhere."""
    X = datasets.load("digits").train.X[:512]
    settings = dict(
        n_components=4, hidden_layer_sizes=(32,), normalization="none", epochs=3, batch_size=64, random_state=0,
        verbose=False,
    )  # fmt: skip
    compiled = AutoEncoder(compile=True, **settings).fit(X, checkpoint_dir=tmp_path / "ckpt")
    eager = AutoEncoder(**settings).fit(X)
    np.testing.assert_allclose(compiled.reconstruct(X), eager.reconstruct(X), atol=1e-5)
    assert not any(k.startswith("_orig_mod") for k in compiled.module_.state_dict())
    compiled.save(tmp_path / "model")
    assert aelab.load(tmp_path / "model").get_params()["compile"] is True
    resumed = AutoEncoder(**settings).fit(X, checkpoint_dir=tmp_path / "ckpt", resume=True)  # finished: kept
    for k, v in compiled.module_.state_dict().items():
        assert torch.equal(resumed.module_.state_dict()[k], v), k
