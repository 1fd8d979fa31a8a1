"""aelab train --log-dir: each epoch's record as TensorBoard scalars, the same numbers as the history."""

from __future__ import annotations

import numpy as np
import pytest

from aelab import PCA, AutoEncoder

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

from conftest import run_cli  # noqa: E402


def _scalars(folder):
    events = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_each_epoch_is_logged_as_in_the_history(tmp_path):
    X = np.random.default_rng(0).random((120, 12), dtype=np.float32)
    model = AutoEncoder(
        n_components=2, hidden_layer_sizes=(8,), epochs=3, sparse="l1:1e-3", random_state=0, log_dir=tmp_path / "logs"
    ).fit(X)
    logged = _scalars(tmp_path / "logs")
    history = model.history_
    assert [step for step, _ in logged["loss/train"]] == [1, 2, 3]
    np.testing.assert_allclose([v for _, v in logged["loss/train"]], [r["loss"] for r in history], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in logged["loss/validation"]], [r["val_loss"] for r in history], rtol=1e-6)
    assert {"learning_rate", "terms/reconstruction", "terms/sparse"} <= set(logged)
    unlogged = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), epochs=3, sparse="l1:1e-3", random_state=0).fit(X)
    np.testing.assert_array_equal(unlogged.transform(X), model.transform(X))  # logging changes nothing


def test_log_dir_on_the_command_line_and_where_it_has_no_meaning(tmp_path):
    done = run_cli(
        "train",
        "--data",
        "digits",
        "--out",
        tmp_path / "ae",
        "--epochs",
        "2",
        "--log-dir",
        tmp_path / "runs",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert len(_scalars(tmp_path / "runs")["loss/train"]) == 2
    refused = run_cli(
        "train", "--data", "digits", "--model", "pca", "--out", tmp_path / "p", "--log-dir", tmp_path / "r"
    )
    assert refused.returncode == 1 and "--log-dir" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert not PCA().get_params().get("log_dir")
