import json

import numpy as np
import pytest

from aelab import AutoEncoder, Classifier, datasets, generate, load
from aelab.cli import main
from aelab.errors import DataError
from aelab.generate import frechet_distance, sample_quality
from conftest import assert_drawn

SMALL = dict(hidden_layer_sizes=(64, 32), epochs=15, random_state=0)


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


@pytest.fixture(scope="module")
def ae2(digits):
    return AutoEncoder(n_components=2, **SMALL).fit(digits.train.X, digits.train.y)


def test_model_keeps_labelled_training_codes_and_saves_them(tmp_path, digits, ae2):
    assert ae2.code_sample_.shape == (len(digits.train.X), 2)  # under 10,000: all of them
    np.testing.assert_allclose(ae2.code_sample_, ae2.transform(digits.train.X), atol=1e-6)
    assert ae2.code_sample_labels_ == digits.train.y.tolist()
    ae2.save(tmp_path / "m")
    back = load(tmp_path / "m")
    np.testing.assert_array_equal(back.code_sample_, ae2.code_sample_)
    assert back.code_sample_labels_ == ae2.code_sample_labels_
    with pytest.raises(DataError, match="one label per sample"):
        AutoEncoder(n_components=2, **SMALL).fit(digits.train.X, digits.train.y[:-1])


def test_grid_is_evenly_spaced_over_the_box_and_decoded(ae2):
    images, codes, box = generate.grid(ae2, 5, "auto")
    lo, hi = np.percentile(ae2.code_sample_, 1, axis=0), np.percentile(ae2.code_sample_, 99, axis=0)
    np.testing.assert_allclose(box, [lo[0], hi[0], lo[1], hi[1]], rtol=1e-6)
    assert images.shape == (25, 64) and codes.shape == (25, 2)
    np.testing.assert_allclose(codes[:5, 0], np.linspace(box[0], box[1], 5), rtol=1e-5)  # first row: x grows
    np.testing.assert_allclose(codes[::5, 1], np.linspace(box[3], box[2], 5), rtol=1e-5)  # rows go down in y
    np.testing.assert_allclose(images, ae2.inverse_transform(codes), atol=1e-6)
    _, _, zero = generate.grid(ae2, 3, "zero")
    rms = np.sqrt(np.mean(ae2.code_sample_**2, axis=0))
    np.testing.assert_allclose(zero, [-2 * rms[0], 2 * rms[0], -2 * rms[1], 2 * rms[1]], rtol=1e-5)
    _, given, _ = generate.grid(ae2, 3, generate.parse_box("-1,1,0,2"))
    assert given[0].tolist() == [-1.0, 2.0] and given[-1].tolist() == [1.0, 0.0]
    with pytest.raises(DataError, match="x0 < x1"):
        generate.parse_box("1,-1,0,2")


def test_grid_of_a_larger_code_needs_two_chosen_dimensions(digits):
    ae3 = AutoEncoder(n_components=3, **SMALL).fit(digits.train.X)
    with pytest.raises(DataError, match="needs a 2-D code, but this model's codes have 3 dimensions"):
        generate.grid(ae3, 4)
    _, codes, _ = generate.grid(ae3, 4, dims=(0, 2))
    np.testing.assert_allclose(codes[:, 1], ae3.code_sample_[:, 1].mean(), rtol=1e-5)  # held at the mean


