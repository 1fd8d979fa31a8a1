"""ONNX export: the graphs that onnxruntime runs give the model's own codes and reconstructions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aelab import PCA, AutoEncoder, ConvAutoEncoder
from aelab.errors import AelabError, MissingExtraError, require
from aelab.models.export import TOLERANCE
from conftest import run_cli

ort = pytest.importorskip("onnxruntime")

SHAPE = (9, 7)  # odd sides: a partial pooling block at each edge


def _images(n=120, seed=0):
    """Blobs on a 9x7 grid: pixels in [0, 1], as aelab's loaders give them."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: SHAPE[0], : SHAPE[1]]
    centres = rng.uniform([0, 0], SHAPE, (n, 2))
    X = np.exp(-((rows[None] - centres[:, :1, None]) ** 2 + (cols[None] - centres[:, 1:, None]) ** 2) / 4)
    return X.reshape(n, -1).astype(np.float32)


def _run(folder, name, array):
    session = ort.InferenceSession(str(folder / name), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: array})[0]


MODELS = {
    "mlp": lambda: AutoEncoder(n_components=3, hidden_layer_sizes=(16,), epochs=2, random_state=0),
    "mlp-standardised": lambda: AutoEncoder(
        n_components=3, hidden_layer_sizes=(16,), scaling="standard", epochs=2, random_state=0
    ),
    "variational": lambda: AutoEncoder(
        n_components=2, hidden_layer_sizes=(16,), variational=True, epochs=2, random_state=0
    ),
    "binary": lambda: AutoEncoder(n_components=8, hidden_layer_sizes=(16,), binary=True, epochs=2, random_state=0),
    "conv-max": lambda: ConvAutoEncoder(channels=(4, 4), n_components=3, epochs=2, random_state=0),
    "conv-nearest-binary": lambda: ConvAutoEncoder(
        channels=(4,), n_components=8, binary=True, upsampling="conv", epochs=2, random_state=0
    ),
}


@pytest.mark.parametrize("kind", MODELS)
def test_onnx_graphs_give_the_models_codes_and_reconstructions(tmp_path, kind):
    X = _images()
    model = MODELS[kind]().fit(X, image_shape=SHAPE)
    folder = model.export_onnx(tmp_path / "onnx")
    new = _images(37, seed=1)  # another batch size than the export's example: the batch axis is dynamic
    codes = _run(folder, "encoder.onnx", new)
    np.testing.assert_allclose(codes, model.transform(new), atol=TOLERANCE)
    np.testing.assert_allclose(_run(folder, "decoder.onnx", codes), model.inverse_transform(codes), atol=TOLERANCE)
    if model.binary:
        assert set(np.unique(codes)) <= {0.0, 1.0}
    manifest = json.loads((folder / "onnx.json").read_text())
    assert manifest["code_size"] == model.code_size and manifest["n_features"] == X.shape[1]


def test_aelab_export_writes_the_graphs_and_refuses_what_it_cannot_export(tmp_path):
    X = _images()
    AutoEncoder(n_components=2, hidden_layer_sizes=(8,), epochs=1, random_state=0).fit(X).save(tmp_path / "ae")
    PCA(n_components=2).fit(X).save(tmp_path / "pca")
    np.save(tmp_path / "rows.npy", X)

    done = run_cli("export", tmp_path / "ae", "--out", tmp_path / "onnx")
    assert done.returncode == 0, done.stderr
    assert "encoder.onnx" in done.stdout and (tmp_path / "onnx" / "decoder.onnx").exists()
    again = run_cli("export", tmp_path / "ae", "--out", tmp_path / "onnx")
    assert again.returncode == 1 and "--overwrite" in again.stderr and len(again.stderr.splitlines()) == 1

    pca = run_cli("export", tmp_path / "pca", "--out", tmp_path / "pca-onnx")
    assert pca.returncode == 1 and "holds a PCA" in pca.stderr and len(pca.stderr.splitlines()) == 1
    assert not (tmp_path / "pca-onnx").exists()


def test_a_missing_extra_is_one_line_naming_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'aelab\[export\]'"):
        require("onnxruntime", "export")
    model = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), epochs=1, random_state=0).fit(_images())
    with pytest.raises(AelabError, match="onnxruntime"):
        model.export_onnx("never-written")
