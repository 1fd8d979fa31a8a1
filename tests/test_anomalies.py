"""Anomaly scores: far points rank first, thresholds flag the share asked for, scikit-learn's signs,
saved models score alike, and bad requests get one line."""

import numpy as np
import pytest
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

import aelab
from aelab import PCA, AutoEncoder
from aelab.errors import DataError, ModelError, ParameterError
from aelab.objectives import blurred_divergence, reconstruction_divergence
from aelab.text import DocumentModel
from aelab.training.loop import split_rows
from conftest import assert_drawn


def clusters_and_far_points(seed=0):
    """Three clusters in 20-D (300 training points); queries: 60 cluster points and 10 far ones."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 20)) * 4
    X = np.concatenate([c + rng.normal(size=(100, 20)) for c in centres]).astype(np.float32)
    near = np.concatenate([c + rng.normal(size=(20, 20)) for c in centres]).astype(np.float32)
    far = (rng.normal(size=(10, 20)) * 12).astype(np.float32)
    return X, np.concatenate([near, far]), np.r_[np.zeros(60), np.ones(10)]


@pytest.fixture(scope="module")
def fitted():
    X, T, is_far = clusters_and_far_points()
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(32, 16), epochs=40, random_state=0).fit(X)
    return X, T, is_far, ae


def test_the_default_score_ranks_far_points_first(fitted):
    X, T, is_far, ae = fitted
    assert roc_auc_score(is_far, ae.anomaly_scores(T)) > 0.95
    pca = PCA(n_components=2).fit(X)
    assert roc_auc_score(is_far, pca.anomaly_scores(T)) > 0.95
    for kind in ("reconstruction", "density"):  # each kind alone is evidence too
        assert roc_auc_score(is_far, ae.anomaly_scores(T, kind)) > 0.9, kind


@pytest.mark.parametrize("contamination", [0.05, 0.2])
def test_predict_flags_the_contamination_share_of_the_training_data(fitted, contamination):
    X, _, _, ae = fitted
    ae.set_params(contamination=contamination)
    try:
        flagged = float(np.mean(ae.predict(X) == -1))
    finally:
        ae.set_params(contamination="auto")
    assert abs(flagged - contamination) < 0.02


def test_auto_contamination_flags_a_few_training_samples_and_every_far_point(fitted):
    X, T, is_far, ae = fitted
    assert 0 < np.mean(ae.predict(X) == -1) < 0.1
    assert np.all(ae.predict(T)[is_far == 1] == -1)


def test_signs_follow_scikit_learn_outlier_detectors(fitted):
    X, T, is_far, ae = fitted
    forest = IsolationForest(random_state=0).fit(X)
    ours, theirs = ae.score_samples(T), forest.score_samples(T)
    # both: higher is more normal, so the far points are low in both
    assert ours[is_far == 1].max() < np.median(ours[is_far == 0])
    assert theirs[is_far == 1].max() < np.median(theirs[is_far == 0])
    np.testing.assert_allclose(ae.decision_function(T), ours - ae.offset_)
    np.testing.assert_array_equal(ae.predict(T), np.where(ae.decision_function(T) < 0, -1, 1))
    np.testing.assert_allclose(ours, -ae.anomaly_scores(T))


def test_a_saved_model_gives_identical_scores(fitted, tmp_path):
    X, T, _, ae = fitted
    back = aelab.load(ae.save(tmp_path / "ae"))
    np.testing.assert_array_equal(back.anomaly_scores(T), ae.anomaly_scores(T))
    np.testing.assert_array_equal(back.predict(X), ae.predict(X))
    assert back.offset_ == ae.offset_


def test_error_maps_are_the_reconstruction_score_per_pixel():
    digits = aelab.datasets.load("digits")
    ae = AutoEncoder(n_components=4, hidden_layer_sizes=(32,), epochs=3, random_state=0)
    ae.fit(digits.train.X, image_shape=(8, 8))
    maps = ae.error_maps(digits.test.X[:5])
    assert maps.shape == (5, 8, 8) and maps.min() >= 0
    np.testing.assert_allclose(maps.sum((1, 2)), ae.anomaly_scores(digits.test.X[:5], "reconstruction"), rtol=1e-4)


def test_a_perfect_reconstruction_costs_nothing_whatever_the_ink():
    target = torch.tensor([[0.0, 0.3, 1.0, 0.5], [0.2, 0.2, 0.9, 0.0]])
    perfect = torch.logit(target.clamp(1e-6, 1 - 1e-6))
    assert reconstruction_divergence("bce", perfect, target, "sigmoid").sum().item() < 1e-3
    counts = torch.tensor([[3.0, 1.0, 0.0], [0.0, 5.0, 5.0]])
    exact = torch.log(counts / counts.sum(1, keepdim=True) + 1e-12)
    assert reconstruction_divergence("multinomial", exact, counts, "softmax").abs().sum().item() < 1e-4


def test_a_variational_model_scores_by_its_bound(fitted):
    X, T, is_far, _ = fitted
    vae = AutoEncoder(n_components=2, hidden_layer_sizes=(32,), variational=True, epochs=20, random_state=0).fit(X)
    elbo, reconstruction = vae.anomaly_scores(T, "elbo"), vae.anomaly_scores(T, "reconstruction")
    assert np.all(elbo >= reconstruction)  # the KL term is never negative
    assert roc_auc_score(is_far, vae.anomaly_scores(T)) > 0.95


def test_off_topic_documents_score_higher():
    fruit = ["red apple pie sweet", "green apple tart sweet", "sweet pear pie", "apple pear tart"]
    cars = ["fast red car road", "car race track road", "road car engine fast"]
    for kind in ("lsa", "autoencoder"):
        model = DocumentModel(n_components=2, kind=kind, epochs=5, random_state=0).fit(fruit * 10)
        scores = model.anomaly_scores(fruit + cars)
        assert scores[len(fruit) :].min() > scores[: len(fruit)].max(), kind
        assert model.predict(cars).tolist() == [-1] * len(cars)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda ae, X: ae.anomaly_scores(X[:, :5]), DataError, "has 5 features, but AutoEncoder is expecting 20"),
        (lambda ae, X: ae.anomaly_scores(X, "elbo"), DataError, "variational model"),
        (lambda ae, X: ae.anomaly_scores(X, "distance"), ParameterError, "kind must be one of"),
        (lambda ae, X: ae.set_params(contamination=0.7).offset_, ParameterError, r"contamination must be a share"),
    ],
)
def test_bad_requests_get_one_line(fitted, call, error, message):
    X, _, _, ae = fitted
    try:
        with pytest.raises(error, match=message) as caught:
            call(ae, X)
    finally:
        ae.set_params(contamination="auto")
    assert "\n" not in str(caught.value)


def test_a_bad_contamination_is_refused_before_training():
    with pytest.raises(ParameterError, match="contamination must be a share in"):
        AutoEncoder(contamination=0).fit(np.zeros((10, 3), np.float32))
    with pytest.raises(ParameterError, match="contamination must be a share in"):
        PCA(contamination="most").fit(np.zeros((10, 3), np.float32))


def test_a_model_without_a_reference_says_to_train_again(fitted):
    X, _, _, ae = fitted
    old = PCA(n_components=2).fit(X)
    old.anomaly_reference_ = None  # as a model saved before anomaly scores
    with pytest.raises(ModelError, match="train it again"):
        old.predict(X)


def test_a_long_code_gets_a_diagonal_density_that_survives_saving(tmp_path):
    X = np.random.default_rng(0).normal(size=(300, 120)).astype(np.float32)
    pca = PCA(n_components=100).fit(X)
    assert pca.anomaly_density_.covariance_type == "diag"  # 100 x 100 full covariances would grow as the square
    back = aelab.load(pca.save(tmp_path / "pca"))
    np.testing.assert_allclose(back.anomaly_scores(X, "density"), pca.anomaly_scores(X, "density"), rtol=1e-6)


# --- the command line ------------------------------------------------------------------------------
def _run(capsys, *argv) -> tuple[int, str, str]:
    from aelab.cli import main

    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    """A small model of the 8x8 digits, saved."""
    digits = aelab.datasets.load("digits")
    model = AutoEncoder(n_components=4, hidden_layer_sizes=(32,), epochs=5, random_state=0)
    model.fit(digits.train.X, image_shape=(8, 8))
    return model.save(tmp_path_factory.mktemp("score") / "ae"), digits


def test_aelab_score_writes_the_apis_scores_and_flags(digits_folder, tmp_path, capsys):
    import csv

    folder, digits = digits_folder
    code, out, err = _run(capsys, "score", folder, "--data", "digits", "--split", "test", "--out", tmp_path / "s.csv")
    assert code == 0, err
    with open(tmp_path / "s.csv") as fh:
        rows = list(csv.DictReader(fh))
    model = aelab.load(folder)
    expected = model.anomaly_scores(digits.test.X)
    assert [r["label"] for r in rows] == [str(v) for v in digits.test.y]
    np.testing.assert_allclose([float(r["score"]) for r in rows], expected, rtol=1e-5)
    assert [int(r["flagged"]) for r in rows] == (model.predict(digits.test.X) == -1).astype(int).tolist()
    assert f"scored {len(rows)} items" in out
    # the ids are the ids an index gives the same items: an unusual item is a query for its neighbours
    assert [r["id"] for r in rows[:2]] == ["test:0", "test:1"]
    assert _run(capsys, "index", folder, "--data", "digits", "--split", "test", "--out", tmp_path / "index")[0] == 0
    assert _run(capsys, "search", tmp_path / "index", "--query", rows[-1]["id"], "-k", "1")[0] == 0
    # a share of the training data moves the threshold, without retraining
    code, out, _ = _run(
        capsys,
        "score",
        folder,
        "--data",
        "digits",
        "--split",
        "train",
        "--contamination",
        "0.1",
        "--out",
        tmp_path / "t.csv",
    )
    assert code == 0 and "flagged (10.0%)" in out  # 10% of the 1,437 training images


def test_aelab_score_streams_a_folder_of_images(digits_folder, tmp_path, capsys):
    from PIL import Image

    folder, digits = digits_folder
    for i, (row, label) in enumerate(zip(digits.test.X[:20], digits.test.y[:20])):
        (tmp_path / "imgs" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(row.reshape(8, 8) * 255).astype(np.uint8)).save(
            tmp_path / "imgs" / str(label) / f"{i}.png"
        )
    code, out, err = _run(
        capsys,
        "score",
        folder,
        "--data",
        tmp_path / "imgs",
        "--stream",
        "--batch-size",
        "7",
        "--out",
        tmp_path / "s.csv",
    )
    assert code == 0, err
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "id,label,path,score,flagged" and len(lines) == 21
    assert all(line.split(",")[2].endswith(".png") for line in lines[1:])
    assert [line.split(",")[0] for line in lines[1:3]] == ["row:0", "row:1"]  # as a streamed index names them


def test_aelab_evaluate_anomalies_measures_the_model_beside_the_baselines(tmp_path, capsys):
    import json

    code, out, err = _run(
        capsys,
        "evaluate-anomalies",
        "--data",
        "digits",
        "--normal",
        "0",
        "--model",
        "pca",
        "--n-components",
        "10",
        "--out",
        tmp_path / "ev",
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())["metrics"]
    assert set(metrics) == {
        "aelab pca-10",
        "IsolationForest",
        "OneClassSVM",
        "kNN distance (k=5)",
        "PCA-10 reconstruction error",
    }
    assert metrics["aelab pca-10"]["roc_auc"] > 0.95  # zeros are easy to tell from the other digits
    assert all(0 <= m["f1"] <= 1 and 0 <= m["average_precision"] <= 1 for m in metrics.values())
    assert {p.name for p in (tmp_path / "ev").iterdir()} == {"metrics.json", "curves.png", "unusual.png", "model"}
    assert_drawn(tmp_path / "ev" / "curves.png", coloured=True)  # the ROC and PR curves of every detector
    assert_drawn(tmp_path / "ev" / "unusual.png", images=True)  # the items beside their error maps
    assert "ROC-AUC" in out and "OneClassSVM" in out


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--normal", "3,eleven"], "--normal eleven: not a label of digits; its labels are 0, 1, 2"),
        (["--normal", "0,1,2,3,4,5,6,7,8,9"], "has no anomalies (every test item has a normal label)"),
        (["--normal", "0", "--contamination", "0.9"], "contamination must be a share in (0, 0.5]"),
    ],
)
def test_evaluate_anomalies_refuses_bad_requests_in_one_line(tmp_path, capsys, argv, says):
    code, _, err = _run(
        capsys, "evaluate-anomalies", "--data", "digits", "--model", "pca", "--out", tmp_path / "e", *argv
    )
    assert code == 1 and err.count("\n") == 1 and says in err, err
    assert not (tmp_path / "e").exists()


def test_scoring_data_of_another_shape_is_one_line(digits_folder, tmp_path, capsys):
    folder, _ = digits_folder
    np.save(tmp_path / "wide.npy", np.zeros((5, 10), np.float32))
    code, _, err = _run(capsys, "score", folder, "--data", tmp_path / "wide.npy", "--out", tmp_path / "s.csv")
    assert code == 1 and "10 features" in err and err.count("\n") == 1
    assert not (tmp_path / "s.csv").exists()


def test_aelab_text_score_ranks_the_off_topic_documents_first(tmp_path, capsys):
    from aelab.text import DocumentSearch
    from test_document_search import FAST, corpus

    docs = corpus(15, 0)
    folder = DocumentSearch.build(docs, n_components=3, **FAST).save(tmp_path / "search")
    (tmp_path / "docs" / "odd").mkdir(parents=True)
    for topic in sorted(set(docs.labels)):
        (tmp_path / "docs" / topic).mkdir()
    for i, (text, label) in enumerate(zip(docs.texts[:30], docs.labels[:30])):
        (tmp_path / "docs" / label / f"{i}.txt").write_text(text)
    (tmp_path / "docs" / "odd" / "odd.txt").write_text("zebra quantum violin " * 5 + docs.texts[0][:20])
    code, out, err = _run(capsys, "text", "score", folder, "--data", tmp_path / "docs", "--out", tmp_path / "u.csv")
    assert code == 0, err
    assert "most unusual:" in out
    first = out.split("most unusual:\n")[1].splitlines()[0]
    assert "odd" in first, out


def test_a_density_of_few_codes_in_many_dimensions_stays_out_of_the_default():
    X, T, is_far = clusters_and_far_points()
    few = PCA(n_components=5).fit(X[::10])  # 30 training rows for 5-D codes: too few for a density
    assert few.anomaly_reference_["kinds"] == ["reconstruction"]
    np.testing.assert_array_equal(
        np.argsort(few.anomaly_scores(T)), np.argsort(few.anomaly_scores(T, "reconstruction"))
    )
    many = PCA(n_components=5).fit(X)
    assert many.anomaly_reference_["kinds"] == ["reconstruction", "density"]


def _stroke(shift=0, gap=False):
    """A 12x12 image with a vertical stroke two pixels wide, ``shift`` pixels to the right, with
    the middle third left out when ``gap``."""
    image = np.zeros((12, 12), np.float64)
    image[2:10, 5 + shift : 7 + shift] = 1.0
    if gap:
        image[5:8, 5 + shift : 7 + shift] = 0.0
    return torch.from_numpy(image.reshape(1, -1))


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_blurred_divergence_forgives_a_stroke_a_pixel_off_more_than_a_missing_part(loss):
    target, activation = _stroke(), "sigmoid" if loss == "bce" else "identity"

    def costs(rebuilt):
        out = torch.logit(rebuilt.clamp(1e-3, 1 - 1e-3)) if loss == "bce" else rebuilt
        plain = reconstruction_divergence(loss, out, target, activation).sum().item()
        return plain, blurred_divergence(loss, out, target, activation, (12, 12)).item()

    (_, perfect), (plain_shift, blurred_shift), (plain_gap, blurred_gap) = map(
        costs, (target, _stroke(shift=1), _stroke(gap=True))
    )
    assert perfect < 0.02 * blurred_gap
    # blurring takes off much of what a stroke a pixel away costs, little of what a gap costs
    assert blurred_shift / plain_shift < 0.6 * blurred_gap / plain_gap


def test_an_image_model_scores_by_the_blurred_reconstruction_and_a_flat_one_cannot():
    digits = aelab.datasets.load("digits")
    images = AutoEncoder(n_components=4, hidden_layer_sizes=(32,), epochs=3, random_state=0)
    images.fit(digits.train.X, image_shape=(8, 8))
    assert images.anomaly_reference_["kinds"] == ["blurred", "density"]
    T = digits.test.X[:20]
    blurred = images.anomaly_scores(T, "blurred")
    assert blurred.shape == (20,) and np.all(blurred >= 0)
    assert not np.allclose(blurred, images.anomaly_scores(T, "reconstruction"))
    flat = AutoEncoder(n_components=4, hidden_layer_sizes=(32,), epochs=3, random_state=0).fit(digits.train.X)
    assert flat.anomaly_reference_["kinds"] == ["reconstruction", "density"]
    with pytest.raises(DataError, match="image"):
        flat.anomaly_scores(T, "blurred")
    pca = PCA(n_components=4).fit(digits.train.X, image_shape=(8, 8))
    assert pca.anomaly_reference_["kinds"][0] == "blurred"
    assert np.all(pca.anomaly_scores(T, "blurred") <= pca.anomaly_scores(T, "reconstruction") + 1e-9)


def test_a_saturated_patch_gets_a_finite_blurred_divergence_and_the_default_score_too():
    # blurred in float64, a patch of ones wider than the kernel comes out a rounding error above 1,
    # where the Bernoulli entropy of a pixel is undefined
    image = np.zeros((1, 20, 20))
    image[0, 3:17, 3:17] = 1.0
    target = torch.from_numpy(image.reshape(1, -1))
    for loss, out, activation in (("bce", torch.zeros_like(target), "sigmoid"), ("mse", target * 0.5, "identity")):
        assert torch.isfinite(blurred_divergence(loss, out, target, activation, (20, 20))).all()
    rng = np.random.default_rng(0)
    X = np.zeros((120, 20, 20))
    for row, (top, left) in zip(X, rng.integers(0, 8, size=(120, 2))):
        row[top : top + 12, left : left + 12] = 1.0
    X = X.reshape(120, -1)
    model = AutoEncoder(n_components=2, hidden_layer_sizes=(16,), epochs=2, random_state=0).fit(X, image_shape=(20, 20))
    assert np.isfinite(model.anomaly_scores(X)).all()


def test_the_default_score_weighs_its_kinds_by_their_spread_on_rows_held_out_from_training(tmp_path):
    # a model rebuilds the rows it trained on better than new normal rows: measured on those, the
    # reconstruction's spread is too small and it outweighs the code density in the default score
    # (on a digit of MNIST by about two; this toy's rows are too plain to be learnt by heart)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 20)) * 4
    X = np.concatenate([c + rng.normal(size=(400, 20)) for c in centres]).astype(np.float32)
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(32, 16), epochs=20, random_state=0).fit(X)
    reference = ae.anomaly_reference_
    _, held = split_rows(len(X), 0.1, 0)  # the rows the training validated on, never trained on
    assert reference["measured_on"] == "held_out" and reference["measured_rows"] == len(held) == 120
    raw = ae._raw_scores(X[np.sort(held)], reference["kinds"])
    for kind in reference["kinds"]:
        q1, median, q3 = np.percentile(raw[kind], [25, 50, 75])
        assert reference["centre"][kind] == pytest.approx(median)
        assert reference["spread"][kind] == pytest.approx(q3 - q1)
    # the threshold still comes from the training data: contamination is a share of it
    ae.set_params(contamination=0.1)
    assert abs(np.mean(ae.predict(X) == -1) - 0.1) < 0.02
    back = aelab.load(ae.save(tmp_path / "ae"))
    assert back.anomaly_reference_ == reference


def test_a_model_with_few_rows_held_out_measures_the_spreads_on_its_training_data(fitted):
    X, _, _, ae = fitted  # 300 rows: 30 held out, too few for a spread
    assert ae.anomaly_reference_["measured_on"] == "training"
    assert PCA(n_components=2).fit(X).anomaly_reference_["measured_on"] == "training"  # PCA holds nothing out