def test_samples_are_repeatable_and_follow_the_fitted_density(digits, ae2):
    a, za = generate.sample(ae2, 2000, "gaussian", seed=3)
    b, zb = generate.sample(ae2, 2000, "gaussian", seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(generate.sample(ae2, 50, "gaussian", seed=4)[1], za[:50])
    np.testing.assert_allclose(za.mean(0), ae2.code_sample_.mean(0), atol=0.1 * ae2.code_sample_.std())
    # the variances within 15%, the correlation within 0.07 (three standard errors of 2,000 samples)
    np.testing.assert_allclose(za.var(0), ae2.code_sample_.var(0), rtol=0.15)
    np.testing.assert_allclose(np.corrcoef(za.T), np.corrcoef(ae2.code_sample_.T), atol=0.07)
    gmm = generate.fit_density(ae2.code_sample_, "gmm")
    assert gmm.n_components == 10
    with pytest.raises(DataError, match="variational"):
        generate.sample(ae2, 4, "prior")
    vae = AutoEncoder(n_components=2, variational=True, **SMALL).fit(digits.train.X)
    _, prior = generate.sample(vae, 5000, "prior", seed=0)
    assert abs(prior.mean()) < 0.05 and abs(prior.std() - 1) < 0.05


def test_interpolation_runs_from_one_code_to_the_other(digits, ae2):
    a, b = digits.test.X[0], digits.test.X[1]
    images, codes = generate.interpolate(ae2, a, b, steps=6)
    ends = ae2.transform(np.stack([a, b]))
    np.testing.assert_allclose(codes[[0, -1]], ends, atol=1e-6)
    np.testing.assert_allclose(codes[3], ends[0] + 0.6 * (ends[1] - ends[0]), atol=1e-5)
    np.testing.assert_allclose(images[0], ae2.reconstruct(a[None])[0], atol=1e-5)


def test_frechet_distance_of_gaussians_by_hand():
    rng = np.random.default_rng(0)
    A, B = rng.normal(0, 1, (4000, 1)), rng.normal(2, 3, (4000, 1))
    # one dimension: (m_a - m_b)^2 + (s_a - s_b)^2 with the samples' own means and deviations
    expected = (A.mean() - B.mean()) ** 2 + (A.std(ddof=1) - B.std(ddof=1)) ** 2
    assert frechet_distance(A, B) == pytest.approx(expected, rel=1e-6)
    C = rng.normal(size=(500, 5))
    assert frechet_distance(C, C) == pytest.approx(0, abs=1e-6)


def test_sample_quality_tells_real_digits_from_noise(digits):
    judge = Classifier(
        hidden_layer_sizes=(128,), epochs=40, batch_size=64, validation_fraction=0.0, patience=None, random_state=0
    ).fit(digits.train.X, digits.train.y)
    real = sample_quality(digits.test.X, judge, digits.train.X)
    noise = sample_quality(
        np.random.default_rng(0).uniform(0, 1, digits.test.X.shape).astype(np.float32), judge, digits.train.X
    )
    assert real["confident_share"] > 0.6 and real["class_entropy_bits"] > 3.2
    assert noise["frechet_distance"] > 10 * real["frechet_distance"]
    assert noise["class_entropy_bits"] < real["class_entropy_bits"]
    assert sum(real["class_histogram"].values()) == len(digits.test.X)


def test_cli_generate_and_evaluate_samples(tmp_path, capsys):
    model, out = str(tmp_path / "d2"), tmp_path
    assert (
        main(
            [
                "train",
                "--data",
                "digits",
                "--out",
                model,
                "--n-components",
                "2",
                "--hidden",
                "64-32",
                "--epochs",
                "10",
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "generate",
                model,
                "--grid",
                "6",
                "--box",
                "zero",
                "--out",
                str(out / "g.png"),
                "--npy",
                str(out / "g.npy"),
            ]
        )
        == 0
    )
    assert np.load(out / "g.npy").shape == (36, 64)
    assert_drawn(out / "g.png", images=True, coloured=True)  # the decoded grid beside the coloured codes
    assert main(["generate", model, "--sample", "16", "--density", "gmm", "--out", str(out / "s.png")]) == 0
    assert (
        main(["generate", model, "--interpolate", "test:0", "test:5", "--data", "digits", "--out", str(out / "i.png")])
        == 0
    )
    np.save(out / "a.npy", datasets.load("digits").test.X[3])
    assert (
        main(
            [
                "generate",
                model,
                "--interpolate",
                str(out / "a.npy"),
                "test:5",
                "--data",
                "digits",
                "--steps",
                "4",
                "--out",
                str(out / "k.png"),
                "--npy",
                str(out / "k.npy"),
            ]
        )
        == 0
    )
    assert np.load(out / "k.npy").shape == (4, 64)
    np.save(out / "wrong.npy", np.zeros(10, np.float32))
    capsys.readouterr()
    assert (
        main(
            [
                "generate",
                model,
                "--interpolate",
                str(out / "wrong.npy"),
                "test:5",
                "--data",
                "digits",
                "--out",
                str(out / "w.png"),
            ]
        )
        == 1
    )
    assert "has 10 values but the model takes samples of 64" in capsys.readouterr().err
    assert main(["generate", model, "--interpolate", "test:0", "test:5", "--out", str(out / "j.png")]) == 1
    assert "give --data" in capsys.readouterr().err
    assert main(["generate", model, "--sample", "4", "--density", "prior", "--out", str(out / "p.png")]) == 1
    assert "variational" in capsys.readouterr().err
    assert main(["generate", model, "--grid", "6", "--out", str(out / "g.png")]) == 1  # no overwriting
    assert "already exists" in capsys.readouterr().err
    assert (
        main(
            ["evaluate-samples", model, "--data", "digits", "--grid", "5", "--json", "--classifier", str(out / "judge")]
        )
        == 0
    )
    figures = json.loads(capsys.readouterr().out)
    assert figures["n_samples"] == 25 and 0 <= figures["confident_share"] <= 1 and figures["frechet_distance"] > 0
    assert (out / "judge" / "config.json").exists()  # trained once, loaded the next time
    assert (
        main(["evaluate-samples", model, "--data", "digits", "--sample", "30", "--classifier", str(out / "judge")]) == 0
    )
    assert "Frechet distance" in capsys.readouterr().out


def test_evaluate_samples_draws_the_grid_that_generate_draws(digits, ae2, tmp_path):
    from aelab.generate import draw, evaluate_samples

    ds = datasets.load("digits", seed=1)  # another split: its training codes differ from those the model kept
    judge_dir = tmp_path / "judge"
    figures = evaluate_samples(ae2, ds, grid_size=5, classifier=judge_dir)
    assert figures["what"] == draw(ae2, grid_size=5)[3]  # the same box, from the codes the model kept
    assert judge_dir.is_dir() and figures["n_samples"] == 25
