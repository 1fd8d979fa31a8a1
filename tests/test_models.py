import json

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA as SkPCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import aelab
from aelab import PCA, AutoEncoder, datasets
from aelab.errors import DataError, ModelError
from conftest import FAST_AE, MNIST_DIR, requires_mnist


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def test_pca_matches_scikit_learn(digits):
    ours = PCA(n_components=5).fit(digits.train.X)
    ref = SkPCA(n_components=5).fit(digits.train.X)
    np.testing.assert_allclose(ours.transform(digits.test.X), ref.transform(digits.test.X), atol=1e-4)
    recon = ref.inverse_transform(ref.transform(digits.test.X))
    expected = np.mean(np.sum((recon - digits.test.X) ** 2, axis=1))
    assert ours.reconstruction_error(digits.test.X) == pytest.approx(expected, rel=1e-5)
    assert ours.score(digits.test.X) == pytest.approx(-expected, rel=1e-5)


def test_pca_error_falls_with_code_size(digits):
    errors = [PCA(n_components=k).fit(digits.train.X).reconstruction_error(digits.test.X) for k in (2, 8, 32)]
    assert errors[0] > errors[1] > errors[2] > 0


def test_autoencoder_beats_pca_with_a_2d_code(digits):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(128, 64), epochs=60, batch_size=64, random_state=0)
    ae.fit(digits.train.X, image_shape=digits.image_shape)
    pca = PCA(n_components=2).fit(digits.train.X)
    assert ae.transform(digits.test.X).shape == (len(digits.test), 2)
    assert ae.output_activation_ == "sigmoid" and ae.loss_ == "bce"
    # the non-linear code keeps clearly more of the image than the best linear one
    assert ae.reconstruction_error(digits.test.X) < 0.8 * pca.reconstruction_error(digits.test.X)
    assert ae.history_[-1]["loss"] < ae.history_[0]["loss"]
    assert {"loss", "val_loss", "samples_per_s", "seconds", "lr"} <= ae.history_[0].keys()


def test_same_seed_same_model_other_seed_other_model(digits):
    a = AutoEncoder(n_components=3, **FAST_AE).fit(digits.train.X)
    b = AutoEncoder(n_components=3, **FAST_AE).fit(digits.train.X)
    c = AutoEncoder(n_components=3, **dict(FAST_AE, random_state=1)).fit(digits.train.X)
    np.testing.assert_array_equal(a.transform(digits.test.X), b.transform(digits.test.X))
    assert not np.allclose(a.transform(digits.test.X), c.transform(digits.test.X))


@pytest.mark.parametrize("make", [lambda: PCA(n_components=4), lambda: AutoEncoder(n_components=4, **FAST_AE)])
def test_save_and_load_give_the_same_model(tmp_path, digits, make):
    model = make().fit(digits.train.X, image_shape=digits.image_shape)
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    back = aelab.load(tmp_path / "m")
    assert type(back) is type(model) and back.get_params() == model.get_params()
    assert back.image_shape_ == (8, 8)
    # equal up to float32 rounding (a restored array's memory layout may take another BLAS path)
    np.testing.assert_allclose(back.transform(digits.test.X), model.transform(digits.test.X), atol=1e-6)
    np.testing.assert_allclose(back.reconstruct(digits.test.X), model.reconstruct(digits.test.X), atol=1e-6)
    with pytest.raises(FileExistsError, match="--overwrite"):
        model.save(tmp_path / "m")


def test_scaled_data_gets_a_linear_output_and_comes_back_in_its_units():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(400, 2))
    X = (Z @ rng.normal(size=(2, 6)) * 50 + 1000).astype(np.float32)  # rank-2 data far from [0, 1]
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(32,), epochs=60, batch_size=32, random_state=0).fit(X)
    assert ae.output_activation_ == "linear" and ae.loss_ == "mse" and ae.mean_ is not None
    rel = np.sqrt(ae.reconstruction_error(X)) / np.sqrt(np.mean(np.sum((X - X.mean(0)) ** 2, axis=1)))
    assert rel < 0.2  # reconstructions are in the data's units, not standardised ones
    with pytest.raises(DataError, match="loss='bce' needs data in"):
        AutoEncoder(loss="bce", **FAST_AE).fit(X)


def test_scikit_learn_contract(digits):
    ae = AutoEncoder(n_components=5, **FAST_AE)
    assert clone(ae).get_params() == ae.get_params()
    assert ae.set_params(n_components=6).n_components == 6
    pipe = Pipeline([("ae", AutoEncoder(n_components=8, **FAST_AE)), ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(digits.train.X, digits.train.y)
    assert pipe.score(digits.test.X, digits.test.y) > 0.5
    codes = PCA(n_components=3).fit_transform(digits.train.X)
    assert codes.shape == (len(digits.train), 3)
    assert list(PCA(n_components=2).fit(digits.train.X).get_feature_names_out()) == ["pca0", "pca1"]


def test_wrong_feature_count_is_a_clear_error(digits):
    pca = PCA(n_components=2).fit(digits.train.X, image_shape=(8, 8))
    with pytest.raises(
        DataError, match=r"has 10 features, but PCA is expecting 64 features as input \(images of 8x8\)"
    ):
        pca.transform(np.zeros((3, 10)))
    with pytest.raises(DataError, match="codes have 3 dimensions"):
        pca.inverse_transform(np.zeros((2, 3)))


def test_load_refuses_damaged_or_foreign_folders(tmp_path, digits):
    with pytest.raises(ModelError, match="no model at"):
        aelab.load(tmp_path / "missing")
    PCA(n_components=2).fit(digits.train.X).save(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="is damaged: model.safetensors differs from the file that was saved"):
        aelab.load(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "files"}))
    with pytest.raises(ModelError, match="is damaged: model.safetensors cannot be read"):
        aelab.load(tmp_path / "m")  # a folder saved before checksums: the file's own check
    (tmp_path / "m" / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelError, match="not an aelab model"):
        aelab.load(tmp_path / "m")


def test_saved_model_is_not_pickle(tmp_path, digits):
    AutoEncoder(n_components=2, **FAST_AE).fit(digits.train.X).save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["class"] == "AutoEncoder" and config["params"]["hidden_layer_sizes"] == [32, 16]
    from safetensors.torch import load_file

    weights = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert weights["module.encoder.0.weight"].shape == torch.Size([32, 64])


@pytest.mark.slow
@requires_mnist
def test_pca30_on_mnist_is_the_published_13_87():
    ds = datasets.load("mnist", data_dir=MNIST_DIR)
    pca = PCA(n_components=30, svd_solver="randomized", random_state=0).fit(ds.train.X)
    assert pca.reconstruction_error(ds.test.X) == pytest.approx(13.87, abs=0.005)


def test_baselines_are_reproducible_by_default(digits):
    from aelab import LSA

    fits = [PCA(n_components=5, svd_solver="randomized").fit(digits.train.X) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].components_, fits[1].components_)
    X = np.abs(digits.train.X[:300])
    fits = [LSA(n_components=5, n_iter=1).fit(X) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].components_, fits[1].components_)
